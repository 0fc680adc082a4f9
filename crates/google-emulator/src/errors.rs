//! Google's error bodies: OAuth JSON errors, API (Drive/Gmail) errors and HTML error pages.

use actix_web::body::MessageBody;
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde_json::json;

/// An error answer exactly as Google gives it (status, headers, body), returned with `?`:
/// handlers are `Result<HttpResponse, Refusal>`, and actix answers a refusal with the response
/// it was made from. Boxed, so a `Result` carrying one stays small.
pub struct Refusal(Box<Parts>);

struct Parts {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl From<HttpResponse> for Refusal {
    fn from(res: HttpResponse) -> Self {
        let (head, body) = res.into_parts();
        Refusal(Box::new(Parts {
            status: head.status(),
            headers: head.headers().clone(),
            body: body.try_into_bytes().unwrap_or_default(),
        }))
    }
}

impl Refusal {
    /// The same answer with one more header (`WWW-Authenticate`, say).
    pub fn with_header(
        mut self,
        name: actix_web::http::header::HeaderName,
        value: actix_web::http::header::HeaderValue,
    ) -> Self {
        self.0.headers.insert(name, value);
        self
    }
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Refusal({})", self.0.status)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.status)
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.0.status).body(self.0.body.clone());
        *res.headers_mut() = self.0.headers.clone();
        res
    }
}

/// A control call's JSON error (`{"error", "message"}`).
pub fn json_refusal(code: u16, body: &serde_json::Value) -> Refusal {
    json_response(code, body).into()
}

pub const REALM: &str = "https://accounts.google.com/";

/// `{"error": …, "error_description": …}` as the token, revoke and userinfo endpoints answer.
pub fn oauth_error(status: u16, error: &str, description: &str) -> Refusal {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .insert_header((
            "Cache-Control",
            "no-cache, no-store, max-age=0, must-revalidate",
        ))
        .insert_header(("Pragma", "no-cache"))
        .content_type("application/json; charset=utf-8")
        .body(
            serde_json::to_string_pretty(
                &json!({"error": error, "error_description": description}),
            )
            .unwrap_or_default(),
        )
        .into()
}

fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        502 | 503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

/// Google's API error shape, used by Drive v3 and Gmail v1.
pub fn api_error(code: u16, message: &str, reason: &str, extra: serde_json::Value) -> Refusal {
    let mut item = json!({"message": message, "domain": "global", "reason": reason});
    if let (Some(obj), Some(extra)) = (item.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    let body = json!({"error": {"code": code, "message": message, "errors": [item], "status": status_name(code)}});
    json_refusal(code, &body)
}

pub fn json_response(code: u16, body: &serde_json::Value) -> HttpResponse {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("application/json; charset=UTF-8")
        .body(serde_json::to_string_pretty(body).unwrap_or_default())
}

/// 401 for a missing, malformed, expired or revoked access token on Drive/Gmail.
pub fn api_unauthenticated() -> Refusal {
    let body = json!({"error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError", "location": "Authorization", "locationType": "header"}],
        "status": "UNAUTHENTICATED"
    }});
    let mut res = json_response(401, &body);
    res.headers_mut().insert(
        actix_web::http::header::WWW_AUTHENTICATE,
        actix_web::http::header::HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    );
    res.into()
}

/// 403 when the token lacks every scope the method accepts.
pub fn api_insufficient_scope(method: &str, scopes: &[&str]) -> Refusal {
    let body = json!({"error": {
        "code": 403,
        "message": "Request had insufficient authentication scopes.",
        "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
        "status": "PERMISSION_DENIED",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"method": method, "service": if method.contains(".drive.") { "drive.googleapis.com" } else { "gmail.googleapis.com" }}
        }]
    }});
    let mut res = json_response(403, &body);
    let header = format!(
        "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
        scopes.join(" ")
    );
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&header) {
        res.headers_mut()
            .insert(actix_web::http::header::WWW_AUTHENTICATE, v);
    }
    res.into()
}

/// 403 `accessNotConfigured`: the API is disabled (or was never enabled) in the client's
/// Google Cloud project, as Drive (`endpoint` "drive") or Gmail answers it.
pub fn api_not_enabled(endpoint: &str) -> Refusal {
    const PROJECT: &str = "000000000000";
    let (service, title) = match endpoint {
        "gmail" => ("gmail.googleapis.com", "Gmail API"),
        _ => ("drive.googleapis.com", "Google Drive API"),
    };
    let activation = format!(
        "https://console.developers.google.com/apis/api/{service}/overview?project={PROJECT}"
    );
    let message = format!(
        "{title} has not been used in project {PROJECT} before or it is disabled. Enable it by \
         visiting {activation} then retry. If you enabled this API recently, wait a few minutes \
         for the action to propagate to our systems and retry."
    );
    let body = json!({"error": {
        "code": 403,
        "message": message,
        "errors": [{
            "message": message,
            "domain": "usageLimits",
            "reason": "accessNotConfigured",
            "extendedHelp": "https://console.developers.google.com"
        }],
        "status": "PERMISSION_DENIED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": service,
                    "consumer": format!("projects/{PROJECT}"),
                    "activationUrl": activation,
                    "containerInfo": PROJECT,
                    "serviceTitle": title
                }
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{"description": "Google developers console API activation", "url": activation}]
            }
        ]
    }});
    json_refusal(403, &body)
}

/// 400 "Invalid Value" for a bad query parameter.
pub fn api_invalid_param(message: &str, param: &str) -> Refusal {
    api_error(
        400,
        message,
        "invalid",
        json!({"location": param, "locationType": "parameter"}),
    )
}

#[derive(Template)]
#[template(path = "emulator/error.html")]
struct ErrorPage<'a> {
    code: u16,
    error: &'a str,
    detail: &'a str,
}

/// The HTML error page the authorization endpoint shows ("Error 400: redirect_uri_mismatch").
pub fn error_page(code: u16, error: &str, detail: &str) -> Refusal {
    let html = ErrorPage {
        code,
        error,
        detail,
    }
    .render()
    .unwrap_or_else(|_| format!("Error {code}: {error}"));
    HttpResponse::build(StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST))
        .content_type("text/html; charset=utf-8")
        .body(html)
        .into()
}
