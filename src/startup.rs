//! Builds the running application from `Settings`; used by `main` and by the tests alike.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use anyhow::Context;
use secrecy::ExposeSecret;

use crate::config::{ClientSecret, GoogleSource, Settings};
use crate::google::drive::Drive;
use crate::google::gmail::Gmail;
use crate::google::mobile::MobileClients;
use crate::google::oauth::OAuth;
use crate::google::{http_client, GoogleConfig};
use crate::secret::Keys;
use crate::store::{DatabaseSettings, Db};
use crate::sync::{Syncer, Target};
use crate::vault::Vault;
use crate::web::limits::{Limits, RateLimiter};
use crate::web::paths::RISC;
use crate::web::pending::PendingCookies;
use crate::web::server::{serve, serve_metrics};
use crate::web::AppState;
use google_emulator::{self as emulator, ClientKind, ClientRegistration};

/// Client id the in-process emulator registers for the app.
pub const EMULATOR_CLIENT_ID: &str = "offline-access-dev.apps.googleusercontent.com";

/// A started application.
pub struct Running {
    pub server: Server,
    pub port: u16,
    /// The in-process emulator, in the default mode (its `url` is its origin).
    pub emulator: Option<emulator::Emulator>,
    /// The app's database pool (tests read and write rows through it).
    pub db: Db,
    /// The port `GET /metrics` is served on (`METRICS_BIND`), when it is.
    pub metrics_port: Option<u16>,
}

/// Resolves where Google is: a configured provider, or the emulator started here and now.
pub fn resolve_google(
    settings: &Settings,
    keys: &Keys,
) -> anyhow::Result<(GoogleConfig, Option<(emulator::Emulator, Server)>)> {
    match &settings.google {
        GoogleSource::Provider { .. } => Ok((background_google(settings, keys)?, None)),
        GoogleSource::Emulator { bind, state } => {
            let listener = TcpListener::bind(bind).with_context(|| {
                format!("cannot listen on EMULATOR_BIND={bind} (is another copy running?)")
            })?;
            let options = emulator::Options {
                state_file: state.clone(),
                ..emulator::Options::default()
            };
            let (emu, server) = emulator::start(listener, options).map_err(|e| {
                match e.downcast::<emulator::StateFileError>() {
                    Ok(e) => anyhow::anyhow!(
                        "{e}; move it away (or delete it) to start the emulator afresh from its \
                         seed, or set EMULATOR_STATE_FILE to another file"
                    ),
                    Err(e) => e,
                }
            })?;
            emu.register_client(ClientRegistration {
                client_id: EMULATOR_CLIENT_ID.into(),
                client_secret: keys.emulator_client_secret.clone(),
                kind: ClientKind::Web,
                redirect_uris: vec![settings.redirect_uri()],
            });
            // Server clients configured for mobile apps exist at this "Google" too.
            let mobile = &settings.mobile;
            for c in [&mobile.default, &mobile.android, &mobile.ios]
                .into_iter()
                .flatten()
            {
                emu.register_client(ClientRegistration {
                    client_id: c.client_id.clone(),
                    client_secret: c.client_secret.expose_secret().to_string(),
                    kind: ClientKind::Web,
                    redirect_uris: vec![],
                });
            }
            let origin = url::Url::parse(&emu.url).context("emulator URL")?;
            Ok((emulated(settings, keys, origin), Some((emu, server))))
        }
    }
}

/// Where Google is for work outside `serve` (the `sync` command): the configured provider, or
/// the emulator a running `serve` started on `EMULATOR_BIND`, with the same client.
pub fn background_google(settings: &Settings, keys: &Keys) -> anyhow::Result<GoogleConfig> {
    match &settings.google {
        GoogleSource::Provider {
            client,
            issuer,
            api_base,
        } => Ok(GoogleConfig::provider(
            client.client_id.clone(),
            client.client_secret.clone(),
            settings.redirect_uri(),
            issuer.clone(),
            api_base.clone(),
        )),
        GoogleSource::Emulator { bind, .. } => {
            // The origin the in-process emulator announces for this bind.
            let origin = emulator::announced_origin_of(bind)
                .and_then(|o| Ok(url::Url::parse(&o)?))
                .with_context(|| format!("EMULATOR_BIND={bind} is not host:port"))?;
            Ok(emulated(settings, keys, origin))
        }
    }
}

