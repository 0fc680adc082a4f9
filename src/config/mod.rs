//! Settings from the environment (see `.env.example` for every variable), one group per
//! concern, each parsing its own variables: `site` (origin, binds, admins), `database`,
//! `google` (the provider, Google's `client_secret.json`, sign-in scopes, its name),
//! `secrets`, `mobile` (server clients for mobile apps), `limits` (rates, timeouts, proxies,
//! session lifetime); `parsing` holds what they share.
//!
//! `Settings` is built once in `main` (or by a test) and passed down; nothing reads the
//! environment after start-up.

mod database;
mod google;
mod limits;
mod mobile;
mod parsing;
mod secrets;
mod site;

pub use database::sqlite_path;
pub use google::{ClientSecret, GoogleSource, DEFAULT_SIGN_IN_SCOPES};
pub use limits::{RateLimits, UpstreamTimeouts};
pub use mobile::MobileSettings;
pub use parsing::ConfigError;
pub use secrets::MIN_SECRET_LEN;

use secrecy::SecretString;
use url::Url;

use crate::store::DatabaseSettings;

/// Everything the app needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public origin of the app, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub base_url: Url,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// Where `GET /metrics` (Prometheus) is served (`METRICS_BIND`); `None`: nowhere.
    pub metrics_bind: Option<String>,
    /// Where the database is and how the pool is sized.
    pub database: DatabaseSettings,
    pub google: GoogleSource,
    /// Master secret; session and encryption keys are derived from it.
    pub secret_key: SecretString,
    /// Retired secrets (`SECRET_KEYS_PREVIOUS`): what they sealed or signed is still read,
    /// nothing is written under them. `rekey` moves every stored value to `secret_key`.
    pub secret_keys_previous: Vec<SecretString>,
    /// Emails (lower case) whose verified owners are admins (checked at every request).
    pub admin_emails: Vec<String>,
    /// Lifetime of a session without activity.
    pub session_ttl: chrono::Duration,
    /// Scopes asked for at sign-in (`SIGN_IN_SCOPES`); other features ask for theirs when
    /// first used.
    pub sign_in_scopes: Vec<String>,
    /// Server clients for mobile apps (`POST /authcode`).
    pub mobile: MobileSettings,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (`TRUSTED_PROXIES`); from
    /// any other peer the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Requests one client address may make a minute to the sign-in and admin routes.
    pub rate_limits: RateLimits,
    /// How long to wait for the provider: to connect, and for a whole answer.
    pub upstream: UpstreamTimeouts,
    /// The provider as the app names it to people (`PROVIDER_NAME`, default "Google").
    pub provider_name: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `get` (the environment, or a map in tests): each group in turn.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = parsing::Lookup::new(&get);
        let site = site::Site::from_lookup(&lookup)?;
        let database = database::from_lookup(&lookup)?;
        let google = google::Google::from_lookup(&lookup, &site.base_url)?;
        let emulated = matches!(google.source, GoogleSource::Emulator { .. });
        let secrets = secrets::Secrets::from_lookup(&lookup, emulated)?;
        Ok(Self {
            admin_emails: site::admin_emails(&lookup, emulated),
            base_url: site.base_url,
            bind: site.bind,
            metrics_bind: site.metrics_bind,
            database,
            google: google.source,
            sign_in_scopes: google.sign_in_scopes,
            provider_name: google.provider_name,
            secret_key: secrets.current,
            secret_keys_previous: secrets.previous,
            mobile: MobileSettings::from_lookup(&lookup)?,
            session_ttl: limits::session_ttl(&lookup)?,
            trusted_proxies: limits::trusted_proxies(&lookup)?,
            rate_limits: RateLimits::from_lookup(&lookup)?,
            upstream: UpstreamTimeouts::from_lookup(&lookup)?,
        })
    }

    /// The OAuth redirect URI registered for this app.
    pub fn redirect_uri(&self) -> String {
        format!("{}/oauth2callback", self.origin())
    }

    /// `APP_BASE_URL` without a trailing slash.
    pub fn origin(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_string()
    }

    /// Whether `ADMIN_EMAILS` makes this person an admin (a verified email only).
    pub fn is_admin_email(&self, email: &str, verified: bool) -> bool {
        verified
            && self
                .admin_emails
                .iter()
                .any(|a| a.eq_ignore_ascii_case(email))
    }

    /// Whether cookies must be `Secure`.
    pub fn https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Settings from these variables only (each group's tests use it too).
    pub(super) fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    pub(super) const KEY: &str =
        "0123456789012345678901234567890123456789012345678901234567890123456789";

    #[test]
    fn defaults_use_emulator_and_local_sqlite() {
        let s = settings(&[("SECRET_KEY", KEY)]).unwrap();
        assert_eq!(s.redirect_uri(), "http://127.0.0.1:8080/oauth2callback");
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert!(matches!(s.google, GoogleSource::Emulator { .. }));
        assert!(!s.https());
        assert_eq!(s.sign_in_scopes.len(), 4);
        assert!(s.sign_in_scopes.iter().all(|s| !s.contains("gmail")));
        let err =
            settings(&[("SECRET_KEY", KEY), ("SIGN_IN_SCOPES", "email profile")]).unwrap_err();
        assert!(err.0.contains("openid"), "{err}");
    }
}
