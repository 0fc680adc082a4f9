//! Fault injection: endpoint faults, disabled APIs, and the eleven kinds of bad ID token.

use crate::prelude::*;

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
    let jwks = emu.get_json("/oauth2/v3/certs").await;
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
    for kind in google_emulator::IdTokenFault::ALL.map(|f| f.name()) {
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
