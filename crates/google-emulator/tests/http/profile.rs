//! The `oidc-strict` profile: a standards-compliant OpenID provider that is not Google.

use std::collections::BTreeSet;

use google_emulator::{EmulatorArgs, Profile};

use crate::prelude::*;

const OFFLINE: &str = "offline_access";

async fn strict() -> Emu {
    start_with(Options {
        profile: Profile::OidcStrict,
        ..Default::default()
    })
    .await
}

async fn discovery(emu: &Emu) -> Value {
    let res = emu
        .http
        .get(format!("{}/.well-known/openid-configuration", emu.url))
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[tokio::test]
async fn profile_is_an_option_a_flag_and_a_control() {
    let emu = start().await;
    assert_eq!(
        emu.control(Method::GET, "/profile", None).await,
        (200, json!({"profile": "google"}))
    );
    assert_eq!(
        emu.control(
            Method::PUT,
            "/profile",
            Some(json!({"profile": "oidc-strict"}))
        )
        .await,
        (200, json!({"profile": "oidc-strict"}))
    );
    assert_eq!(
        emu.control(Method::GET, "/profile", None).await.1,
        json!({"profile": "oidc-strict"})
    );
    assert_eq!(
        discovery(&emu).await["authorization_response_iss_parameter_supported"],
        true
    );
    let (status, _) = emu
        .control(Method::PUT, "/profile", Some(json!({"profile": "okta"})))
        .await;
    assert_eq!(status, 400);
    // A reset returns to the profile the emulator was started with.
    emu.post_control("/reset", json!({})).await;
    assert_eq!(
        emu.control(Method::GET, "/profile", None).await.1,
        json!({"profile": "google"})
    );
    let emu = strict().await;
    emu.post_control("/reset", json!({})).await;
    assert_eq!(
        emu.control(Method::GET, "/profile", None).await.1,
        json!({"profile": "oidc-strict"})
    );
    // `offline-access emulator --profile oidc-strict`.
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }
    use clap::Parser;
    let cli = Cli::try_parse_from(["emulator", "--profile", "oidc-strict"]).unwrap();
    assert_eq!(cli.args.profile, Profile::OidcStrict);
    let cli = Cli::try_parse_from(["emulator"]).unwrap();
    assert_eq!(cli.args.profile, Profile::Google);
    assert!(Cli::try_parse_from(["emulator", "--profile", "okta"]).is_err());
    let cli = Cli::try_parse_from([
        "emulator",
        "--allowed-host",
        "a.test",
        "--allowed-host",
        "b.test:9",
    ])
    .unwrap();
    assert_eq!(cli.args.allowed_hosts, ["a.test", "b.test:9"]);
}

