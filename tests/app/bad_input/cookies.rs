//! Tampered, truncated, foreign and garbage session and pending-sign-in cookies.

use super::*;

on_both_backends! {
    with app_on;
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
