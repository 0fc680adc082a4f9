//! Prometheus metrics: every name the app records, the functions that record them, and the
//! recorder whose text `/metrics` (on `METRICS_BIND`) serves. A leaf like `secret`: it imports
//! nothing of the crate, so every layer may count what it does. Until [`install`] runs (no
//! `METRICS_BIND`), recording does nothing.
//!
//! Gauges that describe stored state (users by credential status, live sessions, the pool) are
//! measured when `/metrics` is scraped, from one query each ([`Stored`]), not kept up to date
//! on every request.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "offline_access_http_requests_total";
pub const HTTP_DURATION: &str = "offline_access_http_request_duration_seconds";
pub const UPSTREAM_REQUESTS: &str = "offline_access_upstream_requests_total";
pub const UPSTREAM_DURATION: &str = "offline_access_upstream_request_duration_seconds";
pub const REFRESHES: &str = "offline_access_token_refreshes_total";
pub const REFRESH_WAITS: &str = "offline_access_token_refresh_waits_total";
pub const USERS: &str = "offline_access_users";
pub const SESSIONS: &str = "offline_access_sessions_live";
pub const SYNC_RUNS: &str = "offline_access_sync_runs_total";
pub const SYNC_FAILURES: &str = "offline_access_sync_user_failures_total";
pub const POOL_CONNECTIONS: &str = "offline_access_db_pool_connections";
pub const POOL_WAITING: &str = "offline_access_db_pool_waiting";

/// Latency buckets in seconds, from a cached page to a slow upstream.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (an embedding program's): then ours
            // renders only what it was given, which is nothing, rather than failing start-up.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// One HTTP request the app answered (`route` is the matched pattern, e.g. `/admin/users/{id}`).
pub fn http_request(route: String, method: &str, status: u16, took: Duration) {
    // Any token is a method to HTTP: only the standard ones get a label of their own, so a
    // client cannot grow the series without bound.
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" => method,
        _ => "OTHER",
    };
    let labels = [
        ("route", route),
        ("method", method.to_string()),
        ("status", status.to_string()),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_DURATION, &labels[..2]).record(took.as_secs_f64());
}

/// One call to the provider: `endpoint` is token, revoke, drive, gmail, discovery, jwks or
/// userinfo; `status` the HTTP status, or `error` when no answer came.
pub fn upstream(endpoint: &str, status: Option<u16>, took: Duration) {
    let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
    let endpoint = endpoint.to_string();
    counter!(UPSTREAM_REQUESTS, "endpoint" => endpoint.clone(), "status" => status).increment(1);
    histogram!(UPSTREAM_DURATION, "endpoint" => endpoint).record(took.as_secs_f64());
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy)]
pub enum Refresh {
    Ok,
    /// The provider refused the refresh token: consent is needed again.
    InvalidGrant,
    /// No usable answer (down, slow, an unexpected error).
    UpstreamError,
}

pub fn refresh(outcome: Refresh) {
    let outcome = match outcome {
        Refresh::Ok => "ok",
        Refresh::InvalidGrant => "invalid_grant",
        Refresh::UpstreamError => "upstream_error",
    };
    counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// A request that needed a refresh and was served by one another request made (its token, or
/// its failure).
pub fn refresh_waited() {
    counter!(REFRESH_WAITS).increment(1);
}

/// One `sync` pass and how many users in it failed.
pub fn sync_run(failed_users: usize) {
    counter!(SYNC_RUNS).increment(1);
    counter!(SYNC_FAILURES).increment(failed_users as u64);
}

/// What the database holds and how its pool stands, measured at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stored {
    /// Users by where their credentials stand.
    pub users_active: u64,
    pub users_needs_consent: u64,
    pub users_revoked: u64,
    /// Sessions that have not expired.
    pub sessions_live: u64,
    /// Pool connections in use and idle, and callers waiting for one.
    pub pool_in_use: u32,
    pub pool_idle: u32,
    pub pool_waiting: u64,
}

impl Stored {
    /// These gauges in Prometheus' text format. They describe this app's own database, so
    /// they are rendered from it at each scrape rather than kept in the process's recorder.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, samples: &[(&str, f64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        gauge(
            USERS,
            "Users by credential status (the best of their credentials).",
            &[
                ("{credential_status=\"active\"}", self.users_active as f64),
                (
                    "{credential_status=\"needs_consent\"}",
                    self.users_needs_consent as f64,
                ),
                ("{credential_status=\"revoked\"}", self.users_revoked as f64),
            ],
        );
        gauge(
            SESSIONS,
            "Sessions that have not expired.",
            &[("", self.sessions_live as f64)],
        );
        gauge(
            POOL_CONNECTIONS,
            "Database pool connections by state.",
            &[
                ("{state=\"in_use\"}", f64::from(self.pool_in_use)),
                ("{state=\"idle\"}", f64::from(self.pool_idle)),
            ],
        );
        gauge(
            POOL_WAITING,
            "Callers waiting for a database connection.",
            &[("", self.pool_waiting as f64)],
        );
        out
    }
}