/// The in-process emulator's client, whose secret derives from `SECRET_KEY` so that `serve`
/// and `sync` agree on it.
fn emulated(settings: &Settings, keys: &Keys, origin: url::Url) -> GoogleConfig {
    GoogleConfig::emulated(
        origin,
        EMULATOR_CLIENT_ID.into(),
        keys.emulator_client_secret.clone().into(),
        settings.redirect_uri(),
    )
}

/// The OAuth clients: the web client, and the server clients mobile apps' codes are redeemed
/// with (the web client itself unless others are configured), all sharing one discovery.
fn oauth_clients(
    settings: &Settings,
    google: GoogleConfig,
    http: reqwest::Client,
) -> (Arc<OAuth>, MobileClients) {
    let web = Arc::new(OAuth::new(google, http));
    let server =
        |c: &ClientSecret| Arc::new(web.for_client(c.client_id.clone(), c.client_secret.clone()));
    let mobile = &settings.mobile;
    let default = match &mobile.default {
        Some(c) => server(c),
        None => Arc::new(web.for_client(
            web.config().client_id.clone(),
            web.config().client_secret.clone(),
        )),
    };
    let clients = MobileClients {
        default,
        android: mobile.android.as_ref().map(server),
        ios: mobile.ios.as_ref().map(server),
        app_client_ids: mobile.app_client_ids.clone(),
    };
    (web, clients)
}

/// The vault and Drive client as work outside `serve` uses them (the `sync` command, tests):
/// every configured OAuth client, the tokens key derived from `SECRET_KEY`.
pub fn background_vault(settings: &Settings, db: Db) -> anyhow::Result<(Vault, Drive, Gmail)> {
    let keys = Keys::derive(&settings.secret_key, &settings.secret_keys_previous);
    let google = background_google(settings, &keys)?;
    let http = http_client(settings.upstream.connect, settings.upstream.total)?;
    let drive = Drive::new(http.clone(), google.api_base.clone());
    let gmail = Gmail::new(http.clone(), google.api_base.clone());
    let (web, mobile) = oauth_clients(settings, google, http);
    Ok((Vault::new(db, keys.tokens, web, mobile.all()), drive, gmail))
}

/// The `rekey` command's worker (and `check`'s census of stored values).
pub async fn rekeyer(settings: &Settings) -> anyhow::Result<crate::rekey::Rekey> {
    let db = connect_db(&settings.database).await?;
    let keys = Keys::derive(&settings.secret_key, &settings.secret_keys_previous);
    Ok(crate::rekey::Rekey::new(db, &keys))
}

/// The `sync` command's worker.
pub async fn syncer(settings: &Settings) -> anyhow::Result<Syncer> {
    let db = connect_db(&settings.database).await?;
    let (vault, drive, gmail) = background_vault(settings, db.clone())?;
    Ok(Syncer::new(db, vault, drive, gmail))
}

/// Binds `settings.bind`, then [`start_on`].
pub async fn start(
    settings: Settings,
    sync_every: Option<std::time::Duration>,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(&settings.bind)
        .with_context(|| format!("cannot listen on BIND={}", settings.bind))?;
    start_on(listener, settings, sync_every).await
}

