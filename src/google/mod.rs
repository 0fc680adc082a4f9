//! The provider client: the provider's wire formats and nothing else, pointed at real Google,
//! another OpenID provider or the emulator purely by configuration ([`GoogleConfig`]).
//! `oauth/` is OAuth 2.0 / OpenID Connect (discovery, authorization URL, code exchange, mobile
//! code exchange, refresh, revocation, ID-token verification); `risc` verifies Cross-Account
//! Protection's Security Event Tokens; `keyset` is the signing-key cache both verifiers use;
//! `mobile` holds the server clients mobile apps' one-time codes are redeemed with;
//! `drive` and `gmail` are the two REST APIs (read through `get_json`, which retries 429 and
//! 5xx). It imports `secret` (the `Token` wrapper), `meters` (each call to the provider is
//! counted) and from `store` only `users::Profile`, the verified identity it hands up, and
//! `now`, the clock tokens expire by.

pub mod drive;
pub mod gmail;
pub mod keyset;
pub mod mobile;
pub mod oauth;
pub mod risc;

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
    /// For an emulator: how to sign in as one of its seeded accounts (the landing page shows
    /// it). `None` for a real provider.
    pub demo_hint: Option<String>,
}

/// What the landing page tells a visitor when Google is emulated.
const EMULATOR_HINT: &str = "Development mode: Google is emulated on this machine. Sign in as \
     alice@example.test (or bob@example.test, admin@example.test); no password is needed.";

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
            demo_hint: None,
        }
    }

    /// A Google emulator at `origin`, which is both the issuer and the API base; its seeded
    /// accounts are named in the demo hint.
    pub fn emulated(
        origin: Url,
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
    ) -> Self {
        Self {
            demo_hint: Some(EMULATOR_HINT.into()),
            ..Self::provider(
                client_id,
                client_secret,
                redirect_uri,
                origin.clone(),
                origin,
            )
        }
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

/// How many times a GET is sent when the API answers 429 or 5xx. Only these reads are ever
/// retried: a code exchange or a refresh is sent once.
const GET_ATTEMPTS: u32 = 3;
/// The longest wait before a retry; an API asking (Retry-After) for longer gets no retry.
const MAX_RETRY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Sends `request`, counted as a call to the provider's `endpoint` (status and latency).
async fn send(
    endpoint: &str,
    request: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    let started = std::time::Instant::now();
    let result = request.send().await;
    let status = result.as_ref().ok().map(|r| r.status().as_u16());
    crate::meters::upstream(endpoint, status, started.elapsed());
    result
}

/// GETs `url` from a Google REST API with `token` and reads its JSON answer; Google's error
/// statuses become [`GoogleError`]s (`api` names the API in messages). A 429 or 5xx answer is
/// tried again after a jittered backoff (or the Retry-After asked for, when short).
async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: Url,
    token: &crate::secret::Token,
    api: &str,
) -> Result<T, GoogleError> {
    let mut attempt = 0;
    let response = loop {
        let request = http.get(url.clone()).bearer_auth(token.expose());
        let response = send(&api.to_ascii_lowercase(), request)
            .await
            .map_err(|e| GoogleError::Unavailable(anyhow::anyhow!("{api} request failed: {e}")))?;
        let status = response.status();
        attempt += 1;
        if (status.as_u16() == 429 || status.is_server_error()) && attempt < GET_ATTEMPTS {
            if let Some(wait) = retry_delay(attempt, retry_after(&response)) {
                tracing::debug!(api, status = status.as_u16(), ?wait, "retrying a read");
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        break response;
    };
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
        403 => {
            // "API not enabled" (Google: accessNotConfigured / SERVICE_DISABLED) is not
            // transient: this provider or project does not offer the API to this app.
            let body = response.text().await.unwrap_or_default();
            if ["accessNotConfigured", "SERVICE_DISABLED"]
                .iter()
                .any(|reason| body.contains(reason))
            {
                Err(GoogleError::ApiNotOffered)
            } else {
                Err(GoogleError::Unavailable(anyhow::anyhow!(
                    "{api} answered 403"
                )))
            }
        }
        status => Err(GoogleError::Unavailable(anyhow::anyhow!(
            "{api} answered {status}"
        ))),
    }
}

/// The `Retry-After` of an answer, in its delay-seconds form.
fn retry_after(response: &reqwest::Response) -> Option<std::time::Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(std::time::Duration::from_secs(secs))
}

/// How long to wait before try number `attempt + 1`: what the server asked for when it is
/// short, otherwise 100 ms doubling per attempt, jittered ±50% so that many clients that failed
/// together do not come back together. `None`: do not retry.
fn retry_delay(attempt: u32, asked: Option<std::time::Duration>) -> Option<std::time::Duration> {
    use rand::Rng;
    match asked {
        Some(wait) if wait > MAX_RETRY_WAIT => None,
        Some(wait) => Some(wait),
        None => {
            let base = 100u64 << attempt.min(4);
            let jittered = rand::thread_rng().gen_range(base / 2..=base * 3 / 2);
            Some(std::time::Duration::from_millis(jittered))
        }
    }
}

/// Shared HTTP client for provider calls: no redirects followed, bounded timeouts.
pub fn http_client(
    connect_timeout: std::time::Duration,
    timeout: std::time::Duration,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .timeout(timeout)
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
    /// The API is not offered to this app (not enabled for the project, or the provider has
    /// no such API).
    #[error("the API is not offered to this app")]
    ApiNotOffered,
    /// The authorization response names another issuer than ours (RFC 9207), or none though
    /// ours promised to.
    #[error("the authorization response came from another issuer")]
    WrongIssuer,
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
    use super::*;
    use std::time::Duration;

    #[test]
    fn retries_back_off_with_jitter_and_honour_a_short_retry_after() {
        for attempt in 1..=2 {
            let base = 100u64 << attempt;
            for _ in 0..50 {
                let wait = retry_delay(attempt, None).unwrap().as_millis() as u64;
                assert!(
                    (base / 2..=base * 3 / 2).contains(&wait),
                    "{attempt}: {wait}"
                );
            }
        }
        let waits: std::collections::HashSet<_> =
            (0..20).map(|_| retry_delay(1, None).unwrap()).collect();
        assert!(waits.len() > 1, "jittered");
        assert_eq!(
            retry_delay(1, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_delay(1, Some(Duration::from_secs(30))), None);
    }

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
