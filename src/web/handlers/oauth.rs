//! `GET /oauth2callback` (the PHP sample's oauth2callback.php) and `POST /logout`.
//!
//! Without `code`: remember state, nonce and PKCE verifier in a sealed cookie (no database row
//! for an anonymous visitor) and send the browser to the provider. With `code`: check state, exchange, verify the ID token, store the user and
//! the credential, rotate the session id, then 303 to `/` at once so the code leaves the URL.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::google::oauth::AuthRequest;
use crate::google::GoogleError;
use crate::store::claims;
use crate::vault;
use crate::web::errors::{self, AppError};
use crate::web::extract;
use crate::web::extract::allowance::{Allowance, SignIn};
use crate::web::feature::{self, Feature};
use crate::web::page::{render, see_other};
use crate::web::pending::PendingSignIn;
use crate::web::session::{self, USER_ID_KEY};
use crate::web::{csrf, State};

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// Without `code`: the feature whose scope to ask for (incremental authorization).
    grant: Option<String>,
    /// The provider naming itself (RFC 9207).
    iss: Option<String>,
}

/// A sign-in error page, offering to try again.
fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    errors::error_page(status, title, message, true)
}

pub async fn callback(
    _: Allowance<SignIn>,
    state: State,
    session: Session,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let pending = state.pending.read(&req);
    let mut used = false;
    let mut resp = complete(
        &state,
        &session,
        &req,
        query.into_inner(),
        pending,
        &mut used,
    )
    .await
    .unwrap_or_else(|e| e.error_response());
    // An answer that matched this browser's sign-in used it up; one that did not (forged,
    // stale, from another issuer) leaves it for the genuine answer.
    if used {
        let _ = resp.add_cookie(&state.pending.removal());
    }
    resp
}

async fn complete(
    state: &State,
    session: &Session,
    req: &HttpRequest,
    query: CallbackQuery,
    pending: Option<PendingSignIn>,
    used: &mut bool,
) -> Result<HttpResponse, AppError> {
    if query.error.is_some() || query.code.is_some() {
        if let Some(refused) = wrong_issuer(state, query.iss.as_deref()).await? {
            return Ok(refused);
        }
    }
    if let Some(error) = query.error {
        // Declining an added scope entirely is still an answer: back to the feature, which
        // explains and offers to ask again.
        let pending = pending.filter(|p| state_matches(p, query.state.as_deref()));
        *used = pending.is_some();
        let asking = pending.and_then(|p| p.asking());
        if let Some(feature) = asking {
            if error == "access_denied" && session::user_id(session).is_some() {
                feature::remember_declined(session, feature)
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
        return start(state, session, req, feature).await;
    };

    // The pending authorization is single-use: claimed (atomically, in the database) before
    // its code is redeemed, so the same answer arriving twice is exchanged once.
    let pending = pending.filter(|p| state_matches(p, query.state.as_deref()));
    let claimed = match &pending {
        Some(p) => {
            let hash = claim_key(&p.auth.state);
            let until = p.expires_at();
            state
                .db
                .run(move |c| claims::claim(c, &hash, until))
                .await?
        }
        None => false,
    };
    *used = claimed;
    let Some(pending) = pending.filter(|_| claimed) else {
        tracing::warn!("callback with a missing, wrong or used state; nothing exchanged");
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            "The sign-in answer did not match a sign-in started in this browser, or it was already used. Nothing was stored. Please sign in again.",
        ));
    };
    let asking = pending.asking();

    let grant = match state.oauth.exchange(&code, pending.auth).await {
        Ok(g) => g,
        Err(GoogleError::Rejected { error }) => {
            tracing::warn!(error = %error, "the provider refused the authorization code");
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in expired",
                "{provider} did not accept this sign-in (it may have expired or been used already). Nothing was stored. Please sign in again.",
            ));
        }
        Err(GoogleError::InvalidIdToken(why)) => {
            tracing::warn!(reason = %why, "ID token failed verification");
            return Ok(error_page(
                StatusCode::BAD_GATEWAY,
                "Sign-in could not be verified",
                "The identity answer from {provider} failed our checks, so we did not sign you in. Please try again.",
            ));
        }
        Err(e) => return Err(e.into()),
    };

    let (user_id, offline) = match state.vault.sign_in(state.vault.client_id(), &grant).await? {
        vault::SignIn::Stored { user, offline } => (user.user_id(), offline),
        vault::SignIn::Blocked(_) => {
            tracing::warn!("a disabled user tried to sign in; nothing stored");
            return Ok(error_page(
                StatusCode::FORBIDDEN,
                "This account is blocked",
                "An administrator has blocked this account here. Nothing was stored.",
            ));
        }
    };
    crate::logging::record_user(user_id.0);
    tracing::info!(user_id = %user_id, offline, "signed in");

    // A new session id, holding the user, their CSRF token and when it was extended: the
    // page views that follow then read it without writing it back.
    session.clear();
    session.renew();
    session
        .insert(USER_ID_KEY, user_id.0)
        .and_then(|()| session::mark_seen(session))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving the session: {e}")))?;
    csrf::token(session)?;
    // Incremental authorization: back to the feature that asked, which explains if its scope
    // was not granted (granular consent) rather than asking again.
    let Some(feature) = asking else {
        return Ok(see_other("/"));
    };
    if !feature.granted_by(grant.scopes.split_whitespace()) {
        tracing::info!(user_id = %user_id, feature = feature.as_str(), "the user did not grant the feature's scope");
        feature::remember_declined(session, feature)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving the answer: {e}")))?;
    }
    Ok(see_other(feature.path()))
}

/// The mix-up defence (RFC 9207): an answer naming another issuer (or none, from a provider
/// that promised to name itself) is refused before anything is claimed or exchanged.
async fn wrong_issuer(state: &State, iss: Option<&str>) -> Result<Option<HttpResponse>, AppError> {
    match state.oauth.check_response_issuer(iss).await {
        Ok(()) => Ok(None),
        Err(GoogleError::WrongIssuer) => {
            tracing::warn!("authorization response from an unexpected issuer; nothing exchanged");
            Ok(Some(error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is not valid",
                "The sign-in answer did not come from the provider this app uses. Nothing was stored. Please sign in again.",
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the answer's `state` is the one this browser's pending sign-in sent (constant time).
fn state_matches(pending: &PendingSignIn, state: Option<&str>) -> bool {
    state.is_some_and(|s| csrf::constant_time_eq(pending.auth.state.as_bytes(), s.as_bytes()))
}

/// What the claims table stores of a state: its SHA-256, so the table holds nothing usable.
fn claim_key(state: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    let cookie = state.pending.issue(&PendingSignIn::new(pending, feature));
    Ok(HttpResponse::Found()
        .insert_header(("Location", url.as_str()))
        .cookie(cookie)
        .finish())
}

#[derive(Template)]
#[template(path = "pages/denied.html")]
struct Denied;

/// The provider sent `error=…` back.
fn provider_error(error: &str) -> HttpResponse {
    if error == "access_denied" {
        return render(StatusCode::OK, Denied);
    }
    // Name the error only when it looks like an OAuth error code; never echo other input.
    let known = error.len() <= 64 && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    tracing::warn!(
        error = if known { error } else { "(malformed)" },
        "provider returned an error"
    );
    let message = if known {
        format!("{{provider}} reported “{error}”. Nothing was stored. You can try again.")
    } else {
        "{provider} reported an error. Nothing was stored. You can try again.".to_string()
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
