//! `POST /authcode` and its floor: serverAuthCodes minted by the emulator's mobile sign-in
//! before the timed part, then redeemed by the app, or at the emulator's `/token` alone.

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::args::{Args, Limit};
use crate::http::{err, expect_json, http};
use crate::signin::DRIVE_SCOPE;
use crate::timed::timed;

/// What Google Sign-In on a phone hands the app: one serverAuthCode per call, `n` of them.
async fn mint_codes(
    emu: &str,
    app_client: &str,
    server_client: &str,
    accounts: &[String],
    n: usize,
) -> Result<Vec<String>, String> {
    let http = http();
    let codes: Vec<Result<String, String>> = stream::iter(0..n)
        .map(|i| {
            let http = &http;
            let body = json!({
                "account": accounts[i % accounts.len()],
                "client_id": app_client,
                "server_client_id": server_client,
                "scopes": [DRIVE_SCOPE],
            });
            async move {
                let resp = http
                    .post(format!("{emu}/emulator/mobile-sign-in"))
                    .json(&body)
                    .send()
                    .await
                    .map_err(err("mobile-sign-in"))?;
                let v = expect_json(resp, "/emulator/mobile-sign-in").await?;
                v["server_auth_code"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "no server_auth_code".to_string())
            }
        })
        .buffered(8)
        .collect()
        .await;
    codes.into_iter().collect()
}

/// `authcode` (the app) or `authcode-floor` (`floor`: the emulator's `/token` alone).
pub async fn authcode(a: &Args, floor: bool) -> Result<Value, String> {
    let emu = a.get("emulator")?;
    let accounts = a.accounts()?;
    let n = a.num("count")?;
    let server_client = if floor {
        a.get("client-id")?
    } else {
        a.get("server-client-id")?
    };
    let codes = mint_codes(&emu, &a.get("app-client-id")?, &server_client, &accounts, n).await?;
    let http = http();
    let (concurrency, pids) = (a.num("concurrency")?, a.pids()?);
    if floor {
        let secret = a.get("client-secret")?;
        timed(Limit::Count(n), concurrency, &pids, |i| {
            let (http, emu, id, secret, code) = (&http, &emu, &server_client, &secret, &codes[i]);
            async move {
                let resp = http
                    .post(format!("{emu}/token"))
                    .basic_auth(id, Some(secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", ""),
                    ])
                    .send()
                    .await
                    .map_err(err("/token"))?;
                let v = expect_json(resp, "the code exchange").await?;
                v["id_token"]
                    .as_str()
                    .map(|_| ())
                    .ok_or_else(|| "no id_token".to_string())
            }
        })
        .await
    } else {
        let app = a.get("app")?;
        timed(Limit::Count(n), concurrency, &pids, |i| {
            let (http, app, code) = (&http, &app, &codes[i]);
            async move {
                let resp = http
                    .post(format!("{app}/authcode"))
                    .header("X-Requested-With", "com.example.app")
                    .form(&[("authCode", code.as_str())])
                    .send()
                    .await
                    .map_err(err("POST /authcode"))?;
                let v = expect_json(resp, "POST /authcode").await?;
                v["user_id"]
                    .as_i64()
                    .map(|_| ())
                    .ok_or_else(|| format!("POST /authcode answered {v}"))
            }
        })
        .await
    }
}
