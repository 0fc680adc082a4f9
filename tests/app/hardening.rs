//! Races and faults: ended sessions stay ended, simultaneous first sign-ins, instances starting
//! together, a tampered token, a server with the wrong key, a disabled account.

use std::collections::HashMap;

use actix_session::storage::SessionStore;
use reqwest::StatusCode;

use offline_access::on_both_backends;
use offline_access::testing::location;

const ALICE: &str = "alice@example.test";

on_both_backends! {
    async fn a_session_ended_elsewhere_is_not_brought_back_by_a_late_save(app) {
        use offline_access::store::sessions::{self, DbSessionStore, USER_ID_KEY};
        let keys = app.keys();
        let store = DbSessionStore::new(app.db.clone(), keys.sessions);
        app.sign_in(ALICE).await;
        let user = app.user_id(ALICE);
        let ttl = actix_web::cookie::time::Duration::hours(1);
        let state = HashMap::from([(USER_ID_KEY.to_string(), user.0.to_string())]);
        let key = store.save(state.clone(), &ttl).await.unwrap();
        assert!(store.load(&key).await.unwrap().is_some());

        // Signed out everywhere (what revocation does) while a slow request is still running…
        app.db
            .run_blocking(move |c| sessions::delete_for_user(c, user))
            .unwrap();
        // …whose response then saves its changed session state.
        let mut changed = state;
        changed.insert("drive_pages".into(), "[\"\"]".into());
        let key = store.update(key, changed, &ttl).await.unwrap();
        assert!(store.load(&key).await.unwrap().is_none(), "still ended");
        let live = app
            .db
            .run_blocking(move |c| sessions::count_for_user(c, user))
            .unwrap();
        assert_eq!(live, 0);
    }

    async fn two_simultaneous_first_sign_ins_of_one_person_both_succeed(app) {
        // Two browsers each hold a fresh code for the same new user.
        let mut callbacks = Vec::new();
        for _ in 0..2 {
            let (browser, _) = app.browser();
            let start = browser.get(format!("{}/oauth2callback", app.addr)).send().await.unwrap();
            let auth = url::Url::parse(location(&start)).unwrap();
            let back = app.consent_with(&browser, &auth, ALICE, "allow").await;
            callbacks.push((browser, back));
        }
        let finishing = callbacks
            .iter()
            .map(|(browser, back)| async move { browser.get(back.as_str()).send().await.unwrap().status() });
        let statuses = futures_util::future::join_all(finishing).await;
        assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::SEE_OTHER]);
        assert_eq!(app.count_rows("users"), 1);
        assert_eq!(app.count_rows("credentials"), 1);
    }

    async fn instances_starting_together_on_a_new_database_all_start(app) {
        // A second database, empty, and four instances migrating it at once.
        let fresh = match app.backend {
            offline_access::testing::Backend::Sqlite => format!(
                "sqlite://{}/fresh.db",
                app.settings_dir().display()
            ),
            offline_access::testing::Backend::Postgres => {
                app.sql("DROP SCHEMA public CASCADE");
                app.sql("CREATE SCHEMA public");
                app.settings.database.url.clone()
            }
        };
        let starts = (0..4).map(|_| {
            let url = fresh.clone();
            tokio::task::spawn_blocking(move || {
                offline_access::store::Db::connect(&offline_access::store::DatabaseSettings {
                    url,
                    pool_size: 2,
                    timeout: std::time::Duration::from_secs(10),
                })
                    .map(|_| ())
                    .map_err(|e| format!("{e:#}"))
            })
        });
        for started in futures_util::future::join_all(starts).await {
            assert_eq!(started.unwrap(), Ok(()));
        }
    }

    async fn a_tampered_stored_token_means_consent_again(app) {
        use diesel::prelude::*;
        use offline_access::store::schema::credentials;
        app.sign_in(ALICE).await;
        // Flip one bit of the sealed refresh token: same key, no longer authentic.
        app.db
            .run_blocking(|c| {
                let mut sealed: Vec<u8> = credentials::table
                    .select(credentials::refresh_token.assume_not_null())
                    .first(c)?;
                let last = sealed.len() - 1;
                sealed[last] ^= 1;
                diesel::update(credentials::table)
                    .set((
                        credentials::refresh_token.eq(sealed),
                        credentials::access_expires_at.eq(chrono::DateTime::UNIX_EPOCH.naive_utc()),
                    ))
                    .execute(c)?;
                Ok(())
            })
            .unwrap();
        let page = app.get("/").await.text().await.unwrap();
        assert!(page.contains("could not be read"), "{page}");
        assert_eq!(app.credential(ALICE), ("needs_consent".into(), false, false));
        assert_eq!(app.emu_count("token:refresh_token").await, 0);
    }

    async fn a_disabled_account_cannot_sign_in_and_nothing_is_stored(app) {
        app.sign_in(ALICE).await;
        app.sql("UPDATE users SET disabled_at = '2026-01-01 00:00:00'");
        app.sql("DELETE FROM credentials");
        // The running session ends at the next request.
        let page = app.get("/").await.text().await.unwrap();
        assert!(page.contains("Sign in with Google"));
        let resp = app.sign_in(ALICE).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.text().await.unwrap().contains("This account is blocked"));
        assert_eq!(app.count_rows("credentials"), 0);
        assert!(app.get("/").await.text().await.unwrap().contains("Sign in with Google"));
    }
}

