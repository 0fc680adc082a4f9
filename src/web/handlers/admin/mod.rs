//! The admin dashboard: `/admin/users` (search, health filters, keyset pages), one user's
//! detail with Revoke / Unblock, and `/admin/audit`. Every route takes `AdminUser`.

pub mod audit;
pub mod user;
pub mod users;

use actix_web::HttpResponse;

use crate::store::credentials::{Credential, Status};
use crate::store::users::User;
use crate::web::extract::AdminUser;
use crate::web::page::see_other;

/// `GET /admin`: the user list.
pub async fn index(_: AdminUser) -> HttpResponse {
    see_other("/admin/users")
}

/// A user's connection health in a word, as the list and the detail show it: the worst of
/// their grants (one per OAuth client), so that a filter and the word agree.
pub fn health(user: &User, credentials: &[Credential]) -> &'static str {
    if user.disabled_at.is_some() {
        return "Blocked";
    }
    if credentials.is_empty() {
        return "No grant";
    }
    credentials
        .iter()
        .map(grant_health)
        .min_by_key(|h| {
            [
                "Needs consent",
                "Revoked",
                "Refresh failing",
                "No background access",
                "OK",
            ]
            .iter()
            .position(|w| w == h)
        })
        .unwrap_or("No grant")
}

/// One grant's health in a word.
pub fn grant_health(c: &Credential) -> &'static str {
    match c {
        c if c.status == Status::NeedsConsent => "Needs consent",
        c if c.status == Status::Revoked => "Revoked",
        c if c.last_error_at.is_some() => "Refresh failing",
        c if c.refresh_token.is_none() => "No background access",
        _ => "OK",
    }
}

/// A timestamp as the dashboard shows it.
pub fn when(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