/// Serves the app on `listener`: starts the emulator when configured so, connects the
/// database (running migrations), and schedules `sync --all` every `sync_every` when given.
/// The returned server must be awaited or spawned. `main` and the tests both start here.
pub async fn start_on(
    listener: TcpListener,
    settings: Settings,
    sync_every: Option<std::time::Duration>,
) -> anyhow::Result<Running> {
    let keys = Keys::derive(&settings.secret_key, &settings.secret_keys_previous);
    let (google, emulator) = resolve_google(&settings, &keys)?;
    let emulator = match emulator {
        Some((emu, server)) => {
            tokio::spawn(server);
            Some(emu)
        }
        None => None,
    };
    let port = listener.local_addr()?.port();
    let db = connect_db(&settings.database).await?;
    let metrics_port = match &settings.metrics_bind {
        Some(bind) => Some(serve_metrics(bind, db.clone())?),
        None => None,
    };
    let http = http_client(settings.upstream.connect, settings.upstream.total)?;
    let drive = Drive::new(http.clone(), google.api_base.clone());
    let gmail = Gmail::new(http.clone(), google.api_base.clone());
    let (oauth, mobile) = oauth_clients(&settings, google, http.clone());
    if let Some(emu) = &emulator {
        // As its web client is registered, so is its receiver: events flow with no set-up.
        let receiver = format!("{}{}", settings.origin(), RISC);
        if let Err(e) =
            register_risc_stream(&http, &emu.url, &receiver, &oauth.config().client_id).await
        {
            tracing::warn!(error = %e, "could not register the security event receiver with the emulator");
        }
    }
    let vault = Vault::new(db.clone(), keys.tokens.clone(), oauth.clone(), mobile.all());
    if let Some(every) = sync_every {
        let syncer = Syncer::new(db.clone(), vault.clone(), drive.clone(), gmail.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match syncer.run(&Target::All, &mut std::io::sink(), None).await {
                    Ok(failed) => tracing::info!(failed, "background sync finished"),
                    Err(e) => tracing::error!(error = %e, "background sync could not run"),
                }
            }
        });
    }
    let limits = Limits {
        sign_in: RateLimiter::new(settings.rate_limits.sign_in),
        authcode: RateLimiter::new(settings.mobile.per_minute),
        admin: RateLimiter::new(settings.rate_limits.admin),
        risc: RateLimiter::new(settings.rate_limits.risc),
    };
    let risc = crate::google::risc::Receiver::new(
        http.clone(),
        oauth.config().issuer.clone(),
        risc_audiences(&oauth, &mobile),
    );
    let state = AppState {
        pending: PendingCookies::new(keys.sessions.clone(), settings.https()),
        vault,
        oauth,
        gmail,
        drive,
        mobile,
        limits,
        risc,
        settings,
        db: db.clone(),
    };
    let server = serve(listener, state, keys)?;
    Ok(Running {
        server,
        port,
        emulator,
        db,
        metrics_port,
    })
}

/// The security event types the receiver acts on (Cross-Account Protection).
pub const RISC_EVENT_TYPES: &[&str] = &[
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked",
    "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked",
    "https://schemas.openid.net/secevent/oauth/event-type/token-revoked",
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
    "https://schemas.openid.net/secevent/risc/event-type/account-enabled",
    "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required",
    "https://schemas.openid.net/secevent/risc/event-type/verification",
];

/// What Cross-Account Protection is registered with: the receiver URL and the client ids
/// (the web client first, then the mobile server clients).
pub fn risc_registration(settings: &Settings) -> (String, Vec<String>) {
    let receiver = format!("{}{}", settings.origin(), RISC);
    let web = match &settings.google {
        GoogleSource::Provider { client, .. } => client.client_id.clone(),
        GoogleSource::Emulator { .. } => EMULATOR_CLIENT_ID.to_string(),
    };
    let mobile = &settings.mobile;
    let mut ids = vec![web];
    for c in [&mobile.default, &mobile.android, &mobile.ios]
        .into_iter()
        .flatten()
    {
        if !ids.contains(&c.client_id) {
            ids.push(c.client_id.clone());
        }
    }
    (receiver, ids)
}

/// Registers `receiver` for every event type with the Google emulator at `emulator` (its
/// `/emulator/risc/stream` control), events addressed to `client_id`.
pub async fn register_risc_stream(
    http: &reqwest::Client,
    emulator: &str,
    receiver: &str,
    client_id: &str,
) -> anyhow::Result<()> {
    let url = format!("{}/emulator/risc/stream", emulator.trim_end_matches('/'));
    let response = http
        .post(&url)
        .json(&serde_json::json!({
            "receiver": receiver,
            "client_id": client_id,
            "events_requested": RISC_EVENT_TYPES,
        }))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "POST {url} answered {}",
        response.status()
    );
    Ok(())
}

/// The client ids a security event may be addressed to: the web client and every server
/// client of mobile apps.
fn risc_audiences(web: &OAuth, mobile: &MobileClients) -> Vec<String> {
    let mut ids: Vec<String> = std::iter::once(web)
        .chain(mobile.all().iter().map(|c| c.as_ref()))
        .map(|c| c.config().client_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Connects to the database and runs migrations, off the async threads.
pub async fn connect_db(settings: &DatabaseSettings) -> anyhow::Result<Db> {
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || Db::connect(&settings))
        .await
        .context("database start-up task")?
}
