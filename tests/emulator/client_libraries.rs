//! Google's own Python client libraries, unchanged.

use crate::prelude::*;

// ------------------------------------------------- Google's own client libraries

/// Google's Python libraries (google-auth-oauthlib, google-auth, google-api-python-client) work
/// against the emulator with nothing changed but endpoint URLs: see tests/python/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn googles_python_client_libraries_work_unchanged() {
    let emu = start().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps (scripts/test does) to install Google's Python client libraries",
        python.display()
    );
    let script = root.join("tests/python/google_clients.py");
    let url = emu.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args([url.as_str(), CLIENT_ID, CLIENT_SECRET, REDIRECT])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("google client libraries: all checks passed"),
        "{stdout}"
    );
    assert!(stdout.contains("ok   Drive files().list pages through every file once"));
}
