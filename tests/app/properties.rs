//! Property tests against a running app: arbitrary callback parameters and arbitrary
//! `POST /authcode` bodies. proptest calls a plain closure for each case; the app runs on a
//! runtime of this test's own, and each case blocks on it.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::Value;
use url::form_urlencoded::byte_serialize;

use crate::bad_input::{app_on, MARK};
use offline_access::on_both_backends;
use offline_access::testing::{location, TestApp};

/// An app and the handle of the test's runtime: proptest calls `check` for each case on a
/// blocking thread, which blocks on the runtime while the app's servers run on its workers.
struct Harness {
    app: TestApp,
    rt: tokio::runtime::Handle,
}

impl Harness {
    /// Runs `body` with the harness on a blocking thread (a panic in it fails the test).
    async fn with(app: TestApp, body: impl FnOnce(&Harness) + Send + 'static) {
        let rt = tokio::runtime::Handle::current();
        if let Err(e) = tokio::task::spawn_blocking(move || body(&Harness { app, rt })).await {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    /// Runs `cases` cases of `strategy` through `check` (which blocks on [`Self::rt`]).
    fn run<S: Strategy>(
        &self,
        cases: u32,
        strategy: S,
        check: impl Fn(S::Value) -> Result<(), TestCaseError>,
    ) {
        let mut runner = TestRunner::new(Config {
            cases,
            // Shrunk cases are reported in the failure; nothing is written next to the tests.
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, check) {
            panic!("{e}");
        }
    }
}

/// A parameter value: arbitrary text (control characters included), arbitrary bytes (invalid
/// UTF-8 once percent-encoded), things that look like OAuth error codes, markup, long values,
/// and the values the app gives meaning to.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::string::string_regex("(?s).{0,40}").unwrap().prop_map(String::into_bytes),
        2 => vec(any::<u8>(), 0..40),
        2 => "[a-z_]{1,70}".prop_map(String::into_bytes),
        1 => "<[a-z-]{1,8}( [a-z]{1,6}=\"[^\"]{0,10}\")?>".prop_map(|m| format!("{m}{MARK}").into_bytes()),
        1 => (0usize..3000).prop_map(|n| "x".repeat(n).into_bytes()),
        1 => prop_oneof![
            Just("access_denied"), Just("gmail"), Just("drive"), Just("openid email"),
            Just("https://accounts.google.com"), Just("4/0abc"), Just("")
        ].prop_map(|s| s.as_bytes().to_vec()),
    ]
}

/// The callback's parameters in any number, order and repetition.
fn callback_params() -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let key = prop_oneof![
        Just("code"),
        Just("state"),
        Just("error"),
        Just("grant"),
        Just("iss"),
        Just("scope")
    ];
    vec((key, value()), 0..7)
}

fn percent_encoded(bytes: &[u8]) -> String {
    byte_serialize(bytes).collect()
}

/// Whether the app may name `value` on a page: an error code it repeats (lowercase letters and
/// underscores, at most 64) — anything else must never come back.
fn may_be_named(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// One case: a browser that started a sign-in sends `params` to the callback.
async fn callback_case(
    app: &TestApp,
    params: Vec<(&'static str, Vec<u8>)>,
) -> Result<(), TestCaseError> {
    // A browser that started a sign-in here: its pending cookie holds a real state.
    let (browser, _) = app.browser();
    let start = browser
        .get(format!("{}/oauth2callback", app.addr))
        .send()
        .await
        .unwrap();
    prop_assert_eq!(start.status(), StatusCode::FOUND);
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoded(v)))
        .collect();
    let resp = browser
        .get(format!("{}/oauth2callback?{}", app.addr, query.join("&")))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    prop_assert!(status.as_u16() < 500, "{}", status);
    let headers: Vec<String> = resp
        .headers()
        .iter()
        .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let body = resp.text().await.unwrap_or_default();
    // Error codes the page may name, and so anything within them.
    let named: Vec<String> = params
        .iter()
        .filter(|(k, _)| *k == "error")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .filter(|v| may_be_named(v))
        .collect();
    for (key, value) in &params {
        let value = String::from_utf8_lossy(value);
        if value.len() < 8 || named.iter().any(|n| n.contains(&*value)) {
            continue;
        }
        prop_assert!(
            !body.contains(&*value),
            "the body repeats {}={:?}",
            key,
            value
        );
        for h in &headers {
            prop_assert!(!h.contains(&*value), "{} repeats {}={:?}", h, key, value);
        }
    }
    prop_assert!(!body.contains(crate::bad_input::MARK_RAW));
    // Random answers never match the state this browser sent: nothing is exchanged.
    prop_assert_eq!(app.emu_count("token:authorization_code").await, 0);
    Ok(())
}

