//! Offline access: refresh when expired, one refresh in flight, nothing lost, re-consent rules,
//! and the `sync` command acting for absent users.

use reqwest::StatusCode;

use crate::signin::ESCAPED_FILE;
use offline_access::on_both_backends;
use offline_access::testing::{location, TestApp, CLIENT_ID, SECRET};

const ALICE: &str = "alice@example.test";

on_both_backends! {
    async fn an_expired_token_is_refreshed_once_and_the_page_served(app) {
        app.sign_in(ALICE).await;
        // Google expires the token before we expected: Drive 401 → one forced refresh, one retry.
        app.emu_post(
            &format!("/emulator/accounts/{ALICE}/expire-tokens"),
            serde_json::json!({}),
        )
        .await;
        let resp = app.get("/").await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.unwrap().contains(ESCAPED_FILE));
        assert_eq!(app.emu_count("token:refresh_token").await, 1);

        // Our own record says it expires within a minute: refreshed before the call.
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        let resp = app.get("/").await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(app.emu_count("token:refresh_token").await, 2);
        // And the new expiry was stored: no refresh on the next page.
        app.get("/").await;
        assert_eq!(app.emu_count("token:refresh_token").await, 2);
    }
}

on_both_backends! {
    async fn two_hundred_concurrent_requests_share_one_refresh(app) {
        app.sign_in(ALICE).await;
        for (round, expire) in ["emulator", "database"].iter().enumerate() {
            if *expire == "emulator" {
                app.emu_post(
                    &format!("/emulator/accounts/{ALICE}/expire-tokens"),
                    serde_json::json!({}),
                )
                .await;
            } else {
                app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
            }
            let requests = (0..200).map(|_| {
                let client = app.client.clone();
                let url = format!("{}/", app.addr);
                async move { client.get(url).send().await.map(|r| r.status()) }
            });
            let statuses = futures_util::future::join_all(requests).await;
            let ok = statuses
                .iter()
                .filter(|s| matches!(s, Ok(StatusCode::OK)))
                .count();
            assert_eq!(ok, 200, "{expire}: {statuses:?}");
            assert_eq!(
                app.emu_count("token:refresh_token").await,
                round as u64 + 1,
                "{expire}: exactly one refresh"
            );
        }
    }
}

on_both_backends! {
    async fn a_second_sign_in_without_a_refresh_token_keeps_the_stored_one(app) {
        app.sign_in(ALICE).await;
        let user = app.user_id(ALICE);
        let vault = app.vault();
        let first = vault
            .stored_refresh_token(user, CLIENT_ID)
            .await
            .unwrap()
            .expect("a refresh token");

        // Another browser signs in again; consent exists, so Google sends no refresh token.
        let (other, _) = app.browser();
        let start = other
            .get(format!("{}/oauth2callback", app.addr))
            .send()
            .await
            .unwrap();
        let auth = url::Url::parse(location(&start)).unwrap();
        assert!(
            !auth.query_pairs().any(|(k, _)| k == "prompt"),
            "no forced consent"
        );
        let back = app.consent_with(&other, &auth, ALICE, "allow").await;
        let done = other.get(back.as_str()).send().await.unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);

        let kept = vault
            .stored_refresh_token(user, CLIENT_ID)
            .await
            .unwrap()
            .expect("still stored");
        assert_eq!(kept.expose(), first.expose());
        assert_eq!(app.count_rows("credentials"), 1);
        // And it still works.
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        assert_eq!(app.get("/").await.status(), StatusCode::OK);
        assert_eq!(app.emu_count("token:refresh_token").await, 1);
    }
}

on_both_backends! {
    async fn a_missing_refresh_token_makes_the_next_authorization_ask_for_consent(app) {
        app.sign_in(ALICE).await;
        app.sql("UPDATE credentials SET refresh_token = NULL");
        let home = app.get("/").await.text().await.unwrap();
        assert!(
            home.contains("Background access needs your consent"),
            "{home}"
        );
        assert!(home.contains("data-testid=\"grant-offline\""));

        let auth = app.authorization_url().await;
        let q: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["login_hint"], ALICE);
        let back = app.consent(&auth, ALICE, "allow").await;
        assert_eq!(
            app.get_url(back.as_str()).await.status(),
            StatusCode::SEE_OTHER
        );
        assert_eq!(app.credential(ALICE), ("active".into(), true, true));
        let home = app.get("/").await.text().await.unwrap();
        assert!(!home.contains("data-testid=\"offline-missing\""));
    }
}

on_both_backends! {
    async fn revoked_in_the_google_account_means_reconsent_and_no_stored_token(app) {
        app.sign_in(ALICE).await;
        app.emu_post(
            &format!("/emulator/accounts/{ALICE}/revoke"),
            serde_json::json!({}),
        )
        .await;
        let resp = app.get("/").await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.text().await.unwrap();
        assert!(
            body.contains("We need your permission again for background access"),
            "{body}"
        );
        assert!(body.contains("revoked"), "says why: {body}");
        assert_eq!(
            app.credential(ALICE),
            ("needs_consent".into(), false, false)
        );
        assert_eq!(app.emu_count("token:refresh_token").await, 1);

        // The next page asks again without calling Google; the next authorization forces consent.
        let again = app.get("/").await.text().await.unwrap();
        assert!(again.contains("data-testid=\"reconsent\""));
        assert_eq!(app.emu_count("token:refresh_token").await, 1);
        let auth = app.authorization_url().await;
        assert!(auth
            .query_pairs()
            .any(|(k, v)| k == "prompt" && v == "consent"));
        let back = app.consent(&auth, ALICE, "allow").await;
        app.get_url(back.as_str()).await;
        assert_eq!(app.credential(ALICE), ("active".into(), true, true));
        assert!(app
            .get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains(ESCAPED_FILE));
    }
}

