//! Browser tests: Debian's Chromium, headless, driven through chromedriver. Few and real.

use google_emulator::testing::chromium::{chromium, save_artifacts, start_chromedriver};
use google_emulator::testing::thirtyfour::prelude::*;

use offline_access::testing::{Backend, TestApp};

/// Runs `body`; on failure saves a screenshot and the page source under test-artifacts/.
async fn with_browser<F, Fut>(name: &str, backend: Backend, body: F)
where
    F: FnOnce(WebDriver, TestApp) -> Fut,
    Fut: std::future::Future<Output = (WebDriver, WebDriverResult<()>)>,
{
    let Some(app) = TestApp::spawn_on(backend).await else {
        eprintln!("{name} not run: TEST_POSTGRES_URL is not set");
        return;
    };
    let driver = start_chromedriver().await;
    let profile = tempfile::tempdir().unwrap();
    let web = chromium(&driver, &profile).await;
    let (web, outcome) = body(web, app).await;
    if let Err(e) = &outcome {
        let dir = save_artifacts(&web, name).await;
        let _ = web.quit().await;
        panic!(
            "{name} failed: {e} (screenshot and source in {})",
            dir.display()
        );
    }
    web.quit().await.ok();
}

/// Waits for the element matching `css`, then clicks it.
async fn click(web: &WebDriver, css: &str) -> WebDriverResult<()> {
    web.query(By::Css(css)).first().await?.click().await
}

async fn text_of(web: &WebDriver, css: &str) -> WebDriverResult<String> {
    web.query(By::Css(css)).first().await?.text().await
}

/// Click Sign in, pick alice on the consent screen, Allow, see the files, page forward and back.
async fn sign_in_flow(web: WebDriver, app: TestApp) -> (WebDriver, WebDriverResult<()>) {
    let run = async {
        web.goto(format!("{}/", app.addr)).await?;
        click(&web, "[data-testid=sign-in]").await?;
        click(&web, "[data-testid=account-alice]").await?;
        click(&web, "[data-testid=allow]").await?;
        let name = text_of(&web, "[data-testid=user-name]").await?;
        assert_eq!(name, "Alice Example");
        let url = web.current_url().await?;
        assert_eq!(
            url.as_str(),
            format!("{}/", app.addr),
            "the code left the URL"
        );
        let files = web.find_all(By::Css("[data-testid=file]")).await?;
        assert_eq!(files.len(), 25);
        let first = files[0].find(By::Css(".name")).await?.text().await?;
        assert_eq!(
            first, "\"Q3\" <b>report</b> & café.txt",
            "shown as text, not markup"
        );
        web.find(By::Css("[data-testid=next-page]"))
            .await?
            .click()
            .await?;
        let page = text_of(&web, "[data-testid=page-number]").await?;
        assert_eq!(page, "page 2");
        let url = web.current_url().await?;
        assert!(
            url.query()
                .is_some_and(|q| q.starts_with("page=2&page_token=")),
            "{url}"
        );
        web.find(By::Css("[data-testid=prev-page]"))
            .await?
            .click()
            .await?;
        assert_eq!(text_of(&web, "[data-testid=page-number]").await?, "page 1");
        Ok(())
    }
    .await;
    (web, run)
}

