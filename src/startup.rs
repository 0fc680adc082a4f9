//! Builds the running application from `Settings`; used by `main` and by the tests alike.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::config::PersistentSession;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::config::{GoogleSource, Settings};
use crate::emulator::{self, ClientKind, ClientRegistration};
use crate::google::oauth::OAuth;
use crate::google::{http_client, GoogleConfig};
use crate::store::sessions::DbSessionStore;
use crate::store::Db;
use crate::sync::{Syncer, Target};
use crate::vault::{Keys, Vault};
use crate::web::errors::{bad_input, render, ErrorPage};
use crate::web::{self as routes, AppState};

/// Client id the in-process emulator registers for the app.
pub const EMULATOR_CLIENT_ID: &str = "offline-access-dev.apps.googleusercontent.com";

/// A started application.
pub struct Running {
    pub server: Server,
    pub port: u16,
    /// Origin of the in-process emulator, in the default mode.
    pub emulator_url: Option<String>,
}

/// Resolves where Google is: a configured provider, or the emulator started here and now.
pub fn resolve_google(
    settings: &Settings,
    keys: &Keys,
) -> anyhow::Result<(GoogleConfig, Option<(String, Server)>)> {
    match &settings.google {
        GoogleSource::Provider {
            client,
            issuer,
            api_base,
        } => Ok((
            GoogleConfig {
                client_id: client.client_id.clone(),
                client_secret: client.client_secret.clone(),
                redirect_uri: settings.redirect_uri(),
                issuer: issuer.clone(),
                api_base: api_base.clone(),
            },
            None,
        )),
        GoogleSource::Emulator { bind } => {
            let listener = TcpListener::bind(bind).with_context(|| {
                format!("cannot listen on EMULATOR_BIND={bind} (is another copy running?)")
            })?;
            let (emu, server) = emulator::start(listener, emulator::Options::default())?;
            let client_secret = keys.emulator_client_secret.clone();
            emu.register_client(ClientRegistration {
                client_id: EMULATOR_CLIENT_ID.into(),
                client_secret: client_secret.clone(),
                kind: ClientKind::Web,
                redirect_uris: vec![settings.redirect_uri()],
            });
            let url = url::Url::parse(&emu.url).context("emulator URL")?;
            Ok((
                GoogleConfig {
                    client_id: EMULATOR_CLIENT_ID.into(),
                    client_secret: client_secret.into(),
                    redirect_uri: settings.redirect_uri(),
                    issuer: url.clone(),
                    api_base: url,
                },
                Some((emu.url.clone(), server)),
            ))
        }
    }
}

/// Where Google is for work outside `serve` (the `sync` command): the configured provider, or
/// the emulator a running `serve` started on `EMULATOR_BIND`, with the same client.
pub fn background_google(settings: &Settings, keys: &Keys) -> anyhow::Result<GoogleConfig> {
    match &settings.google {
        GoogleSource::Provider { .. } => Ok(resolve_google(settings, keys)?.0),
        GoogleSource::Emulator { bind } => {
            // The origin the in-process emulator announces for this bind.
            let origin = emulator::announced_origin_of(bind)
                .with_context(|| format!("EMULATOR_BIND={bind} is not host:port"))?;
            let url = url::Url::parse(&origin)
                .with_context(|| format!("EMULATOR_BIND={bind} is not host:port"))?;
            Ok(GoogleConfig {
                client_id: EMULATOR_CLIENT_ID.into(),
                client_secret: keys.emulator_client_secret.clone().into(),
                redirect_uri: settings.redirect_uri(),
                issuer: url.clone(),
                api_base: url,
            })
        }
    }
}

/// The `sync` command's worker.
pub async fn syncer(settings: &Settings) -> anyhow::Result<Syncer> {
    let keys = Keys::derive(&settings.secret_key);
    let google = background_google(settings, &keys)?;
    let db = connect_db(settings).await?;
    Syncer::new(db, &keys, google)
}

