//! The provider's discovery document (OpenID Connect Discovery, with RFC 8414's revocation
//! endpoint and RFC 9207's `iss` promise) and the keys it names, fetched once for every client
//! and cached in a [`KeySetCache`]: an hour, or the keys' `Cache-Control` max-age when shorter.

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;

use crate::google::keyset::{fetch_keys, KeySetCache, MIN_REFETCH};
use crate::google::GoogleError;

/// How long discovery (and the keys it fetched) is trusted at most before it is fetched again;
/// sooner when the key set's `Cache-Control: max-age` says so (but never under
/// [`MIN_REFETCH`]).
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// The provider's discovery document and keys, fetched once for every client.
pub(super) struct Provider {
    issuer: url::Url,
    http: reqwest::Client,
    cache: KeySetCache<Discovered>,
}

/// What discovery found: the OpenID metadata with the provider's keys, and the revocation
/// endpoint when the provider lists one (Google does; it is not part of OpenID Connect
/// Discovery itself, RFC 8414 adds it).
pub(super) struct Discovered {
    pub metadata: CoreProviderMetadata,
    pub revocation_endpoint: Option<url::Url>,
    /// RFC 9207: the provider names itself (`iss`) in every authorization response.
    pub iss_parameter_supported: bool,
}

impl Discovered {
    /// Whether refresh tokens come from the standard `offline_access` scope (OpenID Connect
    /// Core 11) rather than Google's `access_type=offline`: the document lists the scope.
    pub(super) fn offline_access_scope(&self) -> bool {
        self.metadata
            .scopes_supported()
            .is_some_and(|s| s.iter().any(|s| s.as_str() == "offline_access"))
    }
}

impl Provider {
    pub(super) fn new(issuer: url::Url, http: reqwest::Client) -> Self {
        Self {
            issuer,
            http,
            cache: KeySetCache::new("discovery"),
        }
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The discovered provider, fetched again once it expires. When fetching again fails, the
    /// previous one is kept (with a warning) rather than failing every sign-in.
    pub(super) async fn get(&self) -> Result<Arc<Discovered>, GoogleError> {
        self.cache.get(|| self.discover()).await
    }

    /// Fetches discovery and keys again because an ID token names a key we do not know (the
    /// provider may have rotated its keys) — at most once a [`MIN_REFETCH`]: otherwise the
    /// cached provider, whose keys will refuse the token.
    pub(super) async fn rediscover(&self) -> Result<Arc<Discovered>, GoogleError> {
        let (discovered, fresh) = self.cache.refetch(|| self.discover()).await?;
        if !fresh {
            tracing::warn!("an ID token names an unknown key; keys were fetched moments ago");
        }
        Ok(discovered)
    }

    /// Fetches the discovery document and the keys; returns them with how long to trust them.
    async fn discover(&self) -> Result<(Discovered, Duration), GoogleError> {
        let unavailable =
            |e: anyhow::Error| GoogleError::Unavailable(e.context("discovery failed"));
        let issuer = IssuerUrl::new(self.issuer.as_str().trim_end_matches('/').to_string())
            .map_err(|e| unavailable(e.into()))?;
        // The document is fetched here rather than by `discover_async` so that the one fetch
        // yields both the OpenID metadata and the revocation endpoint beside it.
        let url = issuer
            .join(".well-known/openid-configuration")
            .map_err(|e| unavailable(e.into()))?;
        let request = self.http.get(url).header("Accept", "application/json");
        let body = crate::google::send("discovery", request)
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(e.into()))?
            .bytes()
            .await
            .map_err(|e| unavailable(e.into()))?;
        let metadata: CoreProviderMetadata =
            serde_json::from_slice(&body).map_err(|e| unavailable(e.into()))?;
        if metadata.issuer() != &issuer {
            return Err(unavailable(anyhow::anyhow!(
                "the discovery document names issuer {} instead of {}",
                metadata.issuer().as_str(),
                issuer.as_str()
            )));
        }
        #[derive(serde::Deserialize)]
        struct Extra {
            revocation_endpoint: Option<url::Url>,
            #[serde(default)]
            authorization_response_iss_parameter_supported: bool,
        }
        let extra: Extra = serde_json::from_slice(&body).map_err(|e| unavailable(e.into()))?;
        let (jwks, max_age) = fetch_keys(&self.http, metadata.jwks_uri().url().clone())
            .await
            .map_err(unavailable)?;
        let ttl = max_age
            .unwrap_or(DISCOVERY_TTL)
            .clamp(MIN_REFETCH, DISCOVERY_TTL);
        Ok((
            Discovered {
                metadata: metadata.set_jwks(jwks),
                revocation_endpoint: extra.revocation_endpoint,
                iss_parameter_supported: extra.authorization_response_iss_parameter_supported,
            },
            ttl,
        ))
    }
}
