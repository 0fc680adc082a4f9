//! Request spans with a request id, method, route, path, status, latency and the signed-in
//! user's id — never the query string, which can hold an authorization code — and the request
//! metrics. The log's filter and format are `crate::logging`'s.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

/// When the request started (for its latency) and its route (for its metrics).
struct Started {
    at: std::time::Instant,
    route: String,
}

pub struct SafeRootSpan;

impl RootSpanBuilder for SafeRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        // The route's pattern (`/admin/users/{id}`), so lines group by route, not by path.
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        request.extensions_mut().insert(Started {
            at: std::time::Instant::now(),
            route: route.clone(),
        });
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = %route,
            path = %request.path(),
            status = tracing::field::Empty,
            user_id = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, took) = match outcome {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let req = resp.request();
                let started = req.extensions_mut().remove::<Started>();
                let took = started.map(|s| {
                    let took = s.at.elapsed();
                    crate::meters::http_request(s.route, req.method().as_str(), status, took);
                    took
                });
                (status, took)
            }
            Err(e) => (e.as_response_error().status_code().as_u16(), None),
        };
        let latency_ms = took.map(|t| t.as_secs_f64() * 1000.0);
        span.record("status", status);
        span.in_scope(|| tracing::info!(status, latency_ms, "request finished"));
    }
}
