//! What a test reads from the app's database, or puts there: users, credentials, sessions,
//! snapshots of everything a page view could write, seeded users, query plans.

use std::collections::HashMap;

use super::{Backend, TestApp, CLIENT_ID};

impl TestApp {
    /// The app's vault, to read what it stored (decrypting as the app does).
    pub fn vault(&self) -> crate::vault::Vault {
        crate::startup::background_vault(&self.settings, self.db.clone())
            .unwrap()
            .0
    }

    /// The id of the user with `email`.
    pub fn user_id(&self, email: &str) -> crate::store::users::UserId {
        use crate::store::schema::users;
        use diesel::prelude::*;
        let email = email.to_string();
        let id = self
            .db
            .run_blocking(move |c| {
                Ok(users::table
                    .filter(users::email.eq(email))
                    .select(users::id)
                    .first::<i64>(c)?)
            })
            .unwrap();
        crate::store::users::UserId(id)
    }

    /// Runs one SQL statement on the app's database.
    pub fn sql(&self, statement: &str) {
        use diesel::prelude::*;
        let statement = statement.to_string();
        self.db
            .run_blocking(move |c| Ok(diesel::sql_query(statement).execute(c)?))
            .unwrap();
    }

    /// The credential row of `email`: (status, has refresh token, has access token).
    pub fn credential(&self, email: &str) -> (String, bool, bool) {
        let user = self.user_id(email);
        let rows = self
            .db
            .run_blocking(move |c| crate::store::credentials::for_user(c, user))
            .unwrap();
        assert_eq!(rows.len(), 1);
        let c = &rows[0];
        (
            c.status.as_str().to_string(),
            c.refresh_token.is_some(),
            c.access_token.is_some(),
        )
    }

    pub fn count_rows(&self, table: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        self.db
            .run_blocking(move |c| Ok(diesel::sql_query(sql).get_result::<Count>(c)?.n))
            .unwrap()
    }
}

/// What a page view could have written: every session, user and credential row, the sync
/// statuses, and (on SQLite) the bytes of the database file and its write-ahead log.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub sessions: Vec<SessionRow>,
    /// (id, last_seen_at, email, name, is_admin)
    pub users: Vec<(i64, chrono::NaiveDateTime, String, String, bool)>,
    /// (id, access_token, refresh_token, access_expires_at, scopes, status, updated_at)
    #[allow(clippy::type_complexity)]
    pub credentials: Vec<(
        i64,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<chrono::NaiveDateTime>,
        String,
        String,
        chrono::NaiveDateTime,
    )>,
    pub sync_statuses: i64,
    pub sqlite_files: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, diesel::Queryable)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: Option<i64>,
    /// Sealed with a fresh nonce at every save: any write changes it.
    pub state: Vec<u8>,
    pub expires_at: chrono::NaiveDateTime,
}

impl TestApp {
    pub fn snapshot(&self) -> Snapshot {
        use crate::store::schema::{credentials, sessions, users};
        use diesel::prelude::*;
        let (sessions, users, credentials) = self
            .db
            .run_blocking(|c| {
                Ok((
                    sessions::table
                        .order(sessions::id_hash)
                        .select((
                            sessions::id_hash,
                            sessions::user_id,
                            sessions::state,
                            sessions::expires_at,
                        ))
                        .load::<SessionRow>(c)?,
                    users::table
                        .order(users::id)
                        .select((
                            users::id,
                            users::last_seen_at,
                            users::email,
                            users::name,
                            users::is_admin,
                        ))
                        .load(c)?,
                    credentials::table
                        .order(credentials::id)
                        .select((
                            credentials::id,
                            credentials::access_token,
                            credentials::refresh_token,
                            credentials::access_expires_at,
                            credentials::scopes,
                            credentials::status,
                            credentials::updated_at,
                        ))
                        .load(c)?,
                ))
            })
            .unwrap();
        let sqlite_files = match self.backend {
            Backend::Sqlite => {
                let path = crate::config::sqlite_path(&self.settings.database.url).unwrap();
                let wal = std::fs::read(format!("{}-wal", path.display())).unwrap_or_default();
                Some((std::fs::read(&path).unwrap(), wal))
            }
            Backend::Postgres => None,
        };
        Snapshot {
            sessions,
            users,
            credentials,
            sync_statuses: self.count_rows("sync_status"),
            sqlite_files,
        }
    }