on_both_backends! {
    async fn callers_queued_behind_a_failed_refresh_share_its_failure(app) {
        app.sign_in(ALICE).await;
        let exchanges = app.emu_count("POST /token").await;
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        // Google's token endpoint is slow and then fails, for every call.
        app.emu_post(
            "/emulator/faults",
            serde_json::json!({"endpoint": "token", "count": 100, "status": 503, "delay_ms": 1500}),
        )
        .await;
        let requests = (0..20).map(|_| {
            let client = app.client.clone();
            let url = format!("{}/", app.addr);
            async move { client.get(url).send().await.map(|r| r.status()) }
        });
        let statuses = futures_util::future::join_all(requests).await;
        assert!(
            statuses.iter().all(|s| matches!(s, Ok(StatusCode::SERVICE_UNAVAILABLE))),
            "{statuses:?}"
        );
        assert_eq!(
            app.emu_count("POST /token").await,
            exchanges + 1,
            "one refresh attempt for all twenty requests"
        );
        // Nothing was deleted: a transient failure is not a revocation.
        assert_eq!(app.credential(ALICE), ("active".into(), true, true));
    }

    async fn a_drive_rate_limit_is_not_mistaken_for_missing_access(app) {
        app.sign_in(ALICE).await;
        app.emu_post(
            "/emulator/faults",
            serde_json::json!({"endpoint": "drive", "count": 1, "status": 403}),
        )
        .await;
        let page = app.get("/").await;
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = page.text().await.unwrap();
        assert!(body.contains("Google could not be reached"), "{body}");
        assert!(!body.contains("did not give this app access"));
        // The next page is fine again.
        assert_eq!(app.get("/").await.status(), StatusCode::OK);
    }
}

/// The `Set-Cookie` of `resp` named `name`.
fn set_cookie<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

