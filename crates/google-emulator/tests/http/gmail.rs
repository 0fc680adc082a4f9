//! Gmail v1 messages.list and messages.get.

use crate::prelude::*;

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
