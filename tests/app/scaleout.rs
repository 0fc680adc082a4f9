//! Many instances on one database: any instance serves any request, sign-out and revocation are
//! seen by all at once, refreshes are shared, and an unreachable database is a 503, not a hang.

use reqwest::StatusCode;

use crate::helpers::{location, on_both_backends, TestApp};
use crate::signin::ESCAPED_FILE;

const ALICE: &str = "alice@example.test";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_503_page_and_recovery_needs_no_restart() {
    let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
        eprintln!("not run: TEST_POSTGRES_URL is not set");
        return;
    };
    let probe = TestApp::spawn_on(crate::helpers::Backend::Postgres)
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
    let _ = admin;
    let app = probe.with_database(through.to_string(), 1).await;
    app.sign_in(ALICE).await;
    assert_eq!(app.get("/").await.status(), StatusCode::OK);

    relay.cut();
    let started = std::time::Instant::now();
    let down = app.get("/").await;
    let waited = started.elapsed();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().contains_key("retry-after"));
    assert_eq!(
        down.headers()["x-frame-options"],
        "DENY",
        "security headers too"
    );
    assert!(down
        .text()
        .await
        .unwrap()
        .contains("Temporarily unavailable"));
    assert!(
        waited < std::time::Duration::from_secs(5),
        "answered within the timeout: {waited:?}"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    // A visitor starting to sign in needs no database (the pending sign-in is a sealed
    // cookie); completing it does, and gets the 503 page, not a bare 500.
    let (fresh, _) = app.browser();
    let start = fresh
        .get(format!("{}/oauth2callback", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let auth = url::Url::parse(location(&start)).unwrap();
    let back = app.consent_with(&fresh, &auth, ALICE, "allow").await;
    let done = fresh.get(back.as_str()).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(done.headers().contains_key("retry-after"));
    assert_eq!(done.headers()["x-frame-options"], "DENY");
    assert!(done
        .text()
        .await
        .unwrap()
        .contains("Temporarily unavailable"));

    relay.restore();
    let mut recovered = false;
    for _ in 0..50 {
        if app.get("/").await.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "serves again without a restart");
    assert!(app
        .get("/")
        .await
        .text()
        .await
        .unwrap()
        .contains("Alice Example"));
}

on_both_backends! {
    async fn an_exhausted_pool_is_a_503_page_within_the_timeout(app) {
        // A small pool that waits one second for a connection.
        let app = crate::helpers::TestApp::spawn_on_with(
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
