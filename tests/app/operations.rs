//! Operations: encryption-key rotation (`SECRET_KEYS_PREVIOUS`, `rekey`) and `check`, run as
//! an operator runs them — the binary, beside serving instances, on the app's database.

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};

use offline_access::secret::{Keys, SealedUnder};
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::signin::ESCAPED_FILE;
use offline_access::on_both_backends;
use offline_access::testing::{TestApp, SECRET};

const ALICE: &str = "alice@example.test";
const NEW_KEY: &str = "the-new-secret-key-rotated-in-december-0123456789-0123456789-abc";
const WRONG_KEY: &str = "a-key-no-instance-ever-used-0123456789-0123456789-0123456789-xyz";

fn keys(current: &str, previous: &[&str]) -> Keys {
    let previous: Vec<SecretString> = previous.iter().map(|k| SecretString::from(*k)).collect();
    Keys::derive(&SecretString::from(current), &previous)
}

/// Every sealed value in the database (tokens, then sessions), as stored.
fn sealed_values(app: &TestApp) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    use diesel::prelude::*;
    use offline_access::store::schema::{credentials, sessions};
    app.db
        .run_blocking(|c| {
            type Sealed = Option<Vec<u8>>;
            let creds: Vec<(Sealed, Sealed)> = credentials::table
                .order(credentials::id)
                .select((credentials::refresh_token, credentials::access_token))
                .load(c)?;
            let tokens = creds
                .into_iter()
                .flat_map(|(r, a)| [r, a])
                .flatten()
                .collect();
            let states = sessions::table
                .order(sessions::id_hash)
                .select(sessions::state)
                .load(c)?;
            Ok((tokens, states))
        })
        .unwrap()
}

/// How many of `values` `cipher` names as sealed under its current key, and under a previous one.
fn under(cipher: &offline_access::secret::Cipher, values: &[Vec<u8>]) -> (usize, usize) {
    let count = |which| {
        values
            .iter()
            .filter(|v| cipher.sealed_under(v) == which)
            .count()
    };
    (count(SealedUnder::Current), count(SealedUnder::Previous))
}

