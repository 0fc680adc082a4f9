//! The signed-in page: paging through Drive with the page tokens in the links, and a page view
//! that writes nothing (the session row, the user, the credential all stay as they were).

use std::collections::HashSet;

use reqwest::StatusCode;

use offline_access::on_both_backends;
use offline_access::testing::{location, TestApp};

const ALICE: &str = "alice@example.test";
/// Alice's seeded Drive.
const ALICE_FILES: usize = 261;

/// The file names in a rendered page.
fn names(body: &str) -> Vec<String> {
    body.split("<td class=\"name\">")
        .skip(1)
        .map(|s| s.split("</td>").next().unwrap().to_string())
        .collect()
}

/// The href of the link with `data-testid`, unescaped as a browser would.
pub fn link(body: &str, testid: &str) -> Option<String> {
    let marker = format!("data-testid=\"{testid}\" href=\"");
    let start = body.find(&marker)? + marker.len();
    let href = &body[start..start + body[start..].find('"')?];
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

async fn page(app: &TestApp, path: &str) -> String {
    let resp = app.get(path).await;
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.text().await.unwrap()
}

on_both_backends! {
    async fn paging_forward_and_back_shows_every_file_once(app) {
        app.sign_in(ALICE).await;
        let mut seen: Vec<String> = Vec::new();
        let mut pages = Vec::new();
        let mut path = "/".to_string();
        loop {
            let body = page(&app, &path).await;
            let n = pages.len() + 1;
            assert!(body.contains(&format!("page {n}<")), "page {n} at {path}");
            seen.extend(names(&body));
            pages.push((path.clone(), names(&body)));
            match link(&body, "next-page") {
                Some(next) => path = next,
                None => break,
            }
            assert!(pages.len() < 20, "the pages end");
        }
        assert_eq!(pages.len(), ALICE_FILES.div_ceil(25));
        assert_eq!(seen.len(), ALICE_FILES, "every file is listed");
        let distinct: HashSet<&String> = seen.iter().collect();
        assert_eq!(distinct.len(), ALICE_FILES, "no file is listed twice");

        // Back, one Previous at a time, from the last page to the first: the same pages.
        let mut at = pages.len();
        let mut body = page(&app, &pages[at - 1].0).await;
        while let Some(prev) = link(&body, "prev-page") {
            body = page(&app, &prev).await;
            at -= 1;
            assert_eq!(names(&body), pages[at - 1].1, "page {at} again");
        }
        assert_eq!(at, 1, "Previous leads back to the first page");
        assert!(
            !body.contains("data-testid=\"first-page\""),
            "no First link on the first page"
        );
        // The links carry page tokens; the session holds no paging state.
        assert!(pages[1].0.contains("page_token="), "{}", pages[1].0);
    }

    async fn tampered_or_stale_page_links_get_a_clear_page(app) {
        app.sign_in(ALICE).await;
        let drive_calls = app.emu_count("GET /drive/v3/files").await;
        for path in [
            "/?page=abc",
            "/?page=2&page_token=%3Cscript%3E",
            "/?page=2&page_token=a%20b",
            "/?page=1&page_token=ZW11MToyNQ",
            "/?page=3&page_token=ZW11MTo1MA&back=ZW11MToyNQ,x",
        ] {
            let resp = app.get(path).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
            let body = resp.text().await.unwrap();
            assert!(body.contains("This page link is not valid"), "{path}: {body}");
            assert!(!body.contains("script>"), "{path}: input not echoed");
        }
        assert_eq!(
            app.emu_count("GET /drive/v3/files").await,
            drive_calls,
            "a bad link never reaches Drive"
        );
        // Well-formed, but not a token Drive issued: Drive refuses it; the app says so.
        let forged = app.get(&format!("/?page=2&page_token={}", "Zm9yZ2Vk")).await;
        assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
        assert!(forged.text().await.unwrap().contains("Start again from the first page"));
        // An old bookmark (a page number without its token) starts over.
        let old = app.get("/?page=40").await;
        assert_eq!(old.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&old), "/");
    }

    async fn a_signed_in_page_view_writes_nothing(app) {
        app.sign_in(ALICE).await;
        let before = app.snapshot();
        let first = page(&app, "/").await;
        let next = link(&first, "next-page").unwrap();
        let second = page(&app, &next).await;
        let third = page(&app, &link(&second, "prev-page").unwrap()).await;
        assert_eq!(names(&first), names(&third));
        assert_eq!(app.emu_count("GET /drive/v3/files").await, 3, "three real views");
        assert_eq!(app.snapshot(), before, "the views changed no row and no file");
    }

    async fn a_signed_in_page_view_is_one_database_round_trip(app) {
        app.sign_in(ALICE).await;
        page(&app, "/").await;
        let before = app.db.round_trips();
        let first = page(&app, "/").await;
        page(&app, &link(&first, "next-page").unwrap()).await;
        page(&app, "/account").await;
        // The session row and the user with their grants are read together.
        assert_eq!(app.db.round_trips() - before, 3, "three views, three round trips");
        // Signed out, the landing page reads nothing.
        let anonymous = reqwest::Client::new();
        let before = app.db.round_trips();
        let landing = anonymous.get(format!("{}/", app.addr)).send().await.unwrap();
        assert_eq!(landing.status(), StatusCode::OK);
        assert_eq!(app.db.round_trips(), before);
    }

    async fn views_with_one_cookie_at_once_are_each_one_round_trip_and_hers(app) {
        app.sign_in(ALICE).await;
        page(&app, "/").await;
        // The app's workers each keep the session a view preloads for actix-session's load:
        // fifty views with the same cookie at once never take each other's.
        let before = app.db.round_trips();
        let mut views = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (client, url) = (app.client.clone(), format!("{}/", app.addr));
            views.spawn(async move { client.get(url).send().await.unwrap() });
        }
        while let Some(resp) = views.join_next().await {
            let resp = resp.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let body = resp.text().await.unwrap();
            assert!(body.contains("Alice Example"), "{body}");
            assert_eq!(body.matches("data-testid=\"file\"").count(), 25);
        }
        assert_eq!(app.db.round_trips() - before, 50, "fifty views, fifty round trips");
    }

    async fn the_session_slides_at_most_every_few_minutes(app) {
        app.sign_in(ALICE).await;
        page(&app, "/").await;
        // The session was last extended long ago, and expires within the hour.
        app.backdate_session(ALICE).await;
        app.sql("UPDATE users SET last_seen_at = '2020-01-01 00:00:00'");
        let old = app.snapshot();
        page(&app, "/").await;
        let touched = app.snapshot();
        assert_ne!(touched.sessions, old.sessions, "the session was extended");
        let expires = touched.sessions[0].expires_at;
        let week = chrono::Utc::now().naive_utc() + chrono::Duration::days(6);
        assert!(expires > week, "a signed-in session lives SESSION_TTL_HOURS again: {expires}");
        assert!(touched.users[0].1 > old.users[0].1, "last seen moved");
        // The views right after write nothing again.
        page(&app, "/").await;
        page(&app, "/").await;
        assert_eq!(app.snapshot(), touched);
    }
}
