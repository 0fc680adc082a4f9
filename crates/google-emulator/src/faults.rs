//! Fault injection and the request log: what can be injected and what was seen. Applying a
//! fault is `state::take_fault`; recording requests is the `requests` middleware.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::errors::{
    api_error, api_not_enabled, api_unauthenticated, error_page, oauth_error, Refusal,
};

pub const ENDPOINTS: &[&str] = &[
    "token",
    "revoke",
    "userinfo",
    "drive",
    "gmail",
    "certs",
    "discovery",
    "authorize",
];

/// Ways to spoil the next ID token, each one a check a relying party must make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdTokenFault {
    BadSignature,
    AlgNone,
    WrongIss,
    WrongAud,
    Expired,
    UnknownKid,
    /// `alg: HS256`, the HMAC keyed with the public key's PEM: algorithm confusion, which a
    /// verifier that lets the token pick the algorithm accepts.
    Hs256PublicKey,
    /// `iat` a day in the future (and `exp` an hour after it).
    IatFuture,
    /// A `nonce` other than the one the request sent.
    NonceMismatch,
    /// No `sub` at all.
    MissingSub,
    /// `aud` lists the client and another one, and `azp` names the other one.
    AzpForeign,
}

/// The other client of the `azp_foreign` fault.
pub const FOREIGN_CLIENT_ID: &str = "other-client.apps.googleusercontent.com";

impl IdTokenFault {
    /// Every kind of bad ID token, in the order the docs list them: the one list the
    /// emulator's tests and the app's iterate over.
    pub const ALL: [IdTokenFault; 11] = [
        IdTokenFault::BadSignature,
        IdTokenFault::AlgNone,
        IdTokenFault::WrongIss,
        IdTokenFault::WrongAud,
        IdTokenFault::Expired,
        IdTokenFault::UnknownKid,
        IdTokenFault::Hs256PublicKey,
        IdTokenFault::IatFuture,
        IdTokenFault::NonceMismatch,
        IdTokenFault::MissingSub,
        IdTokenFault::AzpForeign,
    ];

    /// The name the `/emulator/faults` control takes (`{"id_token": name}`).
    pub fn name(self) -> &'static str {
        match self {
            IdTokenFault::BadSignature => "bad_signature",
            IdTokenFault::AlgNone => "alg_none",
            IdTokenFault::WrongIss => "wrong_iss",
            IdTokenFault::WrongAud => "wrong_aud",
            IdTokenFault::Expired => "expired",
            IdTokenFault::UnknownKid => "unknown_kid",
            IdTokenFault::Hs256PublicKey => "hs256_public_key",
            IdTokenFault::IatFuture => "iat_future",
            IdTokenFault::NonceMismatch => "nonce_mismatch",
            IdTokenFault::MissingSub => "missing_sub",
            IdTokenFault::AzpForeign => "azp_foreign",
        }
    }

    /// Changes the claims as this fault says (faults about the signature change none).
    pub fn spoil_claims(self, claims: &mut Map<String, Value>, now: i64) {
        match self {
            IdTokenFault::WrongIss => {
                claims.insert("iss".into(), json!("https://evil.example.test"));
            }
            IdTokenFault::WrongAud => {
                claims.insert(
                    "aud".into(),
                    json!("someone-else.apps.googleusercontent.com"),
                );
            }
            IdTokenFault::Expired => {
                claims.insert("iat".into(), json!(now - 7200));
                claims.insert("exp".into(), json!(now - 3600));
            }
            IdTokenFault::IatFuture => {
                claims.insert("iat".into(), json!(now + 86_400));
                claims.insert("exp".into(), json!(now + 86_400 + 3600));
            }
            IdTokenFault::NonceMismatch => {
                let wrong = match claims.get("nonce").and_then(Value::as_str) {
                    Some(sent) => format!("{sent}-mismatch"),
                    None => "emulator-mismatched-nonce".to_string(),
                };
                claims.insert("nonce".into(), json!(wrong));
            }
            IdTokenFault::MissingSub => {
                claims.remove("sub");
            }
            IdTokenFault::AzpForeign => {
                let aud = claims.get("aud").cloned().unwrap_or(Value::Null);
                claims.insert("aud".into(), json!([aud, FOREIGN_CLIENT_ID]));
                claims.insert("azp".into(), json!(FOREIGN_CLIENT_ID));
            }
            IdTokenFault::BadSignature
            | IdTokenFault::AlgNone
            | IdTokenFault::UnknownKid
            | IdTokenFault::Hs256PublicKey => {}
        }
    }
}

/// A Drive/Gmail error other than the one a fault's status stands for by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiReason {
    /// 403: the API is not enabled in the client's Google Cloud project.
    #[serde(rename = "accessNotConfigured")]
    AccessNotConfigured,
}

