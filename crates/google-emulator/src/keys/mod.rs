//! The RSA signing key, its JWKS and certificate, ID tokens and the discovery document: pure
//! functions of the key and the issuer (the handlers that serve them are in `oauth::discovery`; the X.509 form in `x509`).

mod x509;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::hmac::{Hmac, Mac};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::faults::IdTokenFault;
use crate::model::{Account, Profile, EMAIL, OFFLINE_ACCESS, PROFILE};

pub struct Keys {
    signer: SigningKey<Sha256>,
    pub kid: String,
    pub jwk: Value,
    /// The same key as a self-signed X.509 certificate, for `/oauth2/v1/certs`.
    pub cert_pem: String,
    /// The public key as SubjectPublicKeyInfo PEM (LF line endings): the HMAC secret of the
    /// `hs256_public_key` fault, as an app that fetched the key might hold it.
    pub public_pem: String,
    /// The private key as PKCS#8 PEM, for the state file.
    pub private_pem: String,
}

/// The keys in force: ID tokens are signed with `current`; the JWKS also lists `previous`
/// (the key before the last rotation) until the next rotation retires it, as Google does.
#[derive(Clone, Copy)]
pub struct KeyRing {
    pub current: &'static Keys,
    pub previous: Option<&'static Keys>,
}

impl KeyRing {
    pub fn one(current: &'static Keys) -> Self {
        KeyRing {
            current,
            previous: None,
        }
    }

    /// Every key a verifier may meet, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &'static Keys> {
        std::iter::once(self.current).chain(self.previous)
    }

    /// A new current key; the current one becomes the previous, the previous is retired.
    pub fn rotated(&self) -> Self {
        KeyRing {
            current: Keys::fresh(),
            previous: Some(self.current),
        }
    }
}

impl Keys {
    fn new(key: RsaPrivateKey) -> Self {
        let private_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encoding an RSA private key as PEM does not fail")
            .to_string();
        let public = key.to_public_key();
        let n = URL_SAFE_NO_PAD.encode(public.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(public.e().to_bytes_be());
        let digest = Sha256::digest(public.n().to_bytes_be());
        let kid: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
        let jwk = json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": e});
        let signer = SigningKey::<Sha256>::new(key);
        let cert_pem = x509::self_signed_pem(&signer, &public, &digest[..8])
            .expect("encoding an RSA public key as DER does not fail");
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .expect("encoding an RSA public key as PEM does not fail");
        Keys {
            signer,
            kid,
            jwk,
            cert_pem,
            public_pem,
            private_pem,
        }
    }

    /// The process-wide generated key (RSA-2048, generated once).
    pub fn generated() -> &'static Keys {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| {
            let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key generation");
            Keys::new(key)
        })
    }

    /// A new RSA-2048 key (a rotation). Leaked: keys live as long as the process, and a
    /// process makes few.
    pub fn fresh() -> &'static Keys {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key generation");
        Box::leak(Box::new(Keys::new(key)))
    }

    /// Loads a PKCS#1 or PKCS#8 PEM private key. Leaked: it lives as long as the process.
    pub fn from_file(path: &Path) -> anyhow::Result<&'static Keys> {
        let pem = std::fs::read_to_string(path)?;
        Keys::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// A PKCS#1 or PKCS#8 PEM private key. Leaked, as [`Keys::fresh`].
    pub fn from_pem(pem: &str) -> anyhow::Result<&'static Keys> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|e| anyhow::anyhow!("not an RSA private key: {e}"))?;
        Ok(Box::leak(Box::new(Keys::new(key))))
    }

    /// Claims of an unexpired RS256 JWT signed by this key for `issuer`; `None` otherwise.
    pub fn verify(&self, jwt: &str, issuer: &str) -> Option<Value> {
        use rsa::signature::{Keypair, Verifier};
        let (input, sig) = jwt.rsplit_once('.')?;
        let (header, claims) = input.split_once('.')?;
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header["alg"] != "RS256" || header["kid"] != self.kid.as_str() {
            return None;
        }
        let sig = rsa::pkcs1v15::Signature::try_from(URL_SAFE_NO_PAD.decode(sig).ok()?.as_slice())
            .ok()?;
        self.signer
            .verifying_key()
            .verify(input.as_bytes(), &sig)
            .ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
        let fresh = claims["exp"].as_i64()? > chrono::Utc::now().timestamp();
        (fresh && claims["iss"] == issuer).then_some(claims)
    }

    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let sig = self.signer.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// What goes into an ID token.
pub struct IdTokenInput<'a> {
    pub account: &'a Account,
    pub aud: &'a str,
    pub azp: &'a str,
    pub scopes: &'a BTreeSet<String>,
    pub nonce: Option<&'a str>,
    pub access_token: Option<&'a str>,
    /// When the user authenticated (seconds since the epoch); `oidc-strict` tokens carry it.
    pub auth_time: Option<i64>,
}

