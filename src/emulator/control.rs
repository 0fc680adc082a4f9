//! `/emulator/*` test controls (served only on loopback or with `allow_controls`).

use std::collections::BTreeSet;

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::errors::json_response;
use super::faults::{EndpointFault, IdTokenFault, ENDPOINTS};
use super::keys::IdTokenInput;
use super::model::{normalize_scope, scope_string, EMAIL, OPENID, PROFILE};
use super::model::{ClientKind, ClientRegistration};
use super::seed::{make_account, make_file, make_message, AccountInput, FileInput, MessageInput};
use super::state::id_token;
use super::state::{CodeEntry, Shared};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/emulator")
            .route("/reset", web::post().to(reset))
            .route("/accounts", web::post().to(add_account))
            .route("/accounts", web::get().to(list_accounts))
            .route("/clients", web::post().to(add_client))
            .route("/accounts/{email}/files", web::post().to(add_files))
            .route("/accounts/{email}/messages", web::post().to(add_messages))
            .route(
                "/accounts/{email}/expire-tokens",
                web::post().to(expire_tokens),
            )
            .route("/accounts/{email}/revoke", web::post().to(revoke_grants))
            .route("/mobile-sign-in", web::post().to(mobile_sign_in))
            .route("/faults", web::post().to(add_fault))
            .route("/faults", web::get().to(list_faults))
            .route("/faults", web::delete().to(clear_faults))
            .route("/requests", web::get().to(requests))
            .route("/requests", web::delete().to(clear_requests)),
    );
}

fn bad(message: &str) -> HttpResponse {
    json_response(400, &json!({"error": "bad_request", "message": message}))
}

fn not_found(email: &str) -> HttpResponse {
    json_response(
        404,
        &json!({"error": "not_found", "message": format!("no account {email}")}),
    )
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, HttpResponse> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}" as &[u8]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| bad(&format!("invalid JSON body: {e}")))
}

async fn reset(shared: web::Data<Shared>) -> HttpResponse {
    shared.reset();
    *shared.faults.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    json_response(200, &json!({"reset": true}))
}

async fn list_accounts(shared: web::Data<Shared>) -> HttpResponse {
    let store = shared.store();
    let accounts: Vec<_> = store
        .accounts
        .iter()
        .map(|a| json!({"sub": a.sub, "email": a.email, "name": a.name, "files": a.files.len(), "messages": a.messages.len()}))
        .collect();
    json_response(200, &json!({"accounts": accounts}))
}

async fn add_account(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let input: AccountInput = match parse(&body) {
        Ok(i) => i,
        Err(e) => return e,
    };
    if !input.email.contains('@') {
        return bad("email must contain @");
    }
    let account = make_account(input, Utc::now());
    let mut store = shared.store();
    if store
        .accounts
        .iter()
        .any(|a| a.sub == account.sub && !a.email.eq_ignore_ascii_case(&account.email))
    {
        return bad("sub already used by another account");
    }
    let out = json!({"sub": account.sub, "email": account.email});
    store
        .accounts
        .retain(|a| !a.email.eq_ignore_ascii_case(&account.email));
    store.accounts.push(account);
    json_response(201, &out)
}

async fn add_client(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let client: ClientRegistration = match parse(&body) {
        Ok(c) => c,
        Err(e) => return e,
    };
    if client.client_id.is_empty() {
        return bad("client_id must not be empty");
    }
    let out = json!({"client_id": client.client_id, "kind": client.kind});
    shared
        .store()
        .clients
        .insert(client.client_id.clone(), client);
    json_response(201, &out)
}

#[derive(Deserialize)]
struct FilesBody {
    files: Vec<FileInput>,
}

#[derive(Deserialize)]
struct MessagesBody {
    messages: Vec<MessageInput>,
}

async fn add_files(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let input: FilesBody = match parse(&body) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let email = path.into_inner();
    let mut store = shared.store();
    let Some(account) = store.account_mut(&email) else {
        return not_found(&email);
    };
    let now = Utc::now();
    let mut ids = vec![];
    for f in input.files {
        let file = make_file(&account.email, account.files.len(), f, now);
        ids.push(json!({"id": file.id, "name": file.name}));
        account.files.push(file);
    }
    json_response(201, &json!({"files": ids}))
}