/// Cancel on the consent screen: the friendly page, nothing stored.
async fn cancel_flow(web: WebDriver, app: TestApp) -> (WebDriver, WebDriverResult<()>) {
    let run = async {
        web.goto(format!("{}/", app.addr)).await?;
        click(&web, "[data-testid=sign-in]").await?;
        click(&web, "[data-testid=account-bob]").await?;
        click(&web, "[data-testid=cancel]").await?;
        let title = text_of(&web, "[data-testid=denied-title]").await?;
        assert!(title.contains("You chose not to share"), "{title}");
        web.find(By::Css("[data-testid=try-again]")).await?;
        assert_eq!(app.count_rows("users"), 0);
        Ok(())
    }
    .await;
    (web, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_in_lists_files_and_pages_sqlite() {
    with_browser("browser_sign_in_sqlite", Backend::Sqlite, sign_in_flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_in_lists_files_and_pages_postgres() {
    with_browser("browser_sign_in_postgres", Backend::Postgres, sign_in_flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_cancel_shows_the_friendly_page_sqlite() {
    with_browser("browser_cancel_sqlite", Backend::Sqlite, cancel_flow).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_cancel_shows_the_friendly_page_postgres() {
    with_browser("browser_cancel_postgres", Backend::Postgres, cancel_flow).await;
}

/// Signs `account` in through the consent screen in `web`.
async fn browser_sign_in(web: &WebDriver, app: &TestApp, account: &str) -> WebDriverResult<()> {
    web.goto(format!("{}/", app.addr)).await?;
    click(web, "[data-testid=sign-in]").await?;
    click(web, &format!("[data-testid=account-{account}]")).await?;
    click(web, "[data-testid=allow]").await?;
    web.query(By::Css("[data-testid=user-name]"))
        .first()
        .await?;
    Ok(())
}

/// Bob is signed in in his browser; the admin, in another, finds him, revokes him, and Bob's
/// next click lands on the signed-out page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_admin_revokes_bob_and_his_open_session_ends() {
    let app = TestApp::spawn().await;
    let driver = start_chromedriver().await;
    let (bob_profile, admin_profile) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bob = chromium(&driver, &bob_profile).await;
    let admin = chromium(&driver, &admin_profile).await;
    let run = async {
        browser_sign_in(&bob, &app, "bob").await?;
        browser_sign_in(&admin, &app, "admin").await?;
        click(&admin, "[data-testid=nav-admin]").await?;
        let search = admin.query(By::Css("[data-testid=search]")).first().await?;
        search.send_keys("bob").await?;
        click(&admin, "[data-testid=search-submit]").await?;
        // The results page, not the list the search was typed on (a click does not wait for
        // the navigation it starts).
        for _ in 0..50 {
            if admin
                .current_url()
                .await?
                .query()
                .is_some_and(|q| q.contains("q=bob"))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let rows = admin.find_all(By::Css("[data-testid=user-row]")).await?;
        assert_eq!(rows.len(), 1, "only bob matches");
        click(&admin, "[data-testid=user-link]").await?;
        assert_eq!(
            text_of(&admin, "[data-testid=target-email]").await?,
            "bob@example.test"
        );
        assert_eq!(text_of(&admin, "[data-testid=sessions]").await?, "1");
        click(&admin, "[data-testid=revoke]").await?;
        click(&admin, "[data-testid=confirm-revoke]").await?;
        assert_eq!(
            text_of(&admin, "[data-testid=audit-outcome]").await?,
            "revoked at the provider"
        );
        assert_eq!(text_of(&admin, "[data-testid=sessions]").await?, "0");
        // Bob, still looking at his files, reloads: he is signed out.
        bob.refresh().await?;
        bob.query(By::Css("[data-testid=sign-in]")).first().await?;
        assert!(bob
            .find_all(By::Css("[data-testid=user-email]"))
            .await?
            .is_empty());
        Ok::<_, WebDriverError>(())
    }
    .await;
    if let Err(e) = &run {
        let dir = save_artifacts(&admin, "browser_admin_revoke_admin").await;
        save_artifacts(&bob, "browser_admin_revoke_bob").await;
        let _ = (admin.quit().await, bob.quit().await);
        panic!(
            "admin revoke in the browser failed: {e} (artifacts in {})",
            dir.display()
        );
    }
    let _ = (admin.quit().await, bob.quit().await);
}

/// Alice, signed in with Drive only, opens Gmail from the menu: Google asks for Gmail alone,
/// she allows it, and she lands back on her Gmail page; Drive still lists her files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_incremental_consent_for_gmail() {
    with_browser(
        "browser_incremental_consent_for_gmail",
        Backend::Sqlite,
        |web, app| async move {
            let run = async {
                browser_sign_in(&web, &app, "alice").await?;
                click(&web, "[data-testid=nav-gmail]").await?;
                // Google's consent screen, for the added scope only.
                let consent = web.query(By::Css("[data-testid=allow]")).first().await?;
                let source = web.source().await?;
                assert!(source.contains("gmail"), "the consent screen names Gmail");
                consent.click().await?;
                let subjects = web
                    .query(By::Css("[data-testid=subject]"))
                    .all_from_selector_required()
                    .await?;
                assert_eq!(subjects.len(), 25);
                assert!(web.current_url().await?.path() == "/gmail");
                click(&web, "[data-testid=next-page]").await?;
                assert_eq!(text_of(&web, "[data-testid=page-number]").await?, "page 2");
                click(&web, "[data-testid=nav-drive]").await?;
                assert_eq!(web.find_all(By::Css("[data-testid=file]")).await?.len(), 25);
                Ok(())
            }
            .await;
            (web, run)
        },
    )
    .await;
}
