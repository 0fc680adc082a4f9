//! Bad input on every route: oversized and garbage query strings, invalid UTF-8, repeated
//! parameters, unparsable path parameters, wrong methods and content types, huge headers,
//! malformed chunked bodies, raw bytes no client library sends, and tampered, truncated,
//! foreign or garbage cookies. Every answer is an answer (never a dropped connection where HTTP
//! allows one), below 500, never repeats markup it was sent, and nothing is written.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::form_urlencoded::byte_serialize;

use crate::helpers::{location, Backend, TestApp};

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

/// Runs each `async fn name(app)` on SQLite, and on PostgreSQL when `TEST_POSTGRES_URL` is set,
/// with an app from [`app_on`].
macro_rules! on_both_unlimited {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: TestApp) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(app_on(Backend::Sqlite).await.unwrap()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match app_on(Backend::Postgres).await {
                    Some(app) => run(app).await,
                    None => eprintln!("postgres variant not run: TEST_POSTGRES_URL is not set"),
                }
            }
        }
    )*};
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
    rows: crate::helpers::Snapshot,
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

on_both_unlimited! {
    async fn hostile_query_strings_on_every_route_get_answers_below_500(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        for who in [Who::Anonymous, Who::Admin] {
            let client = client(&app, who);
            for (method, path) in routes(id) {
                for (what, query) in hostile_queries() {
                    let what = format!("{who:?} {method} {path} with {what}");
                    let resp = client
                        .request(method.clone(), format!("{}{path}?{query}", app.addr))
                        .send()
                        .await
                        .unwrap();
                    let (status, _) = answered(&what, resp).await;
                    // The admin pages read their parameters strictly.
                    let strict = (path == "/admin/users"
                        && (query.contains("filter=") || query.contains("after=")))
                        || (path == "/admin/audit" && query.contains("before="));
                    if who == Who::Admin && strict {
                        assert!(status.is_client_error(), "{what}: {status}");
                    }
                }
                // Over 16 KiB of address: 414 before anything else happens.
                let what = format!("{who:?} {method} {path} with a 20 KB query");
                let resp = client
                    .request(method.clone(), format!("{}{path}?{}", app.addr, query_of_size(20 * 1024)))
                    .send()
                    .await
                    .unwrap();
                let (status, body) = answered(&what, resp).await;
                assert_eq!(status, StatusCode::URI_TOO_LONG, "{what}");
                if path == "/authcode" {
                    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(json["error"], "request_too_large");
                } else {
                    assert!(body.contains("That address is too long"), "{what}: {body}");
                }
            }
        }
        // Repeated parameters where they are read: refused, not one of them picked.
        for (path, query) in [
            ("/", "page=2&page_token=A&page=3"),
            ("/gmail", "page=1&page=2"),
            ("/oauth2callback", "code=a&code=b&state=x&state=y"),
            ("/admin/users", "filter=blocked&filter=needs_consent"),
            ("/admin/audit", "before=5&before=6"),
        ] {
            let resp = app.get(&format!("{path}?{query}")).await;
            let what = format!("{path}?{query}");
            let (status, _) = answered(&what, resp).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
        }
        before.still(&app).await;
        still_serves(&app).await;
    }

    async fn unparsable_path_parameters_are_404_pages_that_do_not_repeat_them(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        let segments = [
            "abc".to_string(),
            "%ff%fe".into(),
            "99999999999999999999".into(),
            "1.5".into(),
            "0x10".into(),
            " 1".into(),
            enc(MARK),
            "9".repeat(5000),
        ];
        for segment in &segments {
            for (method, pattern) in [
                (Method::GET, "/admin/users/{}"),
                (Method::GET, "/admin/users/{}/revoke"),
                (Method::POST, "/admin/users/{}/revoke"),
                (Method::POST, "/admin/users/{}/unblock"),
            ] {
                let path = pattern.replace("{}", segment);
                let what = format!("{method} {}", &path[..path.len().min(60)]);
                let resp = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.addr))
                    .form(&[("csrf", "x")])
                    .send()
                    .await
                    .unwrap();
                assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{what}");
                let (status, body) = answered(&what, resp).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
                assert!(body.contains("Page not found"), "{what}: {body}");
                assert!(!body.contains("0x10") && !body.contains("99999"), "{what}: {body}");
                // Signed out, the same address is only a way to sign in: nothing is parsed.
                let resp = anonymous()
                    .request(method.clone(), format!("{}{path}", app.addr))
                    .form(&[("csrf", "x")])
                    .send()
                    .await
                    .unwrap();
                let (status, _) = answered(&what, resp).await;
                assert_eq!(status, StatusCode::SEE_OTHER, "{what} signed out");
            }
        }
        // An id that parses but names nobody.
        let resp = app.get("/admin/users/-1").await;
        assert_eq!(answered("-1", resp).await.0, StatusCode::NOT_FOUND);
        let resp = app.get(&format!("/admin/users/{id}")).await;
        assert_eq!(resp.status(), StatusCode::OK, "the real one");
        before.still(&app).await;
        still_serves(&app).await;
    }

    async fn wrong_methods_get_405_with_allow_on_every_route(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        for (method, path) in routes(id) {
            for wrong in ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO"] {
                let wrong = Method::from_bytes(wrong.as_bytes()).unwrap();
                for who in [Who::Anonymous, Who::Admin] {
                    let resp = client(&app, who)
                        .request(wrong.clone(), format!("{}{path}", app.addr))
                        .body(MARK)
                        .send()
                        .await
                        .unwrap();
                    let allow = resp.headers().get("allow").map(|a| a.to_str().unwrap().to_string());
                    let what = format!("{who:?} {wrong} {path}");
                    let (status, _) = answered(&what, resp).await;
                    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
                    let allow = allow.unwrap_or_else(|| panic!("{what}: no Allow"));
                    assert!(allow.contains(method.as_str()), "{what}: Allow: {allow}");
                }
            }
        }
        before.still(&app).await;
        still_serves(&app).await;
    }

    async fn wrong_content_types_and_bodies_on_post_routes_are_4xx(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
            (None, b"csrf=x".to_vec()),
            (Some("text/plain"), format!("csrf={MARK}").into_bytes()),
            (Some("application/json"), format!("{{\"csrf\":\"{MARK}\",\"authCode\":\"{MARK}\"}}").into_bytes()),
            (Some("multipart/form-data; boundary=zz"), format!("--zz\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{MARK}\r\n--zz--\r\n").into_bytes()),
            (Some("application/x-www-form-urlencoded; charset=utf-16"), vec![0xff, 0xfe, b'c', 0, b'=', 0]),
            (Some("application/xml"), format!("<a>{MARK}</a>").into_bytes()),
            (Some("%%%;;;=\"<oa"), b"csrf=x".to_vec()),
            (Some("application/x-www-form-urlencoded"), vec![0xff, 0xfe, b'=', 0, b'&', b'%', b'z']),
            (Some("application/x-www-form-urlencoded"), format!("csrf=%ff%fe&csrf={}&authCode=%00&block=%ff", enc(MARK)).into_bytes()),
            (Some("application/x-www-form-urlencoded"), format!("csrf={}", "x".repeat(64 * 1024)).into_bytes()),
            (Some("application/json"), vec![b'{'; 20_000]),
        ];
        for who in [Who::Anonymous, Who::Admin] {
            let client = client(&app, who);
            for (method, path) in routes(id).into_iter().filter(|(m, _)| m == Method::POST) {
                for (content_type, body) in &bodies {
                    let mut request = client
                        .post(format!("{}{path}", app.addr))
                        .header("X-Requested-With", "com.example.app")
                        .body(body.clone());
                    if let Some(ct) = content_type {
                        request = request.header("Content-Type", *ct);
                    }
                    let what = format!("{who:?} {method} {path} as {content_type:?} ({} bytes)", body.len());
                    let (status, body) = answered(&what, request.send().await.unwrap()).await;
                    if who == Who::Anonymous && needs_sign_in(&path) {
                        assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
                    } else {
                        assert!(status.is_client_error(), "{what}: {status}");
                    }
                    if path == "/authcode" {
                        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
                        let error = json["error"].as_str().unwrap();
                        assert!(
                            ["unsupported_content_type", "invalid_request", "body_too_large", "invalid_code"].contains(&error),
                            "{what}: {error}"
                        );
                    }
                }
            }
        }
        before.still_stored(&app).await;
        still_serves(&app).await;
    }

    async fn huge_headers_are_431_and_too_many_headers_an_answer(app) {
        let id = signed_in(&app).await;
        let before = Untouched::now(&app).await;
        let filler = "a".repeat(64 * 1024);
        for who in [Who::Anonymous, Who::Admin] {
            for (method, path) in routes(id) {
                for header in ["x-filler", "cookie", "user-agent"] {
                    let what = format!("{who:?} {method} {path} with a 64 KB {header}");
                    let value = if header == "cookie" { format!("oa_session={filler}") } else { filler.clone() };
                    let resp = client(&app, who)
                        .request(method.clone(), format!("{}{path}", app.addr))
                        .header(header, value)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
                    assert_eq!(resp.headers()["x-frame-options"], "DENY", "{what}");
                    let (status, body) = answered(&what, resp).await;
                    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "{what}");
                    if path != "/authcode" {
                        assert!(body.contains("That request is too large"), "{what}: {body}");
                    }
                }
                // More headers than actix parses (96): its own refusal, still an answer. actix
                // closes the connection after it, so this goes on a connection of its own: the
                // requests after it must not race that close on a pooled connection.
                let fresh = match who {
                    Who::Anonymous => anonymous(),
                    Who::Admin => reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .cookie_provider(app.jar.clone())
                        .build()
                        .unwrap(),
                };
                let mut request = fresh.request(method.clone(), format!("{}{path}", app.addr));
                for i in 0..120 {
                    request = request.header(format!("x-h{i}"), "1");
                }
                let what = format!("{who:?} {method} {path} with 120 headers");
                let resp = request.send().await.unwrap_or_else(|e| panic!("{what}: {e:?}"));
                let (status, _) = answered(&what, resp).await;
                assert!(status.is_client_error(), "{what}: {status}");
            }
        }
        // Just under the limits: served as usual.
        let resp = app
            .client
            .get(format!("{}/?q={}", app.addr, "x".repeat(15 * 1024)))
            .header("x-filler", "a".repeat(24 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        before.still(&app).await;
        still_serves(&app).await;
    }

    async fn tampered_truncated_foreign_and_garbage_session_cookies_are_no_session(app) {
        let id = signed_in(&app).await;
        let real = cookie_value(&app, "oa_session");
        let foreign = foreign_cookies().await;
        let before = Untouched::now(&app).await;
        let mut values = garbage_cookie_values();
        values.push(("tampered", tamper(&real)));
        values.push(("truncated", real[..real.len() / 2].to_string()));
        values.push(("foreign", foreign.session.clone()));
        for (what, value) in &values {
            for (method, path) in routes(id) {
                let what = format!("{method} {path} with a {what} oa_session");
                let resp = anonymous()
                    .request(method.clone(), format!("{}{path}", app.addr))
                    .header("Cookie", format!("oa_session={value}"))
                    .header("X-Requested-With", "com.example.app")
                    .form(&[("csrf", "x")])
                    .send()
                    .await
                    .unwrap();
                let (status, body) = answered(&what, resp).await;
                match (method.as_str(), path.as_str()) {
                    // Nobody is signed in: the landing page…
                    ("GET", "/") => assert!(body.contains("Sign in with Google"), "{what}: {body}"),
                    // …and the pages that need someone send them to sign in.
                    ("GET", "/account" | "/gmail" | "/admin/users" | "/admin/audit") => {
                        assert_eq!(status, StatusCode::SEE_OTHER, "{what}")
                    }
                    ("POST", "/logout" | "/account/disconnect") => {
                        assert!(status.is_client_error() || status == StatusCode::SEE_OTHER, "{what}: {status}")
                    }
                    _ => {}
                }
            }
        }
        // The real cookie still works: the others were refused for what they are.
        let resp = anonymous()
            .get(format!("{}/", app.addr))
            .header("Cookie", format!("oa_session={real}"))
            .send()
            .await
            .unwrap();
        assert!(resp.text().await.unwrap().contains("Ada Admin"));
        before.still(&app).await;
        still_serves(&app).await;
    }

    async fn tampered_truncated_foreign_and_garbage_pending_cookies_complete_nothing(app) {
        // A sign-in started in this browser: its state, and its sealed pending cookie.
        let (browser, jar) = app.browser();
        let start = browser.get(format!("{}/oauth2callback", app.addr)).send().await.unwrap();
        let auth = url::Url::parse(location(&start)).unwrap();
        let state = auth.query_pairs().find(|(k, _)| k == "state").unwrap().1.to_string();
        let real = cookie_value_in(&jar, &app.addr, "oa_pending");
        let back = app.consent_with(&browser, &auth, ALICE, "allow").await;
        let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.to_string();
        let foreign = foreign_cookies().await;
        let before = Untouched::now(&app).await;
        let mut values = garbage_cookie_values();
        values.push(("tampered", tamper(&real)));
        values.push(("truncated", real[..real.len() / 2].to_string()));
        values.push(("foreign", foreign.pending.clone()));
        for (what, value) in &values {
            for state in [state.as_str(), foreign.state.as_str()] {
                let what = format!("a {what} oa_pending with state {state}");
                let query = format!("code={}&state={}", enc(&code), enc(state));
                let resp = anonymous()
                    .get(format!("{}/oauth2callback?{query}", app.addr))
                    .header("Cookie", format!("oa_pending={value}"))
                    .send()
                    .await
                    .unwrap();
                let (status, body) = answered(&what, resp).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{what}");
                assert!(body.contains("This sign-in link is not valid"), "{what}: {body}");
            }
            // Elsewhere the cookie is just ignored.
            for path in ["/", "/healthz", "/static/app.css"] {
                let resp = anonymous()
                    .get(format!("{}{path}", app.addr))
                    .header("Cookie", format!("oa_pending={value}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answered(path, resp).await.0, StatusCode::OK, "{path}");
            }
        }
        before.still(&app).await;
        // The browser's own cookie and code still complete the sign-in.
        let done = browser.get(back.as_str()).send().await.unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.emu_count("token:authorization_code").await, 1);
    }

    async fn raw_bytes_no_client_library_sends_get_answers(app) {
        let id = signed_in(&app).await;
        let session = cookie_value(&app, "oa_session");
        let before = Untouched::now(&app).await;
        let host = app.addr.trim_start_matches("http://").to_string();
        let cookie = format!("Cookie: oa_session={session}\r\n");
        let mut failures = Vec::new();
        // Raw bytes in the request target, on every route, signed in and not; and a 100 KB
        // query, which no client library sends (the `http` crate stops at 64 KiB).
        for (method, path) in routes(id) {
            for cookie in ["", cookie.as_str()] {
                for target in [
                    format!("{path}?q=\u{e9}\u{1f600}&page=\u{ff}").into_bytes(),
                    [path.as_bytes(), b"?q=\xff\xfe\xc3\x28&error=\xff<oa-x>&code=\x80&state=\xfe"].concat(),
                    [path.as_bytes(), b"/\xff\xfe"].concat(),
                    format!("{path}?{}", query_of_size(100 * 1024)).into_bytes(),
                ] {
                    let request = [
                        format!("{method} ").as_bytes(),
                        &target,
                        format!(" HTTP/1.1\r\nHost: {host}\r\n{cookie}Content-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
                    ]
                    .concat();
                    if let Err(e) = raw_answer(&host, &request).await {
                        failures.push(format!("{method} {}: {e}", head(&target, 80)));
                    }
                }
            }
        }
        // Heads no client should send.
        let heads: Vec<Vec<u8>> = vec![
            b"GARBAGE\r\n\r\n".to_vec(),
            b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            b"GET / HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x7f: y\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            [b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".as_slice(), &vec![b'a'; 200 * 1024], b"\r\n\r\n"].concat(),
        ];
        for request in &heads {
            match raw_answer(&host, request).await {
                Ok(status) if (400..500).contains(&status) => {}
                Ok(status) => failures.push(format!("{:?}: {status}", head(request, 60))),
                Err(e) => failures.push(format!("{:?}: {e}", head(request, 60))),
            }
        }
        // Cookies that are not even text: no session, the landing page.
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: oa_session=\xff\xfe; oa_pending=\x80\r\nConnection: close\r\n\r\n";
        assert_eq!(raw_answer(&host, request).await, Ok(200));
        // Malformed chunked bodies on every POST route, signed in and not.
        let bodies: [(&str, &[u8]); 7] = [
            ("a chunk size that is not hex", b"zz\r\ncsrf=x\r\n0\r\n\r\n"),
            ("a chunk size that overflows", b"fffffffffffffffffffffffff\r\ncsrf=x\r\n0\r\n\r\n"),
            ("a chunk without its CRLF", b"6\r\ncsrf=xXXXX\r\n0\r\n\r\n"),
            ("a body cut short", b"100\r\ncsrf=x"),
            ("a control character in an extension", b"6;\x01\r\ncsrf=x\r\n0\r\n\r\n"),
            ("no last chunk", b"6\r\ncsrf=x\r\n"),
            ("a negative size", b"-6\r\ncsrf=x\r\n0\r\n\r\n"),
        ];
        for (method, path) in routes(id).into_iter().filter(|(m, _)| m == Method::POST) {
            for cookie in ["", cookie.as_str()] {
                for (what, body) in bodies {
                    for framing in [
                        "Transfer-Encoding: chunked\r\n",
                        "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n",
                        "Transfer-Encoding: gzip, chunked\r\n",
                    ] {
                        let request = [
                            format!(
                                "POST {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}X-Requested-With: x\r\n\
                                 Content-Type: application/x-www-form-urlencoded\r\n{framing}Connection: close\r\n\r\n"
                            )
                            .as_bytes(),
                            body,
                        ]
                        .concat();
                        let what = format!(
                            "{method} {path} {} with {what} ({})",
                            if cookie.is_empty() { "signed out" } else { "signed in" },
                            framing.trim().replace("\r\n", ", ")
                        );
                        // Chunked bodies are refused before they are read (411); a length
                        // beside chunks, or another coding, actix-http itself refuses (400).
                        match raw_answer(&host, &request).await {
                            Ok(411) => {}
                            Ok(400) if framing != "Transfer-Encoding: chunked\r\n" => {}
                            Ok(status) => failures.push(format!("{what}: {status}")),
                            Err(e) => failures.push(format!("{what}: {e}")),
                        }
                    }
                }
                // A well-formed chunked body is refused the same way.
                let request = format!(
                    "POST {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}X-Requested-With: x\r\n\
                     Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\
                     Connection: close\r\n\r\n6\r\ncsrf=x\r\n0\r\n\r\n"
                );
                match raw_answer(&host, request.as_bytes()).await {
                    Ok(411) => {}
                    other => failures.push(format!("{method} {path} chunked: {other:?}")),
                }
                // A body shorter than its Content-Length, and one far larger than any form.
                for (what, length, body) in [
                    ("a body cut short", 100, b"csrf=x".to_vec()),
                    ("a 2 MB body", 2_000_000, [b"csrf=x&a=".as_slice(), &vec![b'a'; 2_000_000 - 9]].concat()),
                ] {
                    let request = [
                        format!(
                            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}X-Requested-With: x\r\n\
                             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\
                             Connection: close\r\n\r\n"
                        )
                        .as_bytes(),
                        &body,
                    ]
                    .concat();
                    let what = format!(
                        "{method} {path} {} with {what}",
                        if cookie.is_empty() { "signed out" } else { "signed in" },
                    );
                    match raw_answer(&host, &request).await {
                        Ok(303) if cookie.is_empty() && needs_sign_in(&path) => {}
                        Ok(status) if (400..500).contains(&status) => {}
                        Ok(status) => failures.push(format!("{what}: {status}")),
                        Err(e) => failures.push(format!("{what}: {e}")),
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
        before.still(&app).await;
        still_serves(&app).await;
    }
}

/// A POST route that sends a visitor without a session to sign in before reading anything.
fn needs_sign_in(path: &str) -> bool {
    path.starts_with("/admin/") || path == "/account/disconnect"
}

/// Sends `request` on a connection of its own, says it has nothing more to send (a half-close:
/// a body cut short ends there), and reads until the server closes. The answer must be an HTTP
/// response below 500 that does not repeat the markup; returns its status, or what is wrong.
async fn raw_answer(host: &str, request: &[u8]) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    // The server may refuse before it has read everything: what it answers counts.
    let _ = stream.write_all(request).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    // A guard against a server that never answers, not a timing assertion.
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| "no answer and no close in 60 s".to_string())?;
    if let (Err(e), true) = (read, answer.is_empty()) {
        return Err(format!("dropped without an answer: {e}"));
    }
    if answer.len() < 12 || !answer.starts_with(b"HTTP/1.1 ") {
        return Err(format!(
            "not an HTTP answer: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(100)])
        ));
    }
    let status: u16 = std::str::from_utf8(&answer[9..12])
        .unwrap()
        .parse()
        .unwrap();
    if status >= 500 {
        return Err(format!("status {status}"));
    }
    if String::from_utf8_lossy(&answer).contains(MARK_RAW) {
        return Err("repeats the markup".into());
    }
    Ok(status)
}

/// At most `n` bytes of `b`, for a message.
fn head(b: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(n)]).into_owned()
}

