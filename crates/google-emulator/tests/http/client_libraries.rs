//! Google's own Python client libraries, unchanged.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use crate::prelude::*;

// ------------------------------------------------- Google's own client libraries

/// Google's Python libraries (google-auth-oauthlib, google-auth, google-api-python-client) work
/// against the emulator with nothing changed but endpoint URLs: see tests/python/. The script
/// only drives the libraries: it prints the authorization URL its Flow made, and the person on
/// the consent screen is [`walk_consent`], which hands back where the emulator redirected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn googles_python_client_libraries_work_unchanged() {
    let emu = start().await;
    let crate_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // scripts/install-deps makes the virtualenv at the workspace root.
    let python = crate_root.join("../../.venv-test/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps (scripts/test does) to install Google's Python client libraries",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(crate_root.join("tests/python/google_clients.py"))
        .args([emu.url.as_str(), CLIENT_ID, CLIENT_SECRET, REDIRECT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (stdout, mut seen, auth_url) = tokio::task::spawn_blocking(move || {
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                return (stdout, seen, None);
            }
            if let Some(url) = line.strip_prefix("AUTHORIZE ") {
                return (stdout, seen, Some(url.trim().to_string()));
            }
            seen.push_str(&line);
        }
    })
    .await
    .unwrap();
    if let Some(auth_url) = auth_url {
        let consent = Consent {
            ticked: Some(&[DRIVE_META]),
            ..Consent::allow(ALICE)
        };
        let back = walk_consent(&http_client(false), &auth_url, consent)
            .await
            .unwrap_or_else(|e| panic!("{seen}\nthe consent screen: {e}"));
        writeln!(child.stdin.take().unwrap(), "{back}").unwrap();
    }
    let (rest, out) = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        let mut stdout = stdout;
        stdout.read_to_string(&mut rest).unwrap();
        (rest, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    seen.push_str(&rest);
    let stdout = seen;
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
