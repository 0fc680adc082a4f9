//! `POST /risc`: the receiver of Cross-Account Protection's Security Event Tokens (RFC 8417,
//! pushed as RFC 8935 describes). A token is verified (`google::risc`), then each event it
//! carries is applied to the user it names, recorded by `jti` (a replay is acknowledged and
//! not applied again) and written to the audit log, in one transaction (`store::risc`).
//!
//! Answers: 202 on success (replays and unknown users and event types too: the provider must
//! not retry them), 400 with RFC 8935's `{"err", "description"}` for a token that fails
//! verification (nothing changed), 429 over the rate limit, 503 when the provider's keys
//! cannot be fetched or the database is down (the provider retries).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::google::risc::SetError;
use crate::secret::{double_hash_id, prefix_hash};
use crate::store::risc::{self, Applied, Effect, Received, TokenMatch};
use crate::store::users::UserId;
use crate::store::DbError;
use crate::web::errors::json_error;
use crate::web::limits::client_address;
use crate::web::State;

/// SETs are a few hundred bytes; anything much larger is not one.
pub const MAX_BODY: usize = 16 * 1024;
pub const CONTENT_TYPE: &str = "application/secevent+jwt";

const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
const OAUTH: &str = "https://schemas.openid.net/secevent/oauth/event-type/";

/// RFC 8935's error answer: `{"err", "description"}`.
fn answer(status: StatusCode, err: &str, description: &str) -> HttpResponse {
    json_error(status, ("err", err), ("description", description), None)
}

/// A 503 the provider retries after `Retry-After` (it delivers again, the event is not lost).
fn retry_later() -> HttpResponse {
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        ("err", "temporarily_unavailable"),
        ("description", "Try again later."),
        Some(30),
    )
}

/// `POST /risc`.
pub async fn receive(state: State, req: HttpRequest, body: web::Payload) -> HttpResponse {
    if let Some(addr) = client_address(&req, &state.settings.trusted_proxies) {
        if let Err(wait) = state.limits.risc.check(addr) {
            tracing::warn!(%addr, "POST /risc rate limit reached");
            return json_error(
                StatusCode::TOO_MANY_REQUESTS,
                ("err", "rate_limited"),
                ("description", "Too many requests."),
                Some(wait.as_secs().max(1)),
            );
        }
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if content_type.as_deref() != Some(CONTENT_TYPE) {
        return answer(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send the token as application/secevent+jwt.",
        );
    }
    let bytes = match body.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The body could not be read.",
            )
        }
        Err(_) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The body is larger than 16 KiB.",
            )
        }
    };
    let Ok(jwt) = std::str::from_utf8(&bytes) else {
        return answer(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The token is not text.",
        );
    };
    let set = match state.risc.verify(jwt).await {
        Ok(set) => set,
        Err(SetError::Unavailable(e)) => {
            tracing::warn!(error = %e, "a security event could not be verified: the provider's keys are unavailable");
            return retry_later();
        }
        Err(e) => {
            tracing::warn!(error = %e, code = e.code(), "a security event token was refused");
            return answer(StatusCode::BAD_REQUEST, e.code(), &e.to_string());
        }
    };
    for (event_type, body) in &set.events {
        match apply(&state, &set.jti, event_type, body).await {
            Ok(()) => {}
            Err(DbError::Unavailable(e)) => {
                tracing::warn!(error = %e, "a security event could not be applied: the database is unavailable");
                return retry_later();
            }
            Err(e) => {
                tracing::error!(error = %e, jti = %set.jti, "a security event could not be applied");
                return answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "The event could not be applied.",
                );
            }
        }
    }
    HttpResponse::Accepted().finish()
}

/// What an event asks of whom, then done.
async fn apply(
    state: &State,
    jti: &str,
    event_type: &str,
    body: &serde_json::Value,
) -> Result<(), DbError> {
    let short = event_type
        .strip_prefix(RISC)
        .or_else(|| event_type.strip_prefix(OAUTH))
        .unwrap_or(event_type);
    let reason = body["reason"].as_str().map(str::to_string);
    let subject = &body["subject"];
    let (user, effect) = match short {
        "token-revoked" => {
            let token = subject["token"].as_str().unwrap_or_default();
            let named = match subject["token_identifier_alg"].as_str() {
                Some("hash_base64_sha512_sha512") => double_hash_id(token).map(TokenMatch::Hash),
                Some("prefix") if !token.is_empty() => {
                    Some(TokenMatch::PrefixHash(prefix_hash(token)))
                }
                _ => None,
            };
            let found = match named.clone() {
                Some(t) => {
                    state
                        .db
                        .run(move |c| risc::credential_by_token(c, &t))
                        .await?
                }
                None => None,
            };
            match (found, named) {
                (Some((credential, user)), Some(named)) => {
                    (Some(user), Effect::DropCredential(credential, named))
                }
                _ => (None, Effect::Nothing),
            }
        }
        "verification" => (None, Effect::Nothing),
        _ => {
            let user = subject_user(state, subject).await?;
            let effect = match (short, reason.as_deref()) {
                ("sessions-revoked", _) => Effect::EndSessions,
                ("tokens-revoked", _) => Effect::DropTokens,
                ("account-disabled", Some("hijacking")) => Effect::Block,
                ("account-disabled", _) => Effect::EndSessions,
                ("account-enabled", _) => Effect::LiftProviderBlock,
                ("account-credential-change-required", _) => Effect::FlagCredentialChange,
                _ => Effect::Nothing,
            };
            (user, effect)
        }
    };
    let (owned_jti, kind) = (jti.to_string(), short.to_string());
    let applied = state
        .db
        .run(move |c| {
            risc::apply(
                c,
                &Received {
                    jti: &owned_jti,
                    event_type: &kind,
                    user,
                    reason: reason.as_deref(),
                    effect,
                },
            )
        })
        .await?;
    match applied {
        Applied::Replay => tracing::info!(
            jti,
            event = short,
            "a security event received again; acknowledged, not applied twice"
        ),
        Applied::Done(done) => tracing::info!(
            jti,
            event = short,
            user_id = ?user.map(|u| u.0),
            outcome = %done,
            "security event applied"
        ),
    }
    Ok(())
}

/// The user an `iss-sub` subject names, if they are ours.
async fn subject_user(
    state: &State,
    subject: &serde_json::Value,
) -> Result<Option<UserId>, DbError> {
    let (Some(iss), Some(sub)) = (subject["iss"].as_str(), subject["sub"].as_str()) else {
        return Ok(None);
    };
    let ours = state.oauth.config().issuer.as_str().trim_end_matches('/');
    if iss.trim_end_matches('/') != ours {
        return Ok(None);
    }
    let (iss, sub) = (ours.to_string(), sub.to_string());
    state
        .db
        .run(move |c| risc::user_by_subject(c, &iss, &sub))
        .await
}
