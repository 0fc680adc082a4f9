//! The database group: `DATABASE_URL`, `DB_POOL_SIZE`, `DB_TIMEOUT_SECS`
//! ([`DatabaseSettings`] is the store's own type).

use std::path::PathBuf;

use super::parsing::{bad, ConfigError, Lookup};
use crate::store::{Backend, DatabaseSettings};

/// Where the database is and how the pool is sized.
pub(super) fn from_lookup(lookup: &Lookup) -> Result<DatabaseSettings, ConfigError> {
    let url = lookup.or("DATABASE_URL", "sqlite://data/offline-access.db");
    Backend::from_url(&url).map_err(|e| bad(e.to_string()))?;
    let pool_size = lookup.number("DB_POOL_SIZE", 10)?;
    if pool_size == 0 {
        return Err(bad("DB_POOL_SIZE must be at least 1"));
    }
    Ok(DatabaseSettings {
        url,
        pool_size,
        timeout: lookup.seconds("DB_TIMEOUT_SECS", 5)?,
    })
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
    use super::super::tests::{settings, KEY};

    #[test]
    fn bad_database_url_is_refused() {
        let err = settings(&[("SECRET_KEY", KEY), ("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(err.0.contains("DATABASE_URL"), "{err}");
    }
}
