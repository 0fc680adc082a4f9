//! Settings from the environment (see `.env.example` for every variable).
//!
//! `Settings` is built once in `main` (or by a test) and passed down; nothing reads the
//! environment after start-up.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::store::DatabaseSettings;

/// Scopes asked for at sign-in unless `SIGN_IN_SCOPES` says otherwise: who the user is, and
/// the Drive file list the home page shows (as Google's PHP sample asks).
pub const DEFAULT_SIGN_IN_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
];

/// Minimum length of `SECRET_KEY`.
pub const MIN_SECRET_LEN: usize = 64;

/// A configuration mistake: one line that says what to set.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn bad(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Where the app's OAuth client and Google's endpoints come from.
#[derive(Debug, Clone)]
pub enum GoogleSource {
    /// No client secret configured: run the emulator in-process on this address, keeping its
    /// state in `state` across restarts (`None`: in memory only).
    Emulator {
        bind: String,
        state: Option<std::path::PathBuf>,
    },
    /// A real provider: a downloaded client secret plus the issuer to discover.
    Provider {
        client: Box<ClientSecret>,
        issuer: Url,
        api_base: Url,
    },
}

/// The parts of Google's `client_secret.json` the app uses.
#[derive(Clone)]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uris: Vec<String>,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

impl ClientSecret {
    /// Parses Google's download format: `{"web": {...}}` (or `{"installed": {...}}`).
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        Self::parse_for("GOOGLE_CLIENT_SECRET_FILE", json)
    }

    /// The same, naming the variable `var` that points at the file in its error messages.
    fn parse_for(var: &str, json: &str) -> Result<Self, ConfigError> {
        #[derive(serde::Deserialize)]
        struct Inner {
            client_id: String,
            client_secret: String,
            #[serde(default)]
            redirect_uris: Vec<String>,
        }
        #[derive(serde::Deserialize)]
        struct File {
            web: Option<Inner>,
            installed: Option<Inner>,
        }
        let file: File = serde_json::from_str(json).map_err(|e| {
            bad(format!(
                "{var} is not a client secret JSON file downloaded from Google ({e})"
            ))
        })?;
        let inner = file.web.or(file.installed).ok_or_else(|| {
            bad(format!(
                "{var} has neither a \"web\" nor an \"installed\" client"
            ))
        })?;
        if inner.client_id.is_empty() || inner.client_secret.is_empty() {
            return Err(bad(format!("{var} lacks client_id or client_secret")));
        }
        Ok(Self {
            client_id: inner.client_id,
            client_secret: SecretString::from(inner.client_secret),
            redirect_uris: inner.redirect_uris,
        })
    }
}

/// The server clients that redeem mobile apps' `serverAuthCode`s (`POST /authcode`): one
/// default (the web client when none is set) and optional per-platform ones, as Google Sign-In
/// lets an app name one server client for both platforms or one each.
#[derive(Debug, Clone, Default)]
pub struct MobileSettings {
    /// `MOBILE_SERVER_CLIENT_…`; `None`: the app's web client.
    pub default: Option<ClientSecret>,
    /// `ANDROID_SERVER_CLIENT_…`
    pub android: Option<ClientSecret>,
    /// `IOS_SERVER_CLIENT_…`
    pub ios: Option<ClientSecret>,
    /// `MOBILE_APP_CLIENT_IDS`: the Android/iOS client ids allowed as an ID token's `azp`
    /// (empty: any).
    pub app_client_ids: Vec<String>,
    /// `AUTHCODE_RATE_PER_MINUTE`: requests one address may make to `/authcode` a minute.
    pub per_minute: u32,
}

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
    /// Shown on the landing page in emulator mode: how to sign in as a seeded account.
    pub demo_hint: Option<String>,
    /// Requests one client address may make a minute to the sign-in and admin routes.
    pub rate_limits: RateLimits,
    /// How long to wait for the provider: to connect, and for a whole answer.
    pub upstream: UpstreamTimeouts,
    /// The provider as the app names it to people (`PROVIDER_NAME`, default "Google").
    pub provider_name: String,
}

