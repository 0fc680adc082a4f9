//! A PostgreSQL database of a test's own, made on the server `TEST_POSTGRES_URL` names.

use url::Url;

/// A fresh PostgreSQL database, dropped (with its connections) when the test ends.
pub(super) struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub(super) fn create(admin_url: &str) -> (Self, String) {
        use diesel::prelude::*;
        use rand::Rng;
        let name = format!(
            "oa_test_{}_{:08x}",
            std::process::id(),
            rand::thread_rng().gen::<u32>()
        );
        let mut admin = diesel::PgConnection::establish(admin_url)
            .expect("TEST_POSTGRES_URL must reach a PostgreSQL server");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let mut url = Url::parse(admin_url).unwrap();
        url.set_path(&name);
        (
            Self {
                admin_url: admin_url.to_string(),
                name,
            },
            url.to_string(),
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        use diesel::prelude::*;
        if let Ok(mut admin) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}
