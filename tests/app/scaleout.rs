//! Many instances on one database: any instance serves any request, sign-out and revocation are
//! seen by all at once, refreshes are shared, and an unreachable database is a 503, not a hang.

use reqwest::StatusCode;

use crate::signin::ESCAPED_FILE;
use offline_access::on_both_backends;
use offline_access::testing::{location, TestApp};

const ALICE: &str = "alice@example.test";
const ADMIN: &str = "admin@example.test";

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a CSRF field")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

on_both_backends! {
    async fn a_session_made_on_one_instance_works_on_another(app) {
        let (b, _) = app.second_instance().await;
        app.sign_in(ALICE).await;
        // The cookie jar sends the same session cookie to B (cookies ignore ports).
        let on_b = app.get_url(&format!("{b}/")).await;
        assert_eq!(on_b.status(), StatusCode::OK);
        let body = on_b.text().await.unwrap();
        assert!(body.contains("Alice Example"), "{body}");
        assert!(body.contains(ESCAPED_FILE));
        // A page link made by B works on A: paging state travels in the links.
        let next = crate::pageview::link(&body, "next-page").unwrap();
        let page2 = app.get(&next).await.text().await.unwrap();
        assert!(page2.contains("page 2"));
        let to_page3 = crate::pageview::link(&page2, "next-page").unwrap();
        let page3_on_b = app.get_url(&format!("{b}{to_page3}")).await;
        assert_eq!(page3_on_b.status(), StatusCode::OK);
        assert!(page3_on_b.text().await.unwrap().contains("page 3"));
    }

    async fn signing_out_on_one_instance_signs_out_on_all(app) {
        let (b, _) = app.second_instance().await;
        app.sign_in(ALICE).await;
        let home = app.get("/").await.text().await.unwrap();
        let out = app
            .client
            .post(format!("{b}/logout"))
            .form(&[("csrf", csrf_of(&home))])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER, "signed out through B");
        let on_a = app.get("/").await.text().await.unwrap();
        assert!(on_a.contains("Sign in with Google"));
        assert!(!on_a.contains("Alice Example"));
    }

    async fn deleting_a_users_sessions_through_one_store_ends_them_everywhere(app) {
        let (b, b_db) = app.second_instance().await;
        app.sign_in(ALICE).await;
        let other = app.sign_in_new_browser(&b, ALICE).await;
        let user = app.user_id(ALICE);
        let live = b_db
            .run_blocking(move |c| offline_access::store::sessions::count_for_user(c, user))
            .unwrap();
        assert_eq!(live, 2, "two browsers, two sessions");

        // What an admin revocation will do, through A's store.
        let removed = app
            .db
            .run_blocking(move |c| offline_access::store::sessions::delete_for_user(c, user))
            .unwrap();
        assert_eq!(removed, 2);
        let on_b = app.get_url(&format!("{b}/")).await.text().await.unwrap();
        assert!(on_b.contains("Sign in with Google"), "first browser signed out on B");
        let other_on_a = other.get(format!("{}/", app.addr)).send().await.unwrap();
        assert!(other_on_a.text().await.unwrap().contains("Sign in with Google"));
    }

    async fn expired_tokens_on_two_instances_cause_one_refresh_in_all(app) {
        let (b, _) = app.second_instance().await;
        app.sign_in(ALICE).await;
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        app.emu_post(&format!("/emulator/accounts/{ALICE}/expire-tokens"), serde_json::json!({}))
            .await;
        let requests = (0..100).map(|i| {
            let client = app.client.clone();
            let url = if i % 2 == 0 { format!("{}/", app.addr) } else { format!("{b}/") };
            async move { client.get(url).send().await.map(|r| r.status()) }
        });
        let statuses = futures_util::future::join_all(requests).await;
        assert!(
            statuses.iter().all(|s| matches!(s, Ok(StatusCode::OK))),
            "{statuses:?}"
        );
        assert_eq!(app.emu_count("token:refresh_token").await, 1, "one refresh in all");
    }
}

