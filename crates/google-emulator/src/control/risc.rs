//! Cross-Account Protection controls: the push streams (`/emulator/risc/stream`), events sent
//! on demand (`/emulator/risc/events`), and disabling or enabling an account, which sends its
//! event as Google does. Revoking an app's access (`grants::revoke_grants`) sends
//! `tokens-revoked` through [`account_event`].

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::{bad, not_found, parse};
use crate::errors::{json_refusal, json_response, Refusal};
use crate::model::Stream;
use crate::risc::delivery::{emit, streams_for, Outgoing};
use crate::risc::{
    account_subject, event_type, token_subject, TokenIdAlg, ACCOUNT_DISABLED, ACCOUNT_ENABLED,
    EVENT_TYPES, TOKEN_REVOKED, VERIFICATION,
};
use crate::state::Shared;

/// The reasons an `account-disabled` event may give.
const REASONS: [&str; 2] = ["hijacking", "bulk-account"];

#[derive(Deserialize)]
struct StreamBody {
    receiver: String,
    client_id: String,
    events_requested: Option<Vec<String>>,
}

/// `POST /emulator/risc/stream`: registers a stream, or replaces the one with its receiver.
pub async fn add_stream(
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: StreamBody = parse(&body)?;
    let stream = Stream {
        receiver: receiver_url(&input.receiver)?,
        client_id: match input.client_id.trim() {
            "" => return Err(bad("client_id must not be empty")),
            id => id.to_string(),
        },
        events_requested: requested(input.events_requested)?,
    };
    let mut store = shared.store_mut();
    store.risc_streams.retain(|s| s.receiver != stream.receiver);
    store.risc_streams.push(stream.clone());
    Ok(json_response(200, &json!(stream)))
}

/// An absolute http(s) URL with a host.
fn receiver_url(s: &str) -> Result<String, Refusal> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(s.to_string()),
        _ => Err(bad("receiver must be an absolute http(s) URL")),
    }
}

/// The event type URIs asked for (every type when `None`), each once, in the order given.
fn requested(names: Option<Vec<String>>) -> Result<Vec<String>, Refusal> {
    let Some(names) = names else {
        return Ok(EVENT_TYPES.iter().map(|t| t.to_string()).collect());
    };
    if names.is_empty() {
        return Err(bad("events_requested must name at least one event type"));
    }
    let mut out: Vec<String> = Vec::new();
    for name in &names {
        let uri = known_type(name)?;
        if !out.iter().any(|e| e == uri) {
            out.push(uri.to_string());
        }
    }
    Ok(out)
}

fn known_type(name: &str) -> Result<&'static str, Refusal> {
    event_type(name).ok_or_else(|| bad(&format!("unknown event type {name:?}")))
}

/// `GET /emulator/risc/stream`: every stream.
pub async fn list_streams(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    let streams = shared.store().risc_streams.clone();
    Ok(json_response(200, &json!({"streams": streams})))
}

#[derive(Deserialize)]
struct ReceiverBody {
    receiver: String,
}

/// `DELETE /emulator/risc/stream` `{"receiver": …}`: removes that stream.
pub async fn remove_stream(
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: ReceiverBody = parse(&body)?;
    let mut store = shared.store_mut();
    let before = store.risc_streams.len();
    store.risc_streams.retain(|s| s.receiver != input.receiver);
    if store.risc_streams.len() == before {
        return Err(json_refusal(
            404,
            &json!({"error": "not_found", "message": format!("no stream for receiver {}", input.receiver)}),
        ));
    }
    Ok(json_response(200, &json!({"removed": input.receiver})))
}

#[derive(Deserialize)]
struct EventBody {
    email: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    reason: Option<String>,
    #[serde(default)]
    token_identifier_alg: TokenIdAlg,
    state: Option<String>,
}

/// `POST /emulator/risc/events`: sends one event to every stream that asked for its type.
pub async fn send_event(
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: EventBody = parse(&body)?;
    let kind = known_type(&input.kind)?;
    let shared = shared.into_inner();
    let deliveries = match kind {
        VERIFICATION => {
            let mut body = Map::new();
            if let Some(state) = input.state {
                body.insert("state".into(), json!(state));
            }
            let outgoing = streams_for(&shared, kind)
                .into_iter()
                .map(|stream| Outgoing {
                    stream,
                    body: body.clone(),
                })
                .collect();
            emit(shared, kind, outgoing).await
        }
        _ => {
            let Some(email) = input.email else {
                return Err(bad("email is required for this event type"));
            };
            match kind {
                TOKEN_REVOKED => token_event(shared, &email, input.token_identifier_alg).await?,
                ACCOUNT_DISABLED => {
                    account_event(shared, &email, kind, reason_field(input.reason)?).await?
                }
                _ => account_event(shared, &email, kind, Map::new()).await?,
            }
        }
    };
    Ok(json_response(200, &json!({ "deliveries": deliveries })))
}