on_both_backends! {
    async fn starting_a_sign_in_writes_nothing_and_its_cookie_lives_fifteen_minutes(app) {
        let before = app.snapshot();
        for _ in 0..50 {
            let (anonymous, _) = app.browser();
            let start = anonymous
                .get(format!("{}/oauth2callback", app.addr))
                .send()
                .await
                .unwrap();
            assert_eq!(start.status(), StatusCode::FOUND);
            let cookie = set_cookie(&start, "oa_pending").expect("the pending sign-in cookie");
            for attribute in ["Max-Age=900", "HttpOnly", "SameSite=Lax", "Path=/"] {
                assert!(cookie.contains(attribute), "{attribute} in {cookie}");
            }
            assert!(set_cookie(&start, "oa_session").is_none(), "no session for a visitor");
        }
        assert_eq!(app.snapshot(), before, "fifty sign-in starts wrote nothing");
        assert_eq!(app.count_rows("sessions"), 0);
        assert_eq!(app.count_rows("sign_in_claims"), 0);
    }

    async fn the_same_answer_arriving_twice_at_once_is_exchanged_once(app) {
        let auth = app.authorization_url().await;
        let back = app.consent(&auth, ALICE, "allow").await;
        let (a, b) = tokio::join!(app.get_url(back.as_str()), app.get_url(back.as_str()));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST]);
        let refused = if a.status() == StatusCode::BAD_REQUEST { a } else { b };
        assert!(refused.text().await.unwrap().contains("This sign-in link is not valid"));
        assert_eq!(app.emu_count("token:authorization_code").await, 1, "one exchange");
        // The grant was not revoked by a second exchange: alice is signed in and Drive works.
        let home = app.get("/").await.text().await.unwrap();
        assert_eq!(home.matches("data-testid=\"file\"").count(), 25, "{home}");
        assert_eq!(app.credential(ALICE), ("active".into(), true, true));
    }

    async fn a_token_endpoint_in_trouble_during_sign_in_says_google_could_not_be_reached(app) {
        for status in [500, 503, 429] {
            let auth = app.authorization_url().await;
            let back = app.consent(&auth, ALICE, "allow").await;
            app.emu_post(
                "/emulator/faults",
                serde_json::json!({"endpoint": "token", "count": 1, "status": status}),
            )
            .await;
            let resp = app.get_url(back.as_str()).await;
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{status}");
            assert!(resp.headers().contains_key("retry-after"), "{status}");
            let body = resp.text().await.unwrap();
            assert!(body.contains("Google could not be reached"), "{status}: {body}");
            assert_eq!(app.count_rows("users"), 0);
            assert_eq!(app.count_rows("credentials"), 0);
        }
        // Once the provider is back, signing in works.
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
    }
}

on_both_backends! {
    async fn head_answers_wherever_get_does_and_other_methods_get_405_with_allow(app) {
        for path in ["/healthz", "/", "/static/app.css", "/account", "/admin/users"] {
            let get = app.get(path).await.status();
            let head = app.client.head(format!("{}{path}", app.addr)).send().await.unwrap();
            assert_eq!(head.status(), get, "HEAD {path}");
            assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} has no body");
        }
        let cases = [
            ("POST", "/", "GET, HEAD"),
            ("DELETE", "/healthz", "GET, HEAD"),
            ("GET", "/logout", "POST"),
            ("GET", "/authcode", "POST"),
            ("PUT", "/account/disconnect", "GET, HEAD, POST"),
            ("PATCH", "/admin/users/1/revoke", "GET, HEAD, POST"),
            ("GET", "/admin/users/1/unblock", "POST"),
        ];
        for (method, path, allow) in cases {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = app
                .client
                .request(method.clone(), format!("{}{path}", app.addr))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        }
        assert_eq!(app.get("/no/such/page").await.status(), StatusCode::NOT_FOUND);
    }
}

on_both_backends! {
    async fn a_read_that_fails_for_a_moment_is_retried_and_a_lasting_failure_is_a_503(app) {
        app.sign_in(ALICE).await;
        let lists = || app.emu_count("GET /drive/v3/files");
        let before = lists().await;
        app.emu_post("/emulator/faults", serde_json::json!({"endpoint": "drive", "count": 1, "status": 503})).await;
        let page = app.get("/").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.text().await.unwrap().matches("data-testid=\"file\"").count(), 25);
        assert_eq!(lists().await, before + 2, "one retry");
        app.emu_post("/emulator/faults", serde_json::json!({"endpoint": "drive", "count": 5, "status": 500})).await;
        let page = app.get("/").await;
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.headers().contains_key("retry-after"));
        assert!(page.text().await.unwrap().contains("Google could not be reached"));
        assert_eq!(lists().await, before + 5, "three tries, no more");
    }
}

