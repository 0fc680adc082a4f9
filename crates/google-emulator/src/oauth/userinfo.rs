//! `GET /oauth2/v3/userinfo`, `/tokeninfo`, and reading a request's Bearer token (also for
//! Drive and Gmail: `api::api_call`).

use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::errors::{oauth_error, Refusal};
use crate::model::{EMAIL, PROFILE};
use crate::state::take_fault;
use crate::state::Shared;

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

fn unauthorized() -> Refusal {
    oauth_error(401, "invalid_request", "Invalid Credentials").with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    )
}

pub async fn userinfo(
    shared: web::Data<Shared>,
    req: HttpRequest,
) -> Result<HttpResponse, Refusal> {
    take_fault(&shared, "userinfo").await?;
    let Some(token) = bearer(&req) else {
        return Err(unauthorized());
    };
    let store = shared.store();
    let Some(entry) = store.live_access(&token) else {
        return Err(unauthorized());
    };
    let Some(account) = store.account(&entry.email) else {
        return Err(unauthorized());
    };
    let mut body = json!({"sub": account.sub});
    if entry.scopes.contains(EMAIL) {
        body["email"] = json!(account.email);
        body["email_verified"] = json!(true);
    }
    if entry.scopes.contains(PROFILE) {
        body["name"] = json!(account.name);
        body["picture"] = json!(account.picture);
        // A strict OpenID provider answers the claims the app needs, and no more.
        if !shared.profile().is_strict() {
            body["given_name"] = json!(account.given_name);
            body["family_name"] = json!(account.family_name);
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_string_pretty(&body).unwrap_or_default()))
}

/// `GET|POST /tokeninfo?access_token=…` or `?id_token=…` (Google's token inspection endpoint).
pub async fn tokeninfo(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
    params.extend(url::form_urlencoded::parse(&body).into_owned());
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let invalid = || oauth_error(400, "invalid_token", "Invalid Value");
    if let Some(token) = get("access_token") {
        let store = shared.store();
        let Some(entry) = store.live_access(&token) else {
            return Err(invalid());
        };
        let Some(account) = store.account(&entry.email) else {
            return Err(invalid());
        };
        let exp = entry.expires_at.timestamp();
        let mut body = json!({
            "azp": entry.client_id,
            "aud": entry.client_id,
            "sub": account.sub,
            "scope": crate::model::scope_string(&entry.scopes),
            "exp": exp.to_string(),
            "expires_in": (exp - chrono::Utc::now().timestamp()).max(0).to_string(),
            "access_type": if store.refresh.values().any(|r| r.family == entry.family) { "offline" } else { "online" },
        });
        if entry.scopes.contains(EMAIL) {
            body["email"] = json!(account.email);
            body["email_verified"] = json!("true");
        }
        return Ok(HttpResponse::Ok()
            .content_type("application/json; charset=UTF-8")
            .body(serde_json::to_string_pretty(&body).unwrap_or_default()));
    }
    if let Some(jwt) = get("id_token") {
        let verified = shared
            .keys()
            .all()
            .find_map(|k| Some((k.verify(&jwt, &shared.issuer)?, k)));
        return match verified {
            Some((claims, key)) => {
                let mut out = serde_json::Map::new();
                if let Some(obj) = claims.as_object() {
                    for (k, v) in obj {
                        let v = match v {
                            serde_json::Value::String(s) => json!(s),
                            other => json!(other.to_string()),
                        };
                        out.insert(k.clone(), v);
                    }
                }
                out.insert("alg".into(), json!("RS256"));
                out.insert("kid".into(), json!(key.kid));
                out.insert("typ".into(), json!("JWT"));
                Ok(HttpResponse::Ok()
                    .content_type("application/json; charset=UTF-8")
                    .body(serde_json::to_string_pretty(&out).unwrap_or_default()))
            }
            None => Err(invalid()),
        };
    }
    Err(oauth_error(
        400,
        "invalid_request",
        "Missing access_token or id_token.",
    ))
}
