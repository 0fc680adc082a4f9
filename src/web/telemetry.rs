//! Logging: request spans with a request id, method, route, path, status, latency and the
//! signed-in user's id — never the query string, which can hold an authorization code — and
//! the log's format (`LOG_FORMAT`: the human one, or one JSON object per line).

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

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one line per event, colour only on a terminal.
    Text,
    /// For log pipelines: one JSON object per line (the event's fields and its request's).
    Json,
}

impl LogFormat {
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") | Some("text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(format!("LOG_FORMAT must be text or json (got {other:?})")),
        }
    }
}

/// Installs the process's logger, writing to stderr with `filter`.
pub fn init_logging(format: LogFormat, filter: EnvFilter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            // Colour codes only where a terminal shows them, not in files or journald.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Names the signed-in user on the current request's span (and so on its log lines).
pub fn record_user(user_id: i64) {
    Span::current().record("user_id", user_id);
}

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
