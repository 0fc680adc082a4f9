//! State that survives restarts (`--state FILE`, `Options::state_file`), its export and import
//! (`GET`/`PUT /emulator/state`), and signing-key rotation (`POST /emulator/keys/rotate`).

use std::net::TcpListener;
use std::path::Path;

use crate::prelude::*;

/// An emulator keeping its state in `path`, and the handle that stops it (a restart).
fn start_kept(path: &Path) -> (Emu, actix_web::dev::ServerHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let options = Options {
        state_file: Some(path.to_path_buf()),
        ..Options::default()
    };
    let (emulator, server) = google_emulator::start(listener, options).expect("start");
    let handle = server.handle();
    tokio::spawn(server);
    (Emu::of(emulator), handle)
}

async fn file_names(emu: &Emu, token: &str) -> Vec<String> {
    let res = emu.api("/drive/v3/files?pageSize=1000", token).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_restart_with_a_state_file_keeps_refresh_tokens_consents_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let (emu, handle) = start_kept(&path);
    let scope = format!("{BASIC} {DRIVE_META}");
    let first = emu
        .tokens("alice@example.test", &scope, &[("access_type", "offline")])
        .await;
    let refresh = first["refresh_token"].as_str().unwrap().to_string();
    let (status, _) = emu
        .post_control(
            "/accounts/alice@example.test/files",
            json!({"files": [{"name": "added before the restart.txt"}]}),
        )
        .await;
    assert_eq!(status, 201);
    let kid = jwt_parts(first["id_token"].as_str().unwrap()).0["kid"].clone();
    handle.stop(true).await;
    emu.emulator.save().unwrap();
    let mode = std::fs::metadata(&path).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600,
        "tokens and keys are for the owner only"
    );

    let (emu, _handle) = start_kept(&path);
    // The refresh token issued before the restart still refreshes, signed by the same key.
    let (status, body) = emu.refresh(&refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jwt_parts(body["id_token"].as_str().unwrap()).0["kid"], kid);
    assert!(verify_rs256(&emu, body["id_token"].as_str().unwrap()).await);
    // So does the access token issued before it.
    let names = file_names(&emu, first["access_token"].as_str().unwrap()).await;
    assert!(names.contains(&"added before the restart.txt".to_string()));
    // The consent is remembered: a silent request (prompt=none) gets a code, not
    // consent_required.
    let params = emu.auth_params(
        &scope,
        &[("login_hint", "alice@example.test"), ("prompt", "none")],
    );
    let res = emu.get_auth(&emu.http, &params).await;
    assert_eq!(res.status(), 302);
    let q = query(&location(&res));
    assert!(q.contains_key("code"), "consent remembered: {q:?}");
}

#[tokio::test]
async fn changes_are_written_to_the_state_file_as_they_happen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/state.json");
    let (emu, _handle) = start_kept(&path);
    let written: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        written["format"], "google-emulator-state",
        "written at start"
    );
    assert_eq!(written["refresh_tokens"], json!([]));
    let tokens = emu
        .tokens(
            "bob@example.test",
            &format!("{BASIC} {DRIVE_META}"),
            &[("access_type", "offline")],
        )
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let mut seen = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if doc["refresh_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["token"] == refresh)
        {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "the new refresh token reaches the file without a shutdown"
    );
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, vec!["state.json"], "no temporary file left");
}

#[tokio::test]
async fn a_corrupt_state_file_stops_the_start_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        (
            "truncated.json",
            &b"{\"format\": \"google-emulator-state\", \"vers"[..],
        ),
        ("other.json", &b"{\"format\": \"something else\"}"[..]),
        ("binary.json", &[0xff, 0xfe, 0x00][..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let options = Options {
            state_file: Some(path.clone()),
            ..Options::default()
        };
        let err = match google_emulator::start(listener, options) {
            Ok(_) => panic!("{name}: started on a corrupt state file"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(&path.display().to_string()), "{name}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
        assert_eq!(std::fs::read(&path).unwrap(), content, "{name} untouched");

        // --reset-state (Options::reset_state) begins again from the seed and overwrites it.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let options = Options {
            state_file: Some(path.clone()),
            reset_state: true,
            ..Options::default()
        };
        assert!(google_emulator::start(listener, options).is_ok(), "{name}");
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["format"], "google-emulator-state");
    }
}

#[tokio::test]
async fn the_state_exported_then_imported_after_a_reset_is_the_same_state() {
    let emu = start().await;
    let scope = format!("{BASIC} {DRIVE_META}");
    let tokens = emu
        .tokens("alice@example.test", &scope, &[("access_type", "offline")])
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, exported) = emu.control(reqwest::Method::GET, "/state", None).await;
    assert_eq!(status, 200);
    assert_eq!(exported["accounts"].as_array().unwrap().len(), 3);

    let (status, _) = emu.post_control("/reset", json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = emu.refresh(refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, body) = emu
        .control(reqwest::Method::PUT, "/state", Some(exported.clone()))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_tokens"], 1);
    let (_, again) = emu.control(reqwest::Method::GET, "/state", None).await;
    assert_eq!(again, exported, "round trip");
    let (status, body) = emu.refresh(refresh).await;
    assert_eq!(status, 200, "{body}");

    // A document that is not one is refused and changes nothing.
    for bad in [
        json!({"accounts": []}),
        json!({"format": "google-emulator-state", "version": 99}),
    ] {
        let (status, body) = emu.control(reqwest::Method::PUT, "/state", Some(bad)).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    }
    let (status, _) = emu.refresh(refresh).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_key_rotation_signs_with_the_new_key_and_keeps_the_old_one_until_the_next() {
    let emu = start().await;
    let scope = format!("{BASIC} {DRIVE_META}");
    let kid_of = |t: &Value| jwt_parts(t["id_token"].as_str().unwrap()).0["kid"].clone();
    let jwks = || async {
        let body = emu.get_json("/oauth2/v3/certs").await;
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].clone())
            .collect::<Vec<_>>()
    };
    let before = emu.tokens("alice@example.test", &scope, &[]).await;
    let old = kid_of(&before);
    assert_eq!(jwks().await, vec![old.clone()]);

    let (status, rotated) = emu.post_control("/keys/rotate", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(rotated["previous"], old);
    let new = rotated["kid"].clone();
    assert_ne!(new, old);
    let after = emu.tokens("bob@example.test", &scope, &[]).await;
    assert_eq!(kid_of(&after), new, "new tokens carry the new key");
    assert_eq!(
        jwks().await,
        vec![new.clone(), old.clone()],
        "both published"
    );
    assert!(verify_rs256(&emu, before["id_token"].as_str().unwrap()).await);
    assert!(verify_rs256(&emu, after["id_token"].as_str().unwrap()).await);
    let v1 = emu.get_json("/oauth2/v1/certs").await;
    assert_eq!(v1.as_object().unwrap().len(), 2, "{v1}");

    let (_, second) = emu.post_control("/keys/rotate", json!({})).await;
    assert_eq!(second["retired"], old);
    let kids = jwks().await;
    assert_eq!(kids.len(), 2);
    assert!(!kids.contains(&old), "retired by the second rotation");
    assert!(!verify_rs256(&emu, before["id_token"].as_str().unwrap()).await);
}