/// Per-address allowances a minute (`SIGN_IN_RATE_PER_MINUTE`, `ADMIN_RATE_PER_MINUTE`; the
/// mobile endpoint's is in [`MobileSettings::per_minute`]).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub sign_in: u32,
    pub admin: u32,
    /// Security event tokens one address may push a minute (`RISC_RATE_PER_MINUTE`).
    pub risc: u32,
}

/// Bounds on every call to the provider (`UPSTREAM_CONNECT_TIMEOUT_SECS`,
/// `UPSTREAM_TIMEOUT_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct UpstreamTimeouts {
    pub connect: std::time::Duration,
    pub total: std::time::Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let base = get("APP_BASE_URL").unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let base_url = parse_origin("APP_BASE_URL", &base)?;
        let bind = get("BIND").unwrap_or_else(|| default_bind(&base_url));
        let metrics_bind = get("METRICS_BIND").filter(|b| !b.trim().is_empty());
        if metrics_bind.as_deref() == Some(bind.as_str()) {
            return Err(bad(
                "METRICS_BIND must differ from BIND: metrics are served apart from the public app",
            ));
        }
        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/offline-access.db".into());
        crate::store::Backend::from_url(&database_url).map_err(|e| bad(e.to_string()))?;

        let google = match get("GOOGLE_CLIENT_SECRET_FILE") {
            // The emulator signs anyone in without a password: never behind a public https
            // origin.
            None if base_url.scheme() == "https" => {
                return Err(bad(
                    "APP_BASE_URL is https but GOOGLE_CLIENT_SECRET_FILE is not set: the built-in Google \
                     emulator (passwordless sign-in) is for local development only; set \
                     GOOGLE_CLIENT_SECRET_FILE to your Google client's JSON",
                ));
            }
            None => GoogleSource::Emulator {
                bind: get("EMULATOR_BIND").unwrap_or_else(|| "127.0.0.1:8081".into()),
                // Empty: in memory only.
                state: match get("EMULATOR_STATE_FILE") {
                    None => Some("data/emulator-state.json".into()),
                    Some(p) if p.trim().is_empty() => None,
                    Some(p) => Some(p.into()),
                },
            },
            Some(path) => {
                let json = std::fs::read_to_string(&path).map_err(|e| {
                    bad(format!(
                        "GOOGLE_CLIENT_SECRET_FILE={path} cannot be read: {e}"
                    ))
                })?;
                let client = ClientSecret::parse(&json)?;
                let issuer =
                    get("GOOGLE_ISSUER").unwrap_or_else(|| "https://accounts.google.com".into());
                let issuer = Url::parse(&issuer)
                    .map_err(|e| bad(format!("GOOGLE_ISSUER is not a URL ({e})")))?;
                let api =
                    get("GOOGLE_API_BASE").unwrap_or_else(|| "https://www.googleapis.com".into());
                let api_base = parse_origin("GOOGLE_API_BASE", &api)?;
                // Tokens and codes travel to these: an https site must not send them in clear
                // text to anything but this machine.
                if base_url.scheme() == "https" {
                    for (var, url) in [("GOOGLE_ISSUER", &issuer), ("GOOGLE_API_BASE", &api_base)] {
                        if url.scheme() != "https" && !is_loopback(url) {
                            return Err(bad(format!(
                                "{var} must be https when APP_BASE_URL is (got {url}); plain http \
                                 is accepted only for this machine (127.0.0.1, ::1, localhost)"
                            )));
                        }
                    }
                }
                GoogleSource::Provider {
                    client: Box::new(client),
                    issuer,
                    api_base,
                }
            }
        };

        let secret_key = match (get("SECRET_KEY"), get("SECRET_KEY_FILE")) {
            (Some(_), Some(_)) => {
                return Err(bad("set SECRET_KEY or SECRET_KEY_FILE, not both"));
            }
            (Some(key), None) => SecretString::from(key),
            (None, Some(path)) => SecretString::from(
                std::fs::read_to_string(&path)
                    .map_err(|e| bad(format!("SECRET_KEY_FILE={path} cannot be read: {e}")))?
                    .trim()
                    .to_string(),
            ),
            (None, None) => match &google {
                GoogleSource::Emulator { .. } => {
                    load_or_generate_secret(Path::new("data/secret.key"))?
                }
                GoogleSource::Provider { .. } => {
                    return Err(bad(
                        "SECRET_KEY or SECRET_KEY_FILE must be set when GOOGLE_CLIENT_SECRET_FILE is \
                         (e.g. SECRET_KEY=\"$(openssl rand -base64 48)\")",
                    ));
                }
            },
        };
        if secret_key.expose_secret().chars().count() < MIN_SECRET_LEN {
            return Err(bad(format!(
                "SECRET_KEY must be at least {MIN_SECRET_LEN} characters of random text \
                 (e.g. `openssl rand -base64 48`)"
            )));
        }

        let secret_keys_previous = previous_secrets(&get, &secret_key)?;

        // In emulator mode the seeded admin@example.test is an admin unless ADMIN_EMAILS says
        // otherwise, so a newcomer can open the dashboard at once.
        let admin_default = match &google {
            GoogleSource::Emulator { .. } => "admin@example.test",
            GoogleSource::Provider { .. } => "",
        };
        let admin_emails = list(Some(
            get("ADMIN_EMAILS").unwrap_or_else(|| admin_default.to_string()),
        ))
        .into_iter()
        .map(|s| s.to_lowercase())
        .collect();
        let db_pool_size = parse_num(&get, "DB_POOL_SIZE", 10)?;
        if db_pool_size == 0 {
            return Err(bad("DB_POOL_SIZE must be at least 1"));
        }
        let db_timeout = std::time::Duration::from_secs(parse_num(&get, "DB_TIMEOUT_SECS", 5)?);
        let ttl_hours: i64 = parse_num(&get, "SESSION_TTL_HOURS", 24 * 7)?;
        if !(1..=24 * 366).contains(&ttl_hours) {
            return Err(bad("SESSION_TTL_HOURS must be between 1 and 8784 (a year)"));
        }
        let session_ttl = chrono::Duration::hours(ttl_hours);
        let sign_in_scopes = match get("SIGN_IN_SCOPES") {
            None => DEFAULT_SIGN_IN_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            Some(v) => list(Some(v)),
        };
        if !sign_in_scopes.iter().any(|s| s == "openid") {
            return Err(bad(
                "SIGN_IN_SCOPES must include openid (the app signs people in with OpenID Connect)",
            ));
        }
        let mobile = MobileSettings {
            default: server_client(&get, "MOBILE")?,
            android: server_client(&get, "ANDROID")?,
            ios: server_client(&get, "IOS")?,
            app_client_ids: list(get("MOBILE_APP_CLIENT_IDS")),
            per_minute: parse_num(&get, "AUTHCODE_RATE_PER_MINUTE", 30)?,
        };
        if mobile.per_minute == 0 {
            return Err(bad("AUTHCODE_RATE_PER_MINUTE must be at least 1"));
        }
        let trusted_proxies = list(get("TRUSTED_PROXIES"))
            .iter()
            .map(|p| {
                p.parse().map_err(|_| {
                    bad(format!(
                        "TRUSTED_PROXIES must list IP addresses (got {p:?})"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;

        let rate_limits = RateLimits {
            sign_in: parse_num(&get, "SIGN_IN_RATE_PER_MINUTE", 60)?,
            admin: parse_num(&get, "ADMIN_RATE_PER_MINUTE", 120)?,
            risc: parse_num(&get, "RISC_RATE_PER_MINUTE", 600)?,
        };
        if rate_limits.sign_in == 0 || rate_limits.admin == 0 || rate_limits.risc == 0 {
            return Err(bad(
                "SIGN_IN_RATE_PER_MINUTE, ADMIN_RATE_PER_MINUTE and RISC_RATE_PER_MINUTE must be at least 1",
            ));
        }
        let upstream = UpstreamTimeouts {
            connect: std::time::Duration::from_secs(parse_num(
                &get,
                "UPSTREAM_CONNECT_TIMEOUT_SECS",
                5,
            )?),
            total: std::time::Duration::from_secs(parse_num(&get, "UPSTREAM_TIMEOUT_SECS", 15)?),
        };
        if upstream.connect.is_zero() || upstream.total.is_zero() {
            return Err(bad(
                "UPSTREAM_CONNECT_TIMEOUT_SECS and UPSTREAM_TIMEOUT_SECS must be at least 1",
            ));
        }
        let provider_name = get("PROVIDER_NAME").unwrap_or_else(|| "Google".into());
        if provider_name.chars().count() > 40 || provider_name.chars().any(char::is_control) {
            return Err(bad(
                "PROVIDER_NAME must be a short name (at most 40 characters)",
            ));
        }

        Ok(Self {
            base_url,
            bind,
            metrics_bind,
            database: DatabaseSettings {
                url: database_url,
                pool_size: db_pool_size,
                timeout: db_timeout,
            },
            google,
            secret_key,
            secret_keys_previous,
            admin_emails,
            session_ttl,
            sign_in_scopes,
            mobile,
            trusted_proxies,
            demo_hint: None,
            rate_limits,
            upstream,
            provider_name,
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

/// Whether `url` names this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A comma- or space-separated list.
/// `SECRET_KEYS_PREVIOUS` (separated by commas, spaces or newlines) or
/// `SECRET_KEYS_PREVIOUS_FILE` (one per line): retired keys, each as long as a current one.
fn previous_secrets(
    get: &impl Fn(&str) -> Option<String>,
    current: &SecretString,
) -> Result<Vec<SecretString>, ConfigError> {
    let text = match (
        get("SECRET_KEYS_PREVIOUS"),
        get("SECRET_KEYS_PREVIOUS_FILE"),
    ) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "set SECRET_KEYS_PREVIOUS or SECRET_KEYS_PREVIOUS_FILE, not both",
            ))
        }
        (Some(v), None) => v,
        (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
            bad(format!(
                "SECRET_KEYS_PREVIOUS_FILE={path} cannot be read: {e}"
            ))
        })?,
        (None, None) => return Ok(Vec::new()),
    };
    let mut keys = Vec::new();
    for (i, key) in text
        .split([',', ' ', '\n', '\r', '\t'])
        .filter(|k| !k.is_empty())
        .enumerate()
    {
        if key.chars().count() < MIN_SECRET_LEN {
            return Err(bad(format!(
                "SECRET_KEYS_PREVIOUS: key {} is shorter than {MIN_SECRET_LEN} characters; \
                 list whole retired SECRET_KEY values, separated by commas",
                i + 1
            )));
        }
        if key == current.expose_secret() {
            continue;
        }
        keys.push(SecretString::from(key.to_string()));
    }
    Ok(keys)
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One server client from `{prefix}_SERVER_CLIENT_SECRET_FILE` (Google's download) or from
/// `{prefix}_SERVER_CLIENT_ID` with `{prefix}_SERVER_CLIENT_SECRET`; `None` when neither is set.
fn server_client(
    get: &impl Fn(&str) -> Option<String>,
    prefix: &str,
) -> Result<Option<ClientSecret>, ConfigError> {
    let file_var = format!("{prefix}_SERVER_CLIENT_SECRET_FILE");
    let id_var = format!("{prefix}_SERVER_CLIENT_ID");
    let secret_var = format!("{prefix}_SERVER_CLIENT_SECRET");
    match (get(&file_var), get(&id_var), get(&secret_var)) {
        (None, None, None) => Ok(None),
        (Some(path), None, None) => {
            let json = std::fs::read_to_string(&path)
                .map_err(|e| bad(format!("{file_var}={path} cannot be read: {e}")))?;
            ClientSecret::parse_for(&file_var, &json).map(Some)
        }
        (Some(_), _, _) => Err(bad(format!(
            "set {file_var}, or {id_var} with {secret_var}, not both"
        ))),
        (None, Some(client_id), Some(secret)) => Ok(Some(ClientSecret {
            client_id,
            client_secret: SecretString::from(secret),
            redirect_uris: vec![],
        })),
        (None, _, _) => Err(bad(format!(
            "{id_var} and {secret_var} must be set together"
        ))),
    }
}

fn parse_num<T: std::str::FromStr + Copy>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| bad(format!("{name} must be a whole number (got {v:?})"))),
    }
}

fn parse_origin(name: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| bad(format!("{name} is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad(format!("{name} must be an http(s) URL, got {value:?}")));
    }
    Ok(url)
}

fn default_bind(base: &Url) -> String {
    let port = base.port_or_known_default().unwrap_or(8080);
    format!("127.0.0.1:{port}")
}

/// Reads the generated development secret, or creates it (mode 0600).
fn load_or_generate_secret(path: &Path) -> Result<SecretString, ConfigError> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(SecretString::from(s.trim().to_string()));
    }
    use base64::Engine;
    use rand::RngCore;
    // 48 random bytes are 64 base64 characters.
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path)?;
        std::io::Write::write_all(&mut f, key.as_bytes())
    };
    write().map_err(|e| {
        bad(format!(
            "could not create {} ({e}); set SECRET_KEY or SECRET_KEY_FILE",
            path.display()
        ))
    })?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(SecretString::from(key))
}

