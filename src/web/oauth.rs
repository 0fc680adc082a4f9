//! `GET /oauth2callback` (the PHP sample's oauth2callback.php) and `POST /logout`.
//!
//! Without `code`: remember state, nonce and PKCE verifier in the session and send the browser
//! to the provider. With `code`: check state, exchange, verify the ID token, store the user and
//! the credential, rotate the session id, then 303 to `/` at once so the code leaves the URL.

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;

use super::errors::{AppError, ErrorPage};
use super::extract;
use super::grant::{self, Feature};
use super::page::{render, see_other, SignedIn};
use super::session::{self, PENDING_KEY, USER_ID_KEY};
use super::{csrf, State};
use crate::google::oauth::{AuthRequest, Grant, PendingAuth};
use crate::google::GoogleError;
use crate::store::users::{self, UserId};

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// Without `code`: the feature whose scope to ask for (incremental authorization).
    grant: Option<String>,
}

fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(
        status,
        &ErrorPage {
            title,
            message,
            try_again: true,
            user: None,
        },
    )
}

pub async fn callback(
    state: State,
    session: Session,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    if let Some(error) = query.error {
        session.remove(PENDING_KEY);
        // Declining an added scope entirely is still an answer: back to the feature, which
        // explains and offers to ask again.
        if let Some(feature) = grant::take_asking(&session) {
            if error == "access_denied" && session::user_id(&session).is_some() {
                grant::remember_declined(&session, feature)
                    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving the answer: {e}")))?;
                return Ok(see_other(feature.path()));
            }
        }
        return Ok(provider_error(&error));
    }
    let Some(code) = query.code else {
        let feature = match query.grant.as_deref() {
            None => None,
            Some(f) => Some(Feature::parse(f).ok_or(AppError::BadRequest(
                "This link asks for access to something this app does not offer.",
            ))?),
        };
        return start(&state, &session, &req, feature).await;
    };

    // The pending authorization is single-use: taken out whatever happens next.
    let asking = grant::take_asking(&session);
    let pending = session
        .remove_as::<PendingAuth>(PENDING_KEY)
        .and_then(Result::ok);
    let state_ok = match (&pending, &query.state) {
        (Some(p), Some(s)) => csrf::constant_time_eq(p.state.as_bytes(), s.as_bytes()),
        _ => false,
    };
    let Some(pending) = pending.filter(|_| state_ok) else {
        tracing::warn!("callback with a missing or wrong state; nothing exchanged");
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            "The sign-in answer did not match a sign-in started in this browser, or it was already used. Nothing was stored. Please sign in again.",
        ));
    };

    let grant = match state.oauth.exchange(&code, pending).await {
        Ok(g) => g,
        Err(GoogleError::Rejected { error }) => {
            tracing::warn!(error = %error, "the provider refused the authorization code");
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in expired",
                "Google did not accept this sign-in (it may have expired or been used already). Nothing was stored. Please sign in again.",
            ));
        }
        Err(GoogleError::InvalidIdToken(why)) => {
            tracing::warn!(reason = %why, "ID token failed verification");
            return Ok(error_page(
                StatusCode::BAD_GATEWAY,
                "Sign-in could not be verified",
                "The identity answer from Google failed our checks, so we did not sign you in. Please try again.",
            ));
        }
        Err(e) => return Err(e.into()),
    };

    let Some(user_id) = store_user(&state, &grant).await? else {
        tracing::warn!("a disabled user tried to sign in; nothing stored");
        return Ok(error_page(
            StatusCode::FORBIDDEN,
            "This account is blocked",
            "An administrator has blocked this account here. Nothing was stored.",
        ));
    };
    let offline = state
        .vault
        .store_grant(user_id, state.vault.client_id(), &grant)
        .await?;
    tracing::info!(user_id = %user_id, offline, "signed in");

    // A new session id, holding the user, their CSRF token and when it was extended: the
    // page views that follow then read it without writing it back.
    session.clear();
    session.renew();
    session
        .insert(USER_ID_KEY, user_id.0)
        .and_then(|()| session::mark_seen(&session))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving the session: {e}")))?;
    csrf::token(&session)?;
    // Incremental authorization: back to the feature that asked, which explains if its scope
    // was not granted (granular consent) rather than asking again.
    let Some(feature) = asking else {
        return Ok(see_other("/"));
    };
    if !feature.granted_by(grant.scopes.split_whitespace()) {
        tracing::info!(user_id = %user_id, feature = feature.as_str(), "the user did not grant the feature's scope");
        grant::remember_declined(&session, feature)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving the answer: {e}")))?;
    }
    Ok(see_other(feature.path()))
}