async fn add_messages(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let input: MessagesBody = match parse(&body) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let email = path.into_inner();
    let mut store = shared.store();
    let Some(account) = store.account_mut(&email) else {
        return not_found(&email);
    };
    let now = Utc::now();
    let mut ids = vec![];
    for m in input.messages {
        let msg = make_message(&account.email, account.messages.len(), m, now);
        ids.push(json!({"id": msg.id, "threadId": msg.thread_id}));
        account.messages.push(msg);
    }
    json_response(201, &json!({"messages": ids}))
}

async fn expire_tokens(shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    let email = path.into_inner();
    let mut store = shared.store();
    if store.account(&email).is_none() {
        return not_found(&email);
    }
    let past = Utc::now() - chrono::Duration::seconds(1);
    let mut n = 0;
    for a in store.access.values_mut() {
        if a.email.eq_ignore_ascii_case(&email) && a.expires_at > past {
            a.expires_at = past;
            n += 1;
        }
    }
    json_response(200, &json!({"expired": n}))
}

#[derive(Deserialize, Default)]
struct RevokeBody {
    client_id: Option<String>,
}

async fn revoke_grants(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let input: RevokeBody = match parse(&body) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let email = path.into_inner();
    let mut store = shared.store();
    if store.account(&email).is_none() {
        return not_found(&email);
    }
    let clients: BTreeSet<String> = match input.client_id {
        Some(c) => [c].into(),
        None => store.clients_of(&email),
    };
    for c in &clients {
        store.revoke_grant(&email, c);
    }
    json_response(200, &json!({"revoked": clients}))
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

async fn mobile_sign_in(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let input: MobileBody = match parse(&body) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let mut store = shared.store();
    let Some(account) = store.account(&input.account).cloned() else {
        return not_found(&input.account);
    };
    match store.clients.get(&input.client_id).map(|c| c.kind) {
        Some(ClientKind::Android | ClientKind::Ios) => {}
        Some(ClientKind::Web) => return bad("client_id must be an android or ios client"),
        None => return bad("unknown client_id"),
    }
    match store.clients.get(&input.server_client_id).map(|c| c.kind) {
        Some(ClientKind::Web) => {}
        _ => return bad("server_client_id must be a registered web client"),
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
        },
    );
    json_response(
        200,
        &json!({"server_auth_code": code, "id_token": token, "scope": scope_string(&scopes)}),
    )
}

#[derive(Deserialize)]
struct FaultBody {
    endpoint: Option<String>,
    id_token: Option<IdTokenFault>,
    #[serde(default = "one")]
    count: u32,
    status: Option<u16>,
    delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

async fn add_fault(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    let input: FaultBody = match parse(&body) {
        Ok(i) => i,
        Err(e) => return e,
    };
    {
        let mut faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        match (input.endpoint, input.id_token) {
            (Some(endpoint), None) => {
                if !ENDPOINTS.contains(&endpoint.as_str()) {
                    return bad(&format!("endpoint must be one of {}", ENDPOINTS.join(", ")));
                }
                if input.status.is_none() && input.delay_ms.is_none() {
                    return bad("give status and/or delay_ms");
                }
                if input.status.is_some_and(|s| !(100..=599).contains(&s)) {
                    return bad("status must be 100..=599");
                }
                faults.endpoints.push(EndpointFault {
                    endpoint,
                    remaining: input.count,
                    status: input.status,
                    delay_ms: input.delay_ms,
                });
            }
            (None, Some(kind)) => faults.id_tokens.push((kind, input.count)),
            _ => return bad("give exactly one of endpoint or id_token"),
        }
    }
    let mut res = list_faults(shared).await;
    *res.status_mut() = actix_web::http::StatusCode::CREATED;
    res
}

async fn list_faults(shared: web::Data<Shared>) -> HttpResponse {
    let faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
    let id_tokens: Vec<_> = faults
        .id_tokens
        .iter()
        .map(|(k, n)| json!({"id_token": k, "remaining": n}))
        .collect();
    json_response(
        200,
        &json!({"endpoints": faults.endpoints, "id_tokens": id_tokens}),
    )
}

async fn clear_faults(shared: web::Data<Shared>) -> HttpResponse {
    *shared.faults.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    HttpResponse::NoContent().finish()
}

async fn requests(shared: web::Data<Shared>) -> HttpResponse {
    let log = shared.log.lock().unwrap_or_else(|e| e.into_inner());
    json_response(
        200,
        &json!({"requests": log.requests, "counts": log.counts}),
    )
}

async fn clear_requests(shared: web::Data<Shared>) -> HttpResponse {
    *shared.log.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    HttpResponse::NoContent().finish()
}
