//! Typed errors that render as a friendly page; the cause chain goes to the log only.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::page::{render_with, see_other, Banner, Layout};
use crate::google::GoogleError;
use crate::store::DbError;

/// The error page: a fixed title and message, never raw input or internals. `{provider}` in
/// either is the provider's name.
#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    /// Offer a "Try again" link to sign-in.
    try_again: bool,
    /// A signed-in visitor's CSRF token: the page offers Sign out.
    sign_out: Option<&'a str>,
}

/// An error page, without the signed-in banner (the error may be about the session itself),
/// with Sign out for a signed-in visitor. `{provider}` in `title` or `message` is replaced by
/// the provider's name when the page is rendered.
pub fn error_page(
    status: StatusCode,
    title: impl Into<String>,
    message: impl Into<String>,
    try_again: bool,
) -> HttpResponse {
    error_shaped(
        status,
        Banner::Hidden,
        title.into(),
        message.into(),
        try_again,
    )
}

/// A page in the error page's shape for a signed-in user, with the signed-in banner (a notice,
/// not a failure: "Gmail is not available").
pub fn notice_page(
    status: StatusCode,
    title: impl Into<String>,
    message: impl Into<String>,
) -> HttpResponse {
    error_shaped(status, Banner::Shown, title.into(), message.into(), false)
}

fn error_shaped(
    status: StatusCode,
    banner: Banner,
    title: String,
    message: String,
    try_again: bool,
) -> HttpResponse {
    render_with(status, banner, move |layout: &Layout| {
        let named = |s: &str| s.replace("{provider}", &layout.provider);
        ErrorPage {
            title: &named(&title),
            message: &named(&message),
            try_again,
            sign_out: layout.sign_out.as_deref(),
        }
        .render_with_values(layout)
    })
}

/// A JSON error answer that is never cached: `{"<code field>": code, "<text field>": text}`.
/// `POST /authcode` answers `error` and `message` (as Google's APIs do); `POST /risc` answers
/// RFC 8935's `err` and `description`.
pub fn json_error(
    status: StatusCode,
    (code_field, code): (&str, &str),
    (text_field, text): (&str, &str),
    retry_after: Option<u64>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header(("Cache-Control", "no-store"));
    if let Some(secs) = retry_after {
        response.insert_header(("Retry-After", secs.to_string()));
    }
    let mut body = serde_json::Map::new();
    body.insert(code_field.into(), code.into());
    body.insert(text_field.into(), text.into());
    response.json(body)
}

/// A mobile app's JSON error (`POST /authcode`).
pub fn app_error(
    status: StatusCode,
    error: &str,
    message: &str,
    retry_after: Option<u64>,
) -> HttpResponse {
    json_error(status, ("error", error), ("message", message), retry_after)
}

/// What `POST /authcode` answers while the database cannot be reached (`error`, `message`):
/// nothing was stored, and the app may try again in [`APP_RETRY_AFTER`] seconds.
pub const APP_UNAVAILABLE: (&str, &str) = (
    "temporarily_unavailable",
    "The service is temporarily unavailable. Nothing was stored; try again shortly.",
);
pub const APP_RETRY_AFTER: u64 = 5;

/// [`APP_UNAVAILABLE`] as an answer.
pub fn app_unavailable() -> HttpResponse {
    let (error, message) = APP_UNAVAILABLE;
    app_error(
        StatusCode::SERVICE_UNAVAILABLE,
        error,
        message,
        Some(APP_RETRY_AFTER),
    )
}

/// What `POST /authcode` answers for a request refused before it was read (`status` 414, 431
/// or 411).
pub fn app_refused(status: StatusCode) -> HttpResponse {
    if status == StatusCode::LENGTH_REQUIRED {
        return app_error(
            status,
            "length_required",
            "Send the body with a Content-Length, not in chunks.",
            None,
        );
    }
    app_error(
        status,
        "request_too_large",
        "The request's address or headers are too large.",
        None,
    )
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The page needs a signed-in user and the request has none: start signing in.
    #[error("sign-in required")]
    SignInRequired,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// The client address used up its allowance for this route.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("provider unavailable")]
    Upstream(#[source] anyhow::Error),
    /// The server's own configuration is wrong (e.g. a different SECRET_KEY): an operator must act.
    #[error("server misconfigured")]
    Misconfigured(#[source] anyhow::Error),
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(e) => Self::Unavailable(e),
            DbError::Query(e) => Self::Unexpected(e),
        }
    }
}