/// Path of the SQLite file for a `sqlite://` URL, if any (used to create its folder).
pub fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    database_url
        .strip_prefix("sqlite://")
        .map(PathBuf::from)
        .filter(|p| p.as_os_str() != ":memory:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const KEY: &str = "0123456789012345678901234567890123456789012345678901234567890123456789";

    #[test]
    fn previous_keys_are_listed_and_checked() {
        let old = "o".repeat(64);
        let older = "p".repeat(64);
        let s = settings(&[
            ("SECRET_KEY", KEY),
            ("SECRET_KEYS_PREVIOUS", &format!("{old}, {older}\n{KEY}")),
        ])
        .unwrap();
        let previous: Vec<&str> = s
            .secret_keys_previous
            .iter()
            .map(|k| k.expose_secret())
            .collect();
        assert_eq!(
            previous,
            [old.as_str(), older.as_str()],
            "the current key is skipped"
        );
        let err = settings(&[("SECRET_KEY", KEY), ("SECRET_KEYS_PREVIOUS", "short")]).unwrap_err();
        assert!(err.to_string().contains("key 1 is shorter"), "{err}");
        let err = settings(&[
            ("SECRET_KEY", KEY),
            ("SECRET_KEYS_PREVIOUS", &old),
            ("SECRET_KEYS_PREVIOUS_FILE", "/x"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        assert!(settings(&[("SECRET_KEY", KEY)])
            .unwrap()
            .secret_keys_previous
            .is_empty());
    }

    #[test]
    fn short_secret_is_refused_with_advice() {
        let err = settings(&[("SECRET_KEY", "short")]).unwrap_err();
        assert!(err.0.contains("at least 64"), "{err}");
    }

    #[test]
    fn both_secret_forms_are_refused() {
        let err = settings(&[("SECRET_KEY", KEY), ("SECRET_KEY_FILE", "/x")]).unwrap_err();
        assert!(err.0.contains("not both"), "{err}");
    }

    #[test]
    fn bad_database_url_is_refused() {
        let err = settings(&[("SECRET_KEY", KEY), ("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(err.0.contains("DATABASE_URL"), "{err}");
    }

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

    #[test]
    fn the_emulator_is_refused_behind_https() {
        let err = settings(&[
            ("SECRET_KEY", KEY),
            ("APP_BASE_URL", "https://app.example.com"),
        ])
        .unwrap_err();
        assert!(err.0.contains("GOOGLE_CLIENT_SECRET_FILE"), "{err}");
    }

    #[test]
    fn a_cleartext_provider_is_refused_behind_https_except_on_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("client.json");
        std::fs::write(&file, r#"{"web":{"client_id":"c","client_secret":"s"}}"#).unwrap();
        let file = file.display().to_string();
        let with = |issuer: &str, api: &str| {
            settings(&[
                ("SECRET_KEY", KEY),
                ("APP_BASE_URL", "https://app.example.com"),
                ("GOOGLE_CLIENT_SECRET_FILE", &file),
                ("GOOGLE_ISSUER", issuer),
                ("GOOGLE_API_BASE", api),
            ])
        };
        let err = with("http://id.example.com", "https://api.example.com").unwrap_err();
        assert!(err.0.contains("GOOGLE_ISSUER must be https"), "{err}");
        let err = with("https://id.example.com", "http://api.example.com").unwrap_err();
        assert!(err.0.contains("GOOGLE_API_BASE must be https"), "{err}");
        for local in [
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "http://[::1]:9000",
        ] {
            assert!(with(local, local).is_ok(), "{local}");
        }
        assert!(with("https://id.example.com", "https://api.example.com").is_ok());
    }

    #[test]
    fn upstream_timeouts_and_the_provider_name_are_configurable() {
        let s = settings(&[("SECRET_KEY", KEY)]).unwrap();
        assert_eq!(s.upstream.connect.as_secs(), 5);
        assert_eq!(s.upstream.total.as_secs(), 15);
        assert_eq!(s.provider_name, "Google");
        let s = settings(&[
            ("SECRET_KEY", KEY),
            ("UPSTREAM_TIMEOUT_SECS", "3"),
            ("PROVIDER_NAME", "Example ID"),
        ])
        .unwrap();
        assert_eq!(s.upstream.total.as_secs(), 3);
        assert_eq!(s.provider_name, "Example ID");
        let err = settings(&[("SECRET_KEY", KEY), ("UPSTREAM_TIMEOUT_SECS", "0")]).unwrap_err();
        assert!(err.0.contains("UPSTREAM_TIMEOUT_SECS"), "{err}");
    }

    #[test]
    fn out_of_range_numbers_are_refused() {
        let err =
            settings(&[("SECRET_KEY", KEY), ("SESSION_TTL_HOURS", "99999999999")]).unwrap_err();
        assert!(err.0.contains("SESSION_TTL_HOURS"), "{err}");
        let err = settings(&[("SECRET_KEY", KEY), ("DB_POOL_SIZE", "0")]).unwrap_err();
        assert!(err.0.contains("DB_POOL_SIZE"), "{err}");
    }

    #[test]
    fn mobile_server_clients_come_from_a_file_or_an_id_and_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("android.json");
        std::fs::write(
            &file,
            r#"{"web":{"client_id":"android-server.apps.googleusercontent.com","client_secret":"s2"}}"#,
        )
        .unwrap();
        let file = file.display().to_string();
        let s = settings(&[
            ("SECRET_KEY", KEY),
            ("ANDROID_SERVER_CLIENT_SECRET_FILE", &file),
            (
                "IOS_SERVER_CLIENT_ID",
                "ios-server.apps.googleusercontent.com",
            ),
            ("IOS_SERVER_CLIENT_SECRET", "s3"),
            (
                "MOBILE_APP_CLIENT_IDS",
                "a.apps.googleusercontent.com, b.apps.googleusercontent.com",
            ),
            ("TRUSTED_PROXIES", "10.0.0.1,::1"),
        ])
        .unwrap();
        assert!(s.mobile.default.is_none());
        assert_eq!(
            s.mobile.android.unwrap().client_id,
            "android-server.apps.googleusercontent.com"
        );
        assert_eq!(
            s.mobile.ios.unwrap().client_id,
            "ios-server.apps.googleusercontent.com"
        );
        assert_eq!(s.mobile.app_client_ids.len(), 2);
        assert_eq!(s.mobile.per_minute, 30);
        assert_eq!(s.trusted_proxies.len(), 2);

        let err = settings(&[("SECRET_KEY", KEY), ("IOS_SERVER_CLIENT_ID", "x")]).unwrap_err();
        assert!(err.0.contains("IOS_SERVER_CLIENT_SECRET"), "{err}");
        let err = settings(&[
            ("SECRET_KEY", KEY),
            ("MOBILE_SERVER_CLIENT_SECRET_FILE", "/nonexistent.json"),
        ])
        .unwrap_err();
        assert!(err.0.contains("MOBILE_SERVER_CLIENT_SECRET_FILE"), "{err}");
        let err = settings(&[("SECRET_KEY", KEY), ("TRUSTED_PROXIES", "nginx")]).unwrap_err();
        assert!(err.0.contains("TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn client_secret_in_google_format_parses() {
        let c = ClientSecret::parse(
            r#"{"web":{"client_id":"abc.apps.googleusercontent.com","client_secret":"s","redirect_uris":["http://x/cb"]}}"#,
        )
        .unwrap();
        assert_eq!(c.client_id, "abc.apps.googleusercontent.com");
        assert!(!format!("{c:?}").contains("\"s\""));
        assert!(ClientSecret::parse("{}").is_err());
    }
}