pub fn at_hash(access_token: &str) -> String {
    let d = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&d[..16])
}

/// Signs an ID token for `issuer` as `profile` issues them, spoiled as `fault` says (for the
/// fault-injection tests).
pub fn sign_id_token(
    keys: &Keys,
    issuer: &str,
    profile: Profile,
    fault: Option<IdTokenFault>,
    input: IdTokenInput<'_>,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = id_token_claims(issuer, profile, &input, now);
    if let Some(fault) = fault {
        fault.spoil_claims(&mut claims, now);
    }
    encode_id_token(keys, fault, &Value::Object(claims))
}

/// The claims: Google puts the email and profile claims of the granted scopes in the token;
/// a strict OpenID provider keeps them for userinfo and states `auth_time` instead.
fn id_token_claims(
    issuer: &str,
    profile: Profile,
    input: &IdTokenInput<'_>,
    now: i64,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("azp".into(), json!(input.azp));
    claims.insert("aud".into(), json!(input.aud));
    claims.insert("sub".into(), json!(input.account.sub));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 3600));
    if let Some(at) = input.access_token {
        claims.insert("at_hash".into(), json!(at_hash(at)));
    }
    if let Some(nonce) = input.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    match profile {
        Profile::Google => {
            if input.scopes.contains(EMAIL) {
                claims.insert("email".into(), json!(input.account.email));
                claims.insert("email_verified".into(), json!(true));
            }
            if input.scopes.contains(PROFILE) {
                claims.insert("name".into(), json!(input.account.name));
                claims.insert("picture".into(), json!(input.account.picture));
                claims.insert("given_name".into(), json!(input.account.given_name));
                claims.insert("family_name".into(), json!(input.account.family_name));
            }
        }
        Profile::OidcStrict => {
            if let Some(t) = input.auth_time {
                claims.insert("auth_time".into(), json!(t));
            }
        }
    }
    claims
}

/// `header.claims.signature`, signed as `fault` says: RS256 with this key unless the fault is
/// about the header or the signature.
fn encode_id_token(keys: &Keys, fault: Option<IdTokenFault>, claims: &Value) -> String {
    match fault {
        Some(IdTokenFault::AlgNone) => {
            let header = json!({"alg": "none", "typ": "JWT"});
            format!("{}.", signing_input(&header, claims))
        }
        Some(IdTokenFault::UnknownKid) => {
            let header = json!({"alg": "RS256", "kid": "0000000000000000000000000000000000000000", "typ": "JWT"});
            keys.sign_jwt(&header, claims)
        }
        Some(IdTokenFault::BadSignature) => {
            let header = json!({"alg": "RS256", "kid": keys.kid, "typ": "JWT"});
            let jwt = keys.sign_jwt(&header, claims);
            let (head, sig) = jwt.rsplit_once('.').expect("three parts");
            let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
            if let Some(b) = raw.get_mut(10) {
                *b ^= 0x5a;
            }
            format!("{head}.{}", URL_SAFE_NO_PAD.encode(raw))
        }
        Some(IdTokenFault::Hs256PublicKey) => {
            // The real kid, so a verifier that looks the key up by kid and then lets the
            // header choose the algorithm uses the public key as the HMAC secret.
            let header = json!({"alg": "HS256", "kid": keys.kid, "typ": "JWT"});
            let input = signing_input(&header, claims);
            let mut mac = Hmac::<Sha256>::new_from_slice(keys.public_pem.as_bytes())
                .expect("HMAC takes a key of any length");
            mac.update(input.as_bytes());
            let sig = mac.finalize().into_bytes();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        }
        _ => {
            let header = json!({"alg": "RS256", "kid": keys.kid, "typ": "JWT"});
            keys.sign_jwt(&header, claims)
        }
    }
}

/// `base64url(header).base64url(claims)`, the part of a JWT that is signed.
fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// The discovery document. `oidc-strict` adds what a standards-compliant provider announces
/// beyond Google: the `offline_access` scope, RFC 9207 `iss` in the authorization response and
/// the claims its ID tokens carry.
pub fn discovery_document(issuer: &str, profile: Profile) -> Value {
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/v3/userinfo"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "jwks_uri": format!("{issuer}/oauth2/v3/certs"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"]
    });
    if profile.is_strict() {
        doc["scopes_supported"] = json!(["openid", "email", "profile", OFFLINE_ACCESS]);
        doc["claims_supported"] = json!([
            "at_hash",
            "aud",
            "auth_time",
            "azp",
            "email",
            "email_verified",
            "exp",
            "iat",
            "iss",
            "name",
            "nonce",
            "picture",
            "sub"
        ]);
        doc["authorization_response_iss_parameter_supported"] = json!(true);
    }
    doc
}
