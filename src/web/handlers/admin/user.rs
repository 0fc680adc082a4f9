//! `/admin/users/{id}`: one user's detail and audit entries; Revoke (a confirmation page, then a
//! POST with the CSRF token, optionally blocking sign-in) and Unblock.

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;

use super::{grant_health, health, when};
use crate::store::admin;
use crate::store::audit::{self, Entry};
use crate::store::users::{self, UserId};
use crate::web::csrf;
use crate::web::errors::AppError;
use crate::web::extract::allowance::{AdminPost, Allowance};
use crate::web::extract::AdminUser;
use crate::web::handlers::account::CsrfForm;
use crate::web::handlers::revocation::{self, Request};
use crate::web::page::{render, see_other};
use crate::web::State;

/// How many of the user's audit entries the detail shows.
const AUDIT_ENTRIES: i64 = 50;

struct Detail {
    id: i64,
    email: String,
    email_verified: bool,
    name: String,
    created: String,
    last_seen: String,
    blocked: Option<String>,
    /// Who set the block: the provider (a security event) or an admin.
    blocked_by_provider: bool,
    /// When the provider asked for the account's credentials to be changed.
    credential_change: Option<String>,
    /// Security events received for the user, newest first.
    events: Vec<crate::store::risc::EventRow>,
    health: &'static str,
    /// One per OAuth client that obtained a grant.
    grants: Vec<GrantRow>,
    offline: bool,
    sessions: i64,
}

/// A grant of the user to one OAuth client.
struct GrantRow {
    client_id: String,
    health: &'static str,
    scopes: Vec<String>,
    offline: bool,
    last_error: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct Show {
    target: Detail,
    entries: Vec<Entry>,
    /// The token the Unblock form carries.
    csrf: String,
    /// The admin is looking at their own account: no Revoke (they would lock themselves out).
    is_self: bool,
}

/// An admin may not revoke or block themselves from the dashboard: the next sign-in would be
/// refused, with no admin left to unblock them. Disconnect on their account page remains.
const NOT_YOURSELF: &str = "You cannot revoke or block your own account here. To end this app's access to your account, use Disconnect on your account page; to be blocked, ask another administrator.";

#[derive(Template)]
#[template(path = "admin/revoke.html")]
struct Confirm {
    target: Detail,
    /// The token the form carries.
    csrf: String,
}

async fn load(state: &State, id: i64) -> Result<(Detail, Vec<Entry>), AppError> {
    let target = UserId(id);
    let (row, entries, events) = state
        .db
        .run(move |c| {
            Ok((
                admin::detail(c, target)?,
                audit::list(c, Some(target), None, AUDIT_ENTRIES)?,
                crate::store::risc::for_user(c, target, AUDIT_ENTRIES)?,
            ))
        })
        .await?;
    let row = row.ok_or(AppError::NotFound)?;
    let detail = Detail {
        id: row.user.id,
        email: row.user.email.clone(),
        email_verified: row.user.email_verified,
        name: row.user.name.clone(),
        created: when(row.user.created_at),
        last_seen: when(row.user.last_seen_at),
        blocked: row.user.disabled_at.map(when),
        blocked_by_provider: row.user.blocked_by_provider,
        credential_change: row.user.credential_change_required_at.map(when),
        events,
        health: health(&row.user, &row.credentials),
        offline: row.credentials.iter().any(|c| c.has_offline_access()),
        grants: row
            .credentials
            .iter()
            .map(|c| GrantRow {
                client_id: c.client_id.clone(),
                health: grant_health(c),
                scopes: c.scopes.split_whitespace().map(String::from).collect(),
                offline: c.has_offline_access(),
                last_error: c.last_error.clone().zip(c.last_error_at.map(when)),
            })
            .collect(),
        sessions: row.sessions,
    };
    Ok((detail, entries))
}

pub async fn show(
    state: State,
    admin: AdminUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (target, entries) = load(&state, id).await?;
    Ok(render(
        StatusCode::OK,
        Show {
            target,
            entries,
            csrf: admin.0.csrf.clone(),
            is_self: admin.0.id() == UserId(id),
        },
    ))
}

pub async fn confirm_revoke(
    state: State,
    admin: AdminUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    if admin.0.id() == UserId(id) {
        return Err(AppError::Forbidden(NOT_YOURSELF));
    }
    let (target, _) = load(&state, id).await?;
    Ok(render(
        StatusCode::OK,
        Confirm {
            target,
            csrf: admin.0.csrf.clone(),
        },
    ))
}

#[derive(serde::Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    /// The "block sign-in" checkbox (`on` when ticked).
    block: Option<String>,
}

pub async fn revoke(
    _: Allowance<AdminPost>,
    state: State,
    session: Session,
    admin: AdminUser,
    id: web::Path<i64>,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&session, &form.csrf)?;
    let id = id.into_inner();
    let target = UserId(id);
    if admin.0.id() == target {
        tracing::warn!(user_id = id, "an admin tried to revoke their own account");
        return Err(AppError::Forbidden(NOT_YOURSELF));
    }
    if state
        .db
        .run(move |c| users::find(c, target))
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    revocation::revoke(
        &state,
        Request {
            actor: Some(admin.0.id()),
            target,
            action: "admin.revoke",
            block: form.block.is_some(),
        },
    )
    .await?;
    // The detail page shows the outcome (the newest audit entry).
    Ok(see_other(&format!("/admin/users/{id}")))
}

pub async fn unblock(
    _: Allowance<AdminPost>,
    state: State,
    session: Session,
    admin: AdminUser,
    id: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&session, &form.csrf)?;
    let id = id.into_inner();
    let (actor, target) = (admin.0.id(), UserId(id));
    let found = state
        .db
        .run(move |c| {
            use diesel::Connection;
            c.transaction::<_, anyhow::Error, _>(|c| {
                if users::find(c, target)?.is_none() {
                    return Ok(false);
                }
                users::set_blocked(c, target, false)?;
                audit::record(
                    c,
                    &audit::NewEntry {
                        actor: Some(actor),
                        action: "admin.unblock",
                        target: Some(target),
                        detail: "sign-in allowed again",
                        outcome: "done",
                    },
                )?;
                Ok(true)
            })
        })
        .await?;
    if !found {
        return Err(AppError::NotFound);
    }
    tracing::info!(target_user = id, actor = %actor, "user unblocked");
    Ok(see_other(&format!("/admin/users/{id}")))
}
