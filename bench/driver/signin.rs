//! Sign-ins: a browser's at the app (one, whose session cookie the run uses, or many, timed),
//! and the same dance with the emulator alone, the driver acting as the client (the floor).
//! The consent form is walked by `google_emulator::testing::walk_consent`.

use std::sync::Arc;

use base64::Engine;
use rand::Rng;
use reqwest::cookie::CookieStore;
use serde_json::{json, Value};
use sha2::Digest;
use url::Url;

use google_emulator::testing::{walk_consent, Consent};
use offline_access::testing::client_with_jar;

use crate::args::{Args, Limit};
use crate::http::{err, expect, expect_json, http, location};
use crate::timed::timed;

pub const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive.metadata.readonly";
/// The fields of the app's Drive files.list (src/google/drive.rs).
const DRIVE_FIELDS: &str = "nextPageToken,files(id,name,mimeType,modifiedTime)";
/// The app's session cookie.
const SESSION_COOKIE: &str = "oa_session";

/// The browser on the emulator's consent screen: every requested scope ticked and Allow;
/// returns where the emulator redirects (back to the client). A screen the emulator skips is
/// that redirect at once.
async fn consent(browser: &reqwest::Client, auth: &Url, account: &str) -> Result<Url, String> {
    let back = walk_consent(browser, auth.as_str(), Consent::allow(account)).await?;
    Url::parse(&back).map_err(|e| format!("the consent redirect {back}: {e}"))
}

/// The browser asks the app at `start` (a URL of its `/oauth2callback`), walks the consent
/// screen and comes back to the callback; where the callback sends it (a 303).
async fn dance(
    browser: &reqwest::Client,
    app: &str,
    start: &str,
    account: &str,
) -> Result<Url, String> {
    let ask = browser.get(start).send().await.map_err(err(start))?;
    if ask.status() != 302 {
        return Err(format!("{start} answered {}", ask.status()));
    }
    let auth = location(&ask, start)?;
    let back = consent(browser, &auth, account).await?;
    if !back.as_str().starts_with(app) {
        return Err(format!("the emulator sent the browser to {back}"));
    }
    let done = browser
        .get(back.as_str())
        .send()
        .await
        .map_err(err("the callback"))?;
    let landed = location(&done, "the callback");
    expect(done, 303, "the callback").await?;
    landed
}

/// One browser's whole sign-in at the app, ending on its signed-in home page; its cookie jar.
async fn app_sign_in(
    app: &str,
    account: &str,
) -> Result<(reqwest::Client, Arc<reqwest::cookie::Jar>), String> {
    let (browser, jar) = client_with_jar();
    dance(&browser, app, &format!("{app}/oauth2callback"), account).await?;
    let home = browser
        .get(format!("{app}/"))
        .send()
        .await
        .map_err(err("GET /"))?;
    let html = expect(home, 200, "GET / after sign-in").await?;
    if !html.contains("data-testid=\"sign-out\"") {
        return Err("GET / after sign-in is not signed in".into());
    }
    Ok((browser, jar))
}

/// `sign-in`: one browser signs in (and with `--grant gmail` allows Gmail too, incremental
/// consent in the same browser); its session cookie, as a `Cookie` header's value.
pub async fn sign_in(a: &Args) -> Result<Value, String> {
    let (app, account) = (a.get("app")?, a.get("account")?);
    let (browser, jar) = app_sign_in(&app, &account).await?;
    match a.opt("grant").as_deref() {
        None => {}
        Some("gmail") => {
            let start = format!("{app}/oauth2callback?grant=gmail");
            let landed = dance(&browser, &app, &start, &account).await?;
            if landed.path() != "/gmail" {
                return Err(format!("the Gmail grant ended on {landed}"));
            }
        }
        Some(other) => return Err(format!("--grant {other:?}: only gmail is known")),
    }
    let url = Url::parse(&app).map_err(|e| format!("{app}: {e}"))?;
    let cookies = jar.cookies(&url).ok_or("the sign-in set no cookie")?;
    let cookies = cookies.to_str().map_err(|e| e.to_string())?;
    let session = cookies
        .split("; ")
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .ok_or_else(|| format!("the sign-in did not set {SESSION_COOKIE}"))?;
    Ok(json!({ "cookie": session }))
}

/// `signins`: whole sign-ins of new browsers, over the accounts in turn.
pub async fn signins(a: &Args) -> Result<Value, String> {
    let app = a.get("app")?;
    let accounts = a.accounts()?;
    timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |i| {
        let (app, account) = (&app, &accounts[i % accounts.len()]);
        async move { app_sign_in(app, account).await.map(|_| ()) }
    })
    .await
}

struct Client {
    emu: String,
    id: String,
    secret: String,
    redirect_uri: String,
}

fn random(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// The client's side of the dance with the emulator alone: what the app's callback and its
/// home page ask of Google, without the app (the ID token is read, not verified).
async fn floor_sign_in(c: &Client, server: &reqwest::Client, account: &str) -> Result<(), String> {
    let (browser, _) = client_with_jar();
    let (state, nonce, verifier) = (random(22), random(22), random(64));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut auth = Url::parse(&format!("{}/o/oauth2/v2/auth", c.emu)).map_err(|e| e.to_string())?;
    auth.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &c.id)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("redirect_uri", &c.redirect_uri)
        .append_pair("scope", &format!("openid email profile {DRIVE_SCOPE}"))
        .append_pair("nonce", &nonce)
        .append_pair("access_type", "offline")
        .append_pair("include_granted_scopes", "true");
    let back = consent(&browser, &auth, account).await?;
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    if param("state").as_deref() != Some(state.as_str()) {
        return Err(format!("the emulator's redirect lost the state: {back}"));
    }
    let code = param("code").ok_or_else(|| format!("no code in {back}"))?;
    let resp = server
        .post(format!("{}/token", c.emu))
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &c.redirect_uri),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .map_err(err("the code exchange"))?;
    let tokens = expect_json(resp, "the code exchange").await?;
    let access = tokens["access_token"]
        .as_str()
        .ok_or("no access_token in the token response")?;
    if tokens["id_token"].as_str().is_none() {
        return Err("no id_token in the token response".into());
    }
    let files = server
        .get(format!("{}/drive/v3/files", c.emu))
        .query(&[
            ("pageSize", "25"),
            ("orderBy", "modifiedTime desc"),
            ("fields", DRIVE_FIELDS),
        ])
        .bearer_auth(access)
        .send()
        .await
        .map_err(err("files.list"))?;
    expect_json(files, "files.list").await.map(|_| ())
}

/// `signins-floor`: the floor's dances, over the accounts in turn.
pub async fn signins_floor(a: &Args) -> Result<Value, String> {
    let client = Client {
        emu: a.get("emulator")?,
        id: a.get("client-id")?,
        secret: a.get("client-secret")?,
        redirect_uri: a.get("redirect-uri")?,
    };
    let accounts = a.accounts()?;
    let server = http();
    timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |i| {
        let (client, server) = (&client, &server);
        let account = &accounts[i % accounts.len()];
        async move { floor_sign_in(client, server, account).await }
    })
    .await
}