on_both_backends! {
    async fn a_token_that_no_longer_decrypts_means_reconsent_not_a_crash(app) {
        app.sign_in(ALICE).await;
        // Garbage where the sealed refresh token was, and an expired access token.
        app.sql(&format!(
            "UPDATE credentials SET refresh_token = {}, access_expires_at = '2000-01-01 00:00:00'",
            app.blob("01000000000000000000000000DEADBEEFDEADBEEFDEADBEEFDEADBEEF")
        ));
        let resp = app.get("/").await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.text().await.unwrap().contains("could not be read"));
        assert_eq!(
            app.credential(ALICE),
            ("needs_consent".into(), false, false)
        );
        assert_eq!(app.emu_count("token:refresh_token").await, 0);
    }
}

fn sync_command(app: &TestApp, args: &[&str]) -> std::process::Output {
    sync_command_with_key(app, args, SECRET)
}

fn sync_command_with_key(app: &TestApp, args: &[&str], secret_key: &str) -> std::process::Output {
    let mut cmd = app.command(&["sync"]);
    cmd.args(args).env("SECRET_KEY", secret_key);
    tokio::task::block_in_place(|| cmd.output().unwrap())
}

on_both_backends! {
    async fn sync_acts_for_absent_users_and_fails_loudly_for_a_revoked_one(app) {
        for who in [ALICE, "bob@example.test", "admin@example.test"] {
            app.sign_in_new_browser(&app.addr, who).await;
        }
        // A fourth person who did not let the app see Drive: nothing to list, not a failure.
        app.emu_post(
            "/emulator/accounts",
            serde_json::json!({"email": "zed@example.test", "name": "Zed Zee"}),
        )
        .await;
        let (zed, _) = app.browser();
        let start = zed.get(format!("{}/oauth2callback", app.addr)).send().await.unwrap();
        let auth = url::Url::parse(location(&start)).unwrap();
        let back = app
            .consent_ticking(&zed, &auth, "zed@example.test", "allow", &[])
            .await;
        assert_eq!(zed.get(back.as_str()).send().await.unwrap().status(), StatusCode::SEE_OTHER);
        app.emu_post(
            "/emulator/accounts/bob@example.test/revoke",
            serde_json::json!({}),
        )
        .await;
        // Every access token has expired: the command must refresh with no browser involved.
        for who in [ALICE, "admin@example.test"] {
            app.emu_post(
                &format!("/emulator/accounts/{who}/expire-tokens"),
                serde_json::json!({}),
            )
            .await;
        }
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");

        let out = {
            let app = &app;
            tokio::task::block_in_place(|| sync_command(app, &["--all"]))
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("admin@example.test: ok, 2 Drive files")),
            "{stdout}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("alice@example.test: ok,")),
            "{stdout}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("bob@example.test: FAILED: needs consent")),
            "{stdout}"
        );
        assert!(
            lines.contains(&"zed@example.test: ok, Drive access not granted (nothing to list)"),
            "{stdout}"
        );
        assert!(stdout.contains("synced 3 of 4 users (1 failed)"), "{stdout}");
        assert!(!stdout.contains("ya29.") && !stdout.contains("1//"));
        // alice, admin and zed refreshed once each; bob's refresh met invalid_grant.
        assert_eq!(app.emu_count("token:refresh_token").await, 4);
        assert_eq!(app.count_rows("sync_status"), 4);
        assert_eq!(
            app.credential("bob@example.test"),
            ("needs_consent".into(), false, false)
        );

        // Alice's home page shows what the background sync saw.
        app.sign_in(ALICE).await;
        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("Last background sync:"), "{home}");
        assert!(home.contains("Drive files seen"));

        // The next run skips bob, whose failure was reported already, and says so.
        let again = tokio::task::block_in_place(|| sync_command(&app, &["--all"]));
        let stdout = String::from_utf8_lossy(&again.stdout);
        assert_eq!(again.status.code(), Some(0), "{stdout}");
        assert!(
            stdout
                .lines()
                .any(|l| l == "bob@example.test: skipped, needs consent (the user must sign in again)"),
            "{stdout}"
        );
        assert!(stdout.contains("synced 3 of 4 users (0 failed, 1 skipped)"), "{stdout}");

        // Only one user.
        let one = tokio::task::block_in_place(|| sync_command(&app, &["--user", ALICE]));
        assert_eq!(one.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&one.stdout);
        assert!(
            stdout.contains("synced 1 of 1 users (0 failed)"),
            "{stdout}"
        );
        let nobody =
            tokio::task::block_in_place(|| sync_command(&app, &["--user", "nobody@example.test"]));
        assert_eq!(nobody.status.code(), Some(1));
        // Run with another SECRET_KEY (a misconfigured instance): it fails loudly and deletes
        // nothing, so the right configuration still works afterwards.
        app.sql("UPDATE credentials SET access_expires_at = '2000-01-01 00:00:00'");
        let wrong = tokio::task::block_in_place(|| {
            sync_command_with_key(&app, &["--user", ALICE], &"w".repeat(64))
        });
        assert_eq!(wrong.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&wrong.stdout);
        assert!(
            stdout.contains("alice@example.test: FAILED: stored tokens could not be read"),
            "{stdout}"
        );
        assert_eq!(app.credential(ALICE), ("active".into(), true, true));
        let right = tokio::task::block_in_place(|| sync_command(&app, &["--user", ALICE]));
        assert_eq!(right.status.code(), Some(0));

        let bad = tokio::task::block_in_place(|| sync_command(&app, &[]));
        assert_eq!(bad.status.code(), Some(2), "clap usage error");
    }
}
