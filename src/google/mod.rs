//! The provider client: Google's wire formats and nothing else. It knows OAuth 2.0 / OpenID
//! Connect (authorization URL, code exchange, ID-token verification) and the Drive API; it is
//! pointed at real Google, another OpenID provider or the emulator purely by configuration.

pub mod drive;
pub mod oauth;

use secrecy::SecretString;
use url::Url;

/// Scopes asked for at sign-in.
pub const SIGN_IN_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
];

/// The resolved OAuth client and endpoints the app talks to.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
    /// OpenID issuer; endpoints and keys come from its discovery document.
    pub issuer: Url,
    /// Base URL of the Drive / Gmail REST APIs.
    pub api_base: Url,
}

/// Shared HTTP client for provider calls: no redirects followed, bounded timeouts.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(20))
        .user_agent(concat!("offline-access/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// What went wrong talking to the provider.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    /// The provider could not be reached or answered nonsense.
    #[error("the sign-in provider is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The token endpoint refused the grant (e.g. `invalid_grant`).
    #[error("the provider refused the request: {error}")]
    Rejected { error: String },
    /// The ID token failed verification.
    #[error("the ID token failed verification: {0}")]
    InvalidIdToken(String),
    /// The access token was not accepted by the API (401).
    #[error("the access token was not accepted")]
    Unauthorized,
    /// The grant lacks a scope the API needs (403).
    #[error("the grant lacks a needed scope")]
    InsufficientScope,
}
