//! [`TestApp`]: the emulator and the app, and what a test does with them over HTTP.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;

use google_emulator::testing::{walk_consent, Consent};
use google_emulator::{self as emulator, ClientKind, ClientRegistration};
use reqwest::{Response, StatusCode};
use url::Url;

use super::postgres::PgDatabase;
use super::{client_with_jar, location, Backend, CLIENT_ID, CLIENT_SECRET, SECRET};
use crate::config::{ClientSecret, GoogleSource, Settings};
use crate::store::Db;

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
    pub(super) dir: tempfile::TempDir,
    pub(super) _pg: Option<PgDatabase>,
}

/// A [`TestApp`] to configure before it starts: `TestApp::on(backend).env(NAME, value).spawn()`.
pub struct TestAppBuilder {
    backend: Backend,
    vars: Vec<(String, String)>,
}

impl TestAppBuilder {
    /// Sets an environment variable of the app's configuration (`METRICS_BIND`, a rate, …).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_string(), value.to_string()));
        self
    }

    /// The same for each of `vars`.
    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter().fold(self, |b, (k, v)| b.env(k, v))
    }

    /// Starts the emulator and the app on a fresh database; `None` for PostgreSQL when
    /// `TEST_POSTGRES_URL` is not set.
    pub async fn spawn(self) -> Option<TestApp> {
        let extra: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        TestApp::spawn_fresh(self.backend, &extra).await
    }
}

impl TestApp {
    /// An app on `backend`, to configure before it starts.
    pub fn on(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            vars: Vec::new(),
        }
    }

    /// An app on SQLite.
    pub async fn spawn() -> Self {
        Self::spawn_on(Backend::Sqlite).await.unwrap()
    }

    /// An app on `backend`; `None` for PostgreSQL when `TEST_POSTGRES_URL` is not set.
    pub async fn spawn_on(backend: Backend) -> Option<Self> {
        Self::on(backend).spawn().await
    }

    /// `TestApp::on(backend).envs(extra).spawn()`.
    pub async fn spawn_on_with(backend: Backend, extra: &[(&str, &str)]) -> Option<Self> {
        Self::on(backend).envs(extra).spawn().await
    }

    async fn spawn_fresh(backend: Backend, extra: &[(&str, &str)]) -> Option<Self> {
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
        let running = crate::startup::start_on(listener, settings.clone(), None)
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
        let running = crate::startup::start_on(listener, self.settings.clone(), None)
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
        let running = crate::startup::start_on(listener, settings, None)
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
        let mut cmd = std::process::Command::new(super::binary());
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
    pub fn keys(&self) -> crate::secret::Keys {
        crate::secret::Keys::derive(
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
}