/// Cookie values that are not ours in any way.
fn garbage_cookie_values() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("percent-garbage", "%%%".into()),
        ("one character", "a".into()),
        ("long", "A".repeat(4000)),
        ("quoted", "\"quoted\"".into()),
        ("markup", enc(MARK)),
        ("base64 of nothing of ours", "b2ZmbGluZS1hY2Nlc3M".into()),
        ("control characters percent-encoded", "%00%0d%0a".into()),
        ("several equals signs", "a=b=c".into()),
    ]
}

/// `value` with one character in its middle changed.
fn tamper(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    let mid = chars.len() / 2;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
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

/// Cookies another deployment (another SECRET_KEY) issued: a signed-in session, and a pending
/// sign-in with its state.
struct Foreign {
    session: String,
    pending: String,
    state: String,
}

async fn foreign_cookies() -> Foreign {
    // Which database the other deployment keeps its rows in does not matter here.
    let other = TestApp::spawn_on_with(
        Backend::Sqlite,
        &[(
            "SECRET_KEY",
            "another-deployment-0123456789-0123456789-0123456789-0123456789-0123456789",
        )],
    )
    .await
    .unwrap();
    other.sign_in(ADMIN).await;
    let session = cookie_value(&other, "oa_session");
    let start = other.get("/oauth2callback").await;
    let auth = url::Url::parse(location(&start)).unwrap();
    let state = auth
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    Foreign {
        session,
        pending: cookie_value(&other, "oa_pending"),
        state,
    }
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
