//! Cross-Account Protection (RISC): verifying the Security Event Tokens (RFC 8417) a provider
//! pushes to our receiver. The keys are the ones the provider's RISC configuration document
//! (`{issuer}/.well-known/risc-configuration`) names, cached in a [`KeySetCache`] as
//! discovery's are; the token must be RS256 (nothing else, `none` least of all), signed by one
//! of them, issued by the document's `issuer`, and addressed (`aud`) to one of our OAuth
//! clients. What the events ask for is decided above this module; here they are only read.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey;
use url::Url;

use super::keyset::{fetch_keys, KeySetCache, MIN_REFETCH};

/// How long the RISC configuration and its keys are trusted before they are fetched again.
const CONFIG_TTL: Duration = Duration::from_secs(3600);
/// Tokens claiming to be issued further in the future than this are refused.
const CLOCK_SKEW_SECS: i64 = 300;

/// Why a Security Event Token was refused: the RFC 8935 error code and a description.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Key(String),
    #[error("the token was issued by {0:?}, not by the provider's RISC issuer")]
    Issuer(String),
    #[error("the token is not addressed to any of this app's OAuth clients")]
    Audience,
    /// The provider's RISC configuration or keys could not be fetched.
    #[error("the provider's RISC configuration could not be fetched: {0}")]
    Unavailable(anyhow::Error),
}

impl SetError {
    /// The `err` code of RFC 8935's error response.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "invalid_request",
            Self::Key(_) => "invalid_key",
            Self::Issuer(_) => "invalid_issuer",
            Self::Audience => "invalid_audience",
            Self::Unavailable(_) => "temporarily_unavailable",
        }
    }
}

/// One verified Security Event Token.
#[derive(Debug, Clone)]
pub struct SecurityEventToken {
    pub jti: String,
    /// (event type URI, the event's body) for each event the token carries.
    pub events: Vec<(String, serde_json::Value)>,
}

struct RiscConfig {
    issuer: String,
    keys: CoreJsonWebKeySet,
}

/// Verifies Security Event Tokens from one provider for a set of OAuth client ids.
pub struct Receiver {
    http: reqwest::Client,
    /// The OpenID issuer; its RISC configuration sits beside its discovery document.
    issuer: Url,
    audiences: Vec<String>,
    /// An unknown `kid` fetches again at most once a [`MIN_REFETCH`]; while the provider is
    /// down, the previous configuration is used for that long before asking again.
    cache: KeySetCache<RiscConfig>,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    aud: Audience,
    jti: String,
    iat: Option<i64>,
    events: serde_json::Map<String, serde_json::Value>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Receiver {
    pub fn new(http: reqwest::Client, issuer: Url, audiences: Vec<String>) -> Self {
        Self {
            http,
            issuer,
            audiences,
            cache: KeySetCache::new("RISC configuration").holding_stale_for(MIN_REFETCH),
        }
    }

    /// Where the RISC configuration document is.
    pub fn configuration_url(&self) -> String {
        format!(
            "{}/.well-known/risc-configuration",
            self.issuer.as_str().trim_end_matches('/')
        )
    }

    /// Fetches the RISC configuration and its keys (`check`).
    pub async fn ready(&self) -> Result<(), SetError> {
        self.config().await.map(|_| ())
    }

    /// Verifies a compact-serialised SET and reads its events.
    pub async fn verify(&self, jwt: &str) -> Result<SecurityEventToken, SetError> {
        let malformed = |why: &str| SetError::Malformed(why.to_string());
        let mut parts = jwt.trim().split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not a signed JWT (three dot-separated parts)"));
        };
        let header: Header = decode_json(header).ok_or_else(|| malformed("unreadable header"))?;
        if header.alg != "RS256" {
            return Err(SetError::Key(format!(
                "alg {:?} is not accepted (RS256 only)",
                header.alg
            )));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| malformed("the signature is not base64url"))?;
        let signed = &jwt.trim()[..header_len(jwt.trim())];
        let config = self.config().await?;
        let config = if has_key(&config, header.kid.as_deref()) {
            config
        } else {
            let (config, fresh) = self
                .cache
                .refetch(|| self.fetch())
                .await
                .map_err(SetError::Unavailable)?;
            if !fresh && !has_key(&config, header.kid.as_deref()) {
                // The keys were fetched moments ago (perhaps for a forged token): the provider
                // may have rotated since, so ask it to retry rather than refusing for good.
                return Err(SetError::Unavailable(anyhow::anyhow!(
                    "the token names a key the provider did not list a moment ago"
                )));
            }
            config
        };
        let verified = config
            .keys
            .keys()
            .iter()
            .filter(|k| {
                header.kid.is_none() || k.key_id().map(|id| id.as_str()) == header.kid.as_deref()
            })
            .any(|k| {
                k.verify_signature(
                    &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                    signed.as_bytes(),
                    &signature,
                )
                .is_ok()
            });
        if !verified {
            return Err(SetError::Key(
                "the signature does not verify with the provider's RISC keys".into(),
            ));
        }
        let claims: Claims =
            decode_json(payload).ok_or_else(|| malformed("unreadable or incomplete claims"))?;
        if claims.iss != config.issuer {
            return Err(SetError::Issuer(claims.iss));
        }
        let audiences = match claims.aud {
            Audience::One(a) => vec![a],
            Audience::Many(a) => a,
        };
        if !audiences.iter().any(|a| self.audiences.contains(a)) {
            return Err(SetError::Audience);
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(malformed("jti must be 1 to 256 characters"));
        }
        if claims
            .iat
            .is_some_and(|iat| iat > chrono::Utc::now().timestamp() + CLOCK_SKEW_SECS)
        {
            return Err(malformed("iat is in the future"));
        }
        if claims.events.is_empty() {
            return Err(malformed("the token carries no event"));
        }
        Ok(SecurityEventToken {
            jti: claims.jti,
            events: claims.events.into_iter().collect(),
        })
    }

    /// The cached RISC configuration, fetched when it expired.
    async fn config(&self) -> Result<Arc<RiscConfig>, SetError> {
        self.cache
            .get(|| self.fetch())
            .await
            .map_err(SetError::Unavailable)
    }

    /// Fetches the RISC configuration and the keys it names; returns them with how long to
    /// trust them.
    async fn fetch(&self) -> anyhow::Result<(RiscConfig, Duration)> {
        #[derive(serde::Deserialize)]
        struct Document {
            issuer: String,
            jwks_uri: Url,
        }
        let request = self
            .http
            .get(self.configuration_url())
            .header("Accept", "application/json");
        let document: Document = super::send("risc_configuration", request)
            .await?
            .error_for_status()?
            .json()
            .await?;
        let (keys, _) = fetch_keys(&self.http, document.jwks_uri).await?;
        Ok((
            RiscConfig {
                issuer: document.issuer,
                keys,
            },
            CONFIG_TTL,
        ))
    }
}

fn has_key(config: &RiscConfig, kid: Option<&str>) -> bool {
    match kid {
        None => !config.keys.keys().is_empty(),
        Some(kid) => config
            .keys
            .keys()
            .iter()
            .any(|k| k.key_id().map(|id| id.as_str()) == Some(kid)),
    }
}

/// The length of `header.payload`, the part the signature covers.
fn header_len(jwt: &str) -> usize {
    jwt.rfind('.').unwrap_or(jwt.len())
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}
