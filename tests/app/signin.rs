//! The PHP sample's flow: `/oauth2callback` → consent → exchange → 303 to `/` → Drive files.

use std::collections::HashMap;

use reqwest::cookie::CookieStore;
use reqwest::StatusCode;

use offline_access::on_both_backends;
use offline_access::testing::{client_with_jar, location, TestApp, CLIENT_ID};

pub const ESCAPED_FILE: &str = "&#34;Q3&#34; &#60;b&#62;report&#60;/b&#62; &#38; café.txt";

on_both_backends! {
    async fn authorization_redirect_carries_every_parameter(app) {
        let resp = app.get("/oauth2callback").await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        let cookie = resp
            .headers()
            .get("set-cookie")
            .expect("the pending sign-in cookie")
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.starts_with("oa_pending="), "{cookie}");
        for secret in ["state", "nonce", "verifier"] {
            assert!(!cookie.contains(secret), "sealed, not readable: {cookie}");
        }
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(
            !cookie.contains("Secure"),
            "http base URL must not set Secure: {cookie}"
        );

        let url = url::Url::parse(location(&resp)).unwrap();
        assert_eq!(url.origin().ascii_serialization(), app.emu);
        assert_eq!(url.path(), "/o/oauth2/v2/auth");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["redirect_uri"], format!("{}/oauth2callback", app.addr));
        assert_eq!(q["response_type"], "code");
        let mut scopes: Vec<&str> = q["scope"].split(' ').collect();
        scopes.sort();
        assert_eq!(
            scopes,
            [
                "email",
                "https://www.googleapis.com/auth/drive.metadata.readonly",
                "openid",
                "profile"
            ]
        );
        assert!(q["state"].len() >= 16);
        assert!(q["nonce"].len() >= 16);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["include_granted_scopes"], "true");

        // A second start gets a new state: each one is single-use.
        let again = app.authorization_url().await;
        let q2: HashMap<String, String> = again.query_pairs().into_owned().collect();
        assert_ne!(q["state"], q2["state"]);
    }
}

on_both_backends! {
    async fn full_sign_in_lists_drive_files_escaped_and_drops_the_code(app) {
        let landing = app.get("/").await;
        assert_eq!(landing.status(), StatusCode::OK);
        assert!(landing
            .text()
            .await
            .unwrap()
            .contains("Sign in with Google"));

        let callback = app.sign_in("alice@example.test").await;
        assert_eq!(callback.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&callback), "/");
        assert!(
            callback.text().await.unwrap().is_empty(),
            "the code's page renders nothing"
        );

        let home = app.get("/").await;
        assert_eq!(home.status(), StatusCode::OK);
        let body = home.text().await.unwrap();
        assert!(body.contains("Alice Example"), "{body}");
        assert!(body.contains("alice@example.test"));
        assert!(
            body.contains(ESCAPED_FILE),
            "file name shown escaped: {body}"
        );
        assert!(
            !body.contains("<b>report</b>"),
            "raw markup must not appear"
        );
        assert_eq!(body.matches("data-testid=\"file\"").count(), 25);
        assert!(body.contains("data-testid=\"next-page\""));
        assert!(!body.contains("data-testid=\"prev-page\""));
        assert!(!body.contains("ya29."), "no access token in the page");

        assert_eq!(app.count_rows("users"), 1);
        assert_eq!(app.count_rows("credentials"), 1);
        assert_eq!(app.emu_count("token:authorization_code").await, 1);
    }
}

on_both_backends! {
    async fn tampered_or_missing_state_is_refused_and_nothing_is_exchanged(app) {
        let auth = app.authorization_url().await;
        let back = app.consent(&auth, "alice@example.test", "allow").await;
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .to_string();

        let tampered = app
            .get(&format!("/oauth2callback?code={code}&state=forged"))
            .await;
        assert_eq!(tampered.status(), StatusCode::BAD_REQUEST);
        let body = tampered.text().await.unwrap();
        assert!(body.contains("not valid"), "{body}");
        assert!(!body.contains(&code), "the code is not echoed");

        let missing = app.get(&format!("/oauth2callback?code={code}")).await;
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);

        assert_eq!(app.count_rows("users"), 0);
        assert_eq!(app.count_rows("credentials"), 0);
        assert_eq!(app.emu_count("token:authorization_code").await, 0);
    }
}

