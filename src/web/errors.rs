//! Typed errors that render as a friendly page; the cause chain goes to the log only.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

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
    pub user: Option<crate::web::session::SignedIn>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
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
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) | Self::Misconfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            Self::BadRequest(m) => ("That request could not be used", *m),
            Self::Forbidden(m) => ("Not allowed", *m),
            Self::Unavailable(_) => (
                "Temporarily unavailable",
                "The service is busy or its database cannot be reached. Please try again in a moment.",
            ),
            Self::Misconfigured(_) => (
                "Temporarily unavailable",
                "The service cannot read its stored data with its current configuration. The problem has been logged for the administrators; please try again later.",
            ),
            Self::Upstream(_) => (
                "Google could not be reached",
                "We could not talk to Google just now. Please try again in a moment.",
            ),
            Self::Unexpected(_) => (
                "Something went wrong",
                "An unexpected error happened on our side. It has been logged; please try again.",
            ),
        };
        match self {
            Self::BadRequest(_) | Self::Forbidden(_) => {
                tracing::warn!(error = %self, "request refused")
            }
            Self::Unavailable(e)
            | Self::Upstream(e)
            | Self::Misconfigured(e)
            | Self::Unexpected(e) => {
                tracing::error!(error = %self, cause = ?e, "request failed")
            }
        }
        let mut resp = render(
            self.status_code(),
            &ErrorPage {
                title,
                message,
                try_again: false,
                user: None,
            },
        );
        if matches!(self, Self::Unavailable(_) | Self::Misconfigured(_)) {
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

/// Renders a template with a status; a template failure becomes a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong.")
        }
    }
}

/// Turns actix's own extractor errors (bad query strings, bad forms) into our error page.
pub fn bad_input(err: impl std::fmt::Display) -> actix_web::Error {
    tracing::warn!(error = %err, "malformed request");
    AppError::BadRequest("The request was malformed.").into()
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
