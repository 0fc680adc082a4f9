//! Where the app is assembled: the actix `App` with its middleware in order, the
//! `HttpServer`, the metrics listener beside it, and the sweeper of expired sessions. The
//! session keys are used here; none reaches handler state.

use std::net::TcpListener;

use actix_session::config::PersistentSession;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use super::errors::{bad_input, bad_path};
use super::handlers::{assets, scrape};
use super::middleware::{admission, cookie_keys, headers, outage, render, session, telemetry};
use super::routes::routes;
use super::AppState;
use crate::secret::Keys;
use crate::store::sessions::DbSessionStore;
use crate::store::Db;

/// The public HTTP server on `listener`, serving `state`; the session and cookie keys are
/// used here only.
pub fn serve(listener: TcpListener, state: AppState, keys: Keys) -> anyhow::Result<Server> {
    let settings = &state.settings;
    let db = state.db.clone();
    let https = settings.https();
    let cookie_name = if https {
        "__Host-oa_session"
    } else {
        "oa_session"
    };
    let ttl = actix_web::cookie::time::Duration::seconds(settings.session_ttl.num_seconds());
    let cookie_key = Key::from(&keys.cookie);
    let cookie_keys = cookie_keys::SessionCookieKeys::new(
        cookie_name,
        &keys.cookie,
        &keys.cookie_previous,
        https,
        ttl,
    );

    spawn_session_sweeper(db.clone());
    let cipher = keys.sessions;
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        // One store per worker thread: a request's preloaded state waits in it for
        // actix-session's load, which runs in the same poll of the same worker.
        let store = DbSessionStore::new(db.clone(), cipher.clone());
        let preload = session::Preload {
            store: store.clone(),
            cookies: cookie_keys.clone(),
        };
        let sessions = SessionMiddleware::builder(store.clone(), cookie_key.clone())
            .cookie_name(cookie_name.to_string())
            .cookie_secure(https)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_path("/".into())
            .session_lifecycle(PersistentSession::default().session_ttl(ttl))
            .build();
        // Innermost first: a request meets them from the bottom up.
        App::new()
            .wrap_fn(render::render)
            .wrap(sessions)
            .wrap(preload)
            .wrap_fn(outage::on_save)
            .wrap_fn({
                let keys = cookie_keys.clone();
                move |req, srv| cookie_keys::upgrade(&keys, req, srv)
            })
            .wrap_fn(admission::check)
            .wrap(headers::security_headers(https))
            .wrap(TracingLogger::<telemetry::SafeRootSpan>::new())
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_input(e)))
            .app_data(web::FormConfig::default().error_handler(|e, _| bad_input(e)))
            .app_data(web::PathConfig::default().error_handler(|e, _| bad_path(e)))
            .configure(routes)
            .default_service(web::to(assets::not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}

/// Serves `GET /metrics` on `bind`, a server of its own (one worker) beside the app's, and
/// installs the recorder it renders. Returns the port.
pub fn serve_metrics(bind: &str, db: Db) -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind(bind).with_context(|| format!("cannot listen on METRICS_BIND={bind}"))?;
    let local = listener.local_addr()?;
    let port = local.port();
    if !local.ip().is_loopback() {
        tracing::warn!(
            %local,
            "METRICS_BIND is not a loopback address: /metrics has no authentication, so only the monitoring network may reach it"
        );
    }
    let scrape = web::Data::new(scrape::Scrape {
        db,
        handle: crate::meters::install(),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(scrape.clone())
            .route("/metrics", web::get().to(scrape::metrics))
    })
    .workers(1)
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok(port)
}

/// Deletes expired sessions every few minutes.
fn spawn_session_sweeper(db: Db) {
    use crate::store::{claims, sessions};
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            let swept = db
                .run(|c| Ok(sessions::delete_expired(c)? + claims::delete_expired(c)?))
                .await;
            match swept {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired sessions and sign-in claims removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
        }
    });
}