fn binary(app: &TestApp, args: &[&str], current: &str, previous: &str) -> Output {
    let mut cmd = app.command(args);
    cmd.env("SECRET_KEY", current);
    if !previous.is_empty() {
        cmd.env("SECRET_KEYS_PREVIOUS", previous);
    }
    tokio::task::block_in_place(|| cmd.output().unwrap())
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

on_both_backends! {
    async fn a_rotated_key_reads_old_tokens_and_sessions_and_rekey_moves_everything(app) {
        // Under the old key: alice's tokens, and her session (cookie and row).
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
        let (tokens, sessions) = sealed_values(&app);
        assert_eq!(tokens.len(), 2, "refresh and access token");
        assert!(!sessions.is_empty());

        // Step 1 of the runbook: every instance gets the new key, the old one as previous.
        let rotated = app
            .instance_with(|s| {
                s.secret_key = NEW_KEY.into();
                s.secret_keys_previous = vec![SECRET.into()];
            })
            .await;
        let page = app.client.get(format!("{rotated}/")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let renewed_cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("oa_session="));
        assert!(renewed_cookie, "the cookie is sent back under the new key");
        let body = page.text().await.unwrap();
        assert!(body.contains(ESCAPED_FILE), "still signed in, Drive listed: {body}");

        // The old refresh token still works: an expired access token is refreshed with it,
        // and what the refresh writes is sealed under the new key.
        app.emu_post(&format!("/emulator/accounts/{ALICE}/expire-tokens"), serde_json::json!({})).await;
        let page = app.client.get(format!("{rotated}/")).send().await.unwrap();
        assert!(page.text().await.unwrap().contains(ESCAPED_FILE));
        assert_eq!(app.emu_count("token:refresh_token").await, 1);
        let new = keys(NEW_KEY, &[SECRET]);
        let (tokens, _) = sealed_values(&app);
        assert_eq!(under(&new.tokens, &tokens), (1, 1), "new access token, old refresh token");

        // Step 2: rekey. Nothing is left under the old key, and a second run has nothing to do.
        let out = binary(&app, &["rekey"], NEW_KEY, SECRET);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("left under previous keys: 0; unreadable: 0"), "{}", text(&out));
        let (tokens, sessions) = sealed_values(&app);
        assert_eq!(under(&new.tokens, &tokens), (2, 0));
        assert_eq!(under(&new.sessions, &sessions), (sessions.len(), 0));
        let again = binary(&app, &["rekey"], NEW_KEY, SECRET);
        assert!(again.status.success(), "{}", text(&again));
        assert!(
            text(&again).contains("done: 0 token(s) and 0 session(s) re-sealed"),
            "{}",
            text(&again)
        );
        let check = binary(&app, &["check"], NEW_KEY, SECRET);
        assert!(check.status.success(), "{}", text(&check));
        assert!(text(&check).contains("tokens: 2 under SECRET_KEY, 0 under a previous key, 0 unreadable"), "{}", text(&check));

        // Step 3: the old key is dropped. Nothing was lost: the same browser is signed in, and
        // the refresh token (re-sealed by rekey) still refreshes.
        let dropped = app.instance_with(|s| s.secret_key = NEW_KEY.into()).await;
        app.emu_post(&format!("/emulator/accounts/{ALICE}/expire-tokens"), serde_json::json!({})).await;
        let page = app.client.get(format!("{dropped}/")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains(ESCAPED_FILE));
        assert_eq!(app.emu_count("token:refresh_token").await, 2);
        let only_new = keys(NEW_KEY, &[]);
        let (tokens, _) = sealed_values(&app);
        assert_eq!(under(&only_new.tokens, &tokens), (2, 0));
    }

    async fn rekey_resumes_after_being_killed_half_way(app) {
        let mut browsers = Vec::new();
        for who in [ALICE, "bob@example.test", "admin@example.test"] {
            browsers.push(app.sign_in_new_browser(&app.addr, who).await);
        }
        let rotated = app
            .instance_with(|s| {
                s.secret_key = NEW_KEY.into();
                s.secret_keys_previous = vec![SECRET.into()];
            })
            .await;
        let new = keys(NEW_KEY, &[SECRET]);
        let (tokens, _) = sealed_values(&app);
        assert_eq!(under(&new.tokens, &tokens), (0, 6));

        // One credential per batch, a long pause after each: killed after the first.
        let mut cmd = app.command(&["rekey", "--batch-size", "1", "--pause-ms", "60000"]);
        cmd.env("SECRET_KEY", NEW_KEY)
            .env("SECRET_KEYS_PREVIOUS", SECRET)
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let first = tokio::task::block_in_place(|| {
            BufReader::new(stdout)
                .lines()
                .map(|l| l.unwrap())
                .find(|l| l.starts_with("tokens:"))
                .unwrap()
        });
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(first.contains("2 re-sealed"), "{first}");
        let (tokens, _) = sealed_values(&app);
        assert_eq!(under(&new.tokens, &tokens), (2, 4), "half-way");

        // A rotated instance reads both halves: alice's re-sealed tokens, bob's old ones.
        for browser in &browsers[..2] {
            let page = browser.get(format!("{rotated}/")).send().await.unwrap();
            let body = page.text().await.unwrap();
            assert!(body.contains("data-testid=\"file\""), "{body}");
            assert!(!body.contains("offline-missing"), "{body}");
        }

        let out = binary(&app, &["rekey"], NEW_KEY, SECRET);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("done: 4 token(s)"), "{}", text(&out));
        let (tokens, _) = sealed_values(&app);
        assert_eq!(under(&new.tokens, &tokens), (6, 0));
    }

    async fn a_wrong_key_is_named_by_check_and_rekey_changes_nothing(app) {
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
        let before = sealed_values(&app);

        let check = binary(&app, &["check"], WRONG_KEY, "");
        assert_eq!(check.status.code(), Some(1), "{}", text(&check));
        let line = text(&check)
            .lines()
            .find(|l| l.starts_with("FAIL stored tokens"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{}", text(&check)));
        assert!(line.contains("2 unreadable"), "{line}");

        let out = binary(&app, &["rekey"], WRONG_KEY, "");
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("could not be read"), "{}", text(&out));
        assert_eq!(sealed_values(&app), before, "nothing re-sealed, nothing deleted");
        // The right key still opens everything.
        let check = binary(&app, &["check"], SECRET, "");
        assert!(check.status.success(), "{}", text(&check));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_the_default_setup() {
    // A fresh folder and no configuration at all: what `cargo run` would serve.
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_offline-access"))
            .arg("check")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap()
    });
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", text(&out));
    for item in [
        "configuration",
        "keys",
        "client secret",
        "redirect URI",
        "provider",
        "security events",
        "database",
    ] {
        let line = stdout
            .lines()
            .find(|l| l[5..].starts_with(&format!("{item}:")))
            .unwrap_or_else(|| panic!("no {item} line: {stdout}"));
        assert!(line.starts_with("ok"), "{line}");
    }
    assert!(
        stdout.contains("redirect URI: http://127.0.0.1:8080/oauth2callback"),
        "{stdout}"
    );
}

