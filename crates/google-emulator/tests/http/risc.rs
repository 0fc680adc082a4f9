//! Cross-Account Protection (RISC): the configuration document, push streams, every event type
//! delivered as a signed SET to a receiver started here, retries, and the controls that send
//! events (revoke, disable, enable).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha512};

use crate::prelude::*;

const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
const OAUTH: &str = "https://schemas.openid.net/secevent/oauth/event-type/";

/// One POST a receiver got.
#[derive(Clone, Debug)]
struct Received {
    content_type: String,
    accept: String,
    body: String,
}

/// A RISC receiver on 127.0.0.1:0 that records what it gets and answers the statuses it was
/// given, in order, then 202.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(
    state: web::Data<ReceiverState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    state.got.lock().unwrap().push(Received {
        content_type: header("content-type"),
        accept: header("accept"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = state.statuses.lock().unwrap().pop_front().unwrap_or(202);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

async fn receiver(statuses: &[u16]) -> Receiver {
    let state = ReceiverState {
        got: Arc::default(),
        statuses: Arc::new(Mutex::new(statuses.iter().copied().collect())),
    };
    let data = web::Data::new(state.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/risc", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Receiver {
        url: format!("http://127.0.0.1:{port}/risc"),
        got: state.got,
    }
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until it has received `n` POSTs (panics after 10 s); returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver got {} POSTs, not {n}", self.got().len());
    }
}

async fn add_stream(emu: &Emu, receiver: &str, events: Option<Value>) -> (u16, Value) {
    let mut body = json!({"receiver": receiver, "client_id": CLIENT_ID});
    if let Some(e) = events {
        body["events_requested"] = e;
    }
    emu.post_control("/risc/stream", body).await
}

async fn event(emu: &Emu, body: Value) -> (u16, Value) {
    emu.post_control("/risc/events", body).await
}

/// Checks a received SET (signature, header, iss, aud, jti, one event of `uri`) and answers
/// its event.
async fn check_set(emu: &Emu, got: &Received, uri: &str) -> Value {
    assert_eq!(got.content_type, "application/secevent+jwt");
    assert_eq!(got.accept, "application/json");
    assert!(verify_rs256(emu, &got.body).await, "signed by a JWKS key");
    let (header, claims) = jwt_parts(&got.body);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "secevent+jwt");
    let kid = emu.get_json("/oauth2/v3/certs").await["keys"][0]["kid"].clone();
    assert_eq!(header["kid"], kid, "the current ID-token key");
    assert_eq!(claims["iss"], format!("{}/", emu.url));
    assert_eq!(claims["aud"], CLIENT_ID);
    assert!(claims["iat"].as_i64().unwrap() > 1_700_000_000);
    let jti = claims["jti"].as_str().unwrap();
    assert!(
        jti.len() == 32 && jti.chars().all(|c| c.is_ascii_hexdigit()),
        "{jti}"
    );
    let events = claims["events"].as_object().unwrap();
    assert_eq!(events.len(), 1, "{claims}");
    events[uri].clone()
}

fn alice_subject(emu: &Emu) -> Value {
    json!({"subject_type": "iss-sub", "iss": format!("{}/", emu.url), "sub": "100000000000000000001"})
}

#[tokio::test]
async fn risc_configuration_is_googles_shape_at_this_issuer() {
    let emu = start().await;
    let res = emu
        .http
        .get(format!("{}/.well-known/risc-configuration", emu.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
    let doc: Value = res.json().await.unwrap();
    let issuer = emu.get_json("/.well-known/openid-configuration").await["issuer"].clone();
    let o = issuer.as_str().unwrap();
    assert_eq!(
        doc,
        json!({
            "issuer": format!("{o}/"),
            "jwks_uri": format!("{o}/oauth2/v3/certs"),
            "delivery_methods_supported": ["https://schemas.openid.net/secevent/risc/delivery-method/push"],
            "configuration_endpoint": format!("{o}/v1beta/stream"),
            "status_endpoint": format!("{o}/v1beta/stream/status"),
            "verification_endpoint": format!("{o}/v1beta/stream:verify"),
        })
    );
}

#[tokio::test]
async fn streams_are_registered_replaced_listed_removed_and_reset() {
    let emu = start().await;
    let (status, stream) = add_stream(
        &emu,
        "http://127.0.0.1:1/risc",
        Some(json!([
            "tokens-revoked",
            format!("{RISC}account-disabled"),
            "tokens-revoked"
        ])),
    )
    .await;
    assert_eq!(status, 200, "{stream}");
    assert_eq!(
        stream,
        json!({"receiver": "http://127.0.0.1:1/risc", "client_id": CLIENT_ID,
               "events_requested": [format!("{OAUTH}tokens-revoked"), format!("{RISC}account-disabled")]})
    );
    // Without events_requested: every type. Same receiver: replaced.
    let (_, all) = add_stream(&emu, "http://127.0.0.1:1/risc", None).await;
    assert_eq!(all["events_requested"].as_array().unwrap().len(), 7);
    add_stream(&emu, "https://receiver.example.test/risc", None).await;
    let (status, list) = emu.control(Method::GET, "/risc/stream", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["streams"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list["streams"][0], all);
    // Kept in the state document.
    let state = emu.get_json("/emulator/state").await;
    assert_eq!(state["risc_streams"].as_array().unwrap().len(), 2);
    let (status, _) = emu
        .control(
            Method::DELETE,
            "/risc/stream",
            Some(json!({"receiver": "http://127.0.0.1:1/risc"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = emu
        .control(
            Method::DELETE,
            "/risc/stream",
            Some(json!({"receiver": "http://127.0.0.1:1/risc"})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = emu.control(Method::GET, "/risc/stream", None).await;
    assert_eq!(list["streams"].as_array().unwrap().len(), 1);
    assert_eq!(emu.post_control("/reset", json!({})).await.0, 200);
    let (_, list) = emu.control(Method::GET, "/risc/stream", None).await;
    assert_eq!(list["streams"], json!([]));
}

#[tokio::test]
async fn bad_control_bodies_are_refused() {
    let emu = start().await;
    for body in [
        json!({"receiver": "/risc", "client_id": CLIENT_ID}),
        json!({"receiver": "ftp://127.0.0.1/risc", "client_id": CLIENT_ID}),
        json!({"receiver": "not a url", "client_id": CLIENT_ID}),
        json!({"receiver": "http://127.0.0.1:1/risc", "client_id": " "}),
        json!({"receiver": "http://127.0.0.1:1/risc"}),
        json!({"receiver": "http://127.0.0.1:1/risc", "client_id": CLIENT_ID, "events_requested": ["nope"]}),
        json!({"receiver": "http://127.0.0.1:1/risc", "client_id": CLIENT_ID, "events_requested": []}),
    ] {
        let (status, answer) = emu.post_control("/risc/stream", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"], "bad_request", "{answer}");
    }
    for (body, want) in [
        (json!({"email": ALICE, "type": "nope"}), 400),
        (json!({"type": "sessions-revoked"}), 400),
        (
            json!({"email": "nobody@example.test", "type": "sessions-revoked"}),
            404,
        ),
        (
            json!({"email": ALICE, "type": "account-disabled", "reason": "boredom"}),
            400,
        ),
        (
            json!({"email": ALICE, "type": "token-revoked", "token_identifier_alg": "md5"}),
            400,
        ),
    ] {
        let (status, answer) = event(&emu, body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
    }
    let (status, _) = emu
        .post_control("/accounts/nobody@example.test/disable", json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = emu
        .post_control("/accounts/alice@example.test/disable", json!({"reason": 7}))
        .await;
    assert_eq!(status, 400);
    // token-revoked for a stream whose client has no refresh token of the account.
    add_stream(&emu, "http://127.0.0.1:1/risc", None).await;
    let (status, answer) = event(&emu, json!({"email": ALICE, "type": "token-revoked"})).await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn every_event_type_is_delivered_once_as_a_signed_set() {
    let emu = start().await;
    let rx = receiver(&[]).await;
    let (status, _) = add_stream(&emu, &rx.url, None).await;
    assert_eq!(status, 200);
    let cases = [
        (
            json!({"email": ALICE, "type": "sessions-revoked"}),
            format!("{RISC}sessions-revoked"),
            json!({"subject": alice_subject(&emu)}),
        ),
        (
            json!({"email": ALICE, "type": "tokens-revoked"}),
            format!("{OAUTH}tokens-revoked"),
            json!({"subject": alice_subject(&emu)}),
        ),
        (
            json!({"email": ALICE, "type": format!("{RISC}account-disabled"), "reason": "hijacking"}),
            format!("{RISC}account-disabled"),
            json!({"subject": alice_subject(&emu), "reason": "hijacking"}),
        ),
        (
            json!({"email": ALICE, "type": "account-disabled", "reason": "bulk-account"}),
            format!("{RISC}account-disabled"),
            json!({"subject": alice_subject(&emu), "reason": "bulk-account"}),
        ),
        (
            json!({"email": ALICE, "type": "account-disabled"}),
            format!("{RISC}account-disabled"),
            json!({"subject": alice_subject(&emu)}),
        ),
        (
            json!({"email": ALICE, "type": "account-enabled"}),
            format!("{RISC}account-enabled"),
            json!({"subject": alice_subject(&emu)}),
        ),
        (
            json!({"email": ALICE, "type": "account-credential-change-required"}),
            format!("{RISC}account-credential-change-required"),
            json!({"subject": alice_subject(&emu)}),
        ),
        (
            json!({"type": "verification", "state": "st-42"}),
            format!("{RISC}verification"),
            json!({"state": "st-42"}),
        ),
        (
            json!({"type": "verification"}),
            format!("{RISC}verification"),
            json!({}),
        ),
    ];
    let mut jtis = Vec::new();
    for (i, (body, uri, want)) in cases.iter().enumerate() {
        let (status, answer) = event(&emu, body.clone()).await;
        assert_eq!(status, 200, "{body}: {answer}");
        let deliveries = answer["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 1, "{answer}");
        let d = &deliveries[0];
        assert_eq!(
            (d["receiver"].as_str(), d["client_id"].as_str()),
            (Some(rx.url.as_str()), Some(CLIENT_ID))
        );
        assert_eq!(d["type"], uri.as_str());
        assert_eq!(d["status"], 202);
        // The first attempt is over when the control answers.
        let got = rx.got();
        assert_eq!(got.len(), i + 1, "one SET per event");
        let ev = check_set(&emu, &got[i], uri).await;
        assert_eq!(&ev, want, "{body}");
        let (_, claims) = jwt_parts(&got[i].body);
        assert_eq!(claims["jti"], d["jti"]);
        jtis.push(d["jti"].as_str().unwrap().to_string());
    }
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), cases.len(), "every jti is new");
    let (_, log) = emu.control(Method::GET, "/requests", None).await;
    assert_eq!(log["counts"]["risc:delivery"], cases.len());
}

#[tokio::test]
async fn a_stream_gets_only_the_types_it_asked_for_with_its_own_audience() {
    let emu = start().await;
    let (rx1, rx2) = (receiver(&[]).await, receiver(&[]).await);
    add_stream(&emu, &rx1.url, Some(json!(["sessions-revoked"]))).await;
    let (status, _) = emu
        .post_control(
            "/risc/stream",
            json!({"receiver": rx2.url, "client_id": "other.apps.googleusercontent.com",
                   "events_requested": ["sessions-revoked", "account-enabled"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, answer) = event(&emu, json!({"email": ALICE, "type": "sessions-revoked"})).await;
    assert_eq!(
        answer["deliveries"].as_array().unwrap().len(),
        2,
        "{answer}"
    );
    let (_, answer) = event(&emu, json!({"email": ALICE, "type": "account-enabled"})).await;
    assert_eq!(
        answer["deliveries"].as_array().unwrap().len(),
        1,
        "{answer}"
    );
    let (_, answer) = event(&emu, json!({"email": ALICE, "type": "tokens-revoked"})).await;
    assert_eq!(answer["deliveries"], json!([]));
    assert_eq!(rx1.got().len(), 1);
    let got = rx2.got();
    assert_eq!(got.len(), 2);
    assert_eq!(
        jwt_parts(&got[0].body).1["aud"],
        "other.apps.googleusercontent.com"
    );
}

#[tokio::test]
async fn token_revoked_names_the_newest_refresh_token_both_ways() {
    let emu = start().await;
    let offline = [("access_type", "offline"), ("prompt", "consent")];
    let older = emu.tokens(ALICE, BASIC, &offline).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let code = emu.sign_in(ALICE, BASIC, &offline).await["code"].clone();
    let (_, t) = emu.exchange(&code).await;
    let newest = t["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(older, newest);
    let rx = receiver(&[]).await;
    add_stream(&emu, &rx.url, Some(json!(["token-revoked"]))).await;
    let uri = format!("{OAUTH}token-revoked");
    let (status, answer) = event(&emu, json!({"email": ALICE, "type": "token-revoked"})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = event(
        &emu,
        json!({"email": ALICE, "type": "token-revoked", "token_identifier_alg": "prefix"}),
    )
    .await;
    assert_eq!(status, 200);
    let got = rx.got();
    assert_eq!(got.len(), 2);
    let hashed = check_set(&emu, &got[0], &uri).await;
    let hash = STANDARD.encode(Sha512::digest(Sha512::digest(newest.as_bytes())));
    assert_eq!(
        hashed,
        json!({"subject": {"subject_type": "oauth_token", "token_type": "refresh_token",
                           "token_identifier_alg": "hash_base64_sha512_sha512", "token": hash}})
    );
    let prefixed = check_set(&emu, &got[1], &uri).await;
    assert_eq!(prefixed["subject"]["token_identifier_alg"], "prefix");
    assert_eq!(prefixed["subject"]["token"], &newest[..16]);
    // Redeeming its code again revokes it (and only it): the older one is now the newest.
    assert_eq!(emu.exchange(&code).await.0, 400);
    assert_eq!(emu.refresh(&newest).await.0, 400);
    event(
        &emu,
        json!({"email": ALICE, "type": "token-revoked", "token_identifier_alg": "prefix"}),
    )
    .await;
    let got = rx.wait_for(3).await;
    let ev = check_set(&emu, &got[2], &uri).await;
    assert_eq!(ev["subject"]["token"], &older[..16]);
    assert_eq!(emu.refresh(&older).await.0, 200);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_jti_and_logged() {
    let emu = start_with(Options {
        risc_retry_base: Some(Duration::from_millis(50)),
        ..Options::default()
    })
    .await;
    let rx = receiver(&[500]).await;
    add_stream(&emu, &rx.url, None).await;
    let (status, answer) = event(&emu, json!({"email": ALICE, "type": "sessions-revoked"})).await;
    assert_eq!(status, 200);
    let d = &answer["deliveries"][0];
    assert_eq!(d["status"], 500, "{answer}");
    let got = rx.wait_for(2).await;
    assert_eq!(got[0].body, got[1].body, "the same SET");
    assert_eq!(jwt_parts(&got[1].body).1["jti"], d["jti"]);
    // The retry's log entry lands once its answer is in.
    let mut log = Value::Null;
    for _ in 0..500 {
        log = emu.control(Method::GET, "/requests", None).await.1;
        if log["counts"]["risc:delivery"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attempts: Vec<&Value> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "risc:delivery")
        .collect();
    assert_eq!(attempts.len(), 2, "{log}");
    for (i, (a, status)) in attempts.iter().zip([500, 202]).enumerate() {
        assert_eq!(a["status"], status);
        assert_eq!(a["attempt"], i + 1);
        assert_eq!(a["jti"], d["jti"]);
        assert_eq!(a["receiver"], rx.url.as_str());
        assert_eq!(a["event_type"], format!("{RISC}sessions-revoked"));
        assert_eq!(a["client_id"], CLIENT_ID);
    }
    assert!(!log.to_string().contains(&got[0].body), "no SET in the log");
    // Delivered: no further attempt.
    assert_eq!(log["counts"]["risc:delivery"], 2);
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_gets_status_null() {
    let emu = start_with(Options {
        risc_retry_base: Some(Duration::from_secs(3600)),
        ..Options::default()
    })
    .await;
    // A port nothing listens on: the connection is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/risc", closed.local_addr().unwrap());
    drop(closed);
    add_stream(&emu, &url, None).await;
    let (status, answer) = event(&emu, json!({"email": ALICE, "type": "account-enabled"})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["deliveries"][0]["status"], Value::Null, "{answer}");
    let (_, log) = emu.control(Method::GET, "/requests", None).await;
    let entry = log["requests"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(entry["path"], "risc:delivery");
    assert_eq!(entry["status"], Value::Null);
}

#[tokio::test]
async fn revoking_an_apps_access_sends_tokens_revoked() {
    let emu = start().await;
    let t = emu
        .tokens(ALICE, BASIC, &[("access_type", "offline")])
        .await;
    let rx = receiver(&[]).await;
    add_stream(&emu, &rx.url, Some(json!(["tokens-revoked"]))).await;
    let (status, answer) = emu
        .post_control("/accounts/alice@example.test/revoke", json!({}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["revoked"]
        .as_array()
        .unwrap()
        .contains(&json!(CLIENT_ID)));
    assert_eq!(answer["deliveries"][0]["status"], 202, "{answer}");
    let got = rx.got();
    assert_eq!(got.len(), 1);
    let ev = check_set(&emu, &got[0], &format!("{OAUTH}tokens-revoked")).await;
    assert_eq!(ev, json!({"subject": alice_subject(&emu)}));
    assert_eq!(
        emu.refresh(t["refresh_token"].as_str().unwrap()).await.0,
        400
    );
    // Another account with no grant to the client: nothing to tell the stream.
    let (_, answer) = emu
        .post_control("/accounts/bob@example.test/revoke", json!({}))
        .await;
    assert_eq!(answer["deliveries"], json!([]));
    assert_eq!(rx.got().len(), 1);
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_or_refresh_until_enabled() {
    let emu = start().await;
    let t = emu
        .tokens(
            ALICE,
            &scope_with(DRIVE_META),
            &[("access_type", "offline")],
        )
        .await;
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let access = t["access_token"].as_str().unwrap().to_string();
    let rx = receiver(&[]).await;
    add_stream(&emu, &rx.url, None).await;
    let (status, answer) = emu
        .post_control(
            "/accounts/alice@example.test/disable",
            json!({"reason": "hijacking"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["disabled"], true);
    assert_eq!(answer["deliveries"][0]["status"], 202);
    let ev = check_set(&emu, &rx.got()[0], &format!("{RISC}account-disabled")).await;
    assert_eq!(
        ev,
        json!({"subject": alice_subject(&emu), "reason": "hijacking"})
    );
    let (status, body) = emu.refresh(&refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(emu.api("/drive/v3/files", &access).await.status(), 401);
    // The consent step answers Google's error page; a silent sign-in too.
    let params = emu.auth_params(BASIC, &[]);
    let res = emu
        .post_consent(&emu.http, &params, ALICE, "allow", &[])
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("account_disabled"));
    let hinted = emu.auth_params(BASIC, &[("login_hint", ALICE)]);
    assert_eq!(emu.get_auth(&emu.http, &hinted).await.status(), 403);
    // Kept in the state document.
    let state = emu.get_json("/emulator/state").await;
    assert_eq!(
        state["disabled_accounts"],
        json!([{"email": ALICE, "reason": "hijacking"}])
    );
    // Bob is not affected.
    emu.tokens(BOB, BASIC, &[]).await;
    let (status, answer) = emu
        .post_control("/accounts/alice@example.test/enable", json!({}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["disabled"], false);
    let got = rx.wait_for(2).await;
    let ev = check_set(&emu, &got[1], &format!("{RISC}account-enabled")).await;
    assert_eq!(ev, json!({"subject": alice_subject(&emu)}));
    assert_eq!(emu.refresh(&refresh).await.0, 200);
    assert_eq!(emu.api("/drive/v3/files", &access).await.status(), 200);
    emu.tokens(ALICE, BASIC, &[]).await;
}

#[tokio::test]
async fn streams_and_disabled_accounts_are_exported_imported_and_old_documents_load() {
    let emu = start().await;
    add_stream(
        &emu,
        "http://127.0.0.1:1/risc",
        Some(json!(["account-enabled"])),
    )
    .await;
    let (status, _) = emu
        .post_control("/accounts/bob@example.test/disable", json!({}))
        .await;
    assert_eq!(status, 200);
    let (_, accounts) = emu.control(Method::GET, "/accounts", None).await;
    let bob = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == BOB)
        .unwrap()
        .clone();
    assert_eq!(bob["disabled"], true);
    let doc = emu.get_json("/emulator/state").await;
    assert_eq!(doc["disabled_accounts"], json!([{"email": BOB}]));
    assert_eq!(emu.post_control("/reset", json!({})).await.0, 200);
    assert_eq!(
        emu.get_json("/emulator/state").await["disabled_accounts"],
        json!([])
    );
    let (status, _) = emu.control(Method::PUT, "/state", Some(doc.clone())).await;
    assert_eq!(status, 200);
    let (_, list) = emu.control(Method::GET, "/risc/stream", None).await;
    assert_eq!(list["streams"], doc["risc_streams"]);
    let params = emu.auth_params(BASIC, &[]);
    let res = emu
        .post_consent(&emu.http, &params, BOB, "allow", &[])
        .await;
    assert_eq!(res.status(), 403, "still disabled after the import");
    // A document written before RISC (no such fields) still loads, with neither.
    let mut old = doc;
    let o = old.as_object_mut().unwrap();
    o.remove("risc_streams");
    o.remove("disabled_accounts");
    let (status, answer) = emu.control(Method::PUT, "/state", Some(old)).await;
    assert_eq!(status, 200, "{answer}");
    let (_, list) = emu.control(Method::GET, "/risc/stream", None).await;
    assert_eq!(list["streams"], json!([]));
    emu.tokens(BOB, BASIC, &[]).await;
}

#[tokio::test]
async fn sets_are_signed_with_the_key_in_force_after_a_rotation() {
    let emu = start().await;
    let rx = receiver(&[]).await;
    add_stream(&emu, &rx.url, Some(json!(["sessions-revoked"]))).await;
    let (_, rotated) = emu.post_control("/keys/rotate", json!({})).await;
    let (status, _) = event(&emu, json!({"email": ALICE, "type": "sessions-revoked"})).await;
    assert_eq!(status, 200);
    let got = rx.got();
    check_set(&emu, &got[0], &format!("{RISC}sessions-revoked")).await;
    assert_eq!(jwt_parts(&got[0].body).0["kid"], rotated["kid"]);
}
