//! Any OpenID provider by configuration alone: against the emulator's `oidc-strict` profile (a
//! standards-compliant provider that is not Google: profile claims only in userinfo, refresh
//! tokens only for `offline_access` with the consent prompt, `iss` in every authorization
//! response), and the RFC 9207 mix-up defence.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use offline_access::on_both_backends;
use offline_access::testing::TestApp;

const ALICE: &str = "alice@example.test";

async fn strict(app: &TestApp) {
    app.emu_control(
        Method::PUT,
        "/emulator/profile",
        json!({"profile": "oidc-strict"}),
    )
    .await;
}

fn params(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

on_both_backends! {
    async fn a_standard_provider_signs_people_in_through_userinfo_and_keeps_offline_access(app) {
        strict(&app).await;
        let auth = app.authorization_url().await;
        let q = params(&auth);
        assert!(q["scope"].split(' ').any(|s| s == "offline_access"), "{}", q["scope"]);
        assert_eq!(q["prompt"], "consent", "a refresh token needs the consent prompt");
        let back = app.consent(&auth, ALICE, "allow").await;
        assert_eq!(params(&back)["iss"], app.emu, "the provider names itself");
        let done = app.get_url(back.as_str()).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", done.text().await.unwrap());
        // The ID token carried no email: it came from userinfo, asked once.
        assert_eq!(app.emu_count("GET /oauth2/v3/userinfo").await, 1);
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains(ALICE), "{home}");
        assert_eq!(home.matches("data-testid=\"file\"").count(), 25);
        // offline_access brought a refresh token: background work can act for alice.
        assert_eq!(app.credential(ALICE), ("active".into(), true, true));
        let scopes: String = {
            use diesel::prelude::*;
            use offline_access::store::schema::credentials as c;
            app.db
                .run_blocking(|conn| Ok(c::table.select(c::scopes).first::<String>(conn)?))
                .unwrap()
        };
        assert!(scopes.contains("offline_access"), "{scopes}");
    }

    async fn an_answer_from_another_issuer_is_refused_before_any_exchange(app) {
        strict(&app).await;
        let auth = app.authorization_url().await;
        let back = app.consent(&auth, ALICE, "allow").await;
        let mut forged = back.clone();
        let pairs: Vec<(String, String)> = back
            .query_pairs()
            .into_owned()
            .map(|(k, v)| if k == "iss" { (k, "https://attacker.example".into()) } else { (k, v) })
            .collect();
        forged.query_pairs_mut().clear().extend_pairs(&pairs);
        let resp = app.get_url(forged.as_str()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body = resp.text().await.unwrap();
        assert!(body.contains("did not come from the provider this app uses"), "{body}");
        assert!(!body.contains("attacker.example"), "input not echoed");
        // The provider promised `iss` (RFC 9207): an answer without it is refused too.
        let mut bare = back.clone();
        let without: Vec<(String, String)> =
            back.query_pairs().into_owned().filter(|(k, _)| k != "iss").collect();
        bare.query_pairs_mut().clear().extend_pairs(&without);
        assert_eq!(app.get_url(bare.as_str()).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(app.emu_count("token:authorization_code").await, 0);
        assert_eq!(app.count_rows("users"), 0);
        // The genuine answer still works: nothing was used up by the refused ones.
        assert_eq!(app.get_url(back.as_str()).await.status(), StatusCode::SEE_OTHER);
    }

    async fn with_google_an_iss_parameter_must_still_be_googles(app) {
        let auth = app.authorization_url().await;
        let q = params(&auth);
        assert!(!q["scope"].contains("offline_access"), "Google keys offline access on access_type");
        assert!(!q.contains_key("prompt"));
        let back = app.consent(&auth, ALICE, "allow").await;
        let forged = format!("{back}&iss=https%3A%2F%2Fattacker.example");
        assert_eq!(app.get_url(&forged).await.status(), StatusCode::BAD_REQUEST);
        let genuine = format!("{back}&iss={}", url::form_urlencoded::byte_serialize(app.emu.as_bytes()).collect::<String>());
        assert_eq!(app.get_url(&genuine).await.status(), StatusCode::SEE_OTHER);
    }
}

on_both_backends! {
    async fn an_api_the_provider_does_not_offer_gets_a_plain_page_not_try_again(app) {
        app.sign_in(ALICE).await;
        let faults = [
            json!({"endpoint": "drive", "count": 1, "status": 403, "reason": "accessNotConfigured"}),
            json!({"endpoint": "drive", "count": 1, "status": 404}),
        ];
        for fault in faults {
            app.emu_post("/emulator/faults", fault.clone()).await;
            let page = app.get("/").await;
            assert_eq!(page.status(), StatusCode::OK, "{fault}");
            let body = page.text().await.unwrap();
            assert!(body.contains("Drive is not available"), "{fault}: {body}");
            assert!(body.contains("Google does not offer the Drive API to this app"), "{body}");
            assert!(!body.contains("could not be reached"), "{body}");
            assert!(body.contains("data-testid=\"sign-out\""), "a signed-in page: {body}");
        }
        assert_eq!(app.credential(ALICE), ("active".into(), true, true), "nothing dropped");
    }

    async fn error_pages_offer_sign_out_to_signed_in_visitors_only(app) {
        let anonymous = app.get("/no/such/page").await.text().await.unwrap();
        assert!(!anonymous.contains("error-sign-out"), "{anonymous}");
        app.sign_in(ALICE).await;
        for path in ["/no/such/page", "/?page=abc", "/admin/users"] {
            let page = app.get(path).await;
            assert!(page.status().is_client_error(), "{path}: {}", page.status());
            let body = page.text().await.unwrap();
            assert!(body.contains("data-testid=\"error-sign-out\""), "{path}: {body}");
        }
        let body = app.get("/no/such/page").await.text().await.unwrap();
        let csrf = crate::admin::csrf_in(&body);
        let out = app.client.post(format!("{}/logout", app.addr)).form(&[("csrf", csrf)]).send().await.unwrap();
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert_eq!(app.count_rows("sessions"), 0, "signed out from the error page");
    }

    async fn without_a_refresh_token_the_access_token_serves_until_it_expires(app) {
        app.sign_in(ALICE).await;
        let soon = (chrono::Utc::now().naive_utc() + chrono::Duration::seconds(30))
            .format("%Y-%m-%d %H:%M:%S%.6f");
        app.sql(&format!(
            "UPDATE credentials SET refresh_token = NULL, access_expires_at = '{soon}'"
        ));
        let page = app.get("/").await;
        assert_eq!(page.status(), StatusCode::OK);
        let body = page.text().await.unwrap();
        assert_eq!(body.matches("data-testid=\"file\"").count(), 25, "{body}");
        assert!(body.contains("Background access needs your consent"), "{body}");
        assert!(!body.contains("did not give"), "no blame: {body}");
        assert_eq!(app.credential(ALICE), ("active".into(), false, true), "kept, not deleted");
        // Once it has expired, the page asks for consent.
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        let body = app.get("/").await.text().await.unwrap();
        assert!(body.contains("We need your permission again"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_name_the_configured_provider() {
    let app = TestApp::spawn_on_with(
        offline_access::testing::Backend::Sqlite,
        &[("PROVIDER_NAME", "Example ID")],
    )
    .await
    .unwrap();
    let landing = app.get("/").await.text().await.unwrap();
    assert!(landing.contains("Sign in with Example ID"), "{landing}");
    assert!(!landing.contains("Google"), "{landing}");
    app.sign_in(ALICE).await;
    app.emu_post(
        "/emulator/faults",
        json!({"endpoint": "drive", "count": 3, "status": 503}),
    )
    .await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(page.contains("Example ID could not be reached"), "{page}");
}

on_both_backends! {
    async fn users_are_keyed_by_issuer_and_subject(app) {
        app.sign_in(ALICE).await;
        let issuer_of = |app: &TestApp| -> Vec<String> {
            use diesel::prelude::*;
            use offline_access::store::schema::users as u;
            app.db
                .run_blocking(|c| Ok(u::table.order(u::id).select(u::issuer).load::<String>(c)?))
                .unwrap()
        };
        assert_eq!(issuer_of(&app), vec![app.emu.clone()]);
        // A row from before issuers were kept is adopted by its next sign-in, not duplicated.
        app.sql("UPDATE users SET issuer = ''");
        app.sign_in(ALICE).await;
        assert_eq!(issuer_of(&app), vec![app.emu.clone()]);
        // The same subject vouched for by another issuer is another person.
        app.sql("UPDATE users SET issuer = 'https://other-provider.example'");
        app.sign_in(ALICE).await;
        assert_eq!(
            issuer_of(&app),
            ["https://other-provider.example".to_string(), app.emu.clone()]
        );
        assert_eq!(app.count_rows("users"), 2);
    }
}
