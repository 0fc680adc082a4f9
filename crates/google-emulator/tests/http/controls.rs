//! The /emulator/* controls, the request log, the client-secret and seed files, the built-in seed, concurrency, token lifetimes, repeated parameters and tokeninfo.

use crate::prelude::*;

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
