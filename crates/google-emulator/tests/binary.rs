//! The `google-emulator` binary itself: its help, a state file kept across a restart, and a
//! corrupt state file refused with one line that names the file and the way out.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_google-emulator");

#[test]
fn help_names_every_option() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in [
        "--bind",
        "--seed",
        "--issuer",
        "--write-client-secret",
        "--profile",
        "--signing-key",
        "--state",
        "--reset-state",
        "--allowed-host",
    ] {
        assert!(help.contains(option), "{option} in:\n{help}");
    }
}

#[test]
fn a_corrupt_state_file_is_one_line_naming_it_and_reset_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, "{ not json").unwrap();
    let out = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--state"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("--reset-state"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
}

/// Starts the binary on a free port with `--state`, waits for its banner, returns it.
fn start(state: &std::path::Path) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--state"])
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, port)
}

#[test]
fn an_account_added_before_a_restart_is_there_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let (mut first, port) = start(&state);
    let added = http(
        port,
        "POST",
        "/emulator/accounts",
        r#"{"email": "restart@example.test", "name": "Re Start"}"#,
    );
    assert!(added.starts_with("HTTP/1.1 201"), "{added}");
    // Written shortly after the change (no shutdown needed): once it is in the file, a kill
    // loses nothing.
    let started = Instant::now();
    while !std::fs::read_to_string(&state)
        .unwrap_or_default()
        .contains("restart@example.test")
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the change never reached the state file"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, port) = start(&state);
    let listed = http(port, "GET", "/emulator/accounts", "");
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(listed.contains("restart@example.test"), "{listed}");
}

/// One HTTP/1.1 request to the emulator on `port` (JSON body when not empty); the whole answer.
fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
