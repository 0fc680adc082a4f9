//! The Google emulator over real HTTP.

#[path = "support/chromium.rs"]
mod chromium;
mod emulator_support;
#[path = "emulator/profile.rs"]
mod profile;
#[path = "emulator/safety.rs"]
mod safety;
#[path = "emulator/state.rs"]
mod state;

use emulator_support::*;
use google_emulator::{client_secret_json, ClientKind, ClientRegistration, Options};
use reqwest::Method;
use serde_json::{json, Value};

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";

fn scope_with(extra: &str) -> String {
    format!("{BASIC} {extra}")
}

// ---------------------------------------------------------------- discovery and keys

#[tokio::test]
async fn discovery_and_jwks() {
    let emu = start().await;
    let d: Value = emu
        .http
        .get(format!("{}/.well-known/openid-configuration", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], emu.url);
    assert_eq!(
        d["authorization_endpoint"],
        format!("{}/o/oauth2/v2/auth", emu.url)
    );
    assert_eq!(d["token_endpoint"], format!("{}/token", emu.url));
    assert_eq!(
        d["userinfo_endpoint"],
        format!("{}/oauth2/v3/userinfo", emu.url)
    );
    assert_eq!(d["revocation_endpoint"], format!("{}/revoke", emu.url));
    assert_eq!(d["jwks_uri"], format!("{}/oauth2/v3/certs", emu.url));
    assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        json!(["plain", "S256"])
    );
    assert!(d["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("refresh_token")));
    let jwks: Value = emu
        .http
        .get(format!("{}/oauth2/v3/certs", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key["kid"].as_str().unwrap().len() >= 16);
    assert!(key["n"].as_str().unwrap().len() > 300, "RSA-2048 modulus");
}

#[tokio::test]
async fn cors_for_javascript_clients() {
    let emu = start().await;
    let res = emu
        .http
        .request(Method::OPTIONS, format!("{}/token", emu.url))
        .header("Origin", "http://127.0.0.1:5173")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://127.0.0.1:5173"
    );
    let res = emu
        .http
        .get(format!("{}/oauth2/v3/certs", emu.url))
        .header("Origin", "http://127.0.0.1:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://127.0.0.1:5173"
    );
    let res = emu
        .http
        .get(emu.auth_url(&emu.auth_params(BASIC, &[])))
        .header("Origin", "http://127.0.0.1:5173")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn issuer_override() {
    let emu = start_with(Options {
        issuer: Some("http://google.emulator.test:1234/".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(emu.url, "http://google.emulator.test:1234");
    let listener_url = emu.emulator.url.clone();
    assert_eq!(listener_url, "http://google.emulator.test:1234");
}

// ---------------------------------------------------------------- authorization errors

async fn auth_page(emu: &Emu, params: &[(String, String)]) -> (u16, String, bool) {
    let res = emu.get_auth(&emu.http, params).await;
    let status = res.status().as_u16();
    let has_location = res.headers().contains_key("location");
    (status, res.text().await.unwrap(), has_location)
}

#[tokio::test]
async fn authorize_error_pages() {
    let emu = start().await;
    let mut p = emu.auth_params(BASIC, &[("client_id", "nobody.apps.googleusercontent.com")]);
    let (status, body, loc) = auth_page(&emu, &p).await;
    assert_eq!((status, loc), (401, false));
    assert!(body.contains("Error 401: invalid_client"), "{body}");

    for bad in [
        "http://127.0.0.1:9999/oauth2callback/",
        "http://127.0.0.1:9998/oauth2callback",
        "https://127.0.0.1:9999/oauth2callback",
        "http://localhost:9999/oauth2callback",
        "http://127.0.0.1:9999/oauth2callbacks",
        "http://evil.example/cb",
    ] {
        p = emu.auth_params(BASIC, &[("redirect_uri", bad)]);
        let (status, body, loc) = auth_page(&emu, &p).await;
        assert_eq!((status, loc), (400, false), "{bad}");
        assert!(
            body.contains("Error 400: redirect_uri_mismatch"),
            "{bad}: {body}"
        );
    }
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (
            emu.auth_params(BASIC, &[("response_type", "token")]),
            "response_type",
        ),
        (emu.auth_params("", &[]), "scope"),
        (
            emu.auth_params(BASIC, &[("prompt", "none consent")]),
            "prompt",
        ),
        (emu.auth_params(BASIC, &[("prompt", "sometimes")]), "prompt"),
        (
            emu.auth_params(BASIC, &[("access_type", "forever")]),
            "access_type",
        ),
        (
            emu.auth_params(
                BASIC,
                &[
                    ("code_challenge", "x".repeat(43).as_str()),
                    ("code_challenge_method", "S512"),
                ],
            ),
            "code_challenge_method",
        ),
        (
            emu.auth_params(BASIC, &[("code_challenge", "short")]),
            "code_challenge",
        ),
        (
            emu.auth_params(BASIC, &[("include_granted_scopes", "maybe")]),
            "include_granted_scopes",
        ),
    ];
    for (params, name) in cases {
        let (status, body, loc) = auth_page(&emu, &params).await;
        assert_eq!((status, loc), (400, false), "{name}");
        assert!(
            body.contains("Error 400: invalid_request"),
            "{name}: {body}"
        );
        assert!(body.contains(name), "{name}: {body}");
    }
    let mut missing = emu.auth_params(BASIC, &[]);
    missing.retain(|(k, _)| k != "response_type");
    let (status, body, _) = auth_page(&emu, &missing).await;
    assert_eq!(status, 400);
    assert!(body.contains("response_type"));
    let (status, body, _) = auth_page(
        &emu,
        &emu.auth_params("openid https://example.com/nope", &[]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("invalid_scope"));
}

#[tokio::test]
async fn consent_page_has_stable_ids_and_escapes() {
    let emu = start().await;
    let params = emu.auth_params(
        &scope_with(&format!("{DRIVE_META} {GMAIL_RO}")),
        &[("state", "<b>&\"x")],
    );
    let (status, body, _) = auth_page(&emu, &params).await;
    assert_eq!(status, 200);
    for id in [
        "account-alice",
        "account-bob",
        "account-admin",
        "scope-drive.metadata.readonly",
        "scope-gmail.readonly",
        "data-testid=\"allow\"",
        "data-testid=\"cancel\"",
    ] {
        assert!(body.contains(id), "{id}");
    }
    assert!(
        !body.contains("scope-userinfo.email"),
        "basic scopes are not checkboxes"
    );
    assert!(body.contains("method=\"post\" action=\"/o/oauth2/v2/auth\""));
    assert!(
        csrf_token(&body).is_some_and(|t| t.len() >= 40),
        "a CSRF token"
    );
    assert!(
        body.contains("value=\"&#60;b&#62;&#38;&#34;x\"")
            || body.contains("value=\"&lt;b&gt;&amp;&quot;x\""),
        "{body}"
    );
    // login_hint preselects the account.
    let params = emu.auth_params(BASIC, &[("login_hint", BOB)]);
    let (_, body, _) = auth_page(&emu, &params).await;
    assert!(
        body.contains(r#"value="bob@example.test" checked"#),
        "{body}"
    );
}

#[tokio::test]
async fn cancel_redirects_with_access_denied() {
    let emu = start().await;
    let params = emu.auth_params(&scope_with(DRIVE_META), &[]);
    let res = emu
        .post_consent(&emu.http, &params, ALICE, "cancel", &[])
        .await;
    assert_eq!(res.status(), 302);
    let loc = location(&res);
    assert!(loc.starts_with(REDIRECT));
    let q = query(&loc);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn allow_redirects_with_code_and_granted_scopes() {
    let emu = start().await;
    let params = emu.auth_params(&scope_with(&format!("{DRIVE_META} {GMAIL_RO}")), &[]);
    let res = emu
        .post_consent(&emu.http, &params, ALICE, "allow", &[DRIVE_META])
        .await;
    assert_eq!(res.status(), 302);
    let q = query(&location(&res));
    assert!(q["code"].starts_with("4/0"));
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["authuser"], "0");
    assert_eq!(q["prompt"], "consent");
    let granted: Vec<&str> = q["scope"].split(' ').collect();
    for s in ["openid", EMAIL, PROFILE, DRIVE_META] {
        assert!(granted.contains(&s), "{s} in {granted:?}");
    }
    assert!(!granted.contains(&GMAIL_RO));
    // The POST re-validates like the GET.
    let bad = emu.auth_params(BASIC, &[("redirect_uri", "http://evil.example/cb")]);
    let res = emu.post_consent(&emu.http, &bad, ALICE, "allow", &[]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("redirect_uri_mismatch"));
    let res = emu
        .post_consent(
            &emu.http,
            &emu.auth_params(BASIC, &[]),
            "nobody@example.test",
            "allow",
            &[],
        )
        .await;
    assert_eq!(res.status(), 400);
}

// ---------------------------------------------------------------- tokens

#[tokio::test]
async fn token_response_and_id_token() {
    let emu = start().await;
    let q = emu
        .sign_in(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline"), ("nonce", "n-0S6")],
        )
        .await;
    let (status, t) = emu.exchange(&q["code"]).await;
    assert_eq!(status, 200, "{t}");
    assert!(t["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(t["refresh_token"].as_str().unwrap().starts_with("1//"));
    assert_eq!(t["expires_in"], 3599);
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["scope"].as_str().unwrap().contains(DRIVE_META));
    let id = t["id_token"].as_str().unwrap();
    assert!(verify_rs256(&emu, id).await);
    let (h, c) = jwt_parts(id);
    assert_eq!(h["alg"], "RS256");
    assert_eq!(c["iss"], emu.url);
    assert_eq!(c["aud"], CLIENT_ID);
    assert_eq!(c["azp"], CLIENT_ID);
    assert_eq!(c["sub"], "100000000000000000001");
    assert_eq!(c["email"], ALICE);
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["name"], "Alice Example");
    assert_eq!(c["nonce"], "n-0S6");
    assert!(c["picture"].is_string());
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    let at = t["access_token"].as_str().unwrap();
    use sha2::Digest;
    let digest = sha2::Sha256::digest(at.as_bytes());
    use base64::Engine;
    assert_eq!(
        c["at_hash"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    );
    // Without openid: no id_token.
    let t = emu.tokens(BOB, DRIVE_META, &[]).await;
    assert!(t.get("id_token").is_none());
    assert!(
        t.get("refresh_token").is_none(),
        "online access: no refresh token"
    );
}

#[tokio::test]
async fn refresh_token_only_on_first_consent_or_prompt_consent() {
    let emu = start().await;
    let scope = scope_with(DRIVE_META);
    let first = emu
        .tokens(ALICE, &scope, &[("access_type", "offline")])
        .await;
    assert!(first["refresh_token"].is_string());
    // Consent covers it now: with login_hint, the GET redirects at once, without a refresh token.
    let params = emu.auth_params(&scope, &[("access_type", "offline"), ("login_hint", ALICE)]);
    let res = emu.get_auth(&emu.http, &params).await;
    assert_eq!(res.status(), 302);
    let q = query(&location(&res));
    assert_eq!(q["prompt"], "none");
    let (_, second) = emu.exchange(&q["code"]).await;
    assert!(second["access_token"].is_string());
    assert!(second.get("refresh_token").is_none(), "{second}");
    // Consent screen again through the form: still no refresh token.
    let again = emu
        .tokens(ALICE, &scope, &[("access_type", "offline")])
        .await;
    assert!(again.get("refresh_token").is_none());
    // prompt=consent shows the screen and issues a new one.
    let params = emu.auth_params(
        &scope,
        &[
            ("access_type", "offline"),
            ("login_hint", ALICE),
            ("prompt", "consent"),
        ],
    );
    let res = emu.get_auth(&emu.http, &params).await;
    assert_eq!(res.status(), 200, "prompt=consent shows the screen");
    let forced = emu
        .tokens(
            ALICE,
            &scope,
            &[("access_type", "offline"), ("prompt", "consent")],
        )
        .await;
    assert!(forced["refresh_token"].is_string());
    // The first refresh token still works.
    let (status, _) = emu.refresh(first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn code_is_single_use_and_reuse_revokes() {
    let emu = start().await;
    let q = emu
        .sign_in(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline")],
        )
        .await;
    let (status, t) = emu.exchange(&q["code"]).await;
    assert_eq!(status, 200);
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let (_, refreshed) = emu.refresh(rt).await;
    let at2 = refreshed["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", at).await.status(),
        200
    );
    let (status, body) = emu.exchange(&q["code"]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", at).await.status(),
        401
    );
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", &at2).await.status(),
        401
    );
    let (status, body) = emu.refresh(rt).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
}

#[tokio::test]
async fn code_expires() {
    let emu = start_with(Options {
        code_ttl: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    })
    .await;
    let q = emu.sign_in(ALICE, BASIC, &[]).await;
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    let (status, body) = emu.exchange(&q["code"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn code_bound_to_client_and_redirect_uri() {
    let emu = start().await;
    emu.emulator.register_client(ClientRegistration {
        client_id: "other.apps.googleusercontent.com".into(),
        client_secret: "other-secret".into(),
        kind: ClientKind::Web,
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1:9999/other".into()],
    });
    let q = emu.sign_in(ALICE, BASIC, &[]).await;
    let (status, body) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", "other.apps.googleusercontent.com"),
            ("client_secret", "other-secret"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let q = emu.sign_in(ALICE, BASIC, &[]).await;
    let (status, body) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", "http://127.0.0.1:9999/other"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("redirect_uri_mismatch"))
    );
    let (status, body) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "4/0nonsense"),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn pkce_is_checked() {
    use base64::Engine;
    use sha2::Digest;
    let emu = start().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let base = [
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    for (v, ok) in [
        (None, false),
        (Some("wrong-verifier-wrong-verifier-wrong-verifier"), false),
        (Some(verifier), true),
    ] {
        let q = emu.sign_in(ALICE, BASIC, &pkce).await;
        let mut form: Vec<(&str, &str)> = base.to_vec();
        form.push(("code", &q["code"]));
        if let Some(v) = v {
            form.push(("code_verifier", v));
        }
        let (status, body) = emu.token(&form).await;
        if ok {
            assert_eq!(status, 200, "{body}");
        } else {
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant")),
                "{v:?}"
            );
        }
    }
    let plain = "plain-verifier-plain-verifier-plain-verifier-123";
    let q = emu
        .sign_in(
            ALICE,
            BASIC,
            &[
                ("code_challenge", plain),
                ("code_challenge_method", "plain"),
            ],
        )
        .await;
    let mut form: Vec<(&str, &str)> = base.to_vec();
    form.push(("code", &q["code"]));
    form.push(("code_verifier", plain));
    assert_eq!(emu.token(&form).await.0, 200);
}

#[tokio::test]
async fn client_authentication_and_grant_errors() {
    let emu = start().await;
    let q = emu.sign_in(ALICE, BASIC, &[]).await;
    // HTTP Basic works.
    let res = emu
        .http
        .post(format!("{}/token", emu.url))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Both at once.
    let q = emu.sign_in(ALICE, BASIC, &[]).await;
    let res = emu
        .http
        .post(format!("{}/token", emu.url))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let (status, body) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = emu
        .token(&[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = emu
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = emu
        .token(&[("grant_type", "authorization_code"), ("code", "x")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn basic_auth_raw_and_form_encoded() {
    let emu = start().await;
    emu.emulator.register_client(ClientRegistration {
        client_id: "plus.apps.googleusercontent.com".into(),
        client_secret: "a+b/c=%".into(),
        kind: ClientKind::Web,
        redirect_uris: vec![REDIRECT.into()],
    });
    for secret in ["a+b/c=%", "a%2Bb%2Fc%3D%25"] {
        let params = vec![
            (
                "client_id".to_string(),
                "plus.apps.googleusercontent.com".to_string(),
            ),
            ("redirect_uri".into(), REDIRECT.into()),
            ("response_type".into(), "code".into()),
            ("scope".into(), "openid".into()),
        ];
        let res = emu
            .post_consent(&emu.http, &params, ALICE, "allow", &[])
            .await;
        let code = query(&location(&res))["code"].clone();
        let res = emu
            .http
            .post(format!("{}/token", emu.url))
            .basic_auth("plus.apps.googleusercontent.com", Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{secret}");
    }
}

#[tokio::test]
async fn refresh_grant() {
    let emu = start().await;
    let t = emu
        .tokens(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline"), ("nonce", "abc")],
        )
        .await;
    let (status, r) = emu.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{r}");
    assert_ne!(r["access_token"], t["access_token"]);
    assert!(r.get("refresh_token").is_none());
    assert_eq!(r["scope"], t["scope"]);
    assert_eq!(r["expires_in"], 3599);
    let (_, c) = jwt_parts(r["id_token"].as_str().unwrap());
    assert!(c.get("nonce").is_none());
    assert_eq!(c["sub"], "100000000000000000001");
    assert_eq!(
        emu.api(
            "/drive/v3/files?pageSize=1",
            r["access_token"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
    let (status, body) = emu.refresh("1//0unknown").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
}

// ---------------------------------------------------------------- revoke and userinfo

#[tokio::test]
async fn revoke_by_access_and_by_refresh_token() {
    let emu = start().await;
    let scope = scope_with(DRIVE_META);
    for by_refresh in [false, true] {
        let t = emu
            .tokens(
                ALICE,
                &scope,
                &[("access_type", "offline"), ("prompt", "consent")],
            )
            .await;
        let at = t["access_token"].as_str().unwrap();
        let rt = t["refresh_token"].as_str().unwrap();
        let res = if by_refresh {
            emu.http
                .post(format!("{}/revoke", emu.url))
                .form(&[("token", rt)])
                .send()
                .await
                .unwrap()
        } else {
            emu.http
                .post(format!("{}/revoke?token={}", emu.url, urlencode(at)))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send()
                .await
                .unwrap()
        };
        assert_eq!(res.status(), 200);
        assert_eq!(emu.api("/drive/v3/files", at).await.status(), 401);
        assert_eq!(emu.refresh(rt).await.1["error"], "invalid_grant");
        // Consent is forgotten: a silent attempt needs consent again.
        let p = emu.auth_params(&scope, &[("login_hint", ALICE), ("prompt", "none")]);
        let q = query(&location(&emu.get_auth(&emu.http, &p).await));
        assert_eq!(q["error"], "consent_required");
    }
    let res = emu
        .http
        .post(format!("{}/revoke", emu.url))
        .form(&[("token", "ya29.unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_token");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn userinfo_claims_and_errors() {
    let emu = start().await;
    let t = emu.tokens(ALICE, BASIC, &[]).await;
    let res = emu
        .api("/oauth2/v3/userinfo", t["access_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 200);
    let u: Value = res.json().await.unwrap();
    assert_eq!(u["sub"], "100000000000000000001");
    assert_eq!(u["email"], ALICE);
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["name"], "Alice Example");
    assert_eq!(u["given_name"], "Alice");
    assert_eq!(u["family_name"], "Example");
    assert!(u["picture"].as_str().unwrap().starts_with("https://"));
    let res = emu
        .http
        .get(format!("{}/oauth2/v3/userinfo", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(
        emu.api("/oauth2/v3/userinfo", "ya29.bogus").await.status(),
        401
    );
}

// ---------------------------------------------------------------- prompt, cookie, incremental

#[tokio::test]
async fn prompt_none_and_account_memory() {
    let emu = start().await;
    let browser = http_client(true);
    let scope = scope_with(DRIVE_META);
    let p = emu.auth_params(&scope, &[("prompt", "none")]);
    let q = query(&location(&emu.get_auth(&browser, &p).await));
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-123");
    let p = emu.auth_params(&scope, &[("prompt", "none"), ("login_hint", ALICE)]);
    let q = query(&location(&emu.get_auth(&browser, &p).await));
    assert_eq!(q["error"], "consent_required");
    // Consent in this browser sets the account cookie.
    let params = emu.auth_params(&scope, &[]);
    let res = emu
        .post_consent(&browser, &params, ALICE, "allow", &[DRIVE_META])
        .await;
    assert_eq!(res.status(), 302);
    assert!(res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("GEMU_ACCOUNTS=")));
    // Now a plain GET redirects at once, and prompt=none succeeds.
    let res = emu.get_auth(&browser, &emu.auth_params(&scope, &[])).await;
    assert_eq!(res.status(), 302);
    assert!(query(&location(&res)).contains_key("code"));
    let q = query(&location(
        &emu.get_auth(&browser, &emu.auth_params(&scope, &[("prompt", "none")]))
            .await,
    ));
    assert!(q.contains_key("code"), "{q:?}");
    // select_account always shows the chooser; prompt=consent always shows consent.
    assert_eq!(
        emu.get_auth(
            &browser,
            &emu.auth_params(&scope, &[("prompt", "select_account")])
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.get_auth(&browser, &emu.auth_params(&scope, &[("prompt", "consent")]))
            .await
            .status(),
        200
    );
    // A new scope needs consent.
    let more = scope_with(&format!("{DRIVE_META} {GMAIL_RO}"));
    assert_eq!(
        emu.get_auth(&browser, &emu.auth_params(&more, &[]))
            .await
            .status(),
        200
    );
    // A login_hint for an unknown account is not replaced by the remembered one.
    let p = emu.auth_params(
        &scope,
        &[("prompt", "none"), ("login_hint", "ghost@example.test")],
    );
    let q = query(&location(&emu.get_auth(&browser, &p).await));
    assert_eq!(q["error"], "login_required");
    // A different browser (no cookie) sees the chooser.
    assert_eq!(
        emu.get_auth(&emu.http, &emu.auth_params(&scope, &[]))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn include_granted_scopes_unions_previous_grants() {
    let emu = start().await;
    emu.tokens(ALICE, &scope_with(DRIVE_META), &[]).await;
    let q = emu
        .sign_in(
            ALICE,
            &scope_with(GMAIL_RO),
            &[("include_granted_scopes", "true")],
        )
        .await;
    assert!(
        q["scope"].contains(DRIVE_META) && q["scope"].contains(GMAIL_RO),
        "{}",
        q["scope"]
    );
    let (_, t) = emu.exchange(&q["code"]).await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", at).await.status(),
        200
    );
    assert_eq!(
        emu.api("/gmail/v1/users/me/messages?maxResults=1", at)
            .await
            .status(),
        200
    );
    let q = emu.sign_in(ALICE, &scope_with(GMAIL_RO), &[]).await;
    assert!(!q["scope"].contains(DRIVE_META));
}

#[tokio::test]
async fn incremental_authorization_widens_the_refresh_token() {
    let emu = start().await;
    let first = emu
        .tokens(BOB, &scope_with(DRIVE_META), &[("access_type", "offline")])
        .await;
    let rt = first["refresh_token"].as_str().unwrap();
    let more = emu
        .tokens(
            BOB,
            &scope_with(GMAIL_RO),
            &[
                ("access_type", "offline"),
                ("include_granted_scopes", "true"),
            ],
        )
        .await;
    assert!(more.get("refresh_token").is_none(), "not the first consent");
    let (_, r) = emu.refresh(rt).await;
    let scope = r["scope"].as_str().unwrap();
    assert!(
        scope.contains(DRIVE_META) && scope.contains(GMAIL_RO),
        "{scope}"
    );
    assert_eq!(
        emu.api(
            "/gmail/v1/users/me/messages",
            r["access_token"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
}

// ---------------------------------------------------------------- Drive

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn drive_walks_every_page_exactly_once() {
    let emu = start().await;
    let t = emu.tokens(ALICE, &scope_with(DRIVE_META), &[]).await;
    let at = t["access_token"].as_str().unwrap();
    for order in ["", "&orderBy=name", "&orderBy=modifiedTime%20desc"] {
        let mut seen = std::collections::HashSet::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/drive/v3/files?pageSize=100&fields=nextPageToken,files(id,name,modifiedTime){order}");
            if let Some(t) = &token {
                path.push_str(&format!("&pageToken={}", urlencode(t)));
            }
            let (status, body) = json_of(emu.api(&path, at).await).await;
            assert_eq!(status, 200, "{body}");
            pages += 1;
            for f in body["files"].as_array().unwrap() {
                assert_eq!(f.as_object().unwrap().len(), 3, "fields selection: {f}");
                assert!(
                    seen.insert(f["id"].as_str().unwrap().to_string()),
                    "duplicate {f}"
                );
            }
            match body.get("nextPageToken") {
                Some(t) => token = Some(t.as_str().unwrap().to_string()),
                None => break,
            }
        }
        assert!(seen.len() >= 250, "{}", seen.len());
        assert_eq!(pages, seen.len().div_ceil(100));
    }
}

#[tokio::test]
async fn drive_order_fields_and_page_size() {
    let emu = start().await;
    let t = emu.tokens(ALICE, &scope_with(DRIVE_META), &[]).await;
    let at = t["access_token"].as_str().unwrap();
    let special = "\"Q3\" <b>report</b> & café.txt";
    let (_, by_name) = json_of(emu.api("/drive/v3/files?orderBy=name&pageSize=5", at).await).await;
    assert_eq!(by_name["files"][0]["name"], special);
    let (_, recent) = json_of(emu.api("/drive/v3/files?orderBy=modifiedTime%20desc&pageSize=5&fields=files(name,modifiedTime)", at).await).await;
    assert_eq!(recent["files"][0]["name"], special);
    let (_, oldest) = json_of(
        emu.api(
            "/drive/v3/files?orderBy=modifiedTime&pageSize=1&fields=files(name)",
            at,
        )
        .await,
    )
    .await;
    assert_ne!(oldest["files"][0]["name"], special);
    let (status, body) = json_of(emu.api("/drive/v3/files", at).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["kind"], "drive#fileList");
    assert_eq!(body["incompleteSearch"], false);
    assert_eq!(body["files"].as_array().unwrap().len(), 100);
    assert!(body["nextPageToken"].is_string());
    assert_eq!(body["files"][0]["kind"], "drive#file");
    assert!(body["files"][0]["mimeType"].is_string());
    let (_, one) = json_of(
        emu.api("/drive/v3/files?pageSize=1000&fields=files/id", at)
            .await,
    )
    .await;
    assert!(one.get("nextPageToken").is_none());
    assert!(one["files"].as_array().unwrap().len() >= 250);
    for bad in [
        "pageSize=0",
        "pageSize=1001",
        "pageSize=abc",
        "pageToken=garbage!",
        "orderBy=size",
        "fields=files(nope)",
    ] {
        let (status, body) = json_of(emu.api(&format!("/drive/v3/files?{bad}"), at).await).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"]["code"], 400, "{bad}");
        assert!(body["error"]["errors"][0]["reason"].is_string());
    }
    let id = body["files"][0]["id"].as_str().unwrap();
    let (status, f) = json_of(
        emu.api(&format!("/drive/v3/files/{id}?fields=id,name,size"), at)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(f["id"], id);
    assert_eq!(
        json_of(emu.api("/drive/v3/files/nope", at).await).await.0,
        404
    );
    // Bob and admin.
    let t = emu.tokens(BOB, &scope_with(DRIVE_META), &[]).await;
    let (_, b) = json_of(
        emu.api("/drive/v3/files", t["access_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(b["files"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn drive_scope_and_token_errors() {
    let emu = start().await;
    let t = emu.tokens(ALICE, BASIC, &[]).await;
    let res = emu
        .api("/drive/v3/files", t["access_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 403);
    let www = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        www.starts_with(
            "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\", scope=\""
        ),
        "{www}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Request had insufficient authentication scopes."
    );
    assert_eq!(
        body["error"]["errors"][0]["reason"],
        "insufficientPermissions"
    );
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    // Missing, bad, expired tokens.
    let expected_www = "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"";
    let no_token = emu
        .http
        .get(format!("{}/drive/v3/files", emu.url))
        .send()
        .await
        .unwrap();
    let t = emu.tokens(ALICE, &scope_with(DRIVE_META), &[]).await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        emu.post_control(&format!("/accounts/{ALICE}/expire-tokens"), json!({}))
            .await
            .0,
        200
    );
    for res in [
        no_token,
        emu.api("/drive/v3/files", "ya29.bogus").await,
        emu.api("/drive/v3/files", at).await,
    ] {
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["www-authenticate"], expected_www);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["errors"][0]["reason"], "authError");
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(body["error"]["errors"][0]["location"], "Authorization");
    }
}

// ---------------------------------------------------------------- Gmail

#[tokio::test]
async fn gmail_list_get_and_scopes() {
    let emu = start().await;
    let t = emu.tokens(ALICE, &scope_with(GMAIL_RO), &[]).await;
    let at = t["access_token"].as_str().unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = "/gmail/v1/users/me/messages?maxResults=50".to_string();
        if let Some(t) = &token {
            path.push_str(&format!("&pageToken={}", urlencode(t)));
        }
        let (status, body) = json_of(emu.api(&path, at).await).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["resultSizeEstimate"].as_u64().unwrap() >= 120);
        for m in body["messages"].as_array().unwrap() {
            assert!(m["threadId"].is_string());
            assert!(seen.insert(m["id"].as_str().unwrap().to_string()));
        }
        match body.get("nextPageToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert!(seen.len() >= 120);
    let (_, first) = json_of(emu.api("/gmail/v1/users/me/messages", at).await).await;
    assert_eq!(first["messages"].as_array().unwrap().len(), 100);
    let id = first["messages"][0]["id"].as_str().unwrap();
    let (status, m) = json_of(emu.api(&format!("/gmail/v1/users/me/messages/{id}?format=metadata&metadataHeaders=Subject&metadataHeaders=From"), at).await).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["id"], id);
    assert!(m["labelIds"].is_array() && m["snippet"].is_string() && m["internalDate"].is_string());
    let headers = m["payload"]["headers"].as_array().unwrap();
    assert_eq!(headers.len(), 2, "{headers:?}");
    assert!(headers.iter().any(|h| h["name"] == "Subject"));
    for bad in ["maxResults=0", "pageToken=zz!"] {
        assert_eq!(
            json_of(
                emu.api(&format!("/gmail/v1/users/me/messages?{bad}"), at)
                    .await
            )
            .await
            .0,
            400,
            "{bad}"
        );
    }
    let (_, sent) = json_of(
        emu.api("/gmail/v1/users/me/messages?labelIds=SENT", at)
            .await,
    )
    .await;
    assert_eq!(sent["resultSizeEstimate"], 13);
    let (_, q) = json_of(
        emu.api("/gmail/v1/users/me/messages?q=is%3Aunread", at)
            .await,
    )
    .await;
    assert!(q["resultSizeEstimate"].as_u64().unwrap() > 0);
    assert_eq!(
        json_of(emu.api("/gmail/v1/users/me/messages/ffff", at).await)
            .await
            .0,
        404
    );
    // Metadata scope: no q, no full format.
    let t = emu.tokens(ALICE, &scope_with(GMAIL_META), &[]).await;
    let meta = t["access_token"].as_str().unwrap();
    assert_eq!(
        emu.api("/gmail/v1/users/me/messages", meta).await.status(),
        200
    );
    assert_eq!(
        emu.api("/gmail/v1/users/me/messages?q=hello", meta)
            .await
            .status(),
        403
    );
    assert_eq!(
        emu.api(
            &format!("/gmail/v1/users/me/messages/{id}?format=metadata"),
            meta
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.api(
            &format!("/gmail/v1/users/me/messages/{id}?format=full"),
            meta
        )
        .await
        .status(),
        403
    );
    // Drive scope only: Gmail refuses.
    let t = emu.tokens(ALICE, &scope_with(DRIVE_META), &[]).await;
    let res = emu
        .api(
            "/gmail/v1/users/me/messages",
            t["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
}

// ---------------------------------------------------------------- controls

#[tokio::test]
async fn controls_add_accounts_clients_files_messages_and_reset() {
    let emu = start().await;
    let (status, body) = emu
        .post_control(
            "/accounts",
            json!({"email": "carol@example.test", "name": "Carol Café"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["email"], "carol@example.test");
    assert!(body["sub"]
        .as_str()
        .unwrap()
        .chars()
        .all(|c| c.is_ascii_digit()));
    let (status, _) = emu.post_control("/clients", json!({"client_id": "ctl.apps.googleusercontent.com", "client_secret": "s", "kind": "web", "redirect_uris": ["http://127.0.0.1:7/cb"]})).await;
    assert_eq!(status, 201);
    let (status, files) = emu.post_control("/accounts/carol@example.test/files", json!({"files": [{"name": "a.txt"}, {"name": "b", "mimeType": "application/vnd.google-apps.document", "modifiedTime": "2024-05-01T10:00:00Z"}]})).await;
    assert_eq!(status, 201, "{files}");
    let (status, _) = emu
        .post_control(
            "/accounts/carol@example.test/messages",
            json!({"messages": [{"subject": "Hi <there>", "labelIds": ["INBOX"]}]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        emu.post_control("/accounts/nobody@example.test/files", json!({"files": []}))
            .await
            .0,
        404
    );
    // The control-added client works for carol.
    let params = vec![
        (
            "client_id".to_string(),
            "ctl.apps.googleusercontent.com".to_string(),
        ),
        ("redirect_uri".into(), "http://127.0.0.1:7/cb".into()),
        ("response_type".into(), "code".into()),
        ("scope".into(), format!("{BASIC} {DRIVE_META} {GMAIL_RO}")),
    ];
    let res = emu
        .post_consent(
            &emu.http,
            &params,
            "carol@example.test",
            "allow",
            &[DRIVE_META, GMAIL_RO],
        )
        .await;
    let code = query(&location(&res))["code"].clone();
    let (status, t) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:7/cb"),
            ("client_id", "ctl.apps.googleusercontent.com"),
            ("client_secret", "s"),
        ])
        .await;
    assert_eq!(status, 200, "{t}");
    let at = t["access_token"].as_str().unwrap();
    let (_, f) = json_of(emu.api("/drive/v3/files", at).await).await;
    assert_eq!(f["files"].as_array().unwrap().len(), 2);
    let (_, m) = json_of(emu.api("/gmail/v1/users/me/messages", at).await).await;
    assert_eq!(m["resultSizeEstimate"], 1);
    // Reset: back to the seed; carol and the control client are gone, register_client survives.
    assert_eq!(emu.post_control("/reset", json!({})).await.0, 200);
    assert_eq!(emu.api("/drive/v3/files", at).await.status(), 401);
    assert_eq!(
        emu.post_control("/accounts/carol@example.test/files", json!({"files": []}))
            .await
            .0,
        404
    );
    let res = emu.get_auth(&emu.http, &params).await;
    assert_eq!(res.status(), 401);
    let t = emu.tokens(ALICE, BASIC, &[]).await;
    assert!(t["access_token"].is_string());
}

#[tokio::test]
async fn control_revoke_as_the_user_would() {
    let emu = start().await;
    let scope = scope_with(DRIVE_META);
    let t = emu
        .tokens(ALICE, &scope, &[("access_type", "offline")])
        .await;
    let (status, body) = emu
        .post_control(
            &format!("/accounts/{ALICE}/revoke"),
            json!({"client_id": CLIENT_ID}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        emu.api("/drive/v3/files", t["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(
        emu.refresh(t["refresh_token"].as_str().unwrap()).await.1["error"],
        "invalid_grant"
    );
    let p = emu.auth_params(&scope, &[("login_hint", ALICE), ("access_type", "offline")]);
    assert_eq!(
        emu.get_auth(&emu.http, &p).await.status(),
        200,
        "consent is shown again"
    );
    let again = emu
        .tokens(ALICE, &scope, &[("access_type", "offline")])
        .await;
    assert!(
        again["refresh_token"].is_string(),
        "a refresh token again after revocation"
    );
    // Without client_id: every grant of the account.
    let (status, _) = emu
        .post_control(&format!("/accounts/{ALICE}/revoke"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        emu.refresh(again["refresh_token"].as_str().unwrap())
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn control_expire_tokens_keeps_refresh_tokens() {
    let emu = start().await;
    let t = emu
        .tokens(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline")],
        )
        .await;
    let (status, body) = emu
        .post_control(&format!("/accounts/{ALICE}/expire-tokens"), json!({}))
        .await;
    assert_eq!((status, body["expired"].as_u64()), (200, Some(1)));
    assert_eq!(
        emu.api("/drive/v3/files", t["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    let (status, r) = emu.refresh(t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        emu.api("/drive/v3/files", r["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn control_mobile_sign_in() {
    let emu = start().await;
    emu.emulator.register_client(ClientRegistration {
        client_id: "droid.apps.googleusercontent.com".into(),
        client_secret: String::new(),
        kind: ClientKind::Android,
        redirect_uris: vec![],
    });
    let body = json!({"account": ALICE, "client_id": "droid.apps.googleusercontent.com", "server_client_id": CLIENT_ID, "scopes": [DRIVE_META]});
    let (status, m) = emu.post_control("/mobile-sign-in", body.clone()).await;
    assert_eq!(status, 200, "{m}");
    let (_, claims) = jwt_parts(m["id_token"].as_str().unwrap());
    assert!(verify_rs256(&emu, m["id_token"].as_str().unwrap()).await);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["azp"], "droid.apps.googleusercontent.com");
    assert_eq!(claims["email"], ALICE);
    let code = m["server_auth_code"].as_str().unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", ""),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let (status, t) = emu.token(&form).await;
    assert_eq!(status, 200, "{t}");
    assert!(
        t["refresh_token"].is_string(),
        "first consent for the server client"
    );
    assert_eq!(
        jwt_parts(t["id_token"].as_str().unwrap()).1["azp"],
        "droid.apps.googleusercontent.com"
    );
    assert_eq!(
        emu.api(
            "/drive/v3/files?pageSize=1",
            t["access_token"].as_str().unwrap()
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        emu.token(&form).await.1["error"],
        "invalid_grant",
        "single use"
    );
    let (_, m2) = emu.post_control("/mobile-sign-in", body).await;
    let form2 = [
        ("grant_type", "authorization_code"),
        ("code", m2["server_auth_code"].as_str().unwrap()),
        ("redirect_uri", ""),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let (status, t2) = emu.token(&form2).await;
    assert_eq!(status, 200);
    assert!(
        t2.get("refresh_token").is_none(),
        "not the first consent any more"
    );
    let (status, _) = emu
        .post_control(
            "/mobile-sign-in",
            json!({"account": ALICE, "client_id": CLIENT_ID, "server_client_id": CLIENT_ID}),
        )
        .await;
    assert_eq!(status, 400, "client_id must be a mobile client");
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn endpoint_faults() {
    let emu = start().await;
    let t = emu
        .tokens(
            ALICE,
            &scope_with(&format!("{DRIVE_META} {GMAIL_RO}")),
            &[("access_type", "offline")],
        )
        .await;
    let at = t["access_token"].as_str().unwrap().to_string();
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let (status, _) = emu
        .post_control(
            "/faults",
            json!({"endpoint": "token", "count": 2, "status": 503}),
        )
        .await;
    assert_eq!(status, 201);
    for _ in 0..2 {
        let (status, body) = emu.refresh(&rt).await;
        assert_eq!(status, 503);
        assert!(body["error"].is_string());
    }
    assert_eq!(emu.refresh(&rt).await.0, 200, "only the next N calls fail");
    emu.post_control(
        "/faults",
        json!({"endpoint": "drive", "count": 1, "status": 429}),
    )
    .await;
    let (status, body) = json_of(emu.api("/drive/v3/files", &at).await).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["errors"][0]["reason"], "rateLimitExceeded");
    emu.post_control(
        "/faults",
        json!({"endpoint": "gmail", "count": 1, "status": 500}),
    )
    .await;
    let (status, body) = json_of(emu.api("/gmail/v1/users/me/messages", &at).await).await;
    assert_eq!((status, body["error"]["code"].as_u64()), (500, Some(500)));
    emu.post_control(
        "/faults",
        json!({"endpoint": "userinfo", "count": 1, "status": 500}),
    )
    .await;
    assert_eq!(emu.api("/oauth2/v3/userinfo", &at).await.status(), 500);
    for (ep, path) in [
        ("certs", "/oauth2/v3/certs"),
        ("discovery", "/.well-known/openid-configuration"),
    ] {
        emu.post_control(
            "/faults",
            json!({"endpoint": ep, "count": 1, "status": 502}),
        )
        .await;
        assert_eq!(
            emu.http
                .get(format!("{}{path}", emu.url))
                .send()
                .await
                .unwrap()
                .status(),
            502,
            "{ep}"
        );
        assert_eq!(
            emu.http
                .get(format!("{}{path}", emu.url))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{ep}"
        );
    }
    emu.post_control(
        "/faults",
        json!({"endpoint": "authorize", "count": 1, "status": 500}),
    )
    .await;
    assert_eq!(
        emu.get_auth(&emu.http, &emu.auth_params(BASIC, &[]))
            .await
            .status(),
        500
    );
    emu.post_control(
        "/faults",
        json!({"endpoint": "revoke", "count": 1, "status": 503}),
    )
    .await;
    let res = emu
        .http
        .post(format!("{}/revoke", emu.url))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    // Delay.
    emu.post_control(
        "/faults",
        json!({"endpoint": "drive", "count": 1, "delay_ms": 300}),
    )
    .await;
    let started = std::time::Instant::now();
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", &at).await.status(),
        200
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    // Clear.
    emu.post_control(
        "/faults",
        json!({"endpoint": "drive", "count": 5, "status": 500}),
    )
    .await;
    assert_eq!(
        emu.control(reqwest::Method::DELETE, "/faults", None)
            .await
            .0,
        204
    );
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", &at).await.status(),
        200
    );
    assert_eq!(
        emu.post_control(
            "/faults",
            json!({"endpoint": "nope", "count": 1, "status": 500})
        )
        .await
        .0,
        400
    );
}

/// A Google project where the API is disabled, and an API that is not there: Google's bodies.
#[tokio::test]
async fn api_not_enabled_and_not_found_faults() {
    let emu = start().await;
    let t = emu
        .tokens(ALICE, &scope_with(&format!("{DRIVE_META} {GMAIL_RO}")), &[])
        .await;
    let at = t["access_token"].as_str().unwrap();
    for (endpoint, path, service, title) in [
        (
            "drive",
            "/drive/v3/files",
            "drive.googleapis.com",
            "Google Drive API",
        ),
        (
            "gmail",
            "/gmail/v1/users/me/messages",
            "gmail.googleapis.com",
            "Gmail API",
        ),
    ] {
        let (status, _) = emu
            .post_control(
                "/faults",
                json!({"endpoint": endpoint, "count": 1, "status": 403, "reason": "accessNotConfigured"}),
            )
            .await;
        assert_eq!(status, 201);
        let (status, body) = json_of(emu.api(path, at).await).await;
        assert_eq!(status, 403, "{endpoint}");
        let e = &body["error"];
        assert_eq!(e["code"], 403);
        assert_eq!(e["status"], "PERMISSION_DENIED");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "{title} has not been used in project 000000000000 before or it is disabled. \
                 Enable it by visiting https://console.developers.google.com/apis/api/{service}/overview?project=000000000000"
            )),
            "{message}"
        );
        assert_eq!(e["errors"][0]["reason"], "accessNotConfigured");
        assert_eq!(e["errors"][0]["domain"], "usageLimits");
        assert_eq!(e["errors"][0]["message"], message);
        assert_eq!(e["details"][0]["reason"], "SERVICE_DISABLED");
        assert_eq!(e["details"][0]["metadata"]["service"], service);
        assert_eq!(emu.api(path, at).await.status(), 200, "count 1");

        // The reason implies its status.
        emu.post_control(
            "/faults",
            json!({"endpoint": endpoint, "reason": "accessNotConfigured"}),
        )
        .await;
        assert_eq!(emu.api(path, at).await.status(), 403);

        emu.post_control(
            "/faults",
            json!({"endpoint": endpoint, "count": 1, "status": 404}),
        )
        .await;
        let (status, body) = json_of(emu.api(path, at).await).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}],
                "status": "NOT_FOUND"
            }})
        );
    }
    for bad in [
        json!({"endpoint": "token", "status": 403, "reason": "accessNotConfigured"}),
        json!({"endpoint": "drive", "status": 500, "reason": "accessNotConfigured"}),
        json!({"endpoint": "drive", "status": 403, "reason": "somethingElse"}),
    ] {
        assert_eq!(
            emu.post_control("/faults", bad.clone()).await.0,
            400,
            "{bad}"
        );
    }
}

/// The JWKS key as SubjectPublicKeyInfo PEM (LF): what an app that fetched the key might hold.
async fn jwks_public_pem(emu: &Emu) -> String {
    use base64::Engine;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let jwks: Value = emu
        .http
        .get(format!("{}/oauth2/v3/certs", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b64 = |k: &str| {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwks["keys"][0][k].as_str().unwrap())
            .unwrap();
        rsa::BigUint::from_bytes_be(&raw)
    };
    rsa::RsaPublicKey::new(b64("n"), b64("e"))
        .unwrap()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

#[tokio::test]
async fn id_token_faults() {
    use hkdf::hmac::{Hmac, Mac};
    let emu = start().await;
    let now = chrono::Utc::now().timestamp();
    for kind in [
        "bad_signature",
        "alg_none",
        "wrong_iss",
        "wrong_aud",
        "expired",
        "unknown_kid",
        "hs256_public_key",
        "iat_future",
        "nonce_mismatch",
        "missing_sub",
        "azp_foreign",
    ] {
        let (status, _) = emu
            .post_control("/faults", json!({"id_token": kind, "count": 1}))
            .await;
        assert_eq!(status, 201);
        let t = emu.tokens(ALICE, BASIC, &[("nonce", "n-1")]).await;
        let jwt = t["id_token"].as_str().unwrap();
        let (h, c) = jwt_parts(jwt);
        let valid_sig = verify_rs256(&emu, jwt).await;
        match kind {
            "bad_signature" => assert!(!valid_sig),
            "alg_none" => {
                assert_eq!(h["alg"], "none");
                assert!(jwt.ends_with('.'));
            }
            "wrong_iss" => {
                assert!(valid_sig);
                assert_ne!(c["iss"], emu.url);
            }
            "wrong_aud" => {
                assert!(valid_sig);
                assert_ne!(c["aud"], CLIENT_ID);
            }
            "expired" => {
                assert!(valid_sig);
                assert!(c["exp"].as_i64().unwrap() < chrono::Utc::now().timestamp());
            }
            "unknown_kid" => assert!(!valid_sig, "kid not in JWKS"),
            "hs256_public_key" => {
                assert_eq!(h["alg"], "HS256");
                assert!(!valid_sig);
                let (input, sig) = jwt.rsplit_once('.').unwrap();
                let pem = jwks_public_pem(&emu).await;
                assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(pem.as_bytes()).unwrap();
                mac.update(input.as_bytes());
                use base64::Engine;
                let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(mac.finalize().into_bytes());
                assert_eq!(sig, expected, "HMAC-SHA256 keyed with the public key's PEM");
                assert_eq!(
                    (c["iss"].as_str(), c["aud"].as_str()),
                    (Some(emu.url.as_str()), Some(CLIENT_ID))
                );
            }
            "iat_future" => {
                assert!(valid_sig);
                let iat = c["iat"].as_i64().unwrap();
                assert!(
                    (now + 86_000..now + 87_000).contains(&iat),
                    "{iat} vs {now}"
                );
                assert!(c["exp"].as_i64().unwrap() > iat);
            }
            "nonce_mismatch" => {
                assert!(valid_sig);
                assert!(c["nonce"].is_string());
                assert_ne!(c["nonce"], "n-1");
            }
            "missing_sub" => {
                assert!(valid_sig);
                assert!(c.get("sub").is_none(), "{c}");
                assert_eq!(c["email"], ALICE);
            }
            "azp_foreign" => {
                assert!(valid_sig);
                assert_eq!(
                    c["aud"],
                    json!([CLIENT_ID, "other-client.apps.googleusercontent.com"])
                );
                assert_eq!(c["azp"], "other-client.apps.googleusercontent.com");
            }
            _ => unreachable!(),
        }
        // Next one is fine again.
        let t = emu.tokens(ALICE, BASIC, &[("nonce", "n-2")]).await;
        let jwt = t["id_token"].as_str().unwrap();
        assert!(verify_rs256(&emu, jwt).await, "{kind}");
        let (_, c) = jwt_parts(jwt);
        assert_eq!(
            (&c["aud"], &c["azp"], &c["nonce"], &c["sub"]),
            (
                &json!(CLIENT_ID),
                &json!(CLIENT_ID),
                &json!("n-2"),
                &json!("100000000000000000001")
            ),
            "{kind}"
        );
    }
    let (status, _) = emu
        .post_control("/faults", json!({"id_token": "hs512", "count": 1}))
        .await;
    assert_eq!(status, 400, "an unknown variant");
}

// ---------------------------------------------------------------- request log

#[tokio::test]
async fn request_log_counts_without_secrets() {
    let emu = start().await;
    let t = emu
        .tokens(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline")],
        )
        .await;
    let rt = t["refresh_token"].as_str().unwrap();
    emu.refresh(rt).await;
    emu.api(
        "/drive/v3/files?pageSize=2",
        t["access_token"].as_str().unwrap(),
    )
    .await;
    let (status, log) = emu.control(reqwest::Method::GET, "/requests", None).await;
    assert_eq!(status, 200);
    assert_eq!(log["counts"]["token:authorization_code"], 1);
    assert_eq!(log["counts"]["token:refresh_token"], 1);
    assert_eq!(log["counts"]["POST /token"], 2);
    assert_eq!(log["counts"]["POST /o/oauth2/v2/auth"], 1);
    assert_eq!(log["counts"]["GET /drive/v3/files"], 1);
    let text = log.to_string();
    for secret in [
        rt,
        t["access_token"].as_str().unwrap(),
        CLIENT_SECRET,
        "4/0",
    ] {
        assert!(!text.contains(secret), "log leaks {secret}");
    }
    assert!(!text.contains("/emulator/"), "controls are not logged");
    let entry = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["grant_type"] == "refresh_token")
        .unwrap();
    assert_eq!(entry["client_id"], CLIENT_ID);
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["path"], "/token");
    let drive = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/drive/v3/files")
        .unwrap();
    assert_eq!(drive["method"], "GET");
    assert_eq!(
        emu.control(reqwest::Method::DELETE, "/requests", None)
            .await
            .0,
        204
    );
    let (_, log) = emu.control(reqwest::Method::GET, "/requests", None).await;
    assert_eq!(log["requests"], json!([]));
    assert_eq!(log["counts"], json!({}));
}

#[tokio::test]
async fn controls_are_off_unless_loopback_or_flag() {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (emu, server) = google_emulator::start(listener, Options::default()).unwrap();
    tokio::spawn(server);
    assert!(!emu.controls);
    let http = http_client(false);
    let res = http
        .post(format!("http://127.0.0.1:{port}/emulator/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .get(format!(
            "http://127.0.0.1:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (emu, server) = google_emulator::start(
        listener,
        Options {
            allow_controls: true,
            ..Default::default()
        },
    )
    .unwrap();
    tokio::spawn(server);
    assert!(emu.controls);
    let res = http
        .post(format!("http://127.0.0.1:{port}/emulator/reset"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

// ---------------------------------------------------------------- client secret file, seed file

#[tokio::test]
async fn client_secret_file_and_seed_file() {
    let c = ClientRegistration {
        client_id: "x.apps.googleusercontent.com".into(),
        client_secret: "sec".into(),
        kind: ClientKind::Web,
        redirect_uris: vec!["http://127.0.0.1:8080/oauth2callback".into()],
    };
    let v = client_secret_json(&c, "http://127.0.0.1:8081/");
    assert_eq!(v["web"]["client_id"], "x.apps.googleusercontent.com");
    assert_eq!(v["web"]["client_secret"], "sec");
    assert_eq!(
        v["web"]["auth_uri"],
        "http://127.0.0.1:8081/o/oauth2/v2/auth"
    );
    assert_eq!(v["web"]["token_uri"], "http://127.0.0.1:8081/token");
    assert_eq!(
        v["web"]["auth_provider_x509_cert_url"],
        "http://127.0.0.1:8081/oauth2/v1/certs"
    );
    assert_eq!(
        v["web"]["redirect_uris"],
        json!(["http://127.0.0.1:8080/oauth2callback"])
    );

    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, json!({
        "accounts": [{"email": "zed@example.test", "name": "Zed Zee", "sub": "123", "files": [{"name": "only.txt"}], "messages": [{"subject": "hello"}]}],
        "clients": [{"client_id": "seeded.apps.googleusercontent.com", "client_secret": "ss", "kind": "web", "redirect_uris": ["http://127.0.0.1:8080/cb"]}]
    }).to_string()).unwrap();
    let out = dir.path().join("client_secret.json");
    let mut said = Vec::new();
    google_emulator::run_cli(
        google_emulator::EmulatorArgs {
            seed: Some(seed.clone()),
            write_client_secret: Some(out.clone()),
            ..google_emulator::EmulatorArgs::default()
        },
        &mut said,
    )
    .await
    .unwrap();
    let said = String::from_utf8(said).unwrap();
    assert!(said.starts_with("Wrote "), "{said}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        written["web"]["client_id"],
        "seeded.apps.googleusercontent.com"
    );
    assert_eq!(written["web"]["token_uri"], "http://127.0.0.1:8081/token");

    let emu = start_with(Options {
        seed: Some(seed),
        ..Default::default()
    })
    .await;
    let t = emu
        .tokens("zed@example.test", &scope_with(DRIVE_META), &[])
        .await;
    let (_, c) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(c["sub"], "123");
    let (_, f) = json_of(
        emu.api("/drive/v3/files", t["access_token"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(f["files"][0]["name"], "only.txt");
    let res = emu
        .post_consent(&emu.http, &emu.auth_params(BASIC, &[]), ALICE, "allow", &[])
        .await;
    assert_eq!(
        res.status(),
        400,
        "the seed file replaced the default accounts"
    );
}

// ---------------------------------------------------------------- the browser

async fn click_through(
    driver: &thirtyfour::WebDriver,
    emu: &Emu,
    callback: &str,
) -> Result<std::collections::HashMap<String, String>, Box<dyn std::error::Error>> {
    use thirtyfour::prelude::*;
    let params = vec![
        (
            "client_id".to_string(),
            "browser.apps.googleusercontent.com".to_string(),
        ),
        ("redirect_uri".into(), callback.to_string()),
        ("response_type".into(), "code".into()),
        ("scope".into(), format!("{BASIC} {DRIVE_META} {GMAIL_RO}")),
        ("state".into(), "browser-state".into()),
        ("access_type".into(), "offline".into()),
    ];
    driver.goto(emu.auth_url(&params)).await?;
    driver
        .find(By::Css("[data-testid='account-alice']"))
        .await?
        .click()
        .await?;
    let gmail = driver
        .find(By::Css("[data-testid='scope-gmail.readonly']"))
        .await?;
    assert!(gmail.is_selected().await?, "scopes are ticked by default");
    gmail.click().await?;
    assert!(!gmail.is_selected().await?);
    assert!(
        driver
            .find(By::Css("[data-testid='scope-drive.metadata.readonly']"))
            .await?
            .is_selected()
            .await?
    );
    driver
        .find(By::Css("[data-testid='allow']"))
        .await?
        .click()
        .await?;
    driver.query(By::Id("target")).first().await?;
    let url = driver.current_url().await?;
    assert!(url.as_str().starts_with(callback), "{url}");
    Ok(url.query_pairs().into_owned().collect())
}

#[tokio::test]
async fn browser_consent_with_one_scope_unticked() {
    let emu = start().await;
    let callback = browser::spawn_callback_page();
    emu.emulator.register_client(ClientRegistration {
        client_id: "browser.apps.googleusercontent.com".into(),
        client_secret: "browser-secret".into(),
        kind: ClientKind::Web,
        redirect_uris: vec![callback.clone()],
    });
    let chromedriver = chromium::start_chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    let driver = chromium::chromium(&chromedriver, &profile).await;
    let result = click_through(&driver, &emu, &callback).await;
    if result.is_err() {
        chromium::save_artifacts(&driver, "emulator-consent").await;
    }
    let _ = driver.quit().await;
    drop(chromedriver);
    let q = result.expect("click through the consent screen");
    assert_eq!(q["state"], "browser-state");
    assert!(q["scope"].contains(DRIVE_META), "{}", q["scope"]);
    assert!(!q["scope"].contains(GMAIL_RO), "{}", q["scope"]);
    let (status, t) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", &callback),
            ("client_id", "browser.apps.googleusercontent.com"),
            ("client_secret", "browser-secret"),
        ])
        .await;
    assert_eq!(status, 200, "{t}");
    assert!(t["refresh_token"].is_string());
    assert!(!t["scope"].as_str().unwrap().contains(GMAIL_RO));
}

// ---------------------------------------------------------------- a certified OpenID client

#[tokio::test]
async fn openidconnect_crate_works_unchanged() {
    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
    };
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    let emu = start().await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(emu.url.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(CLIENT_ID.into()),
        Some(ClientSecret::new(CLIENT_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new(DRIVE_META.into()))
        .add_extra_param("access_type", "offline")
        .set_pkce_challenge(challenge)
        .url();
    let params: Vec<(String, String)> = auth_url.query_pairs().into_owned().collect();
    let res = emu
        .post_consent(&emu.http, &params, ALICE, "allow", &[DRIVE_META])
        .await;
    let q = query(&location(&res));
    assert_eq!(&q["state"], csrf.secret());
    let token = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    assert!(token.refresh_token().is_some());
    let id_token = token.id_token().expect("id_token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), "100000000000000000001");
    assert_eq!(claims.email().unwrap().as_str(), ALICE);
    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email().unwrap().as_str(), ALICE);
    // A corrupted token is refused by the crate.
    emu.post_control("/faults", json!({"id_token": "wrong_aud", "count": 1}))
        .await;
    let t = emu.tokens(ALICE, BASIC, &[]).await;
    let bad: openidconnect::core::CoreIdToken =
        serde_json::from_value(t["id_token"].clone()).unwrap();
    assert!(bad
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .is_err());
}

#[tokio::test]
async fn signing_key_from_file() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::write(
        &path,
        key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let emu = start_with(Options {
        signing_key: Some(path),
        ..Default::default()
    })
    .await;
    let jwks: Value = emu
        .http
        .get(format!("{}/oauth2/v3/certs", emu.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    use base64::Engine;
    use rsa::traits::PublicKeyParts;
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    assert_eq!(jwks["keys"][0]["n"], n);
    let t = emu.tokens(ALICE, BASIC, &[]).await;
    assert!(verify_rs256(&emu, t["id_token"].as_str().unwrap()).await);
}

// ---------------------------------------------------------------- seed and concurrency

#[tokio::test]
async fn default_seed_is_deterministic_and_tricky() {
    let a = start().await;
    let b = start().await;
    let mut names = vec![];
    let mut ids = vec![];
    for emu in [&a, &b] {
        let t = emu
            .tokens(ALICE, &scope_with(&format!("{DRIVE_META} {GMAIL_RO}")), &[])
            .await;
        let at = t["access_token"].as_str().unwrap();
        let (_, f) = json_of(
            emu.api(
                "/drive/v3/files?pageSize=1000&orderBy=name&fields=files(id,name,modifiedTime)",
                at,
            )
            .await,
        )
        .await;
        let (_, m) = json_of(
            emu.api("/gmail/v1/users/me/messages?maxResults=500", at)
                .await,
        )
        .await;
        ids.push((f.clone(), m));
        names = f["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect();
    }
    assert_eq!(ids[0], ids[1], "same ids, names and times on every start");
    assert!(names.iter().any(|n| n.contains("<b>")));
    assert!(names.iter().any(|n| n.contains('&')));
    assert!(names.iter().any(|n| n.contains('"')));
    assert!(names.iter().any(|n| n.contains('\'')));
    assert!(names.iter().any(|n| !n.is_ascii()));
    assert!(names[1..]
        .iter()
        .all(|n| n.chars().next().unwrap().is_alphanumeric()));
    let t = a.tokens(ALICE, &scope_with(GMAIL_RO), &[]).await;
    let at = t["access_token"].as_str().unwrap();
    let (_, list) = json_of(
        a.api("/gmail/v1/users/me/messages?maxResults=500", at)
            .await,
    )
    .await;
    let mut subjects = vec![];
    for m in list["messages"].as_array().unwrap().iter().take(10) {
        let (_, full) = json_of(
            a.api(
                &format!(
                    "/gmail/v1/users/me/messages/{}?format=full",
                    m["id"].as_str().unwrap()
                ),
                at,
            )
            .await,
        )
        .await;
        assert!(full["payload"]["body"]["data"].is_string());
        let subject = full["payload"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == "Subject")
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string();
        subjects.push(subject);
    }
    let all = subjects.join("\n");
    assert!(
        all.contains('<') && all.contains('&') && all.contains('"') && !all.is_ascii(),
        "{all}"
    );
    let (_, raw) = json_of(
        a.api(
            &format!(
                "/gmail/v1/users/me/messages/{}?format=raw",
                list["messages"][0]["id"].as_str().unwrap()
            ),
            at,
        )
        .await,
    )
    .await;
    assert!(raw["raw"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_and_api_calls() {
    let emu = std::sync::Arc::new(start().await);
    let t = emu
        .tokens(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline")],
        )
        .await;
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    emu.control(reqwest::Method::DELETE, "/requests", None)
        .await;
    let mut tasks = vec![];
    for i in 0..100 {
        let emu = emu.clone();
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let (status, r) = emu.refresh(&rt).await;
                assert_eq!(status, 200, "{r}");
            } else {
                let t = emu.refresh(&rt).await.1;
                let res = emu
                    .api(
                        "/drive/v3/files?pageSize=100",
                        t["access_token"].as_str().unwrap(),
                    )
                    .await;
                assert_eq!(res.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, log) = emu.control(reqwest::Method::GET, "/requests", None).await;
    assert_eq!(log["counts"]["token:refresh_token"], 100);
    assert_eq!(log["counts"]["GET /drive/v3/files"], 50);
}

#[tokio::test]
async fn access_token_lifetime_is_configurable() {
    let emu = start_with(Options {
        access_token_ttl: Some(std::time::Duration::from_secs(1)),
        ..Default::default()
    })
    .await;
    let t = emu.tokens(ALICE, &scope_with(DRIVE_META), &[]).await;
    assert_eq!(t["expires_in"], 1);
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", at).await.status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        emu.api("/drive/v3/files?pageSize=1", at).await.status(),
        401
    );
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    let emu = start().await;
    let mut p = emu.auth_params(BASIC, &[]);
    p.push(("state".into(), "again".into()));
    let res = emu.get_auth(&emu.http, &p).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("state"));
    let q = emu.sign_in(ALICE, BASIC, &[]).await;
    let (status, body) = emu
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test]
async fn tokeninfo_and_json_token_requests() {
    let emu = start().await;
    let q = emu
        .sign_in(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline")],
        )
        .await;
    let res = emu
        .http
        .post(format!("{}/token", emu.url))
        .json(&json!({"grant_type": "authorization_code", "code": q["code"], "redirect_uri": REDIRECT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let (status, info) = json_of(
        emu.http
            .get(format!(
                "{}/tokeninfo?access_token={}",
                emu.url,
                urlencode(at)
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["aud"], CLIENT_ID);
    assert_eq!(info["sub"], "100000000000000000001");
    assert_eq!(info["email"], ALICE);
    assert_eq!(info["access_type"], "offline");
    assert!(info["scope"].as_str().unwrap().contains(DRIVE_META));
    let id = t["id_token"].as_str().unwrap();
    let (status, claims) = json_of(
        emu.http
            .get(format!("{}/tokeninfo?id_token={id}", emu.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{claims}");
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["email_verified"], "true");
    let (status, _) = json_of(
        emu.http
            .get(format!("{}/tokeninfo?access_token=ya29.nope", emu.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = json_of(
        emu.http
            .get(format!("{}/tokeninfo?id_token={}x", emu.url, id))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
}

// ------------------------------------------------- Google's own client libraries

/// Google's Python libraries (google-auth-oauthlib, google-auth, google-api-python-client) work
/// against the emulator with nothing changed but endpoint URLs: see tests/python/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn googles_python_client_libraries_work_unchanged() {
    let emu = start().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps (scripts/test does) to install Google's Python client libraries",
        python.display()
    );
    let script = root.join("tests/python/google_clients.py");
    let url = emu.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args([url.as_str(), CLIENT_ID, CLIENT_SECRET, REDIRECT])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("google client libraries: all checks passed"),
        "{stdout}"
    );
    assert!(stdout.contains("ok   Drive files().list pages through every file once"));
}