#[tokio::test]
async fn discovery_announces_offline_access_and_iss() {
    let google = discovery(&start().await).await;
    assert!(!google["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(OFFLINE)));
    assert!(google
        .get("authorization_response_iss_parameter_supported")
        .is_none());
    let emu = strict().await;
    let d = discovery(&emu).await;
    assert!(d["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!(OFFLINE)));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(d["issuer"], emu.url);
}

#[tokio::test]
async fn id_token_without_profile_claims_and_userinfo_with_them() {
    let emu = strict().await;
    let t = emu
        .tokens(
            ALICE,
            &scope_with(&format!("{DRIVE_META} {OFFLINE}")),
            &[("nonce", "n-strict"), ("prompt", "consent")],
        )
        .await;
    let jwt = t["id_token"].as_str().unwrap();
    assert!(verify_rs256(&emu, jwt).await);
    let (_, c) = jwt_parts(jwt);
    assert_eq!(
        keys(&c),
        [
            "at_hash",
            "aud",
            "auth_time",
            "azp",
            "exp",
            "iat",
            "iss",
            "nonce",
            "sub"
        ]
        .into_iter()
        .collect(),
        "{c}"
    );
    assert_eq!(c["sub"], "100000000000000000001");
    assert_eq!(c["nonce"], "n-strict");
    let auth_time = c["auth_time"].as_i64().unwrap();
    assert!((c["iat"].as_i64().unwrap() - auth_time).abs() < 60);
    let (status, info) = json_of(
        emu.api("/oauth2/v3/userinfo", t["access_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        keys(&info),
        ["email", "email_verified", "name", "picture", "sub"]
            .into_iter()
            .collect(),
        "{info}"
    );
    assert_eq!(info["sub"], c["sub"]);
    assert_eq!(info["email"], ALICE);
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["name"], "Alice Example");
    // A refreshed ID token is just as bare, and keeps the time of the sign-in.
    let (status, r) = emu.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{r}");
    let (_, c) = jwt_parts(r["id_token"].as_str().unwrap());
    assert!(c.get("email").is_none() && c.get("name").is_none(), "{c}");
    assert_eq!(c["auth_time"], auth_time);
}

#[tokio::test]
async fn refresh_token_only_for_offline_access_with_prompt_consent() {
    let emu = strict().await;
    let scope = scope_with(&format!("{DRIVE_META} {OFFLINE}"));
    // The consent screen asks for it in plain words.
    let (status, page) = {
        let res = emu
            .get_auth(
                &emu.http,
                &emu.auth_params(&scope, &[("prompt", "consent")]),
            )
            .await;
        (res.status(), res.text().await.unwrap())
    };
    assert_eq!(status, 200);
    assert!(
        page.contains("data-testid=\"scope-offline_access\""),
        "{page}"
    );
    assert!(page.contains("while you are not using the app"), "{page}");

    let t = emu.tokens(ALICE, &scope, &[("prompt", "consent")]).await;
    assert!(t["refresh_token"].is_string(), "{t}");
    let granted: Vec<&str> = t["scope"].as_str().unwrap().split(' ').collect();
    assert!(granted.contains(&OFFLINE), "{granted:?}");
    // Every such consent issues one (no "first offline consent" rule).
    let again = emu.tokens(ALICE, &scope, &[("prompt", "consent")]).await;
    assert!(again["refresh_token"].is_string());
    let (status, r) = emu.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(r["scope"].as_str().unwrap().contains(OFFLINE));

    // Without prompt=consent, offline_access is ignored: not shown, not granted, no refresh token.
    let params = emu.auth_params(&scope, &[]);
    let page = emu.get_auth(&emu.http, &params).await.text().await.unwrap();
    assert!(!page.contains("scope-offline_access"));
    let t = emu.tokens(ALICE, &scope, &[]).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    assert!(!t["scope"].as_str().unwrap().contains(OFFLINE), "{t}");
    // access_type=offline is Google's and means nothing here.
    let t = emu
        .tokens(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline"), ("prompt", "consent")],
        )
        .await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    let t = emu
        .tokens(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "sometimes")],
        )
        .await;
    assert!(
        t.get("refresh_token").is_none(),
        "an unknown parameter is ignored"
    );
    // The user may untick it.
    let params = emu.auth_params(&scope, &[("prompt", "consent")]);
    let res = emu
        .post_consent(&emu.http, &params, ALICE, "allow", &[DRIVE_META])
        .await;
    let q = query(&location(&res));
    assert!(!q["scope"].contains(OFFLINE));
    let (_, t) = emu.exchange(&q["code"]).await;
    assert!(t.get("refresh_token").is_none(), "{t}");

    // Google does not know the scope.
    let google = start().await;
    let res = google
        .get_auth(
            &google.http,
            &google.auth_params(&scope, &[("prompt", "consent")]),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("invalid_scope"));
}

#[tokio::test]
async fn authorization_response_carries_iss() {
    let emu = strict().await;
    let q = emu.sign_in(ALICE, BASIC, &[]).await;
    assert_eq!(q["iss"], emu.url);
    assert!(q.contains_key("code"));
    let params = emu.auth_params(BASIC, &[]);
    let res = emu
        .post_consent(&emu.http, &params, ALICE, "cancel", &[])
        .await;
    let q = query(&location(&res));
    assert_eq!(
        (q["error"].as_str(), q["iss"].as_str()),
        ("access_denied", emu.url.as_str())
    );
    let res = emu
        .get_auth(&emu.http, &emu.auth_params(BASIC, &[("prompt", "none")]))
        .await;
    let q = query(&location(&res));
    assert_eq!(
        (q["error"].as_str(), q["iss"].as_str()),
        ("login_required", emu.url.as_str())
    );
    // Google sends none.
    let google = start().await;
    let q = google.sign_in(ALICE, BASIC, &[]).await;
    assert!(!q.contains_key("iss"), "{q:?}");
}

#[tokio::test]
async fn apis_and_pkce_as_with_google() {
    let emu = strict().await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let q = emu
        .sign_in(
            ALICE,
            &scope_with(&format!("{DRIVE_META} {GMAIL_RO}")),
            &[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let (status, body) = emu.exchange(&q["code"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let q = emu
        .sign_in(
            ALICE,
            &scope_with(&format!("{DRIVE_META} {GMAIL_RO}")),
            &[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let (status, t) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .await;
    assert_eq!(status, 200, "{t}");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=3", at).await.status(),
        200
    );
    assert_eq!(
        emu.api("/gmail/v1/users/me/messages?maxResults=3", at)
            .await
            .status(),
        200
    );
}