    /// Makes `email`'s sessions look last extended long ago and close to expiry, as the app
    /// would find them after an hour-long pause in a week-old session.
    pub async fn backdate_session(&self, email: &str) {
        use crate::store::schema::sessions;
        use diesel::prelude::*;
        let user = self.user_id(email).0;
        let cipher = self.keys().sessions;
        self.db
            .run_blocking(move |c| {
                let rows: Vec<(String, Vec<u8>)> = sessions::table
                    .filter(sessions::user_id.eq(user))
                    .select((sessions::id_hash, sessions::state))
                    .load(c)?;
                for (id_hash, sealed) in rows {
                    let aad = format!("session:{id_hash}");
                    let json = cipher.open(&sealed, &aad).unwrap();
                    let mut state: HashMap<String, String> = serde_json::from_slice(&json).unwrap();
                    state.insert("seen".into(), "0".into());
                    let resealed = cipher.seal(&serde_json::to_vec(&state).unwrap(), &aad);
                    diesel::update(sessions::table.find(&id_hash))
                        .set((
                            sessions::state.eq(resealed),
                            sessions::expires_at
                                .eq(chrono::Utc::now().naive_utc() + chrono::Duration::hours(1)),
                        ))
                        .execute(c)?;
                }
                Ok(())
            })
            .unwrap();
    }
}

impl TestApp {
    /// Adds `n` users to the app's database as [`seed_users`] does, for the app's client.
    pub fn seed_users(&self, n: usize) {
        seed_users(&self.db, n, CLIENT_ID).unwrap();
    }

    /// The plan the database chooses for `explain` (an `EXPLAIN …` statement), as text.
    pub fn explain(&self, explain: &str) -> String {
        self.explain_with("", explain)
    }

    /// The same, after `setup` (PostgreSQL settings such as `SET enable_seqscan = off`, undone
    /// after) on the same connection.
    pub fn explain_with(&self, setup: &str, explain: &str) -> String {
        use diesel::connection::SimpleConnection;
        use diesel::prelude::*;
        #[derive(diesel::QueryableByName)]
        struct SqlitePlan {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        #[derive(diesel::QueryableByName)]
        struct PgPlan {
            #[diesel(sql_type = diesel::sql_types::Text)]
            #[diesel(column_name = "QUERY PLAN")]
            line: String,
        }
        let (setup, explain, backend) = (setup.to_string(), explain.to_string(), self.backend);
        self.db
            .run_blocking(move |c| {
                if !setup.is_empty() {
                    c.batch_execute(&setup)?;
                }
                let plan = match backend {
                    Backend::Sqlite => diesel::sql_query(explain)
                        .load::<SqlitePlan>(c)?
                        .into_iter()
                        .map(|r| r.detail)
                        .collect::<Vec<_>>(),
                    Backend::Postgres => diesel::sql_query(explain)
                        .load::<PgPlan>(c)?
                        .into_iter()
                        .map(|r| r.line)
                        .collect(),
                }
                .join("\n");
                if !setup.is_empty() && backend == Backend::Postgres {
                    c.batch_execute("RESET ALL")?;
                }
                Ok(plan)
            })
            .unwrap()
    }
}

/// Adds `n` users (`user00000@load.test` …, seen one minute apart, the highest number most
/// recently, all before now) to `db` in one transaction, their grants for `client_id`; users
/// 0–99 need consent, 100–109 have a failing refresh, the others hold an active grant. The
/// tests' [`TestApp::seed_users`] and the benchmark driver's `seed-users`.
pub fn seed_users(
    db: &crate::store::Db,
    n: usize,
    client_id: &str,
) -> Result<(), crate::store::DbError> {
    use diesel::prelude::*;
    let base = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let at = |i: usize| {
        (base + chrono::Duration::minutes(i as i64))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let mut statements = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let users: Vec<String> = chunk
            .iter()
            .map(|&i| {
                format!(
                    "('load-{i}', 'user{i:05}@load.test', TRUE, 'Load User {i:05}', FALSE, '{t}', '{t}')",
                    t = at(i)
                )
            })
            .collect();
        statements.push(format!(
            "INSERT INTO users (google_sub, email, email_verified, name, is_admin, created_at, last_seen_at) VALUES {}",
            users.join(", ")
        ));
    }
    let subs = |r: std::ops::Range<usize>| {
        r.map(|i| format!("'load-{i}'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    statements.push(format!(
        "INSERT INTO credentials (user_id, client_id, scopes, status, updated_at, last_error, last_error_at) \
         SELECT id, '{client_id}', 'openid', \
           CASE WHEN google_sub IN ({consent}) THEN 'needs_consent' ELSE 'active' END, created_at, \
           CASE WHEN google_sub IN ({failing}) THEN 'refresh failed: the sign-in provider is unavailable' END, \
           CASE WHEN google_sub IN ({failing}) THEN created_at END \
         FROM users WHERE google_sub LIKE 'load-%'",
        consent = subs(0..100),
        failing = subs(100..110),
    ));
    db.run_blocking(move |c| {
        c.transaction::<_, anyhow::Error, _>(|c| {
            for s in &statements {
                diesel::sql_query(s.as_str()).execute(c)?;
            }
            Ok(())
        })
    })
}
