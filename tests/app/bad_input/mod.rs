//! Bad input on every route: oversized and garbage query strings, invalid UTF-8, repeated
//! parameters, unparsable path parameters, wrong methods and content types, huge headers,
//! malformed chunked bodies, raw bytes no client library sends, and tampered, truncated,
//! foreign or garbage cookies. Every answer is an answer (never a dropped connection where HTTP
//! allows one), below 500, never repeats markup it was sent, and nothing is written. One file per
//! attack surface: queries, methods, headers, cookies, raw.

mod cookies;
mod headers;
mod methods;
mod queries;
mod raw;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::form_urlencoded::byte_serialize;

use offline_access::on_both_backends;
use offline_access::testing::{location, Backend, TestApp};

const ALICE: &str = "alice@example.test";
const ADMIN: &str = "admin@example.test";

/// Markup that must never come back unescaped.
pub const MARK: &str = "<oa-x onmouseover=alert(1)>";
/// What of [`MARK`] must never be in an answer.
pub const MARK_RAW: &str = "<oa-x";

/// No per-address allowance gets in the way of hundreds of requests from 127.0.0.1.
pub const NO_RATE_LIMITS: [(&str, &str); 3] = [
    ("SIGN_IN_RATE_PER_MINUTE", "1000000"),
    ("ADMIN_RATE_PER_MINUTE", "1000000"),
    ("AUTHCODE_RATE_PER_MINUTE", "1000000"),
];

/// Set in the child process of [`malformed_requests_are_logged_below_error`]: the tests then
/// log to stderr through the filter `main` uses.
const LOG_CAPTURE: &str = "OA_TEST_LOG_TO_STDERR";

/// An app without rate limits on `backend`, logging to stderr when run for the log test.
pub async fn app_on(backend: Backend) -> Option<TestApp> {
    if std::env::var_os(LOG_CAPTURE).is_some() {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            tracing_subscriber::fmt()
                .with_env_filter(offline_access::logging::log_filter(None))
                .with_ansi(false)
                .with_writer(std::io::stderr)
                .init();
        });
    }
    TestApp::spawn_on_with(backend, &NO_RATE_LIMITS).await
}

/// Every route: (method, path) with `{id}` for a user id.
const ROUTES: [(&str, &str); 17] = [
    ("GET", "/"),
    ("GET", "/gmail"),
    ("GET", "/account"),
    ("GET", "/account/disconnect"),
    ("POST", "/account/disconnect"),
    ("POST", "/logout"),
    ("GET", "/oauth2callback"),
    ("POST", "/authcode"),
    ("GET", "/admin/users"),
    ("GET", "/admin/users/{id}"),
    ("GET", "/admin/users/{id}/revoke"),
    ("POST", "/admin/users/{id}/revoke"),
    ("POST", "/admin/users/{id}/unblock"),
    ("GET", "/admin/audit"),
    ("GET", "/admin"),
    ("GET", "/healthz"),
    ("GET", "/static/app.css"),
];

/// The routes with `{id}` filled in.
fn routes(id: i64) -> Vec<(Method, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| {
            (
                Method::from_bytes(m.as_bytes()).unwrap(),
                p.replace("{id}", &id.to_string()),
            )
        })
        .collect()
}

fn enc(s: &str) -> String {
    byte_serialize(s.as_bytes()).collect()
}

/// Every parameter name any route reads.
const KEYS: [&str; 15] = [
    "q",
    "code",
    "state",
    "error",
    "grant",
    "iss",
    "scope",
    "page",
    "page_token",
    "back",
    "filter",
    "after",
    "before",
    "csrf",
    "authCode",
];

/// Every key once, each value hostile markup padded so that the query is `size` bytes or more.
fn query_of_size(size: usize) -> String {
    let pad = size / KEYS.len();
    KEYS.iter()
        .map(|k| format!("{k}={}", enc(&format!("{MARK}{}", "x".repeat(pad)))))
        .collect::<Vec<_>>()
        .join("&")
}

/// Query strings no page of ours makes, each with what it is.
fn hostile_queries() -> Vec<(&'static str, String)> {
    let markup: Vec<String> = KEYS.iter().map(|k| format!("{k}={}", enc(MARK))).collect();
    vec![
        ("a 10 KB query", query_of_size(10 * 1024)),
        ("markup in every parameter", markup.join("&")),
        (
            "percent-encoded invalid UTF-8",
            KEYS.iter()
                .map(|k| format!("{k}=%ff%fe{}", enc(MARK)))
                .collect::<Vec<_>>()
                .join("&"),
        ),
        ("repeated page", "page=1&page=2".into()),
        ("repeated code and state", "code=a&code=b&state=x&state=y".into()),
        (
            "repeated everything",
            format!("{}&{}", markup.join("&"), markup.join("&")),
        ),
        (
            "control characters",
            "q=%00%0d%0a%1b&error=%0d%0aSet-Cookie:%20oa=1&state=%00&code=%00&before=%00&filter=%00"
                .into(),
        ),
        (
            "garbage",
            format!("&&&=&==%%%&%zz&a=%&=b&{}=%&%3D%3D&page=-1&before=1e99&after=_", enc(MARK)),
        ),
        (
            "numbers out of range",
            "page=99999999999999999999&before=-99999999999999999999&after=99999999999999999999_-1"
                .into(),
        ),
    ]
}

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    /// `app.client`, signed in as the admin.
    Admin,
}