/// `{"reason": …}` when one is given (it must be one Google gives).
fn reason_field(reason: Option<String>) -> Result<Map<String, Value>, Refusal> {
    let mut extra = Map::new();
    if let Some(r) = reason {
        if !REASONS.contains(&r.as_str()) {
            return Err(bad("reason must be \"hijacking\" or \"bulk-account\""));
        }
        extra.insert("reason".into(), json!(r));
    }
    Ok(extra)
}

/// The account's `sub`, or 404.
fn sub_of(shared: &Shared, email: &str) -> Result<String, Refusal> {
    shared
        .store()
        .account(email)
        .map(|a| a.sub.clone())
        .ok_or_else(|| not_found(email))
}

/// Sends an event about the account (subject `iss-sub`, plus `extra`) to every stream that
/// asked for `kind`; the delivery reports.
pub async fn account_event(
    shared: Arc<Shared>,
    email: &str,
    kind: &'static str,
    extra: Map<String, Value>,
) -> Result<Vec<Value>, Refusal> {
    let sub = sub_of(&shared, email)?;
    let outgoing = account_outgoing(&shared, &sub, extra, streams_for(&shared, kind));
    Ok(emit(shared, kind, outgoing).await)
}

/// The account event for each of `streams`.
pub fn account_outgoing(
    shared: &Shared,
    sub: &str,
    extra: Map<String, Value>,
    streams: Vec<Stream>,
) -> Vec<Outgoing> {
    let mut body = Map::new();
    body.insert("subject".into(), account_subject(&shared.issuer, sub));
    body.extend(extra);
    streams
        .into_iter()
        .map(|stream| Outgoing {
            stream,
            body: body.clone(),
        })
        .collect()
}

/// `token-revoked` naming, for each stream, the account's newest valid refresh token for the
/// stream's client; 400 when a stream's client has none.
async fn token_event(
    shared: Arc<Shared>,
    email: &str,
    alg: TokenIdAlg,
) -> Result<Vec<Value>, Refusal> {
    sub_of(&shared, email)?;
    let streams = streams_for(&shared, TOKEN_REVOKED);
    let mut outgoing = Vec::new();
    {
        let store = shared.store();
        for stream in streams {
            let Some(token) = store.latest_refresh(email, &stream.client_id) else {
                return Err(bad(&format!(
                    "{email} has no valid refresh token for client {}",
                    stream.client_id
                )));
            };
            let mut body = Map::new();
            body.insert("subject".into(), token_subject(alg, token));
            outgoing.push(Outgoing { stream, body });
        }
    }
    Ok(emit(shared, TOKEN_REVOKED, outgoing).await)
}

#[derive(Deserialize)]
struct DisableBody {
    reason: Option<String>,
}

/// `POST /emulator/accounts/{email}/disable`: the account cannot sign in and its refresh
/// tokens are refused until it is enabled again; sends `account-disabled`.
pub async fn disable(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: DisableBody = parse(&body)?;
    let email = path.into_inner();
    let extra = reason_field(input.reason.clone())?;
    set_disabled(&shared, &email, Some(input.reason.clone()))?;
    let deliveries = account_event(shared.into_inner(), &email, ACCOUNT_DISABLED, extra).await?;
    Ok(json_response(
        200,
        &json!({"email": email, "disabled": true, "reason": input.reason, "deliveries": deliveries}),
    ))
}

/// `POST /emulator/accounts/{email}/enable`: lifts a disable; sends `account-enabled`.
pub async fn enable(
    shared: web::Data<Shared>,
    path: web::Path<String>,
) -> Result<HttpResponse, Refusal> {
    let email = path.into_inner();
    set_disabled(&shared, &email, None)?;
    let deliveries =
        account_event(shared.into_inner(), &email, ACCOUNT_ENABLED, Map::new()).await?;
    Ok(json_response(
        200,
        &json!({"email": email, "disabled": false, "deliveries": deliveries}),
    ))
}

/// Disables the account (`Some(reason)`) or enables it (`None`); 404 for an unknown one.
fn set_disabled(
    shared: &Shared,
    email: &str,
    disabled: Option<Option<String>>,
) -> Result<(), Refusal> {
    let mut store = shared.store_mut();
    if store.account(email).is_none() {
        return Err(not_found(email));
    }
    let key = email.to_ascii_lowercase();
    match disabled {
        Some(reason) => store.disabled.insert(key, reason),
        None => store.disabled.remove(&key),
    };
    Ok(())
}