/// A TCP relay in front of PostgreSQL that the test can cut and restore.
struct Relay {
    port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> =
            Default::default();
        let (o, c) = (open.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                }));
            }
        });
        Self { port, open, conns }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// One request of each route family, as a browser, an admin, a mobile app or a load balancer
/// sends it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    /// A signed-in page view.
    Home,
    Gmail,
    Account,
    AdminUsers,
    AdminUser,
    AdminAudit,
    /// `POST /admin/users/{id}/unblock` with the admin's CSRF token.
    AdminPost,
    /// A whole sign-in in a new browser: starting needs no database, completing does.
    Callback,
    /// `POST /authcode` with a fresh mobile code, from a client without cookies.
    AuthCode,
    /// `GET /healthz` without cookies, as a load balancer probes.
    Healthz,
}

impl Family {
    const ALL: [Family; 10] = [
        Family::Home,
        Family::Gmail,
        Family::Account,
        Family::AdminUsers,
        Family::AdminUser,
        Family::AdminAudit,
        Family::AdminPost,
        Family::Callback,
        Family::AuthCode,
        Family::Healthz,
    ];

    /// What it answers while the database is up.
    fn up(self) -> StatusCode {
        match self {
            Family::Gmail => StatusCode::FOUND, // first visit: off to grant Gmail
            Family::AdminPost | Family::Callback => StatusCode::SEE_OTHER,
            _ => StatusCode::OK,
        }
    }
}

/// What the outage test's requests need: the admin's browser (`app.client`), alice's id and the
/// admin's CSRF token.
struct Outage<'a> {
    app: &'a offline_access::testing::TestApp,
    alice: i64,
    csrf: String,
}

impl Outage<'_> {
    async fn send(&self, family: Family) -> reqwest::Response {
        let app = self.app;
        match family {
            Family::Home => app.get("/").await,
            Family::Gmail => app.get("/gmail").await,
            Family::Account => app.get("/account").await,
            Family::AdminUsers => app.get("/admin/users?q=alice").await,
            Family::AdminUser => app.get(&format!("/admin/users/{}", self.alice)).await,
            Family::AdminAudit => app.get("/admin/audit").await,
            Family::AdminPost => app
                .client
                .post(format!("{}/admin/users/{}/unblock", app.addr, self.alice))
                .form(&[("csrf", self.csrf.as_str())])
                .send()
                .await
                .unwrap(),
            Family::Callback => {
                let (fresh, _) = app.browser();
                let start = fresh
                    .get(format!("{}/oauth2callback", app.addr))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    start.status(),
                    StatusCode::FOUND,
                    "starting needs no database"
                );
                let auth = url::Url::parse(location(&start)).unwrap();
                let back = app.consent_with(&fresh, &auth, ALICE, "allow").await;
                fresh.get(back.as_str()).send().await.unwrap()
            }
            Family::AuthCode => {
                let minted = app
                    .emu_post(
                        "/emulator/mobile-sign-in",
                        serde_json::json!({
                            "account": ALICE,
                            "client_id": "100000000001-emulatorandroid.apps.googleusercontent.com",
                            "server_client_id": offline_access::testing::CLIENT_ID,
                            "scopes": ["https://www.googleapis.com/auth/drive.metadata.readonly"],
                        }),
                    )
                    .await;
                reqwest::Client::new()
                    .post(format!("{}/authcode", app.addr))
                    .header("X-Requested-With", "com.example.app")
                    .form(&[("authCode", minted["server_auth_code"].as_str().unwrap())])
                    .send()
                    .await
                    .unwrap()
            }
            Family::Healthz => reqwest::get(format!("{}/healthz", app.addr)).await.unwrap(),
        }
    }
}