on_both_backends! {
    async fn a_replayed_callback_url_is_refused_without_a_second_credential(app) {
        let auth = app.authorization_url().await;
        let back = app.consent(&auth, "alice@example.test", "allow").await;
        let first = app.get_url(back.as_str()).await;
        assert_eq!(first.status(), StatusCode::SEE_OTHER);
        let replay = app.get_url(back.as_str()).await;
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.count_rows("credentials"), 1);
        assert_eq!(app.emu_count("token:authorization_code").await, 1);

        // Even from another browser holding its own pending sign-in, the used code is refused.
        let (other, _) = client_with_jar();
        let start = other
            .get(format!("{}/oauth2callback", app.addr))
            .send()
            .await
            .unwrap();
        let state = url::Url::parse(location(&start))
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .to_string();
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .to_string();
        let resp = other
            .get(format!("{}/oauth2callback", app.addr))
            .query(&[("code", code.as_str()), ("state", state.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.text().await.unwrap().contains("Sign-in expired"));
        assert_eq!(app.count_rows("users"), 1);
        assert_eq!(app.count_rows("credentials"), 1);
    }
}

on_both_backends! {
    async fn cancel_on_consent_shows_a_friendly_page(app) {
        let auth = app.authorization_url().await;
        let back = app.consent(&auth, "alice@example.test", "cancel").await;
        assert!(back
            .query_pairs()
            .any(|(k, v)| k == "error" && v == "access_denied"));
        let resp = app.get_url(back.as_str()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.text().await.unwrap();
        assert!(body.contains("You chose not to share"), "{body}");
        assert!(body.contains("Try again"));
        assert_eq!(app.count_rows("users"), 0);

        let odd = app
            .get("/oauth2callback?error=%3Cscript%3Ealert(1)%3C/script%3E")
            .await;
        assert_eq!(odd.status(), StatusCode::BAD_REQUEST);
        let body = odd.text().await.unwrap();
        assert!(!body.contains("<script>alert"), "never echo raw input");
        let named = app.get("/oauth2callback?error=server_error").await;
        assert!(named.text().await.unwrap().contains("server_error"));
    }
}

on_both_backends! {
    async fn unticking_drive_on_the_consent_screen_shows_what_is_missing(app) {
        let auth = app.authorization_url().await;
        let back = app
            .consent_ticking(&app.client, &auth, "bob@example.test", "allow", &[])
            .await;
        let granted = back
            .query_pairs()
            .find(|(k, _)| k == "scope")
            .unwrap()
            .1
            .to_string();
        assert!(!granted.contains("drive"), "{granted}");
        assert_eq!(app.get_url(back.as_str()).await.status(), StatusCode::SEE_OTHER);
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("Bob Builder"));
        assert!(home.contains("Drive access was not granted"), "{home}");
        assert!(home.contains("data-testid=\"grant-drive\" href=\"/oauth2callback?grant=drive\""));
        assert!(!home.contains("data-testid=\"file\""));
        assert_eq!(app.emu_count("GET /drive/v3/files").await, 0, "Drive not called without its scope");
    }
}

on_both_backends! {
    async fn logout_needs_csrf_and_ends_the_server_side_session(app) {
        app.sign_in("bob@example.test").await;
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("Bob Builder"));
        let csrf = home
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let cookie = app
            .jar
            .as_ref()
            .cookies(&app.addr.parse().unwrap())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(app.count_rows("sessions"), 1);

        let forged = app
            .client
            .post(format!("{}/logout", app.addr))
            .form(&[("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let missing = app
            .client
            .post(format!("{}/logout", app.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        assert!(app
            .get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains("Bob Builder"));

        let out = app
            .client
            .post(format!("{}/logout", app.addr))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&out), "/");
        assert_eq!(app.count_rows("sessions"), 0);

        // The old cookie, replayed by hand, no longer signs anyone in.
        let replay = reqwest::Client::new()
            .get(format!("{}/", app.addr))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        let body = replay.text().await.unwrap();
        assert!(body.contains("Sign in with Google"));
        assert!(!body.contains("Bob Builder"));
    }
}

on_both_backends! {
    async fn every_response_carries_the_security_headers(app) {
        for path in [
            "/",
            "/healthz",
            "/nope",
            "/oauth2callback?error=x",
            "/static/app.css",
        ] {
            let resp = app.get(path).await;
            let h = resp.headers();
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"));
            assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
        }
        let health = app.get("/healthz").await;
        assert_eq!(health.status(), StatusCode::OK);
        let missing = app.get("/nope").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.text().await.unwrap().contains("Page not found"));
    }
}

#[tokio::test]
async fn tokens_are_encrypted_at_rest_and_never_in_the_browser() {
    let app = TestApp::spawn().await;
    let callback = app.sign_in("alice@example.test").await;
    let headers = format!("{:?}", callback.headers());
    let page = app.get("/").await.text().await.unwrap();
    // The very tokens the emulator issued to the app, as the app decrypts them.
    let vault = app.vault();
    let user = app.user_id("alice@example.test");
    let refresh = vault
        .stored_refresh_token(user, CLIENT_ID)
        .await
        .unwrap()
        .unwrap();
    let access = vault.access_token(user, &[]).await.unwrap().token;
    for token in [refresh.expose(), access.expose()] {
        assert!(token.len() > 20);
        assert!(!headers.contains(token), "no token in response headers");
        assert!(!page.contains(token), "no token in the page");
    }
    let path = offline_access::config::sqlite_path(&app.settings.database.url).unwrap();
    // Checkpoint the WAL so every byte is in the main file, then scan all three files.
    app.db
        .run_blocking(|c| {
            use diesel::connection::SimpleConnection;
            if let offline_access::store::AnyConnection::Sqlite(c) = c {
                c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
            }
            Ok(())
        })
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    for ext in ["-wal", "-shm"] {
        if let Ok(more) = std::fs::read(format!("{}{ext}", path.display())) {
            bytes.extend(more);
        }
    }
    assert!(
        bytes.windows(18).any(|w| w == b"alice@example.test"),
        "the scan does read the database"
    );
    for token in [refresh.expose(), access.expose()] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "a token the emulator issued is in the database file in plain text"
        );
    }
    assert!(
        !token_like(&bytes, b"ya29."),
        "nothing that looks like an access token in plain text"
    );
    assert!(
        !token_like(&bytes, b"1//"),
        "nothing that looks like a refresh token in plain text"
    );
}

