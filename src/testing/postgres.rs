//! A PostgreSQL database of a test's own, made on the server `TEST_POSTGRES_URL` names; the
//! benchmark driver makes and drops its databases with the same two functions.

use diesel::prelude::*;
use url::Url;

/// A fresh PostgreSQL database, dropped (with its connections) when the test ends.
pub(super) struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub(super) fn create(admin_url: &str) -> (Self, String) {
        use rand::Rng;
        let name = format!(
            "oa_test_{}_{:08x}",
            std::process::id(),
            rand::thread_rng().gen::<u32>()
        );
        let url = create_database(admin_url, &name)
            .expect("TEST_POSTGRES_URL must reach a PostgreSQL server");
        (
            Self {
                admin_url: admin_url.to_string(),
                name,
            },
            url,
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = drop_database(&self.admin_url, &self.name);
    }
}

/// Creates the database `name` (a plain identifier) on the server `admin_url` reaches; its URL.
pub fn create_database(admin_url: &str, name: &str) -> Result<String, String> {
    let mut admin = connect(admin_url, name)?;
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    let mut url = Url::parse(admin_url).map_err(|e| format!("{admin_url}: {e}"))?;
    url.set_path(name);
    Ok(url.to_string())
}

/// Drops the database `name` if it exists, with its connections.
pub fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let mut admin = connect(admin_url, name)?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .map(|_| ())
        .map_err(|e| format!("DROP DATABASE {name}: {e}"))
}

fn connect(admin_url: &str, name: &str) -> Result<diesel::PgConnection, String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("{name:?} is not a plain database name"));
    }
    diesel::PgConnection::establish(admin_url)
        .map_err(|e| format!("connecting to {admin_url}: {e}"))
}
