//! The process's log: its filter (`RUST_LOG`) and format (`LOG_FORMAT`: the human one, or one
//! JSON object per line). What a request's lines carry is `web::middleware::telemetry`'s.

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
    tracing::Span::current().record("user_id", user_id);
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
