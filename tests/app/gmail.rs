//! Incremental and granular authorization, and the Gmail page.

use reqwest::StatusCode;
use serde_json::json;

use offline_access::on_both_backends;
use offline_access::testing::{location, TestApp, CLIENT_ID};

const GMAIL: &str = "https://www.googleapis.com/auth/gmail.readonly";
const DRIVE: &str = "https://www.googleapis.com/auth/drive.metadata.readonly";

/// Signed in with the sign-in scopes, alice opens `/gmail` and is sent to ask for Gmail alone;
/// returns the provider's authorization URL.
async fn ask_for_gmail(app: &TestApp) -> url::Url {
    let first = app.get("/gmail").await;
    assert_eq!(first.status(), StatusCode::FOUND);
    assert_eq!(location(&first), "/oauth2callback?grant=gmail");
    let start = app.get("/oauth2callback?grant=gmail").await;
    assert_eq!(start.status(), StatusCode::FOUND);
    url::Url::parse(location(&start)).unwrap()
}

/// The scopes stored for alice's web grant.
fn stored_scopes(app: &TestApp) -> String {
    let user = app.user_id("alice@example.test");
    app.db
        .run_blocking(move |c| offline_access::store::credentials::find(c, user, CLIENT_ID))
        .unwrap()
        .unwrap()
        .scopes
}

fn subjects(page: &str) -> Vec<String> {
    page.split("data-testid=\"subject\">")
        .skip(1)
        .map(|s| s.split("</span>").next().unwrap().to_string())
        .collect()
}

