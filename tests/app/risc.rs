//! Cross-Account Protection: the emulator pushes Security Event Tokens to `POST /risc` over
//! real HTTP, and each event does what it says to the user it names — sessions ended, tokens
//! deleted, sign-in blocked and let in again, a flag for the admin — with its audit row; a
//! replayed or forged token changes nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};

use offline_access::on_both_backends;
use offline_access::testing::{TestApp, CLIENT_ID};

const ALICE: &str = "alice@example.test";
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";

/// Registers the app's receiver with the emulator, events addressed to the app's client.
async fn register(app: &TestApp) {
    app.emu_post(
        "/emulator/risc/stream",
        json!({"receiver": format!("{}/risc", app.addr), "client_id": CLIENT_ID}),
    )
    .await;
}

/// Has the emulator emit an event; returns its jti, after checking the app answered 202.
async fn emit(app: &TestApp, event: Value) -> String {
    let answer = app.emu_post("/emulator/risc/events", event.clone()).await;
    let deliveries = answer["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 1, "{answer}");
    assert_eq!(deliveries[0]["status"], 202, "{event}: {answer}");
    deliveries[0]["jti"].as_str().unwrap().to_string()
}

/// (event type, reason, what was done) of the security event `jti`, as recorded.
fn recorded(app: &TestApp, jti: &str) -> (String, Option<String>, String, Option<i64>) {
    use diesel::prelude::*;
    use offline_access::store::schema::risc_events as r;
    let jti = jti.to_string();
    app.db
        .run_blocking(move |c| {
            Ok(r::table
                .filter(r::jti.eq(jti))
                .select((r::event_type, r::reason, r::action, r::user_id))
                .first(c)?)
        })
        .unwrap()
}

/// The audit rows a security event wrote (action, detail, outcome), for `jti`.
fn audited(app: &TestApp, jti: &str) -> Vec<(String, String, String)> {
    use diesel::prelude::*;
    use offline_access::store::schema::audit_log as a;
    let pattern = format!("%{jti}%");
    app.db
        .run_blocking(move |c| {
            Ok(a::table
                .filter(a::detail.like(pattern))
                .select((a::action, a::detail, a::outcome))
                .load(c)?)
        })
        .unwrap()
}

async fn home(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = browser.get(format!("{}/", app.addr)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.unwrap()
}

fn signed_in(page: &str) -> bool {
    page.contains("data-testid=\"sign-out\"")
}

/// A sign-in from a new browser; the status of the callback's answer (303: signed in).
async fn sign_in_fresh(app: &TestApp, who: &str) -> StatusCode {
    let (browser, _) = app.browser();
    let start = browser
        .get(format!("{}/oauth2callback", app.addr))
        .send()
        .await
        .unwrap();
    let auth = url::Url::parse(offline_access::testing::location(&start)).unwrap();
    let back = app.consent_with(&browser, &auth, who, "allow").await;
    browser.get(back.as_str()).send().await.unwrap().status()
}

/// A SET signed with the emulator's own current key (taken from its state export), so that
/// only the claims decide whether it is accepted.
async fn forge(app: &TestApp, header: Value, claims: Value) -> String {
    let state: Value = reqwest::get(format!("{}/emulator/state", app.emu))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pem = state["signing_keys"][0].as_str().unwrap();
    sign_with(pem, header, claims)
}

fn sign_with(pem: &str, header: Value, claims: Value) -> String {
    use rsa::pkcs8::DecodePrivateKey;
    use sha2::{Digest, Sha256};
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // RS256 = RSASSA-PKCS1-v1_5 over SHA-256, the hash wrapped in its DigestInfo.
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    digest_info.extend_from_slice(&Sha256::digest(signing_input.as_bytes()));
    let signature = key
        .sign(rsa::Pkcs1v15Sign::new_unprefixed(), &digest_info)
        .unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

async fn kid(app: &TestApp) -> String {
    let jwks: Value = reqwest::get(format!("{}/oauth2/v3/certs", app.emu))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"][0]["kid"].as_str().unwrap().to_string()
}

/// The claims of a valid `sessions-revoked` for alice (jti `jti`).
async fn sessions_revoked(app: &TestApp, jti: &str) -> Value {
    let config: Value = reqwest::get(format!("{}/.well-known/risc-configuration", app.emu))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = config["issuer"].as_str().unwrap().to_string();
    let user = app.user_id(ALICE);
    let sub = {
        use diesel::prelude::*;
        use offline_access::store::schema::users;
        app.db
            .run_blocking(move |c| {
                Ok(users::table
                    .find(user.0)
                    .select(users::google_sub)
                    .first::<String>(c)?)
            })
            .unwrap()
    };
    json!({
        "iss": issuer,
        "aud": CLIENT_ID,
        "iat": chrono::Utc::now().timestamp(),
        "jti": jti,
        "events": {format!("{RISC}sessions-revoked"): {
            "subject": {"subject_type": "iss-sub", "iss": issuer, "sub": sub}
        }}
    })
}

async fn post_set(
    app: &TestApp,
    body: impl Into<reqwest::Body>,
    content_type: &str,
) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/risc", app.addr))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

on_both_backends! {
    async fn sessions_and_tokens_revoked_end_sessions_or_drop_tokens(app) {
        register(&app).await;
        let browser = app.sign_in_new_browser(&app.addr, ALICE).await;
        assert!(signed_in(&home(&app, &browser).await));

        // sessions-revoked: signed out everywhere, the grant kept.
        let jti = emit(&app, json!({"email": ALICE, "type": "sessions-revoked"})).await;
        assert!(!signed_in(&home(&app, &browser).await), "signed out at the next request");
        assert_eq!(app.count_rows("sessions"), 0);
        assert_eq!(app.credential(ALICE), ("active".into(), true, true));
        let (kind, _, done, user) = recorded(&app, &jti);
        assert_eq!((kind.as_str(), done.as_str()), ("sessions-revoked", "1 session(s) ended"));
        assert_eq!(user, Some(app.user_id(ALICE).0));
        let audit = audited(&app, &jti);
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].0, "provider.security_event");
        assert!(audit[0].1.starts_with("sessions-revoked (jti "), "{audit:?}");

        // tokens-revoked: the tokens go, the session stays and says consent is needed.
        let browser = app.sign_in_new_browser(&app.addr, ALICE).await;
        let jti = emit(&app, json!({"email": ALICE, "type": "tokens-revoked"})).await;
        assert_eq!(app.credential(ALICE), ("needs_consent".into(), false, false));
        let page = home(&app, &browser).await;
        assert!(signed_in(&page), "the session stays");
        assert_eq!(recorded(&app, &jti).2, "1 credential(s) cleared; consent needed");
        assert_eq!(audited(&app, &jti).len(), 1);
    }

    async fn token_revoked_drops_only_the_credential_it_names(app) {
        // Registered as an operator registers with an emulator running on its own.
        let out = tokio::task::block_in_place(|| {
            app.command(&["risc", "--register-with", &app.emu]).output().unwrap()
        });
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(&format!("receiver (push delivery): {}/risc", app.addr)), "{stdout}");
        assert!(stdout.contains(&format!("audiences (OAuth client ids): {CLIENT_ID}")), "{stdout}");
        assert!(stdout.contains("https://schemas.openid.net/secevent/oauth/event-type/token-revoked"), "{stdout}");
        for (alg, who) in [("hash_base64_sha512_sha512", ALICE), ("prefix", "bob@example.test")] {
            app.sign_in_new_browser(&app.addr, who).await;
            let jti = emit(&app, json!({"email": who, "type": "token-revoked", "token_identifier_alg": alg})).await;
            assert_eq!(app.credential(who), ("needs_consent".into(), false, false), "{alg}");
            let (kind, _, done, user) = recorded(&app, &jti);
            assert_eq!(kind, "token-revoked");
            assert_eq!(done, "1 credential(s) cleared; consent needed", "{alg}");
            assert_eq!(user, Some(app.user_id(who).0));
        }
        // Alice's other grants, and everyone else's, are untouched.
        app.sign_in_new_browser(&app.addr, "admin@example.test").await;
        assert_eq!(app.credential("admin@example.test").0, "active");
    }

    async fn a_hijacked_account_is_signed_out_and_blocked_until_enabled(app) {
        register(&app).await;
        let browser = app.sign_in_new_browser(&app.addr, ALICE).await;
        let jti = emit(&app, json!({"email": ALICE, "type": "account-disabled", "reason": "hijacking"})).await;
        assert!(!signed_in(&home(&app, &browser).await), "her open session is over");
        assert_eq!(app.credential(ALICE), ("needs_consent".into(), false, false));
        let (_, reason, done, _) = recorded(&app, &jti);
        assert_eq!(reason.as_deref(), Some("hijacking"));
        assert_eq!(done, "1 session(s) ended, 1 credential(s) cleared; sign-in blocked");
        // She (or whoever holds her Google account) cannot sign in.
        let again = app.sign_in(ALICE).await;
        assert_eq!(again.status(), StatusCode::FORBIDDEN);
        assert!(again.text().await.unwrap().contains("This account is blocked"));
        assert_eq!(app.count_rows("sessions WHERE user_id IS NOT NULL"), 0);
        // The admin page says who blocked her, and lists the event.
        let admin = app.sign_in_new_browser(&app.addr, "admin@example.test").await;
        let id = app.user_id(ALICE).0;
        let page = admin.get(format!("{}/admin/users/{id}", app.addr)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("by the provider: the account was disabled for hijacking"), "{page}");
        assert!(page.contains(&jti), "{page}");
        assert!(page.contains("data-testid=\"security-event-type\">account-disabled<"), "{page}");

        // Google re-enables the account: the block is lifted, she signs in again.
        let jti = emit(&app, json!({"email": ALICE, "type": "account-enabled"})).await;
        assert_eq!(recorded(&app, &jti).2, "the provider's block was lifted");
        assert_eq!(sign_in_fresh(&app, ALICE).await, StatusCode::SEE_OTHER);

        // An admin's own block is not lifted by account-enabled, even after a hijacking event
        // arrived on top of it.
        app.sql(&format!("UPDATE users SET disabled_at = CURRENT_TIMESTAMP WHERE id = {id}"));
        let jti = emit(&app, json!({"email": ALICE, "type": "account-disabled", "reason": "hijacking"})).await;
        assert!(recorded(&app, &jti).2.ends_with("sign-in was already blocked"), "{:?}", recorded(&app, &jti));
        let jti = emit(&app, json!({"email": ALICE, "type": "account-enabled"})).await;
        assert_eq!(recorded(&app, &jti).2, "no block set by the provider; nothing to lift");
        assert_eq!(sign_in_fresh(&app, ALICE).await, StatusCode::FORBIDDEN);
    }

    async fn other_disablings_flags_and_verification_do_what_they_say(app) {
        register(&app).await;
        let browser = app.sign_in_new_browser(&app.addr, ALICE).await;
        let jti = emit(&app, json!({"email": ALICE, "type": "account-disabled", "reason": "bulk-account"})).await;
        assert!(!signed_in(&home(&app, &browser).await));
        assert_eq!(recorded(&app, &jti).2, "1 session(s) ended");
        assert_eq!(app.credential(ALICE).0, "active", "tokens kept, sign-in allowed");
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);

        let jti = emit(&app, json!({"email": ALICE, "type": "account-credential-change-required"})).await;
        assert_eq!(recorded(&app, &jti).2, "flagged: credential change required");
        let admin = app.sign_in_new_browser(&app.addr, "admin@example.test").await;
        let id = app.user_id(ALICE).0;
        let page = admin.get(format!("{}/admin/users/{id}", app.addr)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("data-testid=\"credential-change\""), "{page}");
        assert!(page.contains(">the provider<"), "the audit log names who acted: {page}");

        let jti = emit(&app, json!({"type": "verification", "state": "hello"})).await;
        let (kind, _, done, user) = recorded(&app, &jti);
        assert_eq!((kind.as_str(), done.as_str(), user), ("verification", "no such user here; nothing to do", None));
    }

    async fn the_grant_revoking_control_and_a_disabled_account_reach_the_app(app) {
        register(&app).await;
        let browser = app.sign_in_new_browser(&app.addr, ALICE).await;
        // The user removes the app in their Google Account: tokens-revoked is pushed.
        app.emu_post(&format!("/emulator/accounts/{ALICE}/revoke"), json!({})).await;
        assert_eq!(app.credential(ALICE), ("needs_consent".into(), false, false));
        assert!(signed_in(&home(&app, &browser).await));
        // Google disables the account for hijacking: pushed too.
        app.emu_post(&format!("/emulator/accounts/{ALICE}/disable"), json!({"reason": "hijacking"})).await;
        assert!(!signed_in(&home(&app, &browser).await));
        assert_eq!(app.count_rows("users WHERE blocked_by_provider AND disabled_at IS NOT NULL"), 1);
        app.emu_post(&format!("/emulator/accounts/{ALICE}/enable"), json!({})).await;
        assert_eq!(app.count_rows("users WHERE disabled_at IS NOT NULL"), 0);
        assert_eq!(app.count_rows("risc_events"), 3);
    }

    async fn a_replayed_token_is_acknowledged_and_not_applied_twice(app) {
        app.sign_in(ALICE).await;
        let kid = kid(&app).await;
        let jwt = forge(&app, json!({"alg": "RS256", "kid": kid, "typ": "secevent+jwt"}), sessions_revoked(&app, "replayed-1").await).await;
        let (status, _) = post_set(&app, jwt.clone(), "application/secevent+jwt").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(app.count_rows("sessions"), 0);
        // Signed in again, the same token arrives again: acknowledged, nothing ended.
        assert_eq!(app.sign_in(ALICE).await.status(), StatusCode::SEE_OTHER);
        let (status, _) = post_set(&app, jwt, "application/secevent+jwt").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(app.count_rows("sessions"), 1);
        assert_eq!(audited(&app, "replayed-1").len(), 1);
        assert_eq!(app.count_rows("risc_events"), 1);
    }

    async fn a_token_with_two_events_applies_both(app) {
        app.sign_in(ALICE).await;
        let kid = kid(&app).await;
        let mut claims = sessions_revoked(&app, "two-events").await;
        let subject = claims["events"][format!("{RISC}sessions-revoked")]["subject"].clone();
        claims["events"]["https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"] =
            json!({"subject": subject});
        let jwt = forge(&app, json!({"alg": "RS256", "kid": kid}), claims).await;
        let (status, _) = post_set(&app, jwt, "application/secevent+jwt").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(app.count_rows("sessions"), 0);
        assert_eq!(app.credential(ALICE), ("needs_consent".into(), false, false));
        assert_eq!(app.count_rows("risc_events WHERE jti = 'two-events'"), 2);
        assert_eq!(audited(&app, "two-events").len(), 2);
    }

    async fn an_unknown_key_is_refused_then_deferred_while_the_keys_are_fresh(app) {
        app.sign_in(ALICE).await;
        let before = app.snapshot();
        let claims = sessions_revoked(&app, "unknown-kid").await;
        let jwt = forge(&app, json!({"alg": "RS256", "kid": "not-a-key-of-the-provider"}), claims).await;
        // The keys are fetched again for it: still unknown, refused.
        let (status, answer) = post_set(&app, jwt.clone(), "application/secevent+jwt").await;
        assert_eq!((status, answer["err"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_key")), "{answer}");
        // Again within the minute: the keys are not fetched again, the sender is asked to retry.
        let resp = reqwest::Client::new()
            .post(format!("{}/risc", app.addr))
            .header("content-type", "application/secevent+jwt")
            .body(jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key("retry-after"));
        assert_eq!(app.snapshot(), before, "nothing changed");
    }

    async fn forged_and_malformed_tokens_are_refused_and_change_nothing(app) {
        app.sign_in(ALICE).await;
        let kid = kid(&app).await;
        let header = json!({"alg": "RS256", "kid": kid});
        let good = sessions_revoked(&app, "forged-1").await;
        let before = app.snapshot();

        let mut cases: Vec<(&str, String, &str, &str)> = Vec::new();
        // Signed by a key that is not the provider's, under the provider's kid.
        let other = {
            use rsa::pkcs8::{EncodePrivateKey, LineEnding};
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
            key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
        };
        cases.push(("bad signature", sign_with(&other, header.clone(), good.clone()), "application/secevent+jwt", "invalid_key"));
        let mut wrong_aud = good.clone();
        wrong_aud["aud"] = json!("someone-else.apps.googleusercontent.com");
        cases.push(("wrong aud", forge(&app, header.clone(), wrong_aud).await, "application/secevent+jwt", "invalid_audience"));
        let mut wrong_iss = good.clone();
        wrong_iss["iss"] = json!("https://accounts.example.com/");
        cases.push(("wrong iss", forge(&app, header.clone(), wrong_iss).await, "application/secevent+jwt", "invalid_issuer"));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
            URL_SAFE_NO_PAD.encode(good.to_string())
        );
        cases.push(("alg none", none, "application/secevent+jwt", "invalid_key"));
        let hs = forge(&app, json!({"alg": "HS256", "kid": kid}), good.clone()).await;
        cases.push(("alg HS256", hs, "application/secevent+jwt", "invalid_key"));
        cases.push(("not a JWT", "hello".into(), "application/secevent+jwt", "invalid_request"));
        cases.push(("oversized", "a".repeat(17 * 1024), "application/secevent+jwt", "invalid_request"));
        let valid = forge(&app, header.clone(), good.clone()).await;
        cases.push(("wrong content type", valid, "application/json", "invalid_request"));

        for (what, body, content_type, err) in cases {
            let (status, answer) = post_set(&app, body, content_type).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
            assert_eq!(answer["err"], err, "{what}: {answer}");
            assert!(answer["description"].as_str().is_some_and(|d| !d.is_empty()), "{what}");
        }
        assert_eq!(app.snapshot(), before, "nothing changed");
        assert_eq!(app.count_rows("risc_events"), 0);
        assert_eq!(app.count_rows("audit_log"), 0);
    }
}