/// Sends the browser to the provider's consent page. A signed-in user without a stored refresh
/// token gets `prompt=consent`, the only way to obtain one again.
async fn start(
    state: &State,
    session: &Session,
    req: &HttpRequest,
    feature: Option<Feature>,
) -> Result<HttpResponse, AppError> {
    let signed_in = extract::look_up(req).await?;
    if session.status() == actix_session::SessionStatus::Purged {
        // The session named a user who is gone or disabled and was just ended; nothing can be
        // stored in it any more, so start again with a fresh one.
        return Ok(HttpResponse::Found()
            .insert_header(("Location", "/oauth2callback"))
            .finish());
    }
    let (force_consent, hint) = match &signed_in {
        Some(s) => (!s.has_offline_access(), Some(s.user.email.as_str())),
        None => (false, None),
    };
    // Signed in and asking for a feature: just that scope (and openid, to know whose grant
    // comes back); include_granted_scopes folds it into what was granted before.
    let scopes: Vec<&str> = match (feature, &signed_in) {
        (Some(f), Some(_)) => vec!["openid", f.request_scope()],
        (Some(f), None) => state
            .settings
            .sign_in_scopes
            .iter()
            .map(String::as_str)
            .chain([f.request_scope()])
            .collect(),
        (None, _) => state
            .settings
            .sign_in_scopes
            .iter()
            .map(String::as_str)
            .collect(),
    };
    let (url, pending) = state
        .oauth
        .authorize_url(&AuthRequest {
            scopes: &scopes,
            force_consent,
            login_hint: hint,
        })
        .await?;
    let saved = session
        .insert(PENDING_KEY, pending)
        .and_then(|()| match feature {
            Some(f) => grant::remember_asking(session, f),
            None => {
                session.remove(grant::ASKING_KEY);
                Ok(())
            }
        });
    saved.map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving the pending sign-in: {e}")))?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", url.as_str()))
        .finish())
}

/// Upserts the user; `None` when an admin has blocked the account.
async fn store_user(state: &State, grant: &Grant) -> Result<Option<UserId>, AppError> {
    let profile = grant.profile.clone();
    let user = state.db.run(move |c| users::upsert(c, &profile)).await?;
    Ok(user.disabled_at.is_none().then(|| user.user_id()))
}

#[derive(Template)]
#[template(path = "pages/denied.html")]
struct Denied {
    user: Option<SignedIn>,
}

/// The provider sent `error=…` back.
fn provider_error(error: &str) -> HttpResponse {
    if error == "access_denied" {
        return render(StatusCode::OK, &Denied { user: None });
    }
    // Name the error only when it looks like an OAuth error code; never echo other input.
    let known = error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    tracing::warn!(
        error = if known { error } else { "(malformed)" },
        "provider returned an error"
    );
    let message = if known {
        format!("Google reported “{error}”. Nothing was stored. You can try again.")
    } else {
        "Google reported an error. Nothing was stored. You can try again.".to_string()
    };
    error_page(
        StatusCode::BAD_REQUEST,
        "Sign-in did not complete",
        &message,
    )
}

#[derive(serde::Deserialize)]
pub struct LogoutForm {
    /// Missing → refused like a wrong one (403).
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the server-side session.
pub async fn logout(
    session: Session,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&session, &form.csrf)?;
    if let Some(id) = session::user_id(&session) {
        tracing::info!(user_id = %id, "signed out");
    }
    session.purge();
    Ok(see_other("/"))
}