on_both_backends! {
    async fn check_names_a_wrong_redirect_uri_and_an_unreachable_issuer(app) {
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
        let ok = binary(&app, &["check"], SECRET, "");
        assert!(ok.status.success(), "{}", text(&ok));
        assert!(!text(&ok).contains("FAIL"), "{}", text(&ok));
        assert!(text(&ok).contains("ok   migrations: none pending"), "{}", text(&ok));
        assert!(
            text(&ok).contains("ok   stored tokens: tokens: 2 under SECRET_KEY"),
            "{}",
            text(&ok)
        );

        // The client was registered for another address than APP_BASE_URL.
        let wrong = app.settings_dir().join("other_client_secret.json");
        std::fs::write(
            &wrong,
            r#"{"web":{"client_id":"x.apps.googleusercontent.com","client_secret":"s","redirect_uris":["https://app.example.com/oauth2callback"]}}"#,
        )
        .unwrap();
        let mut cmd = app.command(&["check"]);
        cmd.env("GOOGLE_CLIENT_SECRET_FILE", &wrong);
        let out = tokio::task::block_in_place(|| cmd.output().unwrap());
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let fails: Vec<&str> = std::str::from_utf8(&out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect();
        assert_eq!(fails.len(), 1, "{fails:?}");
        assert!(fails[0].starts_with("FAIL redirect URI:"), "{fails:?}");
        assert!(fails[0].contains("https://app.example.com/oauth2callback"), "{fails:?}");

        // Nothing answers at the issuer.
        let mut cmd = app.command(&["check"]);
        cmd.env("GOOGLE_ISSUER", "http://127.0.0.1:9");
        let out = tokio::task::block_in_place(|| cmd.output().unwrap());
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
        assert_eq!(fails.len(), 1, "{fails:?}");
        assert!(fails[0].starts_with("FAIL provider: http://127.0.0.1:9"), "{fails:?}");
        // The database checks still ran and passed.
        assert!(stdout.contains("ok   database:"), "{stdout}");
    }
}

/// The value of the sample of `name` whose labels include every one of `labels`
/// (`key="value"`), 0 when there is none.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name && labels.iter().all(|want| rest.contains(want))
        })
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let origin = app.metrics.as_ref().expect("METRICS_BIND is set");
    let resp = reqwest::get(format!("{origin}/metrics")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    resp.text().await.unwrap()
}

mod metrics {
    use super::*;
    use offline_access::testing::Backend;

    const REFRESHES: &str = "offline_access_token_refreshes_total";
    const UPSTREAM: &str = "offline_access_upstream_requests_total";