on_both_backends! {
    with app_on;
    async fn arbitrary_callback_parameters_never_get_a_500_an_echo_or_an_exchange(app) {
    Harness::with(app, |h| {
        let before = h.app.snapshot();
        h.run(96, callback_params(), |p| {
            h.rt.block_on(callback_case(&h.app, p))
        });
        assert_eq!(
            h.app.count_rows("sign_in_claims"),
            0,
            "no state was ever claimed"
        );
        assert_eq!(h.app.snapshot(), before, "nothing was written");
        // And the check can tell: a real answer is exchanged once.
        h.rt.block_on(async {
            let auth = h.app.authorization_url().await;
            let back = h.app.consent(&auth, "alice@example.test", "allow").await;
            assert_eq!(location(&h.app.get_url(back.as_str()).await), "/");
            assert_eq!(h.app.emu_count("token:authorization_code").await, 1);
        });
    })
    .await;
    }
}

/// A body for `POST /authcode`.
#[derive(Debug, Clone)]
enum Body {
    Bytes(Vec<u8>),
    Json(Value),
    Form(Vec<(String, String)>),
}

/// What the app gives meaning to, and anything else.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop_oneof![Just("authCode"), Just("platform"), Just("idToken")].prop_map(String::from),
        1 => proptest::string::string_regex("(?s).{0,12}").unwrap(),
    ]
}

fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::string::string_regex("(?s).{0,40}").unwrap(),
        1 => prop_oneof![Just("android"), Just("ios"), Just(""), Just("4/0abc"), Just("a.b.c")].prop_map(String::from),
        1 => (0usize..10_000).prop_map(|n| "c".repeat(n)),
        1 => Just(MARK.to_string()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        field_value().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((field_name(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        vec(any::<u8>(), 0..10_000).prop_map(Body::Bytes),
        json_value().prop_map(Body::Json),
        vec((field_name(), field_value()), 0..6).prop_map(Body::Form),
    ]
}

/// The content type sent: the two accepted ones (with parameters and odd case too), others,
/// none, garbage.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("application/json".to_string())),
        4 => Just(Some("application/x-www-form-urlencoded".to_string())),
        1 => Just(Some("Application/JSON; charset=utf-8".to_string())),
        1 => Just(Some("text/plain".to_string())),
        1 => Just(Some("multipart/form-data; boundary=x".to_string())),
        1 => Just(None),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
}

/// The media types `POST /authcode` reads.
fn accepted(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m == "application/x-www-form-urlencoded")
}

/// One case: `body` sent as `content_type`, with `X-Requested-With` when `from_app`.
async fn authcode_case(
    app: &TestApp,
    (body, content_type, from_app): (Body, Option<String>, bool),
) -> Result<(), TestCaseError> {
    let bytes = match &body {
        Body::Bytes(b) => b.clone(),
        Body::Json(v) => serde_json::to_vec(v).unwrap(),
        Body::Form(fields) => url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
            .into_bytes(),
    };
    let mut request = reqwest::Client::new()
        .post(format!("{}/authcode", app.addr))
        .body(bytes.clone());
    if let Some(ct) = &content_type {
        if reqwest::header::HeaderValue::from_str(ct).is_err() {
            return Ok(()); // not a header value at all: nothing to send
        }
        request = request.header("Content-Type", ct.as_str());
    }
    if from_app {
        request = request.header("X-Requested-With", "com.example.app");
    }
    let resp = request.send().await.unwrap();
    let status = resp.status();
    prop_assert!(status.is_client_error(), "{}", status);
    prop_assert_eq!(
        resp.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string()),
        Some("application/json".to_string())
    );
    let json: Value = serde_json::from_slice(&resp.bytes().await.unwrap())
        .map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
    let object = json
        .as_object()
        .ok_or_else(|| TestCaseError::fail("not an object"))?;
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    prop_assert_eq!(keys, vec!["error", "message"]);
    let error = json["error"].as_str().unwrap_or_default();
    // The refusal follows from the request, in the documented order.
    let expected: &[&str] = if !from_app {
        &["missing_requested_with"]
    } else if !accepted(content_type.as_deref()) {
        &["unsupported_content_type"]
    } else if bytes.len() > 8 * 1024 {
        &["body_too_large"]
    } else {
        &["invalid_request", "invalid_code", "invalid_id_token"]
    };
    prop_assert!(expected.contains(&error), "{} for {:?}", error, expected);
    prop_assert!(!json["message"]
        .as_str()
        .unwrap_or_default()
        .contains(crate::bad_input::MARK_RAW));
    Ok(())
}

on_both_backends! {
    with app_on;
    async fn arbitrary_authcode_bodies_get_a_json_4xx_with_a_stable_error_code(app) {
    Harness::with(app, |h| {
        let before = h.app.snapshot();
        h.run(
            128,
            (body(), content_type(), prop::bool::weighted(0.9)),
            |case| h.rt.block_on(authcode_case(&h.app, case)),
        );
        assert_eq!(h.app.snapshot(), before, "nothing was stored");
    })
    .await;
    }
}