impl ApiReason {
    /// The status Google answers this reason with.
    pub fn status(self) -> u16 {
        match self {
            ApiReason::AccessNotConfigured => 403,
        }
    }
}

/// The endpoints whose faults may name an [`ApiReason`].
pub const API_ENDPOINTS: &[&str] = &["drive", "gmail"];

#[derive(Debug, Clone, Serialize)]
pub struct EndpointFault {
    pub endpoint: String,
    pub remaining: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ApiReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Faults {
    pub endpoints: Vec<EndpointFault>,
    pub id_tokens: Vec<(IdTokenFault, u32)>,
}

impl Faults {
    /// Consumes one call of the first pending fault for `endpoint`; returns that fault.
    pub fn take(&mut self, endpoint: &str) -> Option<EndpointFault> {
        let i = self
            .endpoints
            .iter()
            .position(|f| f.endpoint == endpoint && f.remaining > 0)?;
        let f = &mut self.endpoints[i];
        f.remaining -= 1;
        let out = f.clone();
        if f.remaining == 0 {
            self.endpoints.remove(i);
        }
        Some(out)
    }

    pub fn take_id_token(&mut self) -> Option<IdTokenFault> {
        let i = self.id_tokens.iter().position(|(_, n)| *n > 0)?;
        let kind = self.id_tokens[i].0;
        self.id_tokens[i].1 -= 1;
        if self.id_tokens[i].1 == 0 {
            self.id_tokens.remove(i);
        }
        Some(kind)
    }
}

/// A Google-shaped error for an injected status (and reason, for Drive and Gmail).
pub fn fault_response(endpoint: &str, status: u16, reason: Option<ApiReason>) -> Refusal {
    match endpoint {
        "token" | "revoke" | "userinfo" => {
            let (error, description) = match status {
                401 if endpoint == "token" => ("invalid_client", "Unauthorized"),
                401 => ("invalid_token", "Invalid Credentials"),
                429 => ("rate_limit_exceeded", "Rate limit exceeded."),
                500..=599 => ("internal_failure", "Backend Error"),
                _ => ("invalid_request", "Bad Request"),
            };
            oauth_error(status, error, description)
        }
        "drive" | "gmail" if reason == Some(ApiReason::AccessNotConfigured) => {
            api_not_enabled(endpoint)
        }
        "drive" | "gmail" => {
            let (message, reason) = match status {
                401 => return api_unauthenticated(),
                403 => ("User Rate Limit Exceeded", "userRateLimitExceeded"),
                404 => ("Requested entity was not found.", "notFound"),
                429 => ("Rate Limit Exceeded", "rateLimitExceeded"),
                503 => ("The service is currently unavailable.", "backendError"),
                500..=599 => ("Internal Error", "backendError"),
                _ => ("Bad Request", "badRequest"),
            };
            api_error(status, message, reason, json!({}))
        }
        _ => error_page(
            status,
            "server_error",
            "The server encountered a temporary error (injected by the emulator).",
        ),
    }
}

/// What a handler adds to its request's log entry.
#[derive(Debug, Clone, Default)]
pub struct LogInfo {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What a RISC delivery attempt sent (its entry's path is [`RISC_DELIVERY`]).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryLog>,
    /// The answer's status; `None` (null) for a delivery that got no answer.
    pub status: Option<u16>,
}

/// The log entries' path (and count name) for RISC delivery attempts: requests the emulator
/// made, not ones it answered.
pub const RISC_DELIVERY: &str = "risc:delivery";

/// One attempt to push a SET: never the token itself.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryLog {
    pub receiver: String,
    pub event_type: String,
    pub jti: String,
    /// 1 for the first attempt, 2.. for the retries.
    pub attempt: u32,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    pub requests: Vec<LogEntry>,
    pub counts: BTreeMap<String, u64>,
}

impl RequestLog {
    const MAX: usize = 10_000;

    pub fn record(&mut self, entry: LogEntry) {
        let key = match entry.delivery {
            Some(_) => RISC_DELIVERY.to_string(),
            None => format!("{} {}", entry.method, entry.path),
        };
        *self.counts.entry(key).or_default() += 1;
        if entry.path == "/token" {
            if let Some(g) = &entry.grant_type {
                *self.counts.entry(format!("token:{g}")).or_default() += 1;
            }
        }
        if self.requests.len() >= Self::MAX {
            self.requests.remove(0);
        }
        self.requests.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_token_fault_is_listed_once_under_the_name_the_control_takes() {
        for (i, fault) in IdTokenFault::ALL.iter().enumerate() {
            assert_eq!(serde_json::to_value(fault).unwrap(), fault.name());
            let parsed: IdTokenFault = serde_json::from_value(json!(fault.name())).unwrap();
            assert_eq!(parsed, *fault);
            assert_eq!(IdTokenFault::ALL.iter().position(|f| f == fault), Some(i));
        }
    }
}