/// Binds `settings.bind`, starts the emulator when configured so, connects the database, and
/// schedules `sync --all` every `sync_every` when given.
pub async fn start(
    mut settings: Settings,
    sync_every: Option<std::time::Duration>,
) -> anyhow::Result<Running> {
    let keys = Keys::derive(&settings.secret_key);
    let (google, emulator) = resolve_google(&settings, &keys)?;
    let emulator_url = match emulator {
        Some((url, server)) => {
            tokio::spawn(server);
            settings.demo_hint = Some(
                "Development mode: Google is emulated on this machine. Sign in as \
                 alice@example.test (or bob@example.test, admin@example.test); no password is needed."
                    .into(),
            );
            Some(url)
        }
        None => None,
    };
    let listener = TcpListener::bind(&settings.bind)
        .with_context(|| format!("cannot listen on BIND={}", settings.bind))?;
    let port = listener.local_addr()?.port();
    let db = connect_db(&settings).await?;
    if let Some(every) = sync_every {
        let syncer = Syncer::new(db.clone(), &keys, google.clone())?;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match syncer.run(&Target::All, &mut std::io::sink()).await {
                    Ok(failed) => tracing::info!(failed, "background sync finished"),
                    Err(e) => tracing::error!(error = %e, "background sync could not run"),
                }
            }
        });
    }
    let server = run(listener, settings, google, db)?;
    Ok(Running {
        server,
        port,
        emulator_url,
    })
}

/// Connects to `DATABASE_URL` and runs migrations, off the async threads.
pub async fn connect_db(settings: &Settings) -> anyhow::Result<Db> {
    let (url, size, timeout) = (
        settings.database_url.clone(),
        settings.db_pool_size,
        settings.db_timeout,
    );
    tokio::task::spawn_blocking(move || Db::connect(&url, size, timeout))
        .await
        .context("database start-up task")?
}

/// Serves the app on `listener`. The returned server must be awaited or spawned.
pub fn run(
    listener: TcpListener,
    settings: Settings,
    google: GoogleConfig,
    db: Db,
) -> anyhow::Result<Server> {
    let keys = Keys::derive(&settings.secret_key);
    let http = http_client()?;
    let https = settings.https();
    let cookie_name = if https {
        "__Host-oa_session"
    } else {
        "oa_session"
    };
    let ttl = settings.session_ttl.num_seconds();
    let store = DbSessionStore::new(db.clone(), keys.sessions.clone());
    let cookie_key = Key::from(&keys.cookie);

    spawn_session_sweeper(db.clone());

    let oauth = Arc::new(OAuth::new(google, http.clone()));
    let state = web::Data::new(Arc::new(AppState {
        vault: Vault::new(db.clone(), keys.tokens.clone(), oauth.clone()),
        oauth,
        settings,
        db,
        http,
        keys,
    }));
    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store.clone(), cookie_key.clone())
            .cookie_name(cookie_name.to_string())
            .cookie_secure(https)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_path("/".into())
            .session_lifecycle(
                PersistentSession::default()
                    .session_ttl(actix_web::cookie::time::Duration::seconds(ttl)),
            )
            .build();
        App::new()
            .wrap_fn(crate::web::outage::on_load)
            .wrap(sessions)
            .wrap_fn(crate::web::outage::on_save)
            .wrap(crate::web::headers::security_headers(https))
            .wrap(TracingLogger::<crate::web::telemetry::SafeRootSpan>::new())
            .app_data(state.clone())
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_input(e)))
            .app_data(web::FormConfig::default().error_handler(|e, _| bad_input(e)))
            .route("/static/app.css", web::get().to(stylesheet))
            .configure(routes::routes)
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../static/app.css"))
}

async fn not_found() -> HttpResponse {
    render(
        actix_web::http::StatusCode::NOT_FOUND,
        &ErrorPage {
            title: "Page not found",
            message: "There is nothing at this address.",
            try_again: false,
            user: None,
        },
    )
}

/// Deletes expired sessions every few minutes.
fn spawn_session_sweeper(db: Db) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            match db.run(crate::store::sessions::delete_expired).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired sessions removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
        }
    });
}
