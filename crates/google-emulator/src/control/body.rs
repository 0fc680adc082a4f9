//! What every control answers a malformed call with, and how it reads its JSON body.

use serde::Deserialize;
use serde_json::json;

use crate::errors::{json_refusal, Refusal};

/// 400 with a message saying what is wrong with the control call.
pub(super) fn bad(message: &str) -> Refusal {
    json_refusal(400, &json!({"error": "bad_request", "message": message}))
}

pub(super) fn not_found(email: &str) -> Refusal {
    json_refusal(
        404,
        &json!({"error": "not_found", "message": format!("no account {email}")}),
    )
}

/// The JSON body of a control call; an empty body is `{}`.
pub(super) fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refusal> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}" as &[u8]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| bad(&format!("invalid JSON body: {e}")))
}
