//! `GET /oauth2/v3/userinfo` and the Bearer-token check shared with Drive and Gmail.

use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::errors::{api_insufficient_scope, api_unauthenticated, oauth_error};
use super::faults::take_fault;
use super::state::{AccessEntry, Shared, EMAIL, PROFILE};

/// The Bearer token of a request (`Authorization` header, else `access_token` query parameter).
pub fn bearer(req: &HttpRequest) -> Option<String> {
    if let Some(h) = req.headers().get("Authorization") {
        let h = h.to_str().ok()?;
        let (scheme, token) = h.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// Authenticates an API call: 401 `authError` or 403 insufficient scope in Google's API shape.
pub fn api_auth(
    shared: &Shared,
    req: &HttpRequest,
    method: &str,
    accepted: &[&str],
) -> Result<AccessEntry, HttpResponse> {
    let token = bearer(req).ok_or_else(api_unauthenticated)?;
    let entry = shared
        .store()
        .live_access(&token)
        .cloned()
        .ok_or_else(api_unauthenticated)?;
    if !accepted.iter().any(|s| entry.scopes.contains(*s)) {
        return Err(api_insufficient_scope(method, accepted));
    }
    Ok(entry)
}

fn unauthorized() -> HttpResponse {
    let mut res = oauth_error(401, "invalid_request", "Invalid Credentials");
    res.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    );
    res
}

pub async fn userinfo(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    if let Some(res) = take_fault(&shared, "userinfo").await {
        return res;
    }
    let Some(token) = bearer(&req) else {
        return unauthorized();
    };
    let store = shared.store();
    let Some(entry) = store.live_access(&token) else {
        return unauthorized();
    };
    let Some(account) = store.account(&entry.email) else {
        return unauthorized();
    };
    let mut body = json!({"sub": account.sub});
    if entry.scopes.contains(EMAIL) {
        body["email"] = json!(account.email);
        body["email_verified"] = json!(true);
    }
    if entry.scopes.contains(PROFILE) {
        body["name"] = json!(account.name);
        body["given_name"] = json!(account.given_name);
        body["family_name"] = json!(account.family_name);
        body["picture"] = json!(account.picture);
    }
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_string_pretty(&body).unwrap_or_default())
}
