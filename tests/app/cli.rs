//! The binary itself: `cargo run`'s default mode (SQLite + in-process emulator) and bad
//! configuration.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;

use google_emulator::testing::{walk_consent, Consent};
use offline_access::on_both_backends;
use offline_access::testing::{client_with_jar, location};

const ALICE_EMAIL: &str = "alice@example.test";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_offline-access"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    cmd
}

/// `sync --all` with `env`, as a person runs it beside `serve`.
fn sync_all(dir: &std::path::Path, env: &[(&str, String)]) -> std::process::Output {
    tokio::task::block_in_place(|| {
        binary(dir)
            .envs(env.iter().cloned())
            .args(["sync", "--all"])
            .output()
            .unwrap()
    })
}

async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo run` as a newcomer runs it: the default mode, followed step by step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mode_serves_with_sqlite_and_the_emulator() {
    let run = DefaultMode::start().await;
    run.registers_its_security_event_receiver().await;
    run.keeps_its_files_private();
    let back = run.newcomer_signs_in_and_sees_files().await;
    run.syncs_in_the_background().await;
    run.sync_command_reaches_the_same_emulator();
    run.logs_no_secret(&back).await;
    run.logs_json_lines_with_route_status_and_user();
    run.restart_keeps_background_access().await;
}

/// `serve --sync-every 1s` in the default mode, in a folder of its own, logging everything at
/// debug level as JSON lines; and the browser a newcomer uses on it.
struct DefaultMode {
    dir: tempfile::TempDir,
    env: [(&'static str, String); 2],
    app: String,
    emu_port: u16,
    log_path: std::path::PathBuf,
    client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    emu_client: reqwest::Client,
    serve: std::cell::RefCell<Option<Killed>>,
}

impl DefaultMode {
    /// Starts it and reads its banner: where the app and the emulator are, whom to sign in as.
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (app_port, emu_port) = (free_port(), free_port());
        let log_path = dir.path().join("serve.log");
        let env = [
            ("APP_BASE_URL", format!("http://127.0.0.1:{app_port}")),
            ("EMULATOR_BIND", format!("127.0.0.1:{emu_port}")),
        ];
        let mut child = binary(dir.path())
            .envs(env.clone())
            // Everything, dependencies included, at debug level, as JSON lines for a log pipeline:
            // still no secret may appear.
            .env("RUST_LOG", "debug")
            .env("LOG_FORMAT", "json")
            .args(["serve", "--sync-every", "1s"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let guard = Killed(child);
        let banner: Vec<String> = tokio::task::block_in_place(|| {
            BufReader::new(stdout)
                .lines()
                .take(3)
                .map(|l| l.unwrap())
                .collect()
        });
        let banner = banner.join("\n");
        assert!(
            banner.contains(&format!("http://127.0.0.1:{app_port}/")),
            "{banner}"
        );
        assert!(banner.contains("EMULATOR MODE"), "{banner}");
        assert!(
            banner.contains(&format!("http://127.0.0.1:{emu_port}/")),
            "{banner}"
        );
        assert!(banner.contains("alice@example.test"));

        let (client, jar) = client_with_jar();
        Self {
            app: format!("http://127.0.0.1:{app_port}"),
            dir,
            env,
            emu_port,
            log_path,
            client,
            jar,
            emu_client: reqwest::Client::new(),
            serve: std::cell::RefCell::new(Some(guard)),
        }
    }

    fn emu(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.emu_port)
    }

    /// Its security event receiver is registered with the in-process emulator.
    async fn registers_its_security_event_receiver(&self) {
        let streams = reqwest::get(self.emu("/emulator/risc/stream"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(streams.contains(&format!("{}/risc", self.app)), "{streams}");
    }

    /// The database and the secret key (owner only) are in `data/`.
    fn keeps_its_files_private(&self) {
        let key = self.dir.path().join("data/secret.key");
        assert!(self.dir.path().join("data/offline-access.db").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(std::fs::read_to_string(&key).unwrap().trim().len() >= 64);
    }

    /// A newcomer signs in as a seeded account and sees files; returns where the consent
    /// screen sent the browser back (with the code).
    async fn newcomer_signs_in_and_sees_files(&self) -> String {
        let (client, app, emu_port) = (&self.client, &self.app, self.emu_port);
        let landing = client.get(format!("{app}/")).send().await.unwrap();
        assert!(landing
            .text()
            .await
            .unwrap()
            .contains("Sign in as alice@example.test"));
        let start = client
            .get(format!("{app}/oauth2callback"))
            .send()
            .await
            .unwrap();
        let auth = url::Url::parse(location(&start)).unwrap();
        assert_eq!(auth.port(), Some(emu_port));
        // The consent page, as the browser shows it (its form carries a CSRF token).
        let consent = Consent {
            ticked: Some(&["https://www.googleapis.com/auth/drive.metadata.readonly"]),
            ..Consent::allow("alice@example.test")
        };
        let back = walk_consent(client, auth.as_str(), consent).await.unwrap();
        let done = client.get(&back).send().await.unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let home = client.get(format!("{app}/")).send().await.unwrap();
        let body = home.text().await.unwrap();
        assert!(body.contains("Alice Example"), "{body}");
        assert_eq!(body.matches("data-testid=\"file\"").count(), 25);

        back
    }

    /// `serve --sync-every` works for her in the background, refreshing her access token once
    /// the emulator has expired it.
    async fn syncs_in_the_background(&self) {
        let (client, app) = (&self.client, &self.app);
        assert_eq!(self.expire_alice().await.status(), StatusCode::OK);
        let mut refreshed = false;
        for _ in 0..100 {
            let log = get_json(&self.emu_client, &self.emu("/emulator/requests")).await;
            if log["counts"]["token:refresh_token"].as_u64() >= Some(1) {
                refreshed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(refreshed, "the background sync refreshed her token");
        let mut synced = false;
        for _ in 0..100 {
            let page = client.get(format!("{app}/")).send().await.unwrap();
            if page.text().await.unwrap().contains("Last background sync:") {
                synced = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(synced, "the background sync ran and the page shows it");
    }

    async fn expire_alice(&self) -> reqwest::Response {
        let path = format!("/emulator/accounts/{ALICE_EMAIL}/expire-tokens");
        self.emu_client
            .post(self.emu(&path))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
    }

    /// `sync`, run with the same environment, reaches the same emulator and client.
    fn sync_command_reaches_the_same_emulator(&self) {
        let out = sync_all(self.dir.path(), &self.env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("alice@example.test: ok,"), "{stdout}");
    }

    /// No token, code or secret in any log line, even at debug level.
    async fn logs_no_secret(&self, back: &str) {
        let code = url::Url::parse(back)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .to_string();
        let secret = std::fs::read_to_string(self.dir.path().join("data/secret.key")).unwrap();
        let log = std::fs::read_to_string(&self.log_path).unwrap();
        assert!(log.contains("signed in"), "the log was captured: {log}");
        let mut needles: Vec<String> = [
            "ya29.",
            "1//",
            "eyJ",
            code.as_str(),
            secret.trim(),
            "GOCSPX-",
        ]
        .map(String::from)
        .into();
        // Every live token the emulator issued (its state export lists them), and the session
        // cookie.
        let state = get_json(&self.emu_client, &self.emu("/emulator/state")).await;
        for list in ["refresh_tokens", "access_tokens"] {
            for t in state[list].as_array().unwrap() {
                needles.push(t["token"].as_str().unwrap().to_string());
            }
        }
        assert!(
            needles.len() >= 8,
            "a refresh token and an access token were found: {needles:?}"
        );
        use reqwest::cookie::CookieStore;
        let cookies = self
            .jar
            .cookies(&self.app.parse().unwrap())
            .expect("the session cookie");
        let cookies = cookies.to_str().unwrap();
        let session = cookies
            .split("oa_session=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        needles.push(session.to_string());
        for needle in &needles {
            assert!(
                !log.contains(needle.as_str()),
                "{needle:?} appears in the log"
            );
        }
    }

    /// One JSON object per line; each request's line names its route, status and latency,
    /// and the signed-in user's requests name her.
    fn logs_json_lines_with_route_status_and_user(&self) {
        let log = std::fs::read_to_string(&self.log_path).unwrap();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let home_views: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["message"] == "request finished" && l["span"]["route"] == "/")
            .collect();
        assert!(!home_views.is_empty(), "{log}");
        for line in &home_views {
            assert_eq!(line["status"], 200, "{line}");
            assert!(line["latency_ms"].as_f64().is_some(), "{line}");
            assert!(
                line["span"]["request_id"]
                    .as_str()
                    .is_some_and(|id| id.len() == 36),
                "{line}"
            );
        }
        assert!(
            home_views
                .iter()
                .any(|l| l["span"]["user_id"].as_i64().is_some()),
            "a signed-in view names its user: {home_views:?}"
        );
    }

    /// The emulator keeps its grants in data/emulator-state.json (owner only), so a restart of
    /// `cargo run` keeps everyone's background access: after it, with her access token
    /// expired, sync refreshes with the refresh token issued before the restart.
    async fn restart_keeps_background_access(&self) {
        let (dir, env, client, app) = (&self.dir, &self.env, &self.client, &self.app);
        let state = dir.path().join("data/emulator-state.json");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Her refresh token reaches the file moments after the sign-in, without a shutdown.
        let mut kept = false;
        for _ in 0..400 {
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap_or_default();
            if doc["refresh_tokens"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["email"] == ALICE_EMAIL))
            {
                kept = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(kept, "her refresh token is in the state file");
        // Killed: no shutdown, only what was written as it happened.
        drop(self.serve.borrow_mut().take());
        let mut child = binary(dir.path())
            .envs(env.clone())
            .env("RUST_LOG", "info")
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("serve2.log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let _again = Killed(child);
        // The whole banner is read (and the pipe kept open), as a terminal would.
        let mut banner = BufReader::new(stdout).lines();
        let first = tokio::task::block_in_place(|| banner.by_ref().take(3).last());
        assert!(
            matches!(&first, Some(Ok(l)) if l.contains("sign in as")),
            "{first:?} {}",
            std::fs::read_to_string(dir.path().join("serve2.log")).unwrap()
        );
        assert_eq!(self.expire_alice().await.status(), StatusCode::OK);
        let out = sync_all(dir.path(), env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("alice@example.test: ok,"), "{stdout}");
        let home = client.get(format!("{app}/")).send().await.unwrap();
        let body = home.text().await.unwrap();
        assert_eq!(body.matches("data-testid=\"file\"").count(), 25, "{body}");
        let grants = reqwest::Client::new()
            .get(self.emu("/emulator/requests"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            grants.contains("refresh_token"),
            "the sync refreshed: {grants}"
        );
        // Without LOG_FORMAT, the human format; written to a file, it has no colour codes.
        let human = std::fs::read_to_string(dir.path().join("serve2.log")).unwrap();
        assert!(human.contains("request finished"), "{human}");
        assert!(!human.contains('\u{1b}'), "{human}");
        assert!(!human.lines().any(|l| l.starts_with('{')), "{human}");
    }
}

#[test]
fn a_corrupt_emulator_state_file_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let state = dir.path().join("data/emulator-state.json");
    std::fs::write(&state, "{\"format\": \"google-emulator-state\"").unwrap();
    let out = binary(dir.path())
        .env("APP_BASE_URL", format!("http://127.0.0.1:{}", free_port()))
        .env("EMULATOR_BIND", format!("127.0.0.1:{}", free_port()))
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("data/emulator-state.json"), "{err}");
    assert!(err.contains("EMULATOR_STATE_FILE"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "{\"format\": \"google-emulator-state\"",
        "left alone"
    );
}

#[test]
fn bad_configuration_is_one_clear_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value, expect) in [
        (
            "SECRET_KEY",
            "too-short",
            "SECRET_KEY must be at least 64 characters",
        ),
        (
            "DATABASE_URL",
            "mysql://localhost/x",
            "DATABASE_URL must start with",
        ),
        ("APP_BASE_URL", "not a url", "APP_BASE_URL is not a URL"),
        (
            "GOOGLE_CLIENT_SECRET_FILE",
            "/nonexistent.json",
            "GOOGLE_CLIENT_SECRET_FILE=/nonexistent.json cannot be read",
        ),
    ] {
        let out = binary(dir.path()).env(name, value).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expect), "{name}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{name}: one line: {stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
    // With a real client secret, a secret key is required.
    let secret = dir.path().join("client_secret.json");
    std::fs::write(&secret, r#"{"web":{"client_id":"a","client_secret":"b"}}"#).unwrap();
    let out = binary(dir.path())
        .env("GOOGLE_CLIENT_SECRET_FILE", &secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SECRET_KEY or SECRET_KEY_FILE must be set")
    );
}

#[test]
fn migrate_applies_pending_migrations_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = binary(dir.path()).arg("migrate").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let first = run();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert!(
        first.contains(&format!(
            "database is up to date ({migrations} migrations applied now)"
        )),
        "{first}"
    );
    assert!(dir.path().join("data/offline-access.db").exists());
    let second = run();
    assert!(second.contains("(0 migrations applied now)"), "{second}");
}

on_both_backends! {
    async fn admin_grant_and_revoke_on_the_command_line(app) {
        app.sign_in(ALICE_EMAIL).await;
        let admin = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_offline-access"))
                .arg("admin")
                .args(args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DATABASE_URL", &app.settings.database.url)
                .env("SECRET_KEY", offline_access::testing::SECRET)
                .env("ADMIN_EMAILS", "admin@example.test")
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        };
        assert_eq!(app.get("/admin/users").await.status(), reqwest::StatusCode::FORBIDDEN);
        let out = admin(&["grant", "ALICE@example.test"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("alice@example.test is now an admin"));
        assert_eq!(app.get("/admin/users").await.status(), reqwest::StatusCode::OK, "at once, no new sign-in");
        // A new sign-in keeps the role given on the command line.
        app.sign_in(ALICE_EMAIL).await;
        assert_eq!(app.get("/admin/users").await.status(), reqwest::StatusCode::OK);
        let audit = app.get("/admin/audit").await.text().await.unwrap();
        assert!(audit.contains("admin.grant") && audit.contains("command line"));

        let out = admin(&["revoke", "alice@example.test"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("no longer an admin"));
        assert_eq!(app.get("/admin/users").await.status(), reqwest::StatusCode::FORBIDDEN);

        let out = admin(&["grant", "nobody@example.test"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("must sign in once first"));

        // Someone signed in first with Carol's address through a provider that did not verify
        // it: the command makes nobody an admin.
        let account = |sub: &str, email: &str, verified: bool, issuer: &str| {
            app.sql(&format!(
                "INSERT INTO users (google_sub, email, email_verified, name, is_admin, created_at, \
                 last_seen_at, issuer, blocked_by_provider) VALUES ('{sub}', '{email}', {verified}, \
                 'Someone', FALSE, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '{issuer}', FALSE)"
            ))
        };
        account("attacker", "carol@example.test", false, "https://evil.example.test");
        let out = admin(&["grant", "carol@example.test"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("has not been verified"), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(app.count_rows("users WHERE is_admin"), 0);
        // Two verified accounts share Alice's address: the command says so and changes nothing
        // until one is named.
        account("other-alice", "alice@example.test", true, "https://other.example.test");
        let out = admin(&["grant", "alice@example.test"]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("2 accounts use the email alice@example.test"), "{stderr}");
        assert!(stderr.contains("--issuer https://other.example.test --sub other-alice"), "{stderr}");
        assert_eq!(app.count_rows("users WHERE is_admin"), 0);
        let out = admin(&["grant", "alice@example.test", "--issuer", "https://other.example.test", "--sub", "other-alice"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(app.count_rows("users WHERE is_admin AND google_sub = 'other-alice'"), 1);
        assert_eq!(app.count_rows("users WHERE is_admin"), 1);
        assert_eq!(app.get("/admin/users").await.status(), reqwest::StatusCode::FORBIDDEN, "the real Alice is not the one named");

        // A blocked user is let back in from the command line (an admin who blocked themselves
        // has no dashboard left to do it from).
        app.sql("UPDATE users SET disabled_at = '2026-01-01 00:00:00' WHERE google_sub = 'attacker'");
        let out = admin(&["unblock", "carol@example.test"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("carol@example.test may sign in again"));
        assert_eq!(app.count_rows("users WHERE disabled_at IS NOT NULL"), 0);
        assert_eq!(app.count_rows("audit_log WHERE action = 'admin.unblock'"), 1);
    }
}