/// Checks the answer of `family` while the database is cut: a 503 that says when to retry,
/// with the security headers, as the page, JSON or text that route speaks.
async fn assert_unavailable(family: Family, resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{family:?}");
    assert!(resp.headers().contains_key("retry-after"), "{family:?}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY", "{family:?}");
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    let body = resp.text().await.unwrap();
    match family {
        Family::AuthCode => {
            assert_eq!(content_type, "application/json", "{family:?}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["error"], "temporarily_unavailable", "{body}");
            assert!(json["message"].is_string(), "{body}");
        }
        Family::Healthz => assert_eq!(body, "database unavailable"),
        _ => {
            assert!(content_type.starts_with("text/html"), "{family:?}");
            assert!(
                body.contains("Temporarily unavailable"),
                "{family:?}: {body}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_503_on_every_route_and_recovery_needs_no_restart() {
    if std::env::var("TEST_POSTGRES_URL").is_err() {
        eprintln!("not run: TEST_POSTGRES_URL is not set");
        return;
    }
    let probe = TestApp::spawn_on(offline_access::testing::Backend::Postgres)
        .await
        .unwrap();
    let real = url::Url::parse(&probe.settings.database.url).unwrap();
    let relay = Relay::start(format!(
        "{}:{}",
        real.host_str().unwrap(),
        real.port().unwrap_or(5432)
    ))
    .await;
    let mut through = real.clone();
    through.set_port(Some(relay.port)).unwrap();
    through.set_host(Some("127.0.0.1")).unwrap();
    let app = probe.with_database(through.to_string(), 1).await;
    app.sign_in_new_browser(&app.addr, ALICE).await;
    assert_eq!(app.sign_in(ADMIN).await.status(), StatusCode::SEE_OTHER);
    let home = app.get("/").await.text().await.unwrap();
    let outage = Outage {
        app: &app,
        alice: app.user_id(ALICE).0,
        csrf: csrf_of(&home),
    };
    // Every request is one the app serves while the database is there.
    for family in Family::ALL {
        let resp = outage.send(family).await;
        assert_eq!(resp.status(), family.up(), "{family:?} before the outage");
    }

    relay.cut();
    let started = std::time::Instant::now();
    let down = outage.send(Family::Home).await;
    let waited = started.elapsed();
    assert_unavailable(Family::Home, down).await;
    assert!(
        waited < std::time::Duration::from_secs(5),
        "answered within the timeout: {waited:?}"
    );
    for family in Family::ALL {
        assert_unavailable(family, outage.send(family).await).await;
    }

    relay.restore();
    let mut recovered = false;
    for _ in 0..50 {
        if outage.send(Family::Healthz).await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "healthy again without a restart");
    for family in Family::ALL {
        let resp = outage.send(family).await;
        assert_eq!(resp.status(), family.up(), "{family:?} after the outage");
    }
    assert!(app
        .get("/")
        .await
        .text()
        .await
        .unwrap()
        .contains("Ada Admin"));
}

on_both_backends! {
    async fn an_exhausted_pool_is_a_503_page_within_the_timeout(app) {
        // A small pool that waits one second for a connection.
        let app = offline_access::testing::TestApp::spawn_on_with(
            app.backend,
            &[("DB_POOL_SIZE", "2"), ("DB_TIMEOUT_SECS", "1")],
        )
        .await
        .unwrap();
        app.sign_in(ALICE).await;
        // Something else holds every connection for three seconds.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let holders: Vec<_> = (0..2)
            .map(|_| {
                let (db, ready) = (app.db.clone(), ready_tx.clone());
                tokio::task::spawn_blocking(move || {
                    db.run_blocking(move |_| {
                        ready.send(()).unwrap();
                        std::thread::sleep(std::time::Duration::from_secs(3));
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        for _ in 0..2 {
            ready_rx.recv().unwrap();
        }
        let started = std::time::Instant::now();
        let busy = app.get("/").await;
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(busy.headers().contains_key("retry-after"));
        assert!(started.elapsed() < std::time::Duration::from_millis(2500), "{:?}", started.elapsed());
        for h in holders {
            h.await.unwrap();
        }
        // Free again: served, no restart.
        let page = app.get("/").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Alice Example"));
    }
}
