//! The app as a site: its public origin (`APP_BASE_URL`), where it listens (`BIND`,
//! `METRICS_BIND`) and who administers it (`ADMIN_EMAILS`).

use url::Url;

use super::parsing::{bad, list, ConfigError, Lookup};

/// Where the app is and listens.
pub(super) struct Site {
    pub base_url: Url,
    pub bind: String,
    pub metrics_bind: Option<String>,
}

impl Site {
    pub(super) fn from_lookup(lookup: &Lookup) -> Result<Self, ConfigError> {
        let base_url = lookup.origin("APP_BASE_URL", "http://127.0.0.1:8080")?;
        let bind = lookup
            .get("BIND")
            .unwrap_or_else(|| default_bind(&base_url));
        let metrics_bind = lookup.get("METRICS_BIND").filter(|b| !b.trim().is_empty());
        if metrics_bind.as_deref() == Some(bind.as_str()) {
            return Err(bad(
                "METRICS_BIND must differ from BIND: metrics are served apart from the public app",
            ));
        }
        Ok(Self {
            base_url,
            bind,
            metrics_bind,
        })
    }
}

fn default_bind(base: &Url) -> String {
    let port = base.port_or_known_default().unwrap_or(8080);
    format!("127.0.0.1:{port}")
}

/// `ADMIN_EMAILS`, lower case. With the emulator the seeded admin@example.test is an admin
/// unless the variable says otherwise, so a newcomer can open the dashboard at once.
pub(super) fn admin_emails(lookup: &Lookup, emulated: bool) -> Vec<String> {
    let default = if emulated { "admin@example.test" } else { "" };
    list(Some(lookup.or("ADMIN_EMAILS", default)))
        .into_iter()
        .map(|s| s.to_lowercase())
        .collect()
}
