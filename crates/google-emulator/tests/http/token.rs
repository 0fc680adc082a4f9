//! The token endpoint: codes (single use, expiry, client and redirect binding, PKCE), client authentication, refresh.

use crate::prelude::*;

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
    // Each refusal: (form, status, error).
    let code = q["code"].as_str();
    let refusals: &[Refusal] = &[
        (
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT_ID),
                ("client_secret", "wrong"),
            ][..],
            401,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", "nobody"),
                ("client_secret", "x"),
            ][..],
            401,
            "invalid_client",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ][..],
            400,
            "unsupported_grant_type",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ][..],
            400,
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ][..],
            400,
            "invalid_request",
        ),
        (
            &[("grant_type", "authorization_code"), ("code", "x")][..],
            400,
            "invalid_request",
        ),
    ];
    assert_token_errors(&emu, refusals).await;
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
