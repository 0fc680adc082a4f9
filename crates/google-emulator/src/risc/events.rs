//! Cross-Account Protection (RISC): the event vocabulary, the push streams a receiver
//! registers, the configuration document and the Security Event Tokens (SETs) themselves — pure
//! functions of the issuer and the signing key (the delivery is `super::delivery`'s, the controls are
//! `control::risc`).
//!
//! A SET is an RS256 JWT signed with the ID-token key, typed `secevent+jwt`, with `iss` the
//! RISC issuer (the OpenID issuer plus `/`, as Google's `https://accounts.google.com/`), `aud`
//! the stream's client id, `iat`, a random `jti` and exactly one event in `events`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::keys::Keys;

/// The only delivery method Google supports.
pub const PUSH: &str = "https://schemas.openid.net/secevent/risc/delivery-method/push";

const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
const OAUTH: &str = "https://schemas.openid.net/secevent/oauth/event-type/";

/// Every event type: its short name and its URI (the short name is the URI's last segment).
pub const EVENT_TYPES: [&str; 7] = [
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked",
    "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked",
    "https://schemas.openid.net/secevent/oauth/event-type/token-revoked",
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
    "https://schemas.openid.net/secevent/risc/event-type/account-enabled",
    "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required",
    "https://schemas.openid.net/secevent/risc/event-type/verification",
];

pub const TOKENS_REVOKED: &str = EVENT_TYPES[1];
pub const TOKEN_REVOKED: &str = EVENT_TYPES[2];
pub const ACCOUNT_DISABLED: &str = EVENT_TYPES[3];
pub const ACCOUNT_ENABLED: &str = EVENT_TYPES[4];
pub const VERIFICATION: &str = EVENT_TYPES[6];

/// The URI of an event type named by its short name (`tokens-revoked`) or its URI.
pub fn event_type(name: &str) -> Option<&'static str> {
    EVENT_TYPES.iter().copied().find(|uri| {
        *uri == name || (uri.strip_prefix(RISC).or_else(|| uri.strip_prefix(OAUTH)) == Some(name))
    })
}

/// The RISC issuer: the OpenID issuer with a trailing `/`.
pub fn risc_issuer(issuer: &str) -> String {
    format!("{issuer}/")
}

/// `GET /.well-known/risc-configuration`, in Google's shape.
pub fn configuration_document(issuer: &str) -> Value {
    json!({
        "issuer": risc_issuer(issuer),
        "jwks_uri": format!("{issuer}/oauth2/v3/certs"),
        "delivery_methods_supported": [PUSH],
        "configuration_endpoint": format!("{issuer}/v1beta/stream"),
        "status_endpoint": format!("{issuer}/v1beta/stream/status"),
        "verification_endpoint": format!("{issuer}/v1beta/stream:verify"),
    })
}

/// The subject of an account event: the account as its ID tokens name it.
pub fn account_subject(issuer: &str, sub: &str) -> Value {
    json!({"subject_type": "iss-sub", "iss": risc_issuer(issuer), "sub": sub})
}

/// How a `token-revoked` event names the refresh token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum TokenIdAlg {
    /// Standard base64 (padded) of SHA-512(SHA-512(token)).
    #[default]
    #[serde(rename = "hash_base64_sha512_sha512")]
    HashSha512Sha512,
    /// The token's first 16 characters.
    #[serde(rename = "prefix")]
    Prefix,
}

impl TokenIdAlg {
    pub fn name(self) -> &'static str {
        match self {
            TokenIdAlg::HashSha512Sha512 => "hash_base64_sha512_sha512",
            TokenIdAlg::Prefix => "prefix",
        }
    }

    /// The token's identifier under this algorithm.
    pub fn identify(self, token: &str) -> String {
        match self {
            TokenIdAlg::HashSha512Sha512 => {
                STANDARD.encode(Sha512::digest(Sha512::digest(token.as_bytes())))
            }
            TokenIdAlg::Prefix => token.chars().take(16).collect(),
        }
    }
}

/// The subject of a `token-revoked` event: one refresh token.
pub fn token_subject(alg: TokenIdAlg, refresh_token: &str) -> Value {
    json!({
        "subject_type": "oauth_token",
        "token_type": "refresh_token",
        "token_identifier_alg": alg.name(),
        "token": alg.identify(refresh_token),
    })
}

/// A random `jti`: 32 hex characters.
pub fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The claims of a SET carrying one event (`body`: its subject and extra fields).
pub fn set_claims(
    issuer: &str,
    aud: &str,
    jti: &str,
    iat: i64,
    event_type: &str,
    body: Map<String, Value>,
) -> Value {
    json!({
        "iss": risc_issuer(issuer),
        "aud": aud,
        "iat": iat,
        "jti": jti,
        "events": { event_type: body },
    })
}

/// The compact SET: RS256 with `keys`, header typed `secevent+jwt`.
pub fn sign_set(keys: &Keys, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "kid": keys.kid, "typ": "secevent+jwt"});
    keys.sign_jwt(&header, claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_and_uris_name_the_same_type() {
        assert_eq!(event_type("tokens-revoked"), Some(TOKENS_REVOKED));
        assert_eq!(event_type(TOKEN_REVOKED), Some(TOKEN_REVOKED));
        assert_eq!(event_type("verification"), Some(VERIFICATION));
        assert_eq!(
            event_type("account-credential-change-required"),
            Some(EVENT_TYPES[5])
        );
        assert_eq!(event_type("event-type/verification"), None);
        assert_eq!(event_type("nonsense"), None);
    }

    #[test]
    fn token_identifiers() {
        assert_eq!(
            TokenIdAlg::Prefix.identify("1//0abcdefghijklmnopq"),
            "1//0abcdefghijkl"
        );
        // base64(SHA-512(SHA-512(token))), padded (computed with Python's hashlib).
        assert_eq!(
            TokenIdAlg::HashSha512Sha512.identify("1//0abc"),
            "ma+LJ4N5uUthtEHdhbrBLSkt+NzN761mClr3UnGicjQFzpqK473ofUoBUqBWxcncrxxVpqdE3QbcWcnWjpszew=="
        );
    }
}
