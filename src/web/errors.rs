//! Typed errors that render as a friendly page; the cause chain goes to the log only.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::page::{render, see_other, SignedIn};
use crate::google::GoogleError;
use crate::store::DbError;

/// The error page: a fixed title and message, never raw input or internals.
#[derive(Template)]
#[template(path = "pages/error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    /// Offer a "Try again" link to sign-in.
    pub try_again: bool,
    pub user: Option<SignedIn>,
    /// A signed-in visitor's CSRF token: the page offers Sign out.
    pub sign_out: Option<&'a str>,
}

/// What an error page said, kept on the response so that [`super::sign_out::offer_sign_out`] can render it
/// again with a Sign out button when the visitor turns out to be signed in
/// ([`super::sign_out::offer_sign_out`]).
#[derive(Clone)]
pub(super) struct ErrorContent {
    pub title: String,
    pub message: String,
    pub try_again: bool,
}

/// An error page (without the signed-in banner: the error may be about the session itself).
pub fn error_page(status: StatusCode, title: &str, message: &str, try_again: bool) -> HttpResponse {
    let mut resp = render(
        status,
        &ErrorPage {
            title,
            message,
            try_again,
            user: None,
            sign_out: None,
        },
    );
    resp.extensions_mut().insert(ErrorContent {
        title: title.to_string(),
        message: message.to_string(),
        try_again,
    });
    resp
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
        let provider = super::page::provider();
        let (title, message) = match self {
            Self::SignInRequired => return see_other("/oauth2callback"),
            Self::BadRequest(m) => ("That request could not be used".into(), m.to_string()),
            Self::Forbidden(m) => ("Not allowed".into(), m.to_string()),
            Self::NotFound => (
                "Page not found".into(),
                "There is nothing at this address.".into(),
            ),
            Self::TooManyRequests { .. } => (
                "Too many requests".into(),
                "Too many requests came from your address in a short time. Please wait a moment and try again.".into(),
            ),
            Self::Unavailable(_) => (
                "Temporarily unavailable".into(),
                "The service is busy or its database cannot be reached. Please try again in a moment.".into(),
            ),
            Self::Misconfigured(_) => (
                "Temporarily unavailable".into(),
                "The service cannot read its stored data with its current configuration. The problem has been logged for the administrators; please try again later.".into(),
            ),
            Self::Upstream(_) => (
                format!("{provider} could not be reached"),
                format!("We could not talk to {provider} just now. Please try again in a moment."),
            ),
            Self::Unexpected(_) => (
                "Something went wrong".into(),
                "An unexpected error happened on our side. It has been logged; please try again.".into(),
            ),
        };
        let (title, message): (String, String) = (title, message);
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
        let mut resp = error_page(self.status_code(), &title, &message, false);
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

/// The 503 page for a database outage noticed by the session store.
pub fn database_outage() -> HttpResponse {
    AppError::Unavailable(anyhow::anyhow!(
        "the session store cannot reach the database"
    ))
    .error_response()
}

/// The 503 page for a request whose session could not be saved (the database went away while
/// it ran); logs the store's error.
pub fn session_store_failure(
    req: actix_web::HttpRequest,
    err: actix_web::Error,
) -> actix_web::dev::ServiceResponse {
    tracing::error!(error = %err, "the session store failed while saving");
    actix_web::dev::ServiceResponse::new(req, database_outage())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_body(e: AppError) -> (StatusCode, String) {
        let resp = e.error_response();
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