/// Whether `bytes` hold `prefix` followed by at least 16 token characters.
fn token_like(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.windows(prefix.len() + 16).any(|w| {
        w.starts_with(prefix)
            && w[prefix.len()..]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    })
}

on_both_backends! {
    async fn every_kind_of_bad_id_token_is_refused_and_nothing_is_stored(app) {
        for variant in google_emulator::IdTokenFault::ALL.map(|f| f.name()) {
            app.emu_post(
                "/emulator/faults",
                serde_json::json!({"id_token": variant, "count": 1}),
            )
            .await;
            let resp = app.sign_in("alice@example.test").await;
            assert_eq!(resp.status(), StatusCode::BAD_GATEWAY, "{variant}");
            let body = resp.text().await.unwrap();
            assert!(
                body.contains("Sign-in could not be verified"),
                "{variant}: {body}"
            );
            assert_eq!(app.count_rows("users"), 0, "{variant}");
            assert_eq!(app.count_rows("credentials"), 0, "{variant}");
            assert_eq!(app.count_rows("sessions"), 0, "{variant}");
        }
        // With the faults used up, the same sign-in works.
        assert_eq!(
            app.sign_in("alice@example.test").await.status(),
            StatusCode::SEE_OTHER
        );
        assert_eq!(app.count_rows("users"), 1);
    }
}
