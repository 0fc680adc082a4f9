//! Page-shaped work: the Gmail page's upstream calls alone (its floor), and plain GETs of the
//! app (the refresh storm).

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use url::Url;

use offline_access::google::gmail::Gmail;
use offline_access::web::handlers::gmail::CONCURRENT_GETS;

use crate::args::{Args, Limit};
use crate::http::{err, expect, http};
use crate::timed::timed;

/// `gmail-floor`: messages.list (25) and the 25 messages.get of `/gmail`, with the app's own
/// Gmail client and the same bound on concurrent gets.
pub async fn gmail_floor(a: &Args) -> Result<Value, String> {
    let emu = Url::parse(&a.get("emulator")?).map_err(|e| e.to_string())?;
    let token = offline_access::secret::Token::new(a.get("token")?);
    // The app's own client, configured as the app configures it.
    let http = offline_access::google::http_client(Duration::from_secs(5), Duration::from_secs(15))
        .map_err(|e| e.to_string())?;
    let gmail = Gmail::new(http, emu);
    timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |_| {
        let (gmail, token) = (&gmail, &token);
        async move {
            let list = gmail
                .list_messages(token, 25, None, None)
                .await
                .map_err(|e| format!("messages.list: {e}"))?;
            let got: Vec<Result<_, _>> = stream::iter(list.messages.iter())
                .map(|m| gmail.summary(token, &m.id))
                .buffered(CONCURRENT_GETS)
                .collect()
                .await;
            if got.len() != 25 {
                return Err(format!("messages.list gave {} messages", got.len()));
            }
            got.into_iter()
                .try_for_each(|r| r.map(|_| ()))
                .map_err(|e| format!("messages.get: {e}"))
        }
    })
    .await
}

/// `get`: GETs expecting 200, over the URLs in turn, with the cookie if given.
pub async fn get(a: &Args) -> Result<Value, String> {
    let urls = a.all("url");
    if urls.is_empty() {
        return Err("at least one --url is required".into());
    }
    let cookie = a.opt("cookie");
    let http = http();
    timed(Limit::of(a)?, a.num("concurrency")?, &a.pids()?, |i| {
        let mut req = http.get(&urls[i % urls.len()]);
        if let Some(c) = &cookie {
            req = req.header(reqwest::header::COOKIE, c);
        }
        async move {
            let resp = req.send().await.map_err(err("GET"))?;
            expect(resp, 200, "GET").await.map(|_| ())
        }
    })
    .await
}
