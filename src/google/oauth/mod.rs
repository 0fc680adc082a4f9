//! The OAuth/OIDC side of the provider (openidconnect crate), one [`OAuth`] per client:
//! `discovery` (the discovery document and its keys, fetched once for every client of the
//! provider), `tokens` (authorization URL, code exchange, mobile code exchange, refresh,
//! revocation) and `id_token` (ID-token verification, the verified profile).

mod discovery;
mod id_token;
mod tokens;

pub use id_token::unverified_audiences;
pub use tokens::{AuthRequest, Grant, PendingAuth, Refreshed, ServerGrant};

use std::sync::Arc;

use openidconnect::core::CoreClient;
use openidconnect::RedirectUrl;
use openidconnect::{ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet};
use secrecy::{ExposeSecret, SecretString};

use super::{GoogleConfig, GoogleError};
use discovery::{Discovered, Provider};

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The OAuth/OIDC side of the provider, for one OAuth client: the app's web client, or one of
/// the server clients mobile apps hand their codes to ([`OAuth::for_client`]). Clients of one
/// provider share its discovery document and keys.
pub struct OAuth {
    config: GoogleConfig,
    provider: Arc<Provider>,
}

impl OAuth {
    pub fn new(config: GoogleConfig, http: reqwest::Client) -> Self {
        let provider = Arc::new(Provider::new(config.issuer.clone(), http));
        Self { config, provider }
    }

    /// The same provider for another OAuth client (a mobile app's server client), sharing the
    /// discovery document and keys. It has no redirect URI: codes from mobile apps are
    /// redeemed with `redirect_uri` set to the empty string.
    pub fn for_client(&self, client_id: String, client_secret: SecretString) -> Self {
        Self {
            config: GoogleConfig {
                client_id,
                client_secret,
                redirect_uri: String::new(),
                ..self.config.clone()
            },
            provider: self.provider.clone(),
        }
    }

    pub fn config(&self) -> &GoogleConfig {
        &self.config
    }

    /// Makes sure the provider's discovery document and keys are at hand.
    pub async fn ready(&self) -> Result<(), GoogleError> {
        self.provider.get().await.map(|_| ())
    }

    /// The provider's HTTP client.
    fn http(&self) -> &reqwest::Client {
        self.provider.http()
    }

    /// This client as the discovered provider knows it.
    async fn client(&self) -> Result<(Client, Arc<Discovered>), GoogleError> {
        let discovered = self.provider.get().await?;
        Ok((self.client_of(&discovered)?, discovered))
    }

    fn client_of(&self, discovered: &Discovered) -> Result<Client, GoogleError> {
        let client = CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose_secret().to_string(),
            )),
        );
        if self.config.redirect_uri.is_empty() {
            return Ok(client);
        }
        let redirect = RedirectUrl::new(self.config.redirect_uri.clone())
            .map_err(|e| GoogleError::Unavailable(anyhow::anyhow!("the redirect URI: {e}")))?;
        Ok(client.set_redirect_uri(redirect))
    }

    /// Fetches discovery again (e.g. an ID token names a key we do not know yet).
    async fn rediscover(&self) -> Result<Client, GoogleError> {
        let discovered = self.provider.rediscover().await?;
        self.client_of(&discovered)
    }
}
