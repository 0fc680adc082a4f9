//! Revocation and userinfo.

use crate::prelude::*;

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
