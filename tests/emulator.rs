//! The Google emulator over real HTTP.

mod emulator_support;

use emulator_support::*;
use offline_access::emulator::{ClientKind, ClientRegistration, Options};
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
