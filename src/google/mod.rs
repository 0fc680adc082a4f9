//! The provider client: Google's wire formats and nothing else. It knows OAuth 2.0 / OpenID
//! Connect (authorization URL, code exchange, ID-token verification) and the Drive API; it is
//! pointed at real Google, another OpenID provider or the emulator purely by configuration.
//! It imports only `secret` (the `Token` wrapper) and `store::users::Profile`, the verified
//! identity it hands up.

pub mod drive;
pub mod gmail;
pub mod oauth;

use secrecy::SecretString;
use url::Url;

/// A granted scope in plain words, for the people who granted it.
pub fn describe_scope(scope: &str) -> &str {
    match scope {
        "openid" => "Know who you are on Google (sign-in)",
        "email" | "https://www.googleapis.com/auth/userinfo.email" => "See your email address",
        "profile" | "https://www.googleapis.com/auth/userinfo.profile" => {
            "See your name and profile picture"
        }
        "https://www.googleapis.com/auth/drive.metadata.readonly" => {
            "See the names of your Drive files and their details (not their contents)"
        }
        "https://www.googleapis.com/auth/drive.readonly" => {
            "See and download your Google Drive files"
        }
        "https://www.googleapis.com/auth/drive" => "See, edit and delete your Google Drive files",
        "https://www.googleapis.com/auth/gmail.readonly" => "Read your Gmail",
        other => other,
    }
}

/// The resolved OAuth client and endpoints the app talks to. Built in exactly two ways: from
/// a downloaded client secret ([`GoogleConfig::provider`]) or for an emulator at a known
/// origin ([`GoogleConfig::emulated`]).
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

impl GoogleConfig {
    /// A real provider (Google or another OpenID provider): the client from its
    /// `client_secret.json`, the issuer to discover, where its APIs live.
    pub fn provider(
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
        issuer: Url,
        api_base: Url,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            redirect_uri,
            issuer,
            api_base,
        }
    }

    /// A Google emulator at `origin`, which is both the issuer and the API base.
    pub fn emulated(
        origin: Url,
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
    ) -> Self {
        Self::provider(
            client_id,
            client_secret,
            redirect_uri,
            origin.clone(),
            origin,
        )
    }
}

/// An opaque `pageToken` of a Google list API (Drive, Gmail), as it travels in our own links:
/// bounded in length and limited to the characters Google's tokens use, so a tampered link is
/// refused before it reaches Google or a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken(String);

impl PageToken {
    pub const MAX_LEN: usize = 512;

    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'_' | b'.' | b'~' | b'!' | b'*' | b'=' | b'+' | b'/'
                    )
            });
        ok.then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// GETs `url` from a Google REST API with `token` and reads its JSON answer; Google's error
/// statuses become [`GoogleError`]s (`api` names the API in messages).
async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: Url,
    token: &crate::secret::Token,
    api: &str,
) -> Result<T, GoogleError> {
    let response = http
        .get(url)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|e| GoogleError::Unavailable(anyhow::anyhow!("{api} request failed: {e}")))?;
    match response.status().as_u16() {
        200 => response
            .json()
            .await
            .map_err(|e| GoogleError::Unavailable(anyhow::anyhow!("{api} answered badly: {e}"))),
        400 => Err(GoogleError::BadRequest),
        401 => Err(GoogleError::Unauthorized),
        // Google says which 403 it is in WWW-Authenticate; others (rate limits) are transient.
        403 if response
            .headers()
            .get("www-authenticate")
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.contains("insufficient_scope")) =>
        {
            Err(GoogleError::InsufficientScope)
        }
        404 => Err(GoogleError::NotFound),
        status => Err(GoogleError::Unavailable(anyhow::anyhow!(
            "{api} answered {status}"
        ))),
    }
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
    /// The API refused a parameter we sent (400), e.g. a page token it does not know.
    #[error("the API refused the request's parameters")]
    BadRequest,
    /// The API has no such item (404), e.g. a message deleted since it was listed.
    #[error("the API has no such item")]
    NotFound,
}

#[cfg(test)]
mod tests {
    use super::PageToken;

    #[test]
    fn page_tokens_are_bounded_opaque_strings() {
        assert!(PageToken::parse("ZW11MToyNQ").is_some());
        assert!(PageToken::parse("~!!~AI9FV7Tj-_x.y=+/").is_some());
        assert!(PageToken::parse("09876543210987654321").is_some());
        assert!(PageToken::parse("").is_none());
        assert!(PageToken::parse("a b").is_none());
        assert!(PageToken::parse("a&b=c").is_none());
        assert!(PageToken::parse("<script>").is_none());
        assert!(PageToken::parse(&"a".repeat(PageToken::MAX_LEN)).is_some());
        assert!(PageToken::parse(&"a".repeat(PageToken::MAX_LEN + 1)).is_none());
    }
}