impl From<GoogleError> for AppError {
    fn from(e: GoogleError) -> Self {
        match e {
            GoogleError::Unavailable(e) => Self::Upstream(e),
            other => Self::Upstream(anyhow::Error::new(other)),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignInRequired => StatusCode::SEE_OTHER,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Misconfigured(_) | Self::Upstream(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message): (&str, &str) = match self {
            Self::SignInRequired => return see_other("/oauth2callback"),
            Self::BadRequest(m) => ("That request could not be used", *m),
            Self::Forbidden(m) => ("Not allowed", *m),
            Self::NotFound => ("Page not found", "There is nothing at this address."),
            Self::TooManyRequests { .. } => (
                "Too many requests",
                "Too many requests came from your address in a short time. Please wait a moment and try again.",
            ),
            Self::Unavailable(_) => (
                "Temporarily unavailable",
                "The service is busy or its database cannot be reached. Please try again in a moment.",
            ),
            Self::Misconfigured(_) => (
                "Temporarily unavailable",
                "The service cannot read its stored data with its current configuration. The problem has been logged for the administrators; please try again later.",
            ),
            Self::Upstream(_) => (
                "{provider} could not be reached",
                "We could not talk to {provider} just now. Please try again in a moment.",
            ),
            Self::Unexpected(_) => (
                "Something went wrong",
                "An unexpected error happened on our side. It has been logged; please try again.",
            ),
        };
        match self {
            Self::SignInRequired => {}
            Self::BadRequest(_)
            | Self::Forbidden(_)
            | Self::NotFound
            | Self::TooManyRequests { .. } => {
                tracing::warn!(error = %self, "request refused")
            }
            Self::Unavailable(e)
            | Self::Upstream(e)
            | Self::Misconfigured(e)
            | Self::Unexpected(e) => {
                tracing::error!(error = %self, cause = ?e, "request failed")
            }
        }
        let mut resp = error_page(self.status_code(), title, message, false);
        if matches!(
            self,
            Self::Unavailable(_) | Self::Misconfigured(_) | Self::Upstream(_)
        ) {
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("5"),
            );
        }
        if let Self::TooManyRequests { retry_after } = self {
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(*retry_after),
            );
        }
        resp
    }
}

/// Turns actix's own extractor errors (bad query strings, bad forms) into our error page.
/// Logged as a warning, quoted (the message may hold input, control characters included).
pub fn bad_input(err: impl std::fmt::Display) -> actix_web::Error {
    tracing::warn!(error = ?err.to_string(), "malformed request");
    AppError::BadRequest("The request was malformed.").into()
}

/// A path whose parameter does not parse (`/admin/users/abc`): there is nothing at that
/// address. actix's own answer would be a plain-text 404 that repeats the segment.
pub fn bad_path(err: impl std::fmt::Display) -> actix_web::Error {
    tracing::warn!(error = ?err.to_string(), "a path parameter that does not parse");
    AppError::NotFound.into()
}

/// The answer for a database outage noticed by the session store: the 503 page, or JSON for
/// `POST /authcode` (`json`).
pub fn database_outage(json: bool) -> HttpResponse {
    if json {
        return app_unavailable();
    }
    AppError::Unavailable(anyhow::anyhow!(
        "the session store cannot reach the database"
    ))
    .error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_body(e: AppError) -> (StatusCode, String) {
        let resp = super::super::page::finish(e.error_response(), &Layout::signed_out("Google"));
        let status = resp.status();
        let body = actix_web::body::to_bytes(resp.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .expect("a rendered page is ready at once")
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[test]
    fn each_error_has_its_status_and_a_fixed_message() {
        let cases = [
            (AppError::BadRequest("Bad link."), 400, "Bad link."),
            (AppError::Forbidden("No."), 403, "Not allowed"),
            (AppError::NotFound, 404, "Page not found"),
            (
                AppError::Unavailable(anyhow::anyhow!("pool timed out at db.internal:5432")),
                503,
                "Temporarily unavailable",
            ),
            (
                AppError::Misconfigured(anyhow::anyhow!("key 1234 unknown")),
                503,
                "cannot read its stored data",
            ),
            (
                AppError::Upstream(anyhow::anyhow!("connect error 10.0.0.1")),
                503,
                "Google could not be reached",
            ),
            (
                AppError::Unexpected(anyhow::anyhow!("SELECT secret FROM t")),
                500,
                "Something went wrong",
            ),
        ];
        for (error, status, text) in cases {
            let cause = format!("{:?}", error);
            let (got, body) = status_and_body(error);
            assert_eq!(got.as_u16(), status, "{cause}");
            assert!(body.contains(text), "{cause}: {body}");
            for internal in ["db.internal", "1234", "10.0.0.1", "SELECT"] {
                assert!(!body.contains(internal), "{cause} leaked {internal}");
            }
        }
    }

    #[test]
    fn unavailable_pages_say_when_to_retry_and_sign_in_redirects() {
        let resp = AppError::Unavailable(anyhow::anyhow!("x")).error_response();
        assert_eq!(resp.headers().get("retry-after").unwrap(), "5");
        let resp = AppError::SignInRequired.error_response();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers().get("location").unwrap(), "/oauth2callback");
    }
}
