//! What is refused before the session store or any handler runs, answered at once:
//!
//! - a request target (path and query) over [`MAX_TARGET`]: 414. The longest link the app makes
//!   (a Gmail search with its page history) is under 9 KiB.
//! - headers over [`MAX_HEADERS`] in all: 431. actix-http itself refuses only a head over
//!   128 KiB (with a bare 431, and a target over 64 KiB with a bare 400).
//! - a chunked body (any `Transfer-Encoding`): 411. Every body the app reads is a small form or
//!   JSON document that browsers and the mobile SDKs send with a `Content-Length`. And
//!   actix-http takes a malformed chunk for a broken connection: it drops the connection, with
//!   the answer, unless that answer was already made. Refusing here makes it before the body
//!   is read, so a broken chunk still gets one.

use std::future::{ready, Future};

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::{Error, HttpResponse};
use futures_util::future::Either;

use crate::web::errors::{app_refused, error_page};
use crate::web::page::{finish, Layout};
use crate::web::paths::AUTHCODE;
use crate::web::state::provider_name;

/// The longest request target (path and query string) accepted, in bytes.
pub const MAX_TARGET: usize = 16 * 1024;
/// The most header bytes (names and values) accepted in all.
pub const MAX_HEADERS: usize = 32 * 1024;

/// Why a request is refused, if it is.
fn refused(req: &ServiceRequest) -> Option<StatusCode> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_TARGET {
        return Some(StatusCode::URI_TOO_LONG);
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADERS {
        return Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }
    req.headers()
        .contains_key(header::TRANSFER_ENCODING)
        .then_some(StatusCode::LENGTH_REQUIRED)
}

/// Registered outside the session middleware (and inside the security headers).
pub fn check<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<B>>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    let Some(status) = refused(&req) else {
        let response = srv.call(req);
        return Either::Left(async move { Ok(response.await?.map_into_left_body()) });
    };
    tracing::warn!(
        status = status.as_u16(),
        "request refused before reading it"
    );
    let answer = if req.path() == AUTHCODE {
        app_refused(status)
    } else {
        // Rendered at once: this is before the render middleware.
        let provider = provider_name(req.request());
        finish(refusal_page(status), &Layout::signed_out(provider))
    };
    Either::Right(ready(Ok(req.into_response(answer).map_into_right_body())))
}

fn refusal_page(status: StatusCode) -> HttpResponse {
    let (title, message) = match status {
        StatusCode::URI_TOO_LONG => (
            "That address is too long",
            "The address of this request is longer than any page here uses.",
        ),
        StatusCode::LENGTH_REQUIRED => (
            "That request could not be used",
            "Send the request with a Content-Length, not in chunks.",
        ),
        _ => (
            "That request is too large",
            "This request carries more header data (often cookies) than this site accepts.",
        ),
    };
    error_page(status, title, message, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn long_targets_large_headers_and_chunked_bodies_are_refused_and_others_pass() {
        let ok = TestRequest::post()
            .uri(&format!("/?q={}", "a".repeat(MAX_TARGET - 10)))
            .insert_header(("x-a", "b".repeat(MAX_HEADERS - 100)))
            .insert_header(("content-length", "10"))
            .to_srv_request();
        assert_eq!(refused(&ok), None);
        let long = TestRequest::get()
            .uri(&format!("/?q={}", "a".repeat(MAX_TARGET)))
            .to_srv_request();
        assert_eq!(refused(&long), Some(StatusCode::URI_TOO_LONG));
        let chunked = TestRequest::post()
            .insert_header(("transfer-encoding", "chunked"))
            .to_srv_request();
        assert_eq!(refused(&chunked), Some(StatusCode::LENGTH_REQUIRED));
        let big = TestRequest::get()
            .insert_header(("x-a", "b".repeat(MAX_HEADERS / 2)))
            .insert_header(("x-b", "b".repeat(MAX_HEADERS / 2)))
            .to_srv_request();
        assert_eq!(
            refused(&big),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }
}
