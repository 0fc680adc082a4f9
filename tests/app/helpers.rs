//! `TestApp::spawn()`: the emulator and the app on port 0 with a fresh database, and a client
//! with a cookie store and redirects off.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;

use google_emulator::testing::{walk_consent, Consent};
use google_emulator::{self as emulator, ClientKind, ClientRegistration};
use offline_access::config::{ClientSecret, GoogleSource, Settings};
use offline_access::store::Db;
use reqwest::header::LOCATION;
use reqwest::{Response, StatusCode};
use url::Url;

pub const SECRET: &str = "test-secret-key-0123456789-0123456789-0123456789-0123456789-0123456789";
pub const CLIENT_ID: &str = "test-app.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-test-client-secret";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines, for each `async fn name(app) { … }`, a module `name` with two tests, `sqlite` and
/// `postgres`, running the body against a fresh database on each backend. The PostgreSQL one
/// runs when `TEST_POSTGRES_URL` is set (CI sets it) and says so when it is not.
macro_rules! on_both_backends {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: crate::helpers::TestApp) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(crate::helpers::TestApp::spawn_on(crate::helpers::Backend::Sqlite).await.unwrap()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match crate::helpers::TestApp::spawn_on(crate::helpers::Backend::Postgres).await {
                    Some(app) => run(app).await,
                    None => eprintln!("postgres variant not run: TEST_POSTGRES_URL is not set"),
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// A fresh PostgreSQL database, dropped (with its connections) when the test ends.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    fn create(admin_url: &str) -> (Self, String) {
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

pub struct TestApp {
    /// App origin, e.g. http://127.0.0.1:34567
    pub addr: String,
    /// Emulator origin.
    pub emu: String,
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub db: Db,
    pub settings: Settings,
    pub backend: Backend,
    /// Where `/metrics` is served, when METRICS_BIND was set.
    pub metrics: Option<String>,
    dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

pub fn client_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

impl TestApp {
    /// An app on SQLite.
    pub async fn spawn() -> Self {
        Self::spawn_on(Backend::Sqlite).await.unwrap()
    }

    /// An app on `backend`; `None` for PostgreSQL when `TEST_POSTGRES_URL` is not set.
    pub async fn spawn_on(backend: Backend) -> Option<Self> {
        Self::spawn_on_with(backend, &[]).await
    }

    /// The same with extra settings (environment variable, value).
    pub async fn spawn_on_with(backend: Backend, extra: &[(&str, &str)]) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (db_url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/app.db", dir.path().display()), None),
            Backend::Postgres => {
                let admin = std::env::var("TEST_POSTGRES_URL").ok()?;
                let (pg, url) = tokio::task::block_in_place(|| PgDatabase::create(&admin));
                (url, Some(pg))
            }
        };
        Some(Self::spawn_with(backend, db_url, dir, pg, extra).await)
    }

    /// A new app (and emulator) on this app's database reached through `db_url`, with
    /// `DB_TIMEOUT_SECS` = `timeout_secs`; the database outlives it as before.
    pub async fn with_database(self, db_url: String, timeout_secs: u64) -> Self {
        let timeout = timeout_secs.to_string();
        Self::spawn_with(
            self.backend,
            db_url,
            self.dir,
            self._pg,
            &[("DB_TIMEOUT_SECS", timeout.as_str())],
        )
        .await
    }

    async fn spawn_with(
        backend: Backend,
        db_url: String,
        dir: tempfile::TempDir,
        pg: Option<PgDatabase>,
        extra: &[(&str, &str)],
    ) -> Self {
        let emu_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (emulator, emu_server) =
            emulator::start(emu_listener, emulator::Options::default()).expect("emulator starts");
        tokio::spawn(emu_server);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        emulator.register_client(ClientRegistration {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            kind: ClientKind::Web,
            redirect_uris: vec![format!("{addr}/oauth2callback")],
        });

        let emu_url = Url::parse(&emulator.url).unwrap();
        let mut vars: HashMap<&str, String> = HashMap::from([
            ("APP_BASE_URL", addr.clone()),
            ("DATABASE_URL", db_url),
            ("SECRET_KEY", SECRET.to_string()),
            ("ADMIN_EMAILS", "admin@example.test".to_string()),
        ]);
        vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let mut settings = Settings::from_lookup(|k| vars.get(k).cloned()).unwrap();
        // The emulator as a configured provider, as a user's own deployment would point at it.
        settings.google = GoogleSource::Provider {
            client: Box::new(
                ClientSecret::parse(&format!(
                    r#"{{"web":{{"client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}"}}}}"#
                ))
                .unwrap(),
            ),
            issuer: emu_url.clone(),
            api_base: emu_url,
        };
        let running = offline_access::startup::start_on(listener, settings.clone(), None)
            .await
            .unwrap();
        let db = running.db.clone();
        let metrics = running
            .metrics_port
            .map(|p| format!("http://127.0.0.1:{p}"));
        tokio::spawn(running.server);
        let (client, jar) = client_with_jar();
        Self {
            metrics,
            addr,
            emu: emulator.url.clone(),
            client,
            jar,
            db,
            settings,
            backend,
            dir,
            _pg: pg,
        }
    }

    /// Another instance of the same app (same APP_BASE_URL, secret, database and emulator, its
    /// own pool), as behind a load balancer; returns its origin and its database handle.
    pub async fn second_instance(&self) -> (String, Db) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let running = offline_access::startup::start_on(listener, self.settings.clone(), None)
            .await
            .unwrap();
        let db = running.db.clone();
        tokio::spawn(running.server);
        (addr, db)
    }

    /// Another instance on the same database and emulator, with `change` made to this app's
    /// settings (e.g. other keys); returns its origin.
    pub async fn instance_with(&self, change: impl FnOnce(&mut Settings)) -> String {
        let mut settings = self.settings.clone();
        change(&mut settings);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let running = offline_access::startup::start_on(listener, settings, None)
            .await
            .unwrap();
        tokio::spawn(running.server);
        addr
    }

    /// The binary, configured as a person would configure it to work on this app's database
    /// with this app's provider (the emulator, through a downloaded client secret); `args`
    /// name the command. Run it with `.output()` (inside `block_in_place`) or `.spawn()`.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let secret_file = self.settings_dir().join("client_secret.json");
        std::fs::write(
            &secret_file,
            format!(
                r#"{{"web":{{"client_id":"{CLIENT_ID}","client_secret":"{CLIENT_SECRET}","redirect_uris":["{}/oauth2callback"]}}}}"#,
                self.addr
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_offline-access"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("APP_BASE_URL", &self.addr)
            .env("DATABASE_URL", &self.settings.database.url)
            .env("SECRET_KEY", SECRET)
            .env("GOOGLE_CLIENT_SECRET_FILE", &secret_file)
            .env("GOOGLE_ISSUER", &self.emu)
            .env("GOOGLE_API_BASE", &self.emu)
            .env("RUST_LOG", "warn");
        cmd
    }

    /// The keys the app derives from its SECRET_KEY.
    pub fn keys(&self) -> offline_access::secret::Keys {
        offline_access::secret::Keys::derive(
            &self.settings.secret_key,
            &self.settings.secret_keys_previous,
        )
    }

    /// A hex blob literal in this backend's SQL dialect.
    pub fn blob(&self, hex: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
        }
    }

    /// This test's own folder (the database lives there).
    pub fn settings_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.addr))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_url(&self, url: &str) -> Response {
        self.client.get(url).send().await.unwrap()
    }

    /// `GET /oauth2callback` without a code: the authorization URL it redirects to.
    pub async fn authorization_url(&self) -> Url {
        let resp = self.get("/oauth2callback").await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        Url::parse(location(&resp)).unwrap()
    }

    /// Answers the emulator's consent screen as a plain form POST; returns where it redirects.
    pub async fn consent(&self, auth_url: &Url, account: &str, action: &str) -> Url {
        self.consent_with(&self.client, auth_url, account, action)
            .await
    }

    /// The same from another browser.
    pub async fn consent_with(
        &self,
        client: &reqwest::Client,
        auth_url: &Url,
        account: &str,
        action: &str,
    ) -> Url {
        self.walk(client, auth_url, account, action, None).await
    }

    /// Answers the consent screen as a browser would, with only the `ticked` scope checkboxes
    /// ticked. When the emulator skips the screen (it knows the account, whose consent already
    /// covers the request), the browser is on its way back at once: that redirect is the answer.
    pub async fn consent_ticking(
        &self,
        client: &reqwest::Client,
        auth_url: &Url,
        account: &str,
        action: &str,
        ticked: &[&str],
    ) -> Url {
        self.walk(client, auth_url, account, action, Some(ticked))
            .await
    }

    /// The emulator's consent walker (`google_emulator::testing::walk_consent`): where the
    /// emulator sends the browser back.
    async fn walk(
        &self,
        client: &reqwest::Client,
        auth_url: &Url,
        account: &str,
        action: &str,
        ticked: Option<&[&str]>,
    ) -> Url {
        let consent = Consent {
            account,
            action,
            ticked,
        };
        let back = walk_consent(client, auth_url.as_str(), consent)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Url::parse(&back).unwrap()
    }

    /// The whole sign-in; returns the callback's response (303 to `/` on success).
    pub async fn sign_in(&self, account: &str) -> Response {
        let auth = self.authorization_url().await;
        let back = self.consent(&auth, account, "allow").await;
        assert!(
            back.as_str().starts_with(&self.addr),
            "redirected to {back}"
        );
        self.get_url(back.as_str()).await
    }

    /// A JSON control call on the emulator (controls take JSON only).
    pub async fn emu_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.emu_control(reqwest::Method::POST, path, body).await
    }

    /// A control call with any method; `body` is sent as JSON (`{}` when there is nothing to
    /// say), as the controls require of every call that changes something.
    pub async fn emu_control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.emu))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(serde_json::Value::Null)
    }

    /// The emulator's request counts, e.g. `token:authorization_code`.
    pub async fn emu_count(&self, key: &str) -> u64 {
        let log: serde_json::Value = reqwest::get(format!("{}/emulator/requests", self.emu))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["counts"][key].as_u64().unwrap_or(0)
    }

    /// The app's vault, to read what it stored (decrypting as the app does).
    pub fn vault(&self) -> offline_access::vault::Vault {
        offline_access::startup::background_vault(&self.settings, self.db.clone())
            .unwrap()
            .0
    }

    /// The id of the user with `email`.
    pub fn user_id(&self, email: &str) -> offline_access::store::users::UserId {
        use diesel::prelude::*;
        use offline_access::store::schema::users;
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
        offline_access::store::users::UserId(id)
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
            .run_blocking(move |c| offline_access::store::credentials::for_user(c, user))
            .unwrap();
        assert_eq!(rows.len(), 1);
        let c = &rows[0];
        (
            c.status.as_str().to_string(),
            c.refresh_token.is_some(),
            c.access_token.is_some(),
        )
    }

    /// Signs `account` in from a new browser (its own cookie jar) through the instance at
    /// `origin`; returns that browser.
    pub async fn sign_in_new_browser(&self, origin: &str, account: &str) -> reqwest::Client {
        let (browser, _) = client_with_jar();
        let start = browser
            .get(format!("{origin}/oauth2callback"))
            .send()
            .await
            .unwrap();
        let auth = Url::parse(location(&start)).unwrap();
        let back = self.consent_with(&browser, &auth, account, "allow").await;
        let done = browser.get(back.as_str()).send().await.unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        browser
    }

    /// A second browser: its own cookie jar, same app.
    pub fn browser(&self) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
        client_with_jar()
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
        use diesel::prelude::*;
        use offline_access::store::schema::{credentials, sessions, users};
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
                let path =
                    offline_access::config::sqlite_path(&self.settings.database.url).unwrap();
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
        use diesel::prelude::*;
        use offline_access::store::schema::sessions;
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
    /// Adds `n` users (`user00000@load.test` …, seen one minute apart, the highest number most
    /// recently, all before now) in one transaction; users 0–99 need consent, 100–109 have a
    /// failing refresh, the others hold an active grant.
    pub fn seed_users(&self, n: usize) {
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
        statements.push(format!(
            "INSERT INTO credentials (user_id, client_id, scopes, status, updated_at, last_error, last_error_at) \
             SELECT id, '{CLIENT_ID}', 'openid', \
               CASE WHEN google_sub IN ({}) THEN 'needs_consent' ELSE 'active' END, created_at, \
               CASE WHEN google_sub IN ({}) THEN 'refresh failed: the sign-in provider is unavailable' END, \
               CASE WHEN google_sub IN ({}) THEN created_at END \
             FROM users WHERE google_sub LIKE 'load-%'",
            (0..100).map(|i| format!("'load-{i}'")).collect::<Vec<_>>().join(","),
            (100..110).map(|i| format!("'load-{i}'")).collect::<Vec<_>>().join(","),
            (100..110).map(|i| format!("'load-{i}'")).collect::<Vec<_>>().join(","),
        ));
        self.db
            .run_blocking(move |c| {
                c.transaction::<_, anyhow::Error, _>(|c| {
                    for s in &statements {
                        diesel::sql_query(s.as_str()).execute(c)?;
                    }
                    Ok(())
                })
            })
            .unwrap();
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

pub fn location(resp: &Response) -> &str {
    resp.headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
}
