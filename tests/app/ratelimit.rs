//! Per-address rate limits on the routes anyone can hit: sign-in, admin POSTs (and
//! `/authcode`, in authcode.rs), and the trusted-proxy rule for `X-Forwarded-For`.

use reqwest::StatusCode;

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

async fn sign_in_is_limited_per_address(backend: Backend) {
    let Some(app) = app_with(backend, &[("SIGN_IN_RATE_PER_MINUTE", "3")]).await else {
        return eprintln!("postgres variant not run: TEST_POSTGRES_URL is not set");
    };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_limited_per_address_sqlite() {
    sign_in_is_limited_per_address(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_limited_per_address_postgres() {
    sign_in_is_limited_per_address(Backend::Postgres).await
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

async fn admin_posts_are_limited_per_address(backend: Backend) {
    let Some(app) = app_with(backend, &[("ADMIN_RATE_PER_MINUTE", "2")]).await else {
        return eprintln!("postgres variant not run: TEST_POSTGRES_URL is not set");
    };
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_posts_are_limited_per_address_sqlite() {
    admin_posts_are_limited_per_address(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_posts_are_limited_per_address_postgres() {
    admin_posts_are_limited_per_address(Backend::Postgres).await
}
