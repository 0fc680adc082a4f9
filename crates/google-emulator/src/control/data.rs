//! Controls that shape the data: accounts, clients, Drive files and Gmail messages.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{bad, not_found, parse};
use crate::errors::{json_response, Refusal};
use crate::model::{Account, ClientRegistration, DriveFile, Message};
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

/// What the append controls add to an account: Drive files or Gmail messages.
pub trait Appended: Sized {
    /// The control's body: `{"files": [...]}` or `{"messages": [...]}`.
    type Body: for<'de> Deserialize<'de>;
    type Input;
    /// The body's and the answer's field.
    const FIELD: &'static str;
    fn inputs(body: Self::Body) -> Vec<Self::Input>;
    fn list(account: &mut Account) -> &mut Vec<Self>;
    fn make(email: &str, index: usize, input: Self::Input, now: DateTime<Utc>) -> Self;
    /// The item as the answer names it.
    fn summary(&self) -> Value;
}

#[derive(Deserialize)]
pub struct FilesBody {
    files: Vec<FileInput>,
}

#[derive(Deserialize)]
pub struct MessagesBody {
    messages: Vec<MessageInput>,
}

impl Appended for DriveFile {
    type Body = FilesBody;
    type Input = FileInput;
    const FIELD: &'static str = "files";
    fn inputs(body: FilesBody) -> Vec<FileInput> {
        body.files
    }
    fn list(account: &mut Account) -> &mut Vec<Self> {
        &mut account.files
    }
    fn make(email: &str, index: usize, input: FileInput, now: DateTime<Utc>) -> Self {
        make_file(email, index, input, now)
    }
    fn summary(&self) -> Value {
        json!({"id": self.id, "name": self.name})
    }
}

impl Appended for Message {
    type Body = MessagesBody;
    type Input = MessageInput;
    const FIELD: &'static str = "messages";
    fn inputs(body: MessagesBody) -> Vec<MessageInput> {
        body.messages
    }
    fn list(account: &mut Account) -> &mut Vec<Self> {
        &mut account.messages
    }
    fn make(email: &str, index: usize, input: MessageInput, now: DateTime<Utc>) -> Self {
        make_message(email, index, input, now)
    }
    fn summary(&self) -> Value {
        json!({"id": self.id, "threadId": self.thread_id})
    }
}

/// `POST /emulator/accounts/{email}/files` and `…/messages`: appends to the account's list.
pub async fn append<T: Appended>(
    shared: web::Data<Shared>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: T::Body = parse(&body)?;
    let email = path.into_inner();
    let mut store = shared.store_mut();
    let Some(account) = store.account_mut(&email) else {
        return Err(not_found(&email));
    };
    let now = Utc::now();
    let mut ids = vec![];
    for item in T::inputs(input) {
        let index = T::list(account).len();
        let made = T::make(&account.email, index, item, now);
        ids.push(made.summary());
        T::list(account).push(made);
    }
    Ok(json_response(201, &json!({ T::FIELD: ids })))
}
