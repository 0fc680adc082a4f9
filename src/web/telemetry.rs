//! Request spans with a request id, method, route and path — never the query string, which can
//! hold an authorization code.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

/// actix-http's connection handler, which logs every malformed request it refuses itself (bad
/// request line or headers, a broken chunked body, a head over 128 KiB) and every connection a
/// client drops as an ERROR ("stream error: …"). Those are the client's doing, and a flood of
/// them must not page anyone, so they are not logged unless `RUST_LOG` names this target.
pub const HTTP_CONNECTIONS: &str = "actix_http::h1::dispatcher";

/// The log filter: `RUST_LOG` (`spec`), else `info`; [`HTTP_CONNECTIONS`] is off unless the
/// spec names it.
pub fn log_filter(spec: Option<&str>) -> EnvFilter {
    let filter = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    if spec.is_some_and(|s| s.contains("actix_http")) {
        return filter;
    }
    filter.add_directive(
        format!("{HTTP_CONNECTIONS}=off")
            .parse()
            .expect("a valid directive"),
    )
}

pub struct SafeRootSpan;

impl RootSpanBuilder for SafeRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            path = %request.path(),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(resp) => resp.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        span.in_scope(|| tracing::info!(status, "request finished"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_connection_errors_are_off_unless_rust_log_names_them() {
        for spec in [None, Some("debug"), Some("offline_access=trace,info")] {
            let filter = log_filter(spec).to_string();
            assert!(
                filter.contains("actix_http::h1::dispatcher=off"),
                "{spec:?}: {filter}"
            );
        }
        let filter = log_filter(Some("info,actix_http=trace")).to_string();
        assert!(!filter.contains("=off"), "{filter}");
    }
}
