//! The provider group: where the app's OAuth client and Google's endpoints come from (a
//! downloaded client secret in Google's `client_secret.json` format with `GOOGLE_ISSUER` and
//! `GOOGLE_API_BASE`, or the emulator on `EMULATOR_BIND`), what is asked for at sign-in
//! (`SIGN_IN_SCOPES`) and how the provider is named to people (`PROVIDER_NAME`).

use secrecy::SecretString;
use url::Url;

use super::parsing::{bad, list, read_file, ConfigError, Lookup};

/// Scopes asked for at sign-in unless `SIGN_IN_SCOPES` says otherwise: who the user is, and
/// the Drive file list the home page shows (as Google's PHP sample asks).
pub const DEFAULT_SIGN_IN_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
];

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

    /// The file the variable `var` names, read and parsed (errors name `var`).
    pub(super) fn read(var: &str, path: &str) -> Result<Self, ConfigError> {
        Self::parse_for(var, &read_file(var, path)?)
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

/// The provider as configured.
pub(super) struct Google {
    pub source: GoogleSource,
    pub sign_in_scopes: Vec<String>,
    pub provider_name: String,
}

impl Google {
    /// The provider group; `base_url` decides what is allowed (no emulator, no clear text
    /// behind an https origin).
    pub(super) fn from_lookup(lookup: &Lookup, base_url: &Url) -> Result<Self, ConfigError> {
        Ok(Self {
            source: source(lookup, base_url)?,
            sign_in_scopes: sign_in_scopes(lookup)?,
            provider_name: provider_name(lookup)?,
        })
    }
}

fn source(lookup: &Lookup, base_url: &Url) -> Result<GoogleSource, ConfigError> {
    let https = base_url.scheme() == "https";
    let Some(path) = lookup.get("GOOGLE_CLIENT_SECRET_FILE") else {
        // The emulator signs anyone in without a password: never behind a public https
        // origin.
        if https {
            return Err(bad(
                "APP_BASE_URL is https but GOOGLE_CLIENT_SECRET_FILE is not set: the built-in Google \
                 emulator (passwordless sign-in) is for local development only; set \
                 GOOGLE_CLIENT_SECRET_FILE to your Google client's JSON",
            ));
        }
        return Ok(GoogleSource::Emulator {
            bind: lookup.or("EMULATOR_BIND", "127.0.0.1:8081"),
            // Empty: in memory only.
            state: match lookup.get("EMULATOR_STATE_FILE") {
                None => Some("data/emulator-state.json".into()),
                Some(p) if p.trim().is_empty() => None,
                Some(p) => Some(p.into()),
            },
        });
    };
    let client = ClientSecret::read("GOOGLE_CLIENT_SECRET_FILE", &path)?;
    let issuer = lookup.or("GOOGLE_ISSUER", "https://accounts.google.com");
    let issuer =
        Url::parse(&issuer).map_err(|e| bad(format!("GOOGLE_ISSUER is not a URL ({e})")))?;
    let api_base = lookup.origin("GOOGLE_API_BASE", "https://www.googleapis.com")?;
    // Tokens and codes travel to these: an https site must not send them in clear text to
    // anything but this machine.
    if https {
        for (var, url) in [("GOOGLE_ISSUER", &issuer), ("GOOGLE_API_BASE", &api_base)] {
            if url.scheme() != "https" && !is_loopback(url) {
                return Err(bad(format!(
                    "{var} must be https when APP_BASE_URL is (got {url}); plain http \
                     is accepted only for this machine (127.0.0.1, ::1, localhost)"
                )));
            }
        }
    }
    Ok(GoogleSource::Provider {
        client: Box::new(client),
        issuer,
        api_base,
    })
}

/// `SIGN_IN_SCOPES`, which must include `openid`.
fn sign_in_scopes(lookup: &Lookup) -> Result<Vec<String>, ConfigError> {
    let scopes = match lookup.get("SIGN_IN_SCOPES") {
        None => DEFAULT_SIGN_IN_SCOPES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Some(v) => list(Some(v)),
    };
    if !scopes.iter().any(|s| s == "openid") {
        return Err(bad(
            "SIGN_IN_SCOPES must include openid (the app signs people in with OpenID Connect)",
        ));
    }
    Ok(scopes)
}

/// `PROVIDER_NAME`: a short name, "Google" unless set.
fn provider_name(lookup: &Lookup) -> Result<String, ConfigError> {
    let name = lookup.or("PROVIDER_NAME", "Google");
    if name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err(bad(
            "PROVIDER_NAME must be a short name (at most 40 characters)",
        ));
    }
    Ok(name)
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

#[cfg(test)]
mod tests {
    use super::super::tests::{settings, KEY};
    use super::*;

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
