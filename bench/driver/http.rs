//! The driver's HTTP helpers: a client that follows no redirect, and answers read as the
//! flows expect them (a status, a Location, a JSON body).

use serde_json::Value;
use url::Url;

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A request error, said with what was being asked.
pub fn err(what: &str) -> impl Fn(reqwest::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

pub fn location(resp: &reqwest::Response, what: &str) -> Result<Url, String> {
    let loc = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| format!("{what} answered {} without a Location", resp.status()))?;
    Url::parse(loc)
        .or_else(|_| resp.url().join(loc))
        .map_err(|e| format!("{what}: bad Location {loc:?}: {e}"))
}

/// Reads the whole body of a response that must have `status`.
pub async fn expect(resp: reqwest::Response, status: u16, what: &str) -> Result<String, String> {
    let got = resp.status().as_u16();
    let body = resp.text().await.map_err(err(what))?;
    if got != status {
        let head: String = body.chars().take(200).collect();
        return Err(format!("{what} answered {got}, wanted {status}: {head}"));
    }
    Ok(body)
}

/// The JSON body of a response that must be 200.
pub async fn expect_json(resp: reqwest::Response, what: &str) -> Result<Value, String> {
    let body = expect(resp, 200, what).await?;
    serde_json::from_str(&body).map_err(|e| format!("{what}: {e}: {body}"))
}
