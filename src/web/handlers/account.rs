//! `/account`: what the user granted, in plain words, and Disconnect (a confirmation page, then
//! a POST with the CSRF token): revoke at Google, delete the stored tokens, end every session.

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;

use super::revocation::{self, Request};
use crate::google::describe_scope;
use crate::vault::Revocation;
use crate::web::errors::AppError;
use crate::web::extract::CurrentUser;
use crate::web::feature::Feature;
use crate::web::page::render;
use crate::web::{csrf, State};

#[derive(Template)]
#[template(path = "pages/account.html")]
struct Account {
    email: String,
    name: String,
    /// Each granted scope in plain words, with the features it enables.
    scopes: Vec<(String, String)>,
    /// Background access works (a refresh token is stored).
    offline: bool,
}

#[derive(Template)]
#[template(path = "pages/disconnect.html")]
struct Confirm {
    /// The token the form carries.
    csrf: String,
}

#[derive(Template)]
#[template(path = "pages/disconnected.html")]
struct Disconnected {
    /// Google did not confirm the revocation (the local tokens are deleted anyway).
    provider_failed: bool,
}

/// A form that changes something: only its CSRF token. A missing token is a 403, like a wrong one.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn show(user: CurrentUser) -> HttpResponse {
    let scopes = user
        .granted_scopes()
        .into_iter()
        .map(|s| {
            let enables: Vec<&str> = Feature::ALL
                .into_iter()
                .filter(|f| f.scopes().contains(&s))
                .map(Feature::enables)
                .collect();
            let enables = match enables.is_empty() {
                true if s == "openid" || s == "email" || s.ends_with("userinfo.email") => {
                    "signing in".to_string()
                }
                true => String::new(),
                false => enables.join("; "),
            };
            (describe_scope(s).to_string(), enables)
        })
        .collect();
    render(
        StatusCode::OK,
        Account {
            email: user.user.email.clone(),
            name: user.user.name.clone(),
            offline: user.has_offline_access(),
            scopes,
        },
    )
}

pub async fn confirm(user: CurrentUser) -> HttpResponse {
    render(
        StatusCode::OK,
        Confirm {
            csrf: user.csrf.clone(),
        },
    )
}

pub async fn disconnect(
    state: State,
    session: Session,
    user: CurrentUser,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&session, &form.csrf)?;
    let outcome = revocation::revoke(
        &state,
        Request {
            actor: Some(user.id()),
            target: user.id(),
            action: "user.disconnect",
            block: false,
        },
    )
    .await?;
    session.purge();
    Ok(render(
        StatusCode::OK,
        Disconnected {
            provider_failed: matches!(outcome.provider, Revocation::ProviderFailed(_)),
        },
    ))
}
