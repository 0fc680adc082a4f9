//! The emulator on a developer's machine: its controls answer only itself (Host, Origin, JSON
//! bodies, no CORS preflight), and its consent form only the page it rendered (CSRF token).

use crate::prelude::*;
use reqwest::header::{HeaderValue, CONTENT_TYPE, HOST, ORIGIN};

/// A raw control call: `(status, JSON body, response headers)`.
async fn raw_control(
    emu: &Emu,
    method: Method,
    path: &str,
    headers: &[(reqwest::header::HeaderName, &str)],
    body: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = emu
        .http
        .request(method, format!("{}/emulator{path}", emu.url));
    for (name, value) in headers {
        req = req.header(name.clone(), HeaderValue::from_str(value).unwrap());
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

fn port(emu: &Emu) -> u16 {
    url::Url::parse(&emu.url).unwrap().port().unwrap()
}

const JSON: &str = "application/json";

#[tokio::test]
async fn controls_answer_only_their_own_host() {
    let emu = start_with(Options {
        allowed_hosts: vec!["emulator.internal".into(), "box.lan:9000".into()],
        ..Default::default()
    })
    .await;
    let p = port(&emu);
    for host in [
        format!("127.0.0.1:{p}"),
        format!("localhost:{p}"),
        format!("LocalHost:{p}"),
        format!("[::1]:{p}"),
        "emulator.internal:8081".to_string(),
        "emulator.internal".to_string(),
        "box.lan:9000".to_string(),
    ] {
        let (status, body, _) =
            raw_control(&emu, Method::GET, "/requests", &[(HOST, &host)], None).await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    // DNS rebinding: the attacker's name resolving to 127.0.0.1, reads and writes refused.
    for host in [
        format!("evil.example:{p}"),
        format!("127.0.0.1.evil.example:{p}"),
        format!("127.0.0.1:{}", p.wrapping_add(1)),
        "localhost".to_string(),
        "box.lan:9001".to_string(),
    ] {
        let (status, body, _) = raw_control(
            &emu,
            Method::POST,
            "/reset",
            &[(HOST, &host), (CONTENT_TYPE, JSON)],
            Some("{}"),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("forbidden_host")),
            "{host}"
        );
        let (status, body, _) =
            raw_control(&emu, Method::GET, "/accounts", &[(HOST, &host)], None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("forbidden_host")),
            "{host}"
        );
    }
    // Google's own endpoints answer whatever Host the issuer uses.
    let res = emu
        .http
        .get(format!("{}/.well-known/openid-configuration", emu.url))
        .header(HOST, "google.example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn controls_refuse_foreign_origins_and_preflights() {
    let emu = start().await;
    let p = port(&emu);
    for origin in [
        "http://evil.example",
        "http://127.0.0.1:5173",
        "null",
        "https://127.0.0.1",
    ] {
        let (status, body, headers) = raw_control(
            &emu,
            Method::POST,
            "/reset",
            &[(ORIGIN, origin), (CONTENT_TYPE, JSON)],
            Some("{}"),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("forbidden_origin")),
            "{origin}"
        );
        assert!(headers.get("access-control-allow-origin").is_none());
    }
    for origin in [emu.url.clone(), format!("http://localhost:{p}")] {
        let (status, _, _) = raw_control(
            &emu,
            Method::POST,
            "/reset",
            &[(ORIGIN, &origin), (CONTENT_TYPE, JSON)],
            Some("{}"),
        )
        .await;
        assert_eq!(status, 200, "own origin {origin}");
    }
    // A preflight gets no CORS allowance, from anywhere.
    for origin in ["http://evil.example", emu.url.as_str()] {
        let res = emu
            .http
            .request(Method::OPTIONS, format!("{}/emulator/faults", emu.url))
            .header(ORIGIN, origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
            .await
            .unwrap();
        assert!(
            [403, 405].contains(&res.status().as_u16()),
            "{}",
            res.status()
        );
        assert!(
            !res.headers()
                .keys()
                .any(|k| k.as_str().starts_with("access-control-")),
            "{:?}",
            res.headers()
        );
    }
}

#[tokio::test]
async fn control_writes_need_a_json_content_type() {
    let emu = start().await;
    let fault = r#"{"endpoint": "drive", "status": 500}"#;
    for (content_type, body) in [
        (None, fault),
        (Some("text/plain"), fault),
        (Some("text/plain;charset=UTF-8"), fault),
        (
            Some("application/x-www-form-urlencoded"),
            "endpoint=drive&status=500",
        ),
        (Some("multipart/form-data; boundary=x"), fault),
        (Some("application/jsonx"), fault),
    ] {
        let headers: Vec<_> = content_type.iter().map(|c| (CONTENT_TYPE, *c)).collect();
        let (status, answer, _) =
            raw_control(&emu, Method::POST, "/faults", &headers, Some(body)).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (415, Some("unsupported_media_type")),
            "{content_type:?}"
        );
    }
    let (_, faults) = emu.control(Method::GET, "/faults", None).await;
    assert_eq!(
        faults["endpoints"],
        json!([]),
        "no simple request got through"
    );
    // Body-less controls demand the header too (callers send {}).
    for (method, path) in [
        (Method::POST, "/reset"),
        (Method::DELETE, "/faults"),
        (Method::DELETE, "/requests"),
        (
            Method::POST,
            &format!("/accounts/{ALICE}/expire-tokens") as &str,
        ),
        (Method::PUT, "/profile"),
        (Method::POST, &format!("/accounts/{ALICE}/enable") as &str),
        (Method::POST, &format!("/accounts/{ALICE}/disable") as &str),
        (Method::POST, "/risc/stream"),
        (Method::DELETE, "/risc/stream"),
        (Method::POST, "/risc/events"),
    ] {
        let (status, _, _) = raw_control(&emu, method.clone(), path, &[], None).await;
        assert_eq!(status, 415, "{method} {path}");
    }
    for content_type in [JSON, "application/json; charset=utf-8", "Application/JSON"] {
        let (status, _, _) = raw_control(
            &emu,
            Method::POST,
            "/faults",
            &[(CONTENT_TYPE, content_type)],
            Some(fault),
        )
        .await;
        assert_eq!(status, 201, "{content_type}");
    }
    let (status, _, _) = raw_control(
        &emu,
        Method::DELETE,
        "/faults",
        &[(CONTENT_TYPE, JSON)],
        Some("{}"),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = raw_control(&emu, Method::GET, "/accounts", &[], None).await;
    assert_eq!(status, 200, "reads need no content type");
}

// ---------------------------------------------------------------- the consent form's CSRF token

/// Whether ALICE has a remembered consent for the test client (prompt=none succeeds).
async fn alice_consented(emu: &Emu) -> bool {
    let p = emu.auth_params(BASIC, &[("prompt", "none"), ("login_hint", ALICE)]);
    let res = emu.get_auth(&emu.http, &p).await;
    query(&location(&res)).contains_key("code")
}

#[tokio::test]
async fn consent_form_needs_the_token_of_its_page() {
    let emu = start().await;
    let params = emu.auth_params(BASIC, &[]);
    // Missing, or not issued by this emulator: an error page, nothing granted or denied.
    for (what, token) in [
        ("missing", None),
        ("made up", Some("x".repeat(43))),
        ("empty", Some(String::new())),
    ] {
        for action in ["allow", "cancel"] {
            let res = emu
                .post_consent_with_token(&emu.http, &params, token.as_deref(), ALICE, action, &[])
                .await;
            assert_eq!(res.status(), 400, "{what} {action}");
            assert!(res.headers().get("location").is_none());
            let page = res.text().await.unwrap();
            assert!(page.contains("Error 400: invalid_request"), "{page}");
            assert!(page.contains("csrf_token"), "{page}");
        }
    }
    assert!(!alice_consented(&emu).await, "nothing was granted");

    // A token works once, for the request its page showed.
    let other = emu.auth_params(BASIC, &[("state", "another-request")]);
    let token = emu.consent_token(&emu.http, &other).await.unwrap();
    let res = emu
        .post_consent_with_token(&emu.http, &params, Some(&token), ALICE, "allow", &[])
        .await;
    assert_eq!(res.status(), 400, "a token of another request");
    let token = emu.consent_token(&emu.http, &params).await.unwrap();
    let res = emu
        .post_consent_with_token(&emu.http, &params, Some(&token), ALICE, "allow", &[])
        .await;
    assert_eq!(res.status(), 302);
    assert!(query(&location(&res)).contains_key("code"));
    let res = emu
        .post_consent_with_token(&emu.http, &params, Some(&token), ALICE, "allow", &[])
        .await;
    assert_eq!(res.status(), 400, "a token is single use");
    // Each rendering has its own token.
    let a = emu.consent_token(&emu.http, &params).await.unwrap();
    let b = emu.consent_token(&emu.http, &params).await.unwrap();
    assert_ne!(a, b);
    // A reset forgets pending pages too.
    emu.post_control("/reset", json!({})).await;
    let res = emu
        .post_consent_with_token(&emu.http, &params, Some(&a), ALICE, "allow", &[])
        .await;
    assert_eq!(res.status(), 400);
    // The request is still checked first: a bad redirect URI gets its own page.
    let bad = emu.auth_params(
        &scope_with(DRIVE_META),
        &[("redirect_uri", "http://evil.example/cb")],
    );
    let res = emu
        .post_consent_with_token(&emu.http, &bad, None, ALICE, "allow", &[])
        .await;
    assert!(res.text().await.unwrap().contains("redirect_uri_mismatch"));
}