/// A provider that stops answering: the page says so within the configured timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_hangs_gets_a_503_within_the_timeout() {
    let app = offline_access::testing::TestApp::spawn_on_with(
        offline_access::testing::Backend::Sqlite,
        &[("UPSTREAM_TIMEOUT_SECS", "1")],
    )
    .await
    .unwrap();
    app.sign_in(ALICE).await;
    app.emu_post(
        "/emulator/faults",
        serde_json::json!({"endpoint": "drive", "count": 1, "delay_ms": 5000}),
    )
    .await;
    // The delay applies to one request only: a retry would have succeeded, so the 503 also
    // shows a timeout is not retried (waiting again would double the wait).
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Google could not be reached"));
    assert_eq!(
        app.get("/").await.status(),
        StatusCode::OK,
        "the next view works"
    );
}

on_both_backends! {
    async fn an_unknown_signing_key_fetches_the_keys_again_at_most_once_a_minute(app) {
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
        let certs = || app.emu_count("GET /oauth2/v3/certs");
        assert_eq!(certs().await, 1, "keys fetched with discovery, then cached");
        app.sign_in(ALICE).await;
        assert_eq!(certs().await, 1);
        for _ in 0..3 {
            app.emu_post(
                "/emulator/faults",
                serde_json::json!({"id_token": "unknown_kid", "count": 1}),
            )
            .await;
            assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::BAD_GATEWAY);
        }
        assert_eq!(certs().await, 2, "one fetch for the unknown key, not one per token");
    }
}

on_both_backends! {
    async fn after_a_key_rotation_new_sign_ins_work_and_old_tokens_still_verify(app) {
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
        // Google Sign-In on a phone: a code and the app's own ID token.
        let phone = || {
            app.emu_post(
                "/emulator/mobile-sign-in",
                serde_json::json!({"account": "bob@example.test",
                    "client_id": "100000000001-emulatorandroid.apps.googleusercontent.com",
                    "server_client_id": offline_access::testing::CLIENT_ID,
                    "scopes": ["https://www.googleapis.com/auth/drive.metadata.readonly"]}),
            )
        };
        // Before the rotation: the app's ID token has the old key.
        let before = phone().await;
        let rotated = app.emu_post("/emulator/keys/rotate", serde_json::json!({})).await;
        assert_ne!(rotated["kid"], rotated["previous"]);

        // A new sign-in, signed with the new key: the app fetches the keys again, once.
        let certs = || app.emu_count("GET /oauth2/v3/certs");
        let fetched = certs().await;
        let browser = app.sign_in_new_browser(&app.addr, "bob@example.test").await;
        let home = browser.get(format!("{}/", app.addr)).send().await.unwrap();
        assert!(home.text().await.unwrap().contains("Bob"));
        assert_eq!(certs().await, fetched + 1);

        // The phone's ID token from before the rotation still verifies (its key is still
        // published), sent with a code minted after it.
        let after = phone().await;
        let resp = reqwest::Client::new()
            .post(format!("{}/authcode", app.addr))
            .header("X-Requested-With", "com.example.app")
            .form(&[
                ("authCode", after["server_auth_code"].as_str().unwrap()),
                ("idToken", before["id_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["email"], "bob@example.test");
    }
}

on_both_backends! {
    async fn where_a_sign_in_returns_is_never_taken_from_the_request(app) {
        // Only named features can be asked for; their return paths are our own, so no
        // parameter can send the browser elsewhere after signing in.
        for grant in ["evil", "https://attacker.example", "//attacker.example", "gmail%0d%0a"] {
            let resp = app.get(&format!("/oauth2callback?grant={grant}")).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{grant}");
            assert!(resp.headers().get("location").is_none(), "{grant}");
        }
        let done = app.sign_in(ALICE).await;
        assert_eq!(location(&done), "/");
    }
}
