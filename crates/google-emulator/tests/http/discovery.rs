//! Discovery, the signing keys (JWKS, PEM certificates, a key from a file), CORS for JavaScript clients, and a certified OpenID client (the openidconnect crate) unchanged.

use crate::prelude::*;

// ---------------------------------------------------------------- discovery and keys

#[tokio::test]
async fn discovery_and_jwks() {
    let emu = start().await;
    let d = emu.get_json("/.well-known/openid-configuration").await;
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
    let jwks = emu.get_json("/oauth2/v3/certs").await;
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
    let jwks = emu.get_json("/oauth2/v3/certs").await;
    use base64::Engine;
    use rsa::traits::PublicKeyParts;
    let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    assert_eq!(jwks["keys"][0]["n"], n);
    let t = emu.tokens(ALICE, BASIC, &[]).await;
    assert!(verify_rs256(&emu, t["id_token"].as_str().unwrap()).await);
}
