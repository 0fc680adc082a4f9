//! Controls that shape the data: accounts, clients, Drive files and Gmail messages.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::{bad, not_found, parse};
use crate::errors::{json_response, Refusal};
use crate::model::ClientRegistration;
use crate::seed::{make_account, make_file, make_message, AccountInput, FileInput, MessageInput};
use crate::state::Shared;

pub async fn list_accounts(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    let store = shared.store();
    let accounts: Vec<_> = store
        .accounts
        .iter()
        .map(|a| json!({"sub": a.sub, "email": a.email, "name": a.name, "files": a.files.len(), "messages": a.messages.len(), "disabled": store.is_disabled(&a.email)}))
        .collect();
    Ok(json_response(200, &json!({"accounts": accounts})))
}

pub async fn add_account(
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: AccountInput = parse(&body)?;
    if !input.email.contains('@') {
        return Err(bad("email must contain @"));
    }
    let account = make_account(input, Utc::now());
    let mut store = shared.store_mut();
    if store
        .accounts
        .iter()
        .any(|a| a.sub == account.sub && !a.email.eq_ignore_ascii_case(&account.email))
    {
        return Err(bad("sub already used by another account"));
    }
    let out = json!({"sub": account.sub, "email": account.email});
    store
        .accounts
        .retain(|a| !a.email.eq_ignore_ascii_case(&account.email));
    store.accounts.push(account);
    Ok(json_response(201, &out))
}

pub async fn add_client(
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let client: ClientRegistration = parse(&body)?;
    if client.client_id.is_empty() {
        return Err(bad("client_id must not be empty"));
    }
    let out = json!({"client_id": client.client_id, "kind": client.kind});
    shared
        .store_mut()
        .clients
        .insert(client.client_id.clone(), client);
    Ok(json_response(201, &out))
}

#[derive(Deserialize)]
struct FilesBody {
    files: Vec<FileInput>,
}

#[derive(Deserialize)]
struct MessagesBody {
    messages: Vec<MessageInput>,
}

pub async fn add_files(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: FilesBody = parse(&body)?;
    let email = path.into_inner();
    let mut store = shared.store_mut();
    let Some(account) = store.account_mut(&email) else {
        return Err(not_found(&email));
    };
    let now = Utc::now();
    let mut ids = vec![];
    for f in input.files {
        let file = make_file(&account.email, account.files.len(), f, now);
        ids.push(json!({"id": file.id, "name": file.name}));
        account.files.push(file);
    }
    Ok(json_response(201, &json!({"files": ids})))
}

pub async fn add_messages(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: MessagesBody = parse(&body)?;
    let email = path.into_inner();
    let mut store = shared.store_mut();
    let Some(account) = store.account_mut(&email) else {
        return Err(not_found(&email));
    };
    let now = Utc::now();
    let mut ids = vec![];
    for m in input.messages {
        let msg = make_message(&account.email, account.messages.len(), m, now);
        ids.push(json!({"id": msg.id, "threadId": msg.thread_id}));
        account.messages.push(msg);
    }
    Ok(json_response(201, &json!({"messages": ids})))
}
