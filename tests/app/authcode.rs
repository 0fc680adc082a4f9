//! `POST /authcode`: mobile apps' one-time serverAuthCodes, minted by the emulator's mobile
//! sign-in control as Google Sign-In on Android and iOS would hand them to the app.

use reqwest::StatusCode;
use serde_json::{json, Value};

use offline_access::on_both_backends;
use offline_access::testing::{Backend, TestApp, CLIENT_ID};

/// The emulator's seeded mobile (app) clients.
const ANDROID_APP: &str = "100000000001-emulatorandroid.apps.googleusercontent.com";
const IOS_APP: &str = "100000000001-emulatorios.apps.googleusercontent.com";
/// Our per-platform server clients (web-type clients with a secret, at "Google").
const ANDROID_SERVER: &str = "android-server.apps.googleusercontent.com";
const ANDROID_SECRET: &str = "GOCSPX-android-server-secret";
const IOS_SERVER: &str = "ios-server.apps.googleusercontent.com";
const IOS_SECRET: &str = "GOCSPX-ios-server-secret";
const DRIVE: &str = "https://www.googleapis.com/auth/drive.metadata.readonly";
const GMAIL: &str = "https://www.googleapis.com/auth/gmail.readonly";

/// An app with an Android and an iOS server client configured (and registered at the
/// emulator), plus `extra` settings.
async fn mobile_app(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let mut vars = vec![
        ("ANDROID_SERVER_CLIENT_ID", ANDROID_SERVER),
        ("ANDROID_SERVER_CLIENT_SECRET", ANDROID_SECRET),
        ("IOS_SERVER_CLIENT_ID", IOS_SERVER),
        ("IOS_SERVER_CLIENT_SECRET", IOS_SECRET),
    ];
    vars.extend_from_slice(extra);
    let app = TestApp::spawn_on_with(backend, &vars).await?;
    for (id, secret) in [(ANDROID_SERVER, ANDROID_SECRET), (IOS_SERVER, IOS_SECRET)] {
        app.emu_post(
            "/emulator/clients",
            json!({"client_id": id, "client_secret": secret, "kind": "web", "redirect_uris": []}),
        )
        .await;
    }
    Some(app)
}

/// An app with the mobile server clients and no extra settings (what most tests here run on).
async fn mobile(backend: Backend) -> Option<TestApp> {
    mobile_app(backend, &[]).await
}

/// What Google Sign-In hands the app: `(serverAuthCode, the app's ID token)`.
async fn mobile_sign_in(
    app: &TestApp,
    account: &str,
    app_client: &str,
    server: &str,
    scopes: &[&str],
) -> (String, String) {
    let out = app
        .emu_post(
            "/emulator/mobile-sign-in",
            json!({"account": account, "client_id": app_client,
                   "server_client_id": server, "scopes": scopes}),
        )
        .await;
    (
        out["server_auth_code"].as_str().unwrap().to_string(),
        out["id_token"].as_str().unwrap().to_string(),
    )
}

