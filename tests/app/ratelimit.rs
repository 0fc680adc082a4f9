//! Per-address rate limits on the routes anyone can hit: sign-in, admin POSTs (and
//! `/authcode`, in authcode.rs), and the trusted-proxy rule for `X-Forwarded-For`.

use reqwest::StatusCode;

use offline_access::on_both_backends;
use offline_access::testing::{Backend, TestApp};

async fn app_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    TestApp::spawn_on_with(backend, extra).await
}

async fn start_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let (browser, _) = app.browser();
    let mut req = browser.get(format!("{}/oauth2callback", app.addr));
    if let Some(addr) = forwarded_for {
        req = req.header("X-Forwarded-For", addr);
    }
    req.send().await.unwrap()
}

on_both_backends! {
    with |b| TestApp::on(b).env("SIGN_IN_RATE_PER_MINUTE", "3").spawn();
    async fn sign_in_is_limited_per_address(app) {
        for _ in 0..3 {
            assert_eq!(start_from(&app, None).await.status(), StatusCode::FOUND);
        }
        let refused = start_from(&app, None).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(
            refused.headers().get("set-cookie").is_none(),
            "nothing started"
        );
        let body = refused.text().await.unwrap();
        assert!(body.contains("Too many requests"), "{body}");
        // A forged X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
        let forged = start_from(&app, Some("203.0.113.7")).await;
        assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS);
        // The completion of a sign-in counts too: nothing is exchanged.
        let resp = app.get("/oauth2callback?code=x&state=y").await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(app.emu_count("token:authorization_code").await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_allowance() {
    let app = app_with(
        Backend::Sqlite,
        &[
            ("SIGN_IN_RATE_PER_MINUTE", "2"),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    for addr in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..2 {
            assert_eq!(
                start_from(&app, Some(addr)).await.status(),
                StatusCode::FOUND
            );
        }
        let third = start_from(&app, Some(addr)).await.status();
        assert_eq!(third, StatusCode::TOO_MANY_REQUESTS, "{addr}");
    }
    // The proxy's own address (no header) is yet another client.
    assert_eq!(start_from(&app, None).await.status(), StatusCode::FOUND);
}

on_both_backends! {
    with |b| TestApp::on(b).env("ADMIN_RATE_PER_MINUTE", "2").spawn();
    async fn admin_posts_are_limited_per_address(app) {
        app.sign_in_new_browser(&app.addr, "bob@example.test").await;
        let bob = app.user_id("bob@example.test").0;
        let admin = app
            .sign_in_new_browser(&app.addr, "admin@example.test")
            .await;
        let page = admin
            .get(format!("{}/admin/users/{bob}", app.addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = crate::admin::csrf_in(&page);
        let unblock = format!("{}/admin/users/{bob}/unblock", app.addr);
        for _ in 0..2 {
            let resp = admin
                .post(&unblock)
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        }
        let resp = admin
            .post(&unblock)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().contains_key("retry-after"));
        // Reading the dashboard is not limited.
        let list = admin
            .get(format!("{}/admin/users", app.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(list.status(), StatusCode::OK);
    }
}

/// A proxy that writes the client's port (`198.51.100.7:40001`) or `unknown` does not let the
/// client pick its own address by sending a header of its own in front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_that_writes_ports_the_client_cannot_pick_its_address() {
    let app = TestApp::on(Backend::Sqlite)
        .env("SIGN_IN_RATE_PER_MINUTE", "2")
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .spawn()
        .await
        .unwrap();
    let statuses = async |entries: Vec<String>| {
        let mut out = Vec::new();
        for header in entries {
            out.push(start_from(&app, Some(&header)).await.status().as_u16());
        }
        out
    };
    // The client's own entry differs every time; the proxy appends its address and port.
    let ported = (0..3)
        .map(|i| format!("192.0.2.{i}, 198.51.100.7:{}", 40000 + i))
        .collect();
    assert_eq!(statuses(ported).await, [302, 302, 429]);
    // `unknown` is the proxy's own word: those requests share the proxy's allowance.
    let unknown = (0..3).map(|i| format!("192.0.2.{i}, unknown")).collect();
    assert_eq!(statuses(unknown).await, [302, 302, 429]);
    // Another client behind the same proxy still has its own.
    assert_eq!(statuses(vec!["198.51.100.8".into()]).await, [302]);
}
