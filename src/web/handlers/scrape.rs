//! `GET /metrics` in Prometheus' text format, served on its own address (`METRICS_BIND`) so
//! it is never public by accident: the public server has no such route. The process's
//! counters and histograms come from the recorder; the gauges that describe this app's
//! database (users by credential status, live sessions, the pool) are measured at each
//! scrape (two counting queries on one connection).

use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::meters::Stored;
use crate::store::{credentials, sessions, Db};

pub struct Scrape {
    pub db: Db,
    pub handle: PrometheusHandle,
}

pub async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    let mut body = scrape.handle.render();
    let (pool_in_use, pool_idle, pool_waiting) = scrape.db.pool_state();
    let counted = scrape
        .db
        .run(|c| Ok((credentials::users_by_status(c)?, sessions::live(c)?)))
        .await;
    match counted {
        Ok(((active, needs_consent, revoked), live)) => {
            let stored = Stored {
                users_active: active,
                users_needs_consent: needs_consent,
                users_revoked: revoked,
                sessions_live: live,
                pool_in_use,
                pool_idle,
                pool_waiting,
            };
            body.push_str(&stored.render());
        }
        // The counters still tell what happened; the database gauges are left out.
        Err(e) => tracing::warn!(error = %e, "metrics: the database could not be counted"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
