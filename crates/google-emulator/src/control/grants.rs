//! Controls that act as the user or their phone would: expire tokens, revoke an app's access
//! (which sends RISC `tokens-revoked` to the streams of the clients revoked), sign in on
//! Android/iOS.

use std::collections::BTreeSet;

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::body::{bad, not_found, parse};
use super::risc::account_outgoing;
use crate::errors::{json_response, Refusal};
use crate::keys::IdTokenInput;
use crate::model::ClientKind;
use crate::model::{normalize_scope, scope_string, EMAIL, OPENID, PROFILE};
use crate::risc::delivery::{emit, streams_for};
use crate::risc::TOKENS_REVOKED;
use crate::state::id_token;
use crate::state::{CodeEntry, Shared};

pub async fn expire_tokens(
    shared: web::Data<Shared>,
    path: web::Path<String>,
) -> Result<HttpResponse, Refusal> {
    let email = path.into_inner();
    let mut store = shared.store_mut();
    if store.account(&email).is_none() {
        return Err(not_found(&email));
    }
    let past = Utc::now() - chrono::Duration::seconds(1);
    let mut n = 0;
    for a in store.access.values_mut() {
        if a.email.eq_ignore_ascii_case(&email) && a.expires_at > past {
            a.expires_at = past;
            n += 1;
        }
    }
    Ok(json_response(200, &json!({"expired": n})))
}

#[derive(Deserialize, Default)]
struct RevokeBody {
    client_id: Option<String>,
}

pub async fn revoke_grants(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: RevokeBody = parse(&body)?;
    let email = path.into_inner();
    let (sub, clients) = revoke_clients(&shared, &email, input.client_id)?;
    let mut streams = streams_for(&shared, TOKENS_REVOKED);
    streams.retain(|s| clients.contains(&s.client_id));
    let outgoing = account_outgoing(&shared, &sub, Default::default(), streams);
    let deliveries = emit(shared.into_inner(), TOKENS_REVOKED, outgoing).await;
    Ok(json_response(
        200,
        &json!({"revoked": clients, "deliveries": deliveries}),
    ))
}

/// Revokes the account's grants to `client_id` (every client when `None`): its `sub` and the
/// clients revoked.
fn revoke_clients(
    shared: &Shared,
    email: &str,
    client_id: Option<String>,
) -> Result<(String, BTreeSet<String>), Refusal> {
    let mut store = shared.store_mut();
    let Some(sub) = store.account(email).map(|a| a.sub.clone()) else {
        return Err(not_found(email));
    };
    let clients: BTreeSet<String> = match client_id {
        Some(c) => [c].into(),
        None => store.clients_of(email),
    };
    for c in &clients {
        store.revoke_grant(email, c);
    }
    Ok((sub, clients))
}

#[derive(Deserialize)]
struct MobileBody {
    account: String,
    client_id: String,
    server_client_id: String,
    #[serde(default)]
    scopes: Vec<String>,
    nonce: Option<String>,
}

pub async fn mobile_sign_in(
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: MobileBody = parse(&body)?;
    let mut store = shared.store_mut();
    let Some(account) = store.account(&input.account).cloned() else {
        return Err(not_found(&input.account));
    };
    match store.clients.get(&input.client_id).map(|c| c.kind) {
        Some(ClientKind::Android | ClientKind::Ios) => {}
        Some(ClientKind::Web) => return Err(bad("client_id must be an android or ios client")),
        None => return Err(bad("unknown client_id")),
    }
    match store.clients.get(&input.server_client_id).map(|c| c.kind) {
        Some(ClientKind::Web) => {}
        _ => return Err(bad("server_client_id must be a registered web client")),
    }
    let mut scopes: BTreeSet<String> = [OPENID, EMAIL, PROFILE]
        .iter()
        .map(|s| s.to_string())
        .collect();
    scopes.extend(input.scopes.iter().map(|s| normalize_scope(s)));
    let key = (account.email.clone(), input.server_client_id.clone());
    let consent = store.consents.entry(key).or_default();
    let issue_refresh = !consent.offline;
    consent.scopes.extend(scopes.iter().cloned());
    let code = store.new_code(CodeEntry {
        email: account.email.clone(),
        client_id: input.server_client_id.clone(),
        redirect_uri: String::new(),
        scopes: scopes.clone(),
        nonce: None,
        code_challenge: None,
        expires_at: Utc::now() + chrono::Duration::from_std(shared.code_ttl).unwrap_or_default(),
        issue_refresh,
        combine: false,
        azp: Some(input.client_id.clone()),
        used: false,
        family: None,
        auth_time: Utc::now(),
    });
    drop(store);
    let token = id_token(
        &shared,
        IdTokenInput {
            account: &account,
            aud: &input.server_client_id,
            azp: &input.client_id,
            scopes: &scopes,
            nonce: input.nonce.as_deref(),
            access_token: None,
            auth_time: Some(Utc::now().timestamp()),
        },
    );
    Ok(json_response(
        200,
        &json!({"server_auth_code": code, "id_token": token, "scope": scope_string(&scopes)}),
    ))
}
