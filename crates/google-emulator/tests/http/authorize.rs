//! The authorization endpoint: its error pages, the consent page, allow and cancel, prompt=none and the remembered account, incremental authorization, and one click-through in Chromium.

use crate::prelude::*;

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
    let callback = crate::callback_page::spawn_callback_page();
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
