//! Headless Debian Chromium (`/usr/bin/chromium`) through chromedriver, for the tests that
//! drive a browser. chromedriver is killed on drop, also when a test panics.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

/// chromedriver on a free port.
pub struct ChromeDriver {
    child: Child,
    pub url: String,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `/usr/bin/chromedriver` and waits until it answers.
pub async fn start_chromedriver() -> ChromeDriver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed (scripts/install-deps installs chromium-driver)");
    let driver = ChromeDriver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(res) = http.get(format!("{}/status", driver.url)).send().await {
            if res.status().is_success() {
                return driver;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

/// A headless Chromium session with a fresh profile in `profile` (a temporary directory).
pub async fn chromium(driver: &ChromeDriver, profile: impl AsRef<Path>) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary("/usr/bin/chromium")
        .expect("the Chromium binary");
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
    ] {
        caps.add_arg(arg).expect("a Chromium argument");
    }
    caps.add_arg(&format!("--user-data-dir={}", profile.as_ref().display()))
        .expect("a Chromium argument");
    WebDriver::new(&driver.url, caps)
        .await
        .expect("a Chromium session")
}

/// Saves a screenshot and the page source under `test-artifacts/` in the working directory
/// (the package's root, under `cargo test`); returns the folder.
pub async fn save_artifacts(web: &WebDriver, name: &str) -> PathBuf {
    let dir = std::env::current_dir()
        .unwrap_or_default()
        .join("test-artifacts");
    let _ = std::fs::create_dir_all(&dir);
    let _ = web.screenshot(&dir.join(format!("{name}.png"))).await;
    if let Ok(src) = web.source().await {
        let _ = std::fs::write(dir.join(format!("{name}.html")), src);
    }
    dir
}
