//! Controls over the emulator as a whole: export and import its state, rotate its keys.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::body::bad;
use crate::errors::{json_response, Refusal};
use crate::persist::StateDocument;
use crate::state::Shared;

/// The largest state document `PUT /emulator/state` takes.
pub const MAX_STATE: usize = 64 << 20;

/// `GET /emulator/state`: the whole state, as the state file holds it.
pub async fn export(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(shared.export_json()))
}

/// `PUT /emulator/state`: replaces the state with an exported one.
pub async fn import(shared: web::Data<Shared>, body: web::Bytes) -> Result<HttpResponse, Refusal> {
    let doc = match StateDocument::parse(&body) {
        Ok(doc) => doc,
        Err(e) => return Err(bad(&e)),
    };
    let (accounts, refresh_tokens) = (doc.accounts.len(), doc.refresh_tokens.len());
    if let Err(e) = shared.import(doc) {
        return Err(bad(&e));
    }
    Ok(json_response(
        200,
        &json!({"imported": true, "accounts": accounts, "refresh_tokens": refresh_tokens}),
    ))
}

/// `POST /emulator/keys/rotate`: a new signing key signs from now on; the one it replaces stays
/// in the JWKS until the next rotation, and the one before is retired.
pub async fn rotate_keys(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    let before = shared.keys();
    let retired = before.previous.map(|k| k.kid.clone());
    let after = before.rotated();
    shared.set_keys(after);
    Ok(json_response(
        200,
        &json!({"kid": after.current.kid, "previous": before.current.kid, "retired": retired}),
    ))
}