    // The counters belong to the test process, which runs many apps at once: each check is
    // of what this test's requests added. The gauges are this app's database, exactly.
    async fn counts_refreshes_401s_and_upstream_failures(backend: Backend) {
        let Some(app) = TestApp::on(backend)
            .env("METRICS_BIND", "127.0.0.1:0")
            .spawn()
            .await
        else {
            return eprintln!("postgres variant not run: TEST_POSTGRES_URL is not set");
        };
        // Never on the public address.
        assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
        // Made-up methods share one label.
        let odd = reqwest::Method::from_bytes(b"FROBNICATE").unwrap();
        app.client
            .request(odd, format!("{}/", app.addr))
            .send()
            .await
            .unwrap();
        let before = scrape(&app).await;
        assert!(
            before.contains("offline_access_users{credential_status=\"active\"} 0"),
            "{before}"
        );

        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.get("/").await.status(), StatusCode::OK);
        // Her access token dies at Google: Drive answers 401, one refresh, one retry.
        app.emu_post(
            &format!("/emulator/accounts/{ALICE}/expire-tokens"),
            serde_json::json!({}),
        )
        .await;
        assert_eq!(app.get("/").await.status(), StatusCode::OK);
        // Then the token endpoint is down when her token dies again.
        app.emu_post(
            &format!("/emulator/accounts/{ALICE}/expire-tokens"),
            serde_json::json!({}),
        )
        .await;
        app.emu_post(
            "/emulator/faults",
            serde_json::json!({"endpoint": "token", "status": 503, "count": 1}),
        )
        .await;
        let down = app.get("/").await;
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);

        let after = scrape(&app).await;
        let added = |name: &str, labels: &[&str]| {
            sample(&after, name, labels) - sample(&before, name, labels)
        };
        assert!(added(REFRESHES, &["outcome=\"ok\""]) >= 1.0, "{after}");
        assert!(
            added(REFRESHES, &["outcome=\"upstream_error\""]) >= 1.0,
            "{after}"
        );
        assert!(
            added(UPSTREAM, &["endpoint=\"drive\"", "status=\"401\""]) >= 1.0,
            "{after}"
        );
        assert!(
            added(UPSTREAM, &["endpoint=\"token\"", "status=\"503\""]) >= 1.0,
            "{after}"
        );
        assert!(
            added(UPSTREAM, &["endpoint=\"token\"", "status=\"200\""]) >= 2.0,
            "code + refresh: {after}"
        );
        assert!(
            added(
                "offline_access_http_requests_total",
                &["route=\"/\"", "status=\"503\""]
            ) >= 1.0,
            "{after}"
        );
        assert!(
            added(
                "offline_access_http_requests_total",
                &["route=\"/oauth2callback\"", "status=\"303\""]
            ) >= 1.0,
            "{after}"
        );
        assert!(
            sample(
                &after,
                "offline_access_http_request_duration_seconds_count",
                &["route=\"/\""]
            ) >= 3.0,
            "{after}"
        );
        assert!(
            sample(
                &after,
                "offline_access_http_requests_total",
                &["method=\"OTHER\""]
            ) >= 1.0,
            "{after}"
        );
        assert!(!after.contains("FROBNICATE"), "{after}");
        assert!(
            sample(
                &after,
                "offline_access_upstream_request_duration_seconds_bucket",
                &["endpoint=\"drive\"", "le=\"+Inf\""]
            ) >= 2.0,
            "{after}"
        );
        // This app's database: alice active, her session live.
        assert!(
            after.contains("offline_access_users{credential_status=\"active\"} 1"),
            "{after}"
        );
        assert!(after.contains("offline_access_sessions_live 1"), "{after}");
        assert!(
            after.contains("offline_access_db_pool_waiting 0"),
            "{after}"
        );

        // Revoked by Google: the next refresh is refused, and she needs consent.
        app.emu_post(
            &format!("/emulator/accounts/{ALICE}/revoke"),
            serde_json::json!({}),
        )
        .await;
        app.get("/").await;
        let revoked = scrape(&app).await;
        assert!(
            sample(&revoked, REFRESHES, &["outcome=\"invalid_grant\""])
                > sample(&after, REFRESHES, &["outcome=\"invalid_grant\""]),
            "{revoked}"
        );
        assert!(
            revoked.contains("offline_access_users{credential_status=\"needs_consent\"} 1"),
            "{revoked}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        counts_refreshes_401s_and_upstream_failures(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        counts_refreshes_401s_and_upstream_failures(Backend::Postgres).await
    }
}