/// POSTs a form body to `/authcode` as the Android sample does (with `X-Requested-With`).
async fn post_form(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/authcode", app.addr))
        .header("X-Requested-With", "com.example.app")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post_json(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/authcode", app.addr))
        .header("X-Requested-With", "XMLHttpRequest")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `(client_id, status, has refresh token)` of every credential of `email`, by client id.
fn grants(app: &TestApp, email: &str) -> Vec<(String, String, bool)> {
    let user = app.user_id(email);
    let mut rows: Vec<_> = app
        .db
        .run_blocking(move |c| offline_access::store::credentials::for_user(c, user))
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.client_id,
                c.status.as_str().to_string(),
                c.refresh_token.is_some(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Token requests the emulator saw as `(grant_type, client_id)`.
async fn token_requests(app: &TestApp) -> Vec<(String, String)> {
    let log: Value = reqwest::get(format!("{}/emulator/requests", app.emu))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/token")
        .map(|r| {
            (
                r["grant_type"].as_str().unwrap_or("").to_string(),
                r["client_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn no_token_in(body: &Value) {
    let text = body.to_string();
    assert!(
        !text.contains("ya29.") && !text.contains("1//") && !text.contains("4/0"),
        "no token in the answer: {text}"
    );
}

on_both_backends! {
    with mobile;
    async fn android_and_ios_codes_are_exchanged_and_kept_for_offline_access(app) {
        // Android, form body, as the Android sample sends it.
        let (code, _) = mobile_sign_in(&app, "alice@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "android")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["email"], "alice@example.test");
        assert_eq!(body["offline_access"], true);
        assert!(body["scopes"].as_array().unwrap().iter().any(|s| s == DRIVE), "{body}");
        assert_eq!(body["user_id"], app.user_id("alice@example.test").0);
        no_token_in(&body);
        assert_eq!(
            grants(&app, "alice@example.test"),
            vec![(ANDROID_SERVER.to_string(), "active".to_string(), true)]
        );
        // The exchange was made by the Android server client, with redirect_uri="".
        assert_eq!(
            token_requests(&app).await,
            vec![("authorization_code".to_string(), ANDROID_SERVER.to_string())]
        );

        // iOS, JSON body, for Bob.
        let (code, _) = mobile_sign_in(&app, "bob@example.test", IOS_APP, IOS_SERVER, &[DRIVE]).await;
        let (status, body) = post_json(&app, json!({"authCode": code, "platform": "ios"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["email"], "bob@example.test");
        assert_eq!(body["offline_access"], true);
        no_token_in(&body);
        assert_eq!(
            grants(&app, "bob@example.test"),
            vec![(IOS_SERVER.to_string(), "active".to_string(), true)]
        );

        // Users who arrive this way are listed for admins, with their grant.
        app.sign_in("admin@example.test").await;
        let list = app.get("/admin/users?q=bob").await.text().await.unwrap();
        assert!(list.contains("bob@example.test"), "{list}");
        assert!(list.contains("drive.metadata.readonly"), "{list}");
    }

    async fn a_second_code_for_the_same_user_keeps_the_refresh_token(app) {
        let (code, _) = mobile_sign_in(&app, "alice@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        assert_eq!(post_form(&app, &[("authCode", &code), ("platform", "android")]).await.0, StatusCode::OK);
        let user = app.user_id("alice@example.test");
        let first = app.vault().stored_refresh_token(user, ANDROID_SERVER).await.unwrap().unwrap();
        // Google sends a refresh token only on the first consent: the second code brings none.
        let (code, _) = mobile_sign_in(&app, "alice@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "android")]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["offline_access"], true);
        let kept = app.vault().stored_refresh_token(user, ANDROID_SERVER).await.unwrap().unwrap();
        assert_eq!(kept.expose(), first.expose(), "the stored refresh token stays");
        // And it still works.
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        app.vault().access_token(user, &[DRIVE]).await.unwrap();
        assert!(token_requests(&app).await.contains(&("refresh_token".to_string(), ANDROID_SERVER.to_string())));
    }

    async fn requests_without_x_requested_with_are_refused_before_anything_is_exchanged(app) {
        let (code, _) = mobile_sign_in(&app, "alice@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        // A forged cross-site form post: a form content type, another site's Origin, no header.
        let resp = reqwest::Client::new()
            .post(format!("{}/authcode", app.addr))
            .header("Origin", "https://evil.example")
            .form(&[("authCode", code.as_str()), ("platform", "android")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "missing_requested_with");
        assert!(body["message"].as_str().unwrap().contains("X-Requested-With"));
        // The same with JSON.
        let resp = reqwest::Client::new()
            .post(format!("{}/authcode", app.addr))
            .json(&json!({"authCode": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(token_requests(&app).await.is_empty(), "nothing exchanged");
        assert_eq!(app.count_rows("users"), 0, "nothing stored");
        assert_eq!(app.count_rows("credentials"), 0);
        // The code was not spent: the app can still send it properly.
        assert_eq!(post_form(&app, &[("authCode", &code), ("platform", "android")]).await.0, StatusCode::OK);
    }

    async fn bad_bodies_get_json_errors_and_store_nothing(app) {
        let client = reqwest::Client::new();
        let url = format!("{}/authcode", app.addr);
        let send = |content_type: &'static str, body: Vec<u8>| {
            client
                .post(&url)
                .header("X-Requested-With", "com.example.app")
                .header("Content-Type", content_type)
                .body(body)
                .send()
        };
        let resp = send("text/plain", b"authCode=4/0abc".to_vec()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unsupported_content_type");
        let big = format!("authCode={}", "a".repeat(9 * 1024));
        let resp = send("application/x-www-form-urlencoded", big.into_bytes()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.json::<Value>().await.unwrap()["error"], "body_too_large");
        for (content_type, body) in [
            ("application/json", "{not json"),
            ("application/json", "[\"authCode\"]"),
            ("application/json", "{\"authCode\": 42}"),
            ("application/x-www-form-urlencoded", "code=4/0abc"),
            ("application/x-www-form-urlencoded", "authCode="),
            ("application/x-www-form-urlencoded", "authCode=4/0abc&platform=windows"),
        ] {
            let resp = send(content_type, body.as_bytes().to_vec()).await.unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
            let json: Value = resp.json().await.unwrap();
            assert_eq!(json["error"], "invalid_request", "{body}");
        }
        // A code Google never issued.
        let (status, body) = post_form(&app, &[("authCode", "4/0never-issued")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_code");
        assert_eq!(app.count_rows("users"), 0);
        assert_eq!(app.count_rows("credentials"), 0);
    }

    async fn replayed_and_misaddressed_codes_are_invalid_codes(app) {
        let (code, _) = mobile_sign_in(&app, "alice@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        assert_eq!(post_form(&app, &[("authCode", &code), ("platform", "android")]).await.0, StatusCode::OK);
        let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "android")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_code");

        // A code minted for the iOS server client, sent as if from Android: our Android server
        // client cannot redeem it, and nothing is stored for Bob.
        let (code, _) = mobile_sign_in(&app, "bob@example.test", IOS_APP, IOS_SERVER, &[DRIVE]).await;
        let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "android")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_code");
        assert_eq!(app.count_rows("users"), 1, "only Alice");
    }

    async fn the_apps_id_token_must_name_the_same_user_and_chooses_the_server_client(app) {
        let (bob_code, _) = mobile_sign_in(&app, "bob@example.test", IOS_APP, IOS_SERVER, &[DRIVE]).await;
        let (_, alice_token) = mobile_sign_in(&app, "alice@example.test", IOS_APP, IOS_SERVER, &[DRIVE]).await;
        let (status, body) = post_json(&app, json!({"authCode": bob_code, "idToken": alice_token})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "id_token_mismatch");
        assert_eq!(app.count_rows("credentials"), 0, "nothing stored");

        // A tampered ID token is refused before the code is spent.
        let (code, token) = mobile_sign_in(&app, "alice@example.test", IOS_APP, IOS_SERVER, &[DRIVE]).await;
        let tampered = format!("{}x", token);
        let (status, body) = post_json(&app, json!({"authCode": code, "idToken": tampered})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_id_token");

        // Without `platform`, the ID token's audience picks the iOS server client.
        let (status, body) = post_json(&app, json!({"authCode": code, "idToken": token})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            grants(&app, "alice@example.test"),
            vec![(IOS_SERVER.to_string(), "active".to_string(), true)]
        );
    }

    async fn the_provider_down_is_a_502_and_nothing_is_stored(app) {
        let (code, _) = mobile_sign_in(&app, "alice@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        app.emu_post("/emulator/faults", json!({"endpoint": "token", "status": 503})).await;
        let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "android")]).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(body["error"], "provider_unavailable");
        assert_eq!(app.count_rows("users"), 0);
        assert_eq!(app.count_rows("credentials"), 0);
    }

    async fn web_and_android_grants_are_refreshed_each_by_its_own_client(app) {
        // Alice signs in on the web (Drive) and on Android (Drive and Gmail).
        assert_eq!(app.sign_in("alice@example.test").await.status(), StatusCode::SEE_OTHER);
        let (code, _) = mobile_sign_in(&app, "alice@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE, GMAIL]).await;
        assert_eq!(post_form(&app, &[("authCode", &code), ("platform", "android")]).await.0, StatusCode::OK);
        let mut expected = vec![
            (ANDROID_SERVER.to_string(), "active".to_string(), true),
            (CLIENT_ID.to_string(), "active".to_string(), true),
        ];
        expected.sort();
        assert_eq!(grants(&app, "alice@example.test"), expected, "two credentials");

        app.emu_control(reqwest::Method::DELETE, "/emulator/requests", json!({})).await;
        app.emu_post("/emulator/accounts/alice@example.test/expire-tokens", json!({})).await;
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        // Her Drive page refreshes the web grant with the web client…
        let page = app.get("/").await.text().await.unwrap();
        assert!(page.contains("report"), "Drive listed: {page}");
        // …and work that needs Gmail, which only the Android grant holds, refreshes that one
        // with the Android server client.
        let user = app.user_id("alice@example.test");
        let gmail = app.vault().access_token(user, &[GMAIL]).await.unwrap();
        assert_eq!(gmail.client_id, ANDROID_SERVER);
        let refreshes: Vec<String> = token_requests(&app)
            .await
            .into_iter()
            .filter(|(grant, _)| grant == "refresh_token")
            .map(|(_, client)| client)
            .collect();
        assert_eq!(refreshes, vec![CLIENT_ID.to_string(), ANDROID_SERVER.to_string()]);

        // Revoking her ends both grants at Google, each with its own client.
        let revoked = app.vault().revoke(user).await.unwrap();
        assert_eq!(revoked, offline_access::vault::Revocation::Revoked);
        assert_eq!(app.count_rows("credentials"), 0);
        assert_eq!(app.emu_count("POST /revoke").await, 2);
    }

    async fn blocked_users_and_unknown_apps_are_refused(app) {
        let (code, _) = mobile_sign_in(&app, "bob@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        assert_eq!(post_form(&app, &[("authCode", &code), ("platform", "android")]).await.0, StatusCode::OK);
        app.sql("UPDATE users SET disabled_at = CURRENT_TIMESTAMP");
        app.sql("DELETE FROM credentials");
        let (code, _) = mobile_sign_in(&app, "bob@example.test", ANDROID_APP, ANDROID_SERVER, &[DRIVE]).await;
        let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "android")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"], "account_blocked");
        assert_eq!(app.count_rows("credentials"), 0, "nothing stored for a blocked user");
    }
}

/// Only the apps listed in MOBILE_APP_CLIENT_IDS may hand us codes (the ID token's `azp`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_from_apps_outside_the_allow_list_are_refused() {
    let app = mobile_app(Backend::Sqlite, &[("MOBILE_APP_CLIENT_IDS", IOS_APP)])
        .await
        .unwrap();
    let (code, _) = mobile_sign_in(
        &app,
        "alice@example.test",
        ANDROID_APP,
        ANDROID_SERVER,
        &[DRIVE],
    )
    .await;
    let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "android")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unknown_app");
    assert_eq!(app.count_rows("credentials"), 0);
    let (code, _) = mobile_sign_in(&app, "alice@example.test", IOS_APP, IOS_SERVER, &[DRIVE]).await;
    let (status, body) = post_form(&app, &[("authCode", &code), ("platform", "ios")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// One address gets AUTHCODE_RATE_PER_MINUTE requests a minute, then 429 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_from_one_address_get_429() {
    let app = mobile_app(Backend::Sqlite, &[("AUTHCODE_RATE_PER_MINUTE", "3")])
        .await
        .unwrap();
    for _ in 0..3 {
        let (status, _) = post_form(&app, &[("authCode", "4/0never-issued")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/authcode", app.addr))
        .header("X-Requested-With", "com.example.app")
        .form(&[("authCode", "4/0never-issued")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "rate_limited");
    assert_eq!(
        token_requests(&app).await.len(),
        3,
        "the fourth reached nobody"
    );
}

/// With no per-platform client configured, the web client is the server client, and the
/// `sync` command serves a user who only ever signed in on a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_client_is_the_default_server_client_and_sync_serves_mobile_users() {
    let app = TestApp::spawn().await;
    let (code, _) =
        mobile_sign_in(&app, "bob@example.test", ANDROID_APP, CLIENT_ID, &[DRIVE]).await;
    let (status, body) = post_form(&app, &[("authCode", &code)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        grants(&app, "bob@example.test"),
        vec![(CLIENT_ID.to_string(), "active".to_string(), true)]
    );
    let syncer = offline_access::startup::syncer(&app.settings)
        .await
        .unwrap();
    let mut out = Vec::new();
    let failed = syncer
        .run(
            &offline_access::sync::Target::Email("bob@example.test".into()),
            &mut out,
            None,
        )
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(failed, 0, "{out}");
    assert!(out.contains("bob@example.test: ok, 7 Drive files"), "{out}");
}