/// A client without cookies, which follows no redirects.
fn anonymous() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn client(app: &TestApp, who: Who) -> reqwest::Client {
    match who {
        Who::Anonymous => anonymous(),
        Who::Admin => app.client.clone(),
    }
}

/// Checks an answer to hostile input: below 500, and neither its headers nor its body repeat
/// the markup it was sent. Returns the status and the body.
async fn answered(what: &str, resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    assert!(status.as_u16() < 500, "{what}: {status}");
    for (name, value) in resp.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(
            !value.contains(MARK_RAW) && !value.contains("oa=1"),
            "{what}: {name} repeats the input: {value}"
        );
    }
    let body = resp.text().await.unwrap_or_default();
    assert!(
        !body.contains(MARK_RAW),
        "{what} repeats the markup: {body}"
    );
    (status, body)
}

/// The admin (in `app.client`) and alice signed in; alice's id.
async fn signed_in(app: &TestApp) -> i64 {
    app.sign_in_new_browser(&app.addr, ALICE).await;
    assert_eq!(app.sign_in(ADMIN).await.status(), StatusCode::SEE_OTHER);
    app.user_id(ALICE).0
}

/// The app still serves: healthy, and the admin still signed in.
async fn still_serves(app: &TestApp) {
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let home = app.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Ada Admin"));
}

/// What the app has stored and exchanged so far.
#[derive(Debug, PartialEq)]
struct Untouched {
    rows: offline_access::testing::Snapshot,
    claims: i64,
    exchanges: u64,
}

impl Untouched {
    async fn now(app: &TestApp) -> Self {
        Self {
            rows: app.snapshot(),
            claims: app.count_rows("sign_in_claims"),
            exchanges: app.emu_count("token:authorization_code").await,
        }
    }

    /// Nothing was written, no sign-in claimed, no code exchanged at the provider since.
    async fn still(&self, app: &TestApp) {
        assert_eq!(
            &Self::now(app).await,
            self,
            "nothing was written or exchanged"
        );
    }

    /// Nothing was written (codes sent to `/authcode` may have been tried at the provider).
    async fn still_stored(&self, app: &TestApp) {
        let now = Self::now(app).await;
        assert_eq!(
            (&now.rows, now.claims),
            (&self.rows, self.claims),
            "nothing was written"
        );
    }
}

/// A POST route that sends a visitor without a session to sign in before reading anything.
fn needs_sign_in(path: &str) -> bool {
    path.starts_with("/admin/") || path == "/account/disconnect"
}

/// The value of cookie `name` in the app's browser.
fn cookie_value(app: &TestApp, name: &str) -> String {
    cookie_value_in(&app.jar, &app.addr, name)
}

fn cookie_value_in(jar: &reqwest::cookie::Jar, origin: &str, name: &str) -> String {
    use reqwest::cookie::CookieStore;
    let header = jar
        .cookies(&url::Url::parse(origin).unwrap())
        .expect("cookies");
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

/// Malformed requests are logged as warnings at most: the tests above, run again in a child
/// process that logs through the filter `main` uses, print no ERROR line.
#[test]
fn malformed_requests_are_logged_below_error() {
    if std::env::var_os(LOG_CAPTURE).is_some() {
        return; // this is the child
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "bad_input::",
            "properties::",
            "--skip",
            "postgres",
            "--skip",
            "malformed_requests_are_logged_below_error",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(LOG_CAPTURE, "1")
        .env_remove("RUST_LOG")
        .env_remove("TEST_POSTGRES_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the child run failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("test result: ok. "), "{stdout}");
    assert!(
        !stdout.contains("ok. 0 passed"),
        "the child ran no test: {stdout}"
    );
    let warnings = stderr.lines().filter(|l| l.contains(" WARN ")).count();
    assert!(
        stderr.contains("malformed request")
            && stderr.contains("request refused before reading it"),
        "the child's log was captured ({warnings} warnings):\n{stderr}"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(
        errors.is_empty(),
        "{} ERROR lines:\n{}",
        errors.len(),
        errors.join("\n")
    );
}
