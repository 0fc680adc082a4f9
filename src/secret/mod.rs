//! Secrets and the types that carry them, below every other module: the keys derived from
//! `SECRET_KEY`, AES-256-GCM sealing (`Cipher`) and the `Token` wrapper that never prints its
//! value. `store` (sealed sessions), `google` (tokens on the wire) and `vault` (tokens at rest)
//! all build on it; it imports nothing from the crate.

mod cipher;

pub use cipher::{Cipher, SealError, SealedUnder};

use hkdf::Hkdf;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Keys derived from `SECRET_KEY`, each for one purpose, with the keys derived from
/// `SECRET_KEYS_PREVIOUS` still accepted for reading (key rotation).
#[derive(Clone)]
pub struct Keys {
    /// Signs the session cookie (actix-session wants 64 bytes).
    pub cookie: [u8; 64],
    /// The previous keys' cookie keys: a cookie made under one is still accepted.
    pub cookie_previous: Vec<[u8; 64]>,
    /// Encrypts stored tokens.
    pub tokens: Cipher,
    /// Encrypts session state (a separate key: sessions are re-sealed on every change).
    pub sessions: Cipher,
    /// Derives the in-process emulator's client secret, so `serve` and `sync` agree on it.
    pub emulator_client_secret: String,
}

/// What one secret derives.
struct Derived {
    cookie: [u8; 64],
    tokens: [u8; 32],
    sessions: [u8; 32],
    emulator: [u8; 24],
}

impl Derived {
    fn from(secret: &SecretString) -> Self {
        let hk = Hkdf::<Sha256>::new(
            Some(b"offline-access/v1"),
            secret.expose_secret().as_bytes(),
        );
        let mut d = Self {
            cookie: [0; 64],
            tokens: [0; 32],
            sessions: [0; 32],
            emulator: [0; 24],
        };
        // Output lengths are far below HKDF's limit, so expand cannot fail.
        hk.expand(b"session-cookie", &mut d.cookie)
            .expect("64 bytes is a valid HKDF-SHA256 length");
        hk.expand(b"vault-key-1", &mut d.tokens)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        hk.expand(b"session-key-1", &mut d.sessions)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        hk.expand(b"emulator-client-secret", &mut d.emulator)
            .expect("24 bytes is a valid HKDF-SHA256 length");
        d
    }
}

impl Keys {
    /// The keys of `current`, reading also what the `previous` secrets sealed.
    pub fn derive(current: &SecretString, previous: &[SecretString]) -> Self {
        use base64::Engine;
        let now = Derived::from(current);
        let old: Vec<Derived> = previous.iter().map(Derived::from).collect();
        let tokens: Vec<[u8; 32]> = old.iter().map(|d| d.tokens).collect();
        let sessions: Vec<[u8; 32]> = old.iter().map(|d| d.sessions).collect();
        Self {
            cookie: now.cookie,
            cookie_previous: old
                .iter()
                .map(|d| d.cookie)
                .filter(|c| *c != now.cookie)
                .collect(),
            tokens: Cipher::with_previous(&now.tokens, &tokens),
            sessions: Cipher::with_previous(&now.sessions, &sessions),
            emulator_client_secret: format!(
                "GOCSPX-{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(now.emulator)
            ),
        }
    }
}

/// A token value (access or refresh). Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Token(SecretString);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }
    /// The raw value, for the one place that must send it (an HTTP header or form).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// How a provider's Cross-Account Protection `token-revoked` event can name a refresh token,
/// in the form stored beside it (hashes only, never the token): the hex of
/// SHA-512(SHA-512(token)) (`hash_base64_sha512_sha512`, whose base64 decodes to those bytes)
/// and the hex SHA-256 of its first 16 characters (`prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIds {
    pub hash: String,
    pub prefix_hash: String,
}

/// Characters of a token a `prefix` identifier carries.
pub const TOKEN_PREFIX_LEN: usize = 16;

impl Token {
    pub fn ids(&self) -> TokenIds {
        use sha2::{Digest, Sha512};
        let value = self.expose();
        let twice = Sha512::digest(Sha512::digest(value.as_bytes()));
        let prefix: String = value.chars().take(TOKEN_PREFIX_LEN).collect();
        TokenIds {
            hash: hex(&twice),
            prefix_hash: prefix_hash(&prefix),
        }
    }
}

/// The stored form of a `prefix` identifier.
pub fn prefix_hash(prefix: &str) -> String {
    hex(&Sha256::digest(prefix.as_bytes()))
}

/// The stored form of a `hash_base64_sha512_sha512` identifier (base64, padded or not,
/// standard or URL-safe); `None` when it is not base64 of 64 bytes.
pub fn double_hash_id(base64_value: &str) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;
    let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(base64_value).ok())?;
    (bytes.len() == 64).then(|| hex(&bytes))
}

/// `bytes` in lowercase hex, in one allocation (every signed-in request hashes its session
/// key through this).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_hides_value() {
        let t = Token::new("ya29.secret");
        assert!(!format!("{t:?}").contains("ya29"));
        assert_eq!(t.expose(), "ya29.secret");
    }

    #[test]
    fn keys_are_deterministic_per_secret() {
        let a = Keys::derive(&SecretString::from("a".repeat(64)), &[]);
        let b = Keys::derive(&SecretString::from("a".repeat(64)), &[]);
        let c = Keys::derive(&SecretString::from("b".repeat(64)), &[]);
        assert_eq!(a.cookie, b.cookie);
        assert_ne!(a.cookie, c.cookie);
        assert_eq!(a.emulator_client_secret, b.emulator_client_secret);
        let sealed = a.tokens.seal(b"x", "aad");
        assert_eq!(b.tokens.open(&sealed, "aad").unwrap(), b"x");
        assert!(c.tokens.open(&sealed, "aad").is_err());
        assert!(
            a.sessions.open(&sealed, "aad").is_err(),
            "one key per purpose"
        );
    }

    #[test]
    fn previous_secrets_are_read_but_never_written() {
        let old = Keys::derive(&SecretString::from("a".repeat(64)), &[]);
        let rotated = Keys::derive(
            &SecretString::from("b".repeat(64)),
            &[SecretString::from("a".repeat(64))],
        );
        let sealed = old.tokens.seal(b"x", "aad");
        assert_eq!(rotated.tokens.open(&sealed, "aad").unwrap(), b"x");
        assert_eq!(
            rotated
                .tokens
                .sealed_under(&rotated.tokens.seal(b"x", "aad")),
            SealedUnder::Current
        );
        let session = old.sessions.seal(b"s", "aad");
        assert_eq!(rotated.sessions.open(&session, "aad").unwrap(), b"s");
        assert_eq!(rotated.cookie_previous, vec![old.cookie]);
        assert_ne!(rotated.cookie, old.cookie);
    }

    #[test]
    fn token_ids_match_both_identifier_forms() {
        use base64::Engine;
        use sha2::Sha512;
        let t = Token::new("1//0gLongRefreshTokenValue-abcdefghijklmnop");
        let ids = t.ids();
        let twice = Sha512::digest(Sha512::digest(t.expose().as_bytes()));
        let b64 = base64::engine::general_purpose::STANDARD.encode(twice);
        assert_eq!(double_hash_id(&b64), Some(ids.hash.clone()));
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(twice);
        assert_eq!(double_hash_id(&url), Some(ids.hash));
        assert_eq!(prefix_hash("1//0gLongRefresh"), ids.prefix_hash);
        assert_eq!(double_hash_id("not base64!"), None);
        assert_eq!(double_hash_id("YWJj"), None, "not 64 bytes");
    }
}
