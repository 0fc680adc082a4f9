//! Drive v3 files.list and files.get.

use crate::prelude::*;

// ---------------------------------------------------------------- Drive

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