fn link(page: &str, testid: &str) -> Option<String> {
    let marker = format!("data-testid=\"{testid}\" href=\"");
    let rest = page.split(&marker).nth(1)?;
    Some(
        rest.split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

on_both_backends! {
    async fn gmail_is_asked_for_alone_when_first_opened_and_then_both_features_work(app) {
        app.sign_in("alice@example.test").await;
        assert!(!stored_scopes(&app).contains("gmail"), "not asked for at sign-in");
        let auth = ask_for_gmail(&app).await;
        let param = |k: &str| auth.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.to_string());
        let scope = param("scope").unwrap();
        let mut asked: Vec<&str> = scope.split(' ').collect();
        asked.sort();
        assert_eq!(asked, vec![GMAIL, "openid"], "only Gmail (and openid, to know whose grant it is)");
        assert_eq!(param("include_granted_scopes").as_deref(), Some("true"));
        assert_eq!(param("login_hint").as_deref(), Some("alice@example.test"));

        let back = app.consent(&auth, "alice@example.test", "allow").await;
        let done = app.get_url(back.as_str()).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&done), "/gmail", "back where the user was");
        let scopes = stored_scopes(&app);
        assert!(scopes.contains(GMAIL) && scopes.contains(DRIVE), "the union: {scopes}");
        assert!(app.credential("alice@example.test").1, "the refresh token stays");

        let gmail = app.get("/gmail").await;
        assert_eq!(gmail.status(), StatusCode::OK);
        let gmail = gmail.text().await.unwrap();
        assert_eq!(subjects(&gmail).len(), 25, "{gmail}");
        assert!(gmail.contains("data-testid=\"from\""));
        let drive = app.get("/").await.text().await.unwrap();
        assert_eq!(drive.matches("data-testid=\"file\"").count(), 25, "Drive keeps working");
        // The old refresh token now reaches Gmail too.
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        let again = app.get("/gmail").await.text().await.unwrap();
        assert_eq!(subjects(&again).len(), 25);
        // The account page says what each grant is for.
        let account = app.get("/account").await.text().await.unwrap();
        assert!(account.contains("Read your Gmail"), "{account}");
        assert!(account.contains("used for the Gmail page"), "{account}");
        assert!(account.contains("See the names of your Drive files"), "{account}");
    }

    async fn unticking_gmail_shows_the_grant_page_without_a_loop(app) {
        app.sign_in("alice@example.test").await;
        let auth = ask_for_gmail(&app).await;
        // On the consent screen the user unticks Gmail.
        let back = app.consent_ticking(&app.client, &auth, "alice@example.test", "allow", &[]).await;
        let done = app.get_url(back.as_str()).await;
        assert_eq!(location(&done), "/gmail");
        for _ in 0..2 {
            let page = app.get("/gmail").await;
            assert_eq!(page.status(), StatusCode::OK, "no redirect: the page explains");
            let page = page.text().await.unwrap();
            assert!(page.contains("Gmail access was not granted"), "{page}");
            assert!(page.contains("href=\"/oauth2callback?grant=gmail\""), "{page}");
        }
        assert!(!stored_scopes(&app).contains("gmail"));
        assert_eq!(app.emu_count("GET /gmail/v1/users/me/messages").await, 0);
        // Drive still works; the button asks again, and this time Gmail is granted.
        assert_eq!(app.get("/").await.text().await.unwrap().matches("data-testid=\"file\"").count(), 25);
        let start = app.get("/oauth2callback?grant=gmail").await;
        let auth = url::Url::parse(location(&start)).unwrap();
        let back = app.consent(&auth, "alice@example.test", "allow").await;
        app.get_url(back.as_str()).await;
        assert_eq!(subjects(&app.get("/gmail").await.text().await.unwrap()).len(), 25);
    }

    async fn gmail_refusing_the_scope_shows_the_grant_page(app) {
        app.sign_in("alice@example.test").await;
        // Our row says Gmail was granted, but the token Google holds does not carry it
        // (for instance the user removed that scope at Google): Gmail answers 403 insufficient scope.
        app.sql(&format!("UPDATE credentials SET scopes = scopes || ' {GMAIL}'"));
        let page = app.get("/gmail").await;
        assert_eq!(page.status(), StatusCode::OK);
        let page = page.text().await.unwrap();
        assert!(page.contains("Gmail access was not granted"), "{page}");
        assert!(page.contains("href=\"/oauth2callback?grant=gmail\""), "{page}");
        assert_eq!(app.emu_count("GET /gmail/v1/users/me/messages").await, 1);
        // Nothing was thrown away: Drive still works with the same token.
        assert_eq!(app.get("/").await.text().await.unwrap().matches("data-testid=\"file\"").count(), 25);
        assert_eq!(app.emu_count("POST /token").await, 1, "no refresh for a missing scope");
    }

    async fn paging_through_alices_messages_shows_each_once_escaped(app) {
        app.sign_in("alice@example.test").await;
        let auth = ask_for_gmail(&app).await;
        let back = app.consent(&auth, "alice@example.test", "allow").await;
        app.get_url(back.as_str()).await;
        let before = app.snapshot();
        let mut seen = Vec::new();
        let mut page = app.get("/gmail").await.text().await.unwrap();
        let mut pages = vec![page.clone()];
        loop {
            seen.extend(subjects(&page));
            match link(&page, "next-page") {
                Some(next) => {
                    let resp = app.get(&next).await;
                    assert_eq!(resp.status(), StatusCode::OK, "{next}");
                    page = resp.text().await.unwrap();
                    pages.push(page.clone());
                }
                None => break,
            }
        }
        assert_eq!(seen.len(), 130, "alice has 130 messages: {}", &page[page.find("pager").unwrap_or(0)..]);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "each message exactly once");
        let all = pages.concat();
        assert!(!all.contains("<b>") && !all.contains("<script>"), "markup in subjects is escaped");
        assert!(all.contains("&#60;b&#62;") && all.contains("&#38;"), "and shown as text");
        // Back through Previous to the first page.
        let mut back_count = 0;
        while let Some(prev) = link(&page, "prev-page") {
            page = app.get(&prev).await.text().await.unwrap();
            back_count += 1;
        }
        assert_eq!(back_count, 5);
        assert_eq!(subjects(&page), subjects(&pages[0]));
        assert_eq!(app.snapshot(), before, "page views wrote nothing");
        // A search is passed to Gmail as q and kept in the page links.
        let found = app.get("/gmail?q=is%3Aimportant").await.text().await.unwrap();
        let n = subjects(&found).len();
        assert!(n > 0 && n < 25, "{n}");
        let tampered = app.get("/gmail?page=2&page_token=%3Cscript%3E").await;
        assert_eq!(tampered.status(), StatusCode::BAD_REQUEST);
    }

    async fn gmail_failures_refresh_reauthorize_or_say_try_again(app) {
        app.sign_in("alice@example.test").await;
        let auth = ask_for_gmail(&app).await;
        let back = app.consent(&auth, "alice@example.test", "allow").await;
        app.get_url(back.as_str()).await;
        // Google expired the token early: one refresh, one retry, the page works.
        app.emu_post("/emulator/accounts/alice@example.test/expire-tokens", json!({})).await;
        let page = app.get("/gmail").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(app.emu_count("POST /token").await, 3, "two code exchanges and one refresh");
        // One message that cannot be read is one unavailable row, not an error page.
        app.emu_post("/emulator/faults", json!({"endpoint": "gmail", "count": 1, "delay_ms": 1})).await;
        // (404: a message deleted since the list; a 5xx would be retried and succeed.)
        app.emu_post("/emulator/faults", json!({"endpoint": "gmail", "count": 1, "status": 404})).await;
        let page = app.get("/gmail").await.text().await.unwrap();
        assert_eq!(page.matches("data-testid=\"message-unavailable\"").count(), 1, "{page}");
        assert_eq!(subjects(&page).len(), 24);
        // Rate limited or down: tried three times (with backoff), then a friendly try-again page.
        let lists = app.emu_count("GET /gmail/v1/users/me/messages").await;
        app.emu_post("/emulator/faults", json!({"endpoint": "gmail", "count": 3, "status": 429})).await;
        let page = app.get("/gmail").await;
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.text().await.unwrap().contains("try again"));
        assert_eq!(app.emu_count("GET /gmail/v1/users/me/messages").await, lists + 3);
        // The user removed the app at Google: the refresh fails, the page asks for consent.
        app.emu_post("/emulator/accounts/alice@example.test/revoke", json!({})).await;
        let page = app.get("/gmail").await;
        assert_eq!(page.status(), StatusCode::OK);
        let page = page.text().await.unwrap();
        assert!(page.contains("We need your permission again"), "{page}");
    }

    async fn sync_counts_gmail_for_users_who_granted_it(app) {
        app.sign_in("alice@example.test").await;
        let auth = ask_for_gmail(&app).await;
        let back = app.consent(&auth, "alice@example.test", "allow").await;
        app.get_url(back.as_str()).await;
        app.sign_in_new_browser(&app.addr, "bob@example.test").await;
        let syncer = offline_access::startup::syncer(&app.settings).await.unwrap();
        let mut out = Vec::new();
        syncer.run(&offline_access::sync::Target::All, &mut out, None).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("alice@example.test: ok, 261 Drive files, 130 Gmail messages"), "{out}");
        assert!(out.contains("bob@example.test: ok, 7 Drive files, newest"), "bob did not grant Gmail: {out}");
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("261 Drive files seen, 130 Gmail messages"), "{home}");
    }
}
