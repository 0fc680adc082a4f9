//! Test support for the app, behind the `testing` feature: [`TestApp`] (the emulator and the
//! app on port 0 with a fresh SQLite file or PostgreSQL database, started through
//! `startup::start_on` as `main` starts it, and a client with a cookie store and redirects
//! off), the rows a test reads or seeds ([`rows`]), and [`on_both_backends!`], the one way to
//! run a test on SQLite and PostgreSQL. The app's integration tests and its benchmark driver
//! use it; nothing else compiles it.

mod app;
mod postgres;
pub mod rows;

pub use app::{TestApp, TestAppBuilder};
pub use postgres::{create_database, drop_database};
pub use rows::{SessionRow, Snapshot};

use std::sync::Arc;

use reqwest::header::LOCATION;
use reqwest::Response;

pub const SECRET: &str = "test-secret-key-0123456789-0123456789-0123456789-0123456789-0123456789";
pub const CLIENT_ID: &str = "test-app.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-test-client-secret";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines, for each `async fn name(app) { … }`, a module `name` with two tests, `sqlite` and
/// `postgres`, running the body against an app on a fresh database of each backend. The
/// PostgreSQL one runs when `TEST_POSTGRES_URL` is set (CI sets it) and says so when it is not.
/// `with spawn;` first names how the app is made (an `async fn(Backend) -> Option<TestApp>`;
/// by default [`TestApp::spawn_on`]).
#[macro_export]
macro_rules! on_both_backends {
    (with $spawn:expr; $(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::testing::TestApp) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = ($spawn)($crate::testing::Backend::Sqlite).await;
                run(app.expect("an app on SQLite")).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match ($spawn)($crate::testing::Backend::Postgres).await {
                    Some(app) => run(app).await,
                    None => eprintln!("postgres variant not run: TEST_POSTGRES_URL is not set"),
                }
            }
        }
    )*};
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $crate::on_both_backends! {
            with $crate::testing::TestApp::spawn_on;
            $(async fn $name($app) $body)*
        }
    };
}

/// The `offline-access` binary that cargo built beside the running test or benchmark:
/// `target/<profile>/offline-access`, next to the `deps/` folder the test runs from.
pub fn binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the running test's own path");
    let dir = exe.parent().expect("the test's folder");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("the profile's folder")
    } else {
        dir
    };
    dir.join(format!("offline-access{}", std::env::consts::EXE_SUFFIX))
}

/// A browser: a client with a cookie jar of its own (returned too) that follows no redirect.
pub fn client_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

pub fn location(resp: &Response) -> &str {
    resp.headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
}
