//! Any OpenID provider by configuration alone: against the emulator's `oidc-strict` profile (a
//! standards-compliant provider that is not Google: profile claims only in userinfo, refresh
//! tokens only for `offline_access` with the consent prompt, `iss` in every authorization
//! response), and the RFC 9207 mix-up defence.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{on_both_backends, TestApp};

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
