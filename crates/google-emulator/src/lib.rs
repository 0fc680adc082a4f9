//! A faithful local copy of Google's OAuth 2.0 / OpenID Connect server and of the Drive v3 and
//! Gmail v1 endpoints the app uses. It shares nothing with the app but the wire protocol.
//!
//! Everything is served under one origin at Google's own paths; see `docs/EMULATOR.md`.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{middleware, web, App, HttpServer};

mod api;
mod cli;
mod control;
mod cors;
mod errors;
mod faults;
mod keys;
mod model;
mod oauth;
mod persist;
mod requests;
mod risc;
mod seed;
mod state;
#[cfg(feature = "testing")]
pub mod testing;

use control::ControlPolicy;
use keys::{KeyRing, Keys};
use state::{Shared, Store};

pub use cli::{run_cli, EmulatorArgs};
pub use faults::IdTokenFault;
pub use model::{ClientKind, ClientRegistration, Profile};

/// Options for an emulator started in-process.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Issuer to announce; `None` = the listener's origin (`http://127.0.0.1:PORT`).
    pub issuer: Option<String>,
    /// Seed file; `None` = the built-in deterministic seed.
    pub seed: Option<PathBuf>,
    /// Serve the `/emulator/*` test controls even when not bound on loopback.
    pub allow_controls: bool,
    /// Extra `Host` names the controls answer to (`NAME` for any port, `NAME:PORT` for one),
    /// besides loopback with the bound port and the issuer's host.
    pub allowed_hosts: Vec<String>,
    /// Google (the default) or a strict OpenID provider; `PUT /emulator/profile` changes it.
    pub profile: Profile,
    /// Lifetime of authorization codes; `None` = Google's 10 minutes.
    pub code_ttl: Option<Duration>,
    /// Lifetime of access tokens; `None` = Google's 3599 seconds.
    pub access_token_ttl: Option<Duration>,
    /// PEM (PKCS#1 or PKCS#8) RSA private key to sign ID tokens with; `None` = a key generated
    /// once per process (or the one kept in the state file).
    pub signing_key: Option<PathBuf>,
    /// Keep the state in this file across restarts (see [`Emulator::save`]); `None` = in
    /// memory only. A file that cannot be read stops the start with a [`StateFileError`].
    pub state_file: Option<PathBuf>,
    /// Start from the seed even when the state file exists (it is overwritten).
    pub reset_state: bool,
    /// The first wait before a failed RISC delivery is tried again (then doubled, five times);
    /// `None` = 500 ms.
    pub risc_retry_base: Option<Duration>,
}

pub use persist::{StateDocument, StateFileError};

/// A running emulator.
pub struct Emulator {
    /// Origin, e.g. `http://127.0.0.1:8081` (no trailing slash).
    pub url: String,
    /// Whether the `/emulator/*` controls are served.
    pub controls: bool,
    shared: Arc<Shared>,
}

impl Emulator {
    /// Registers (or replaces) a client. Such clients survive `POST /emulator/reset`.
    pub fn register_client(&self, client: ClientRegistration) {
        self.shared
            .pinned_clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(client.client_id.clone(), client.clone());
        self.shared
            .store_mut()
            .clients
            .insert(client.client_id.clone(), client);
    }

    /// Writes the state file now (at shutdown); without one, does nothing.
    pub fn save(&self) -> std::io::Result<()> {
        persist::save(&self.shared)
    }

    /// The state as `GET /emulator/state` exports it.
    pub fn export(&self) -> StateDocument {
        self.shared.export()
    }

    /// The web clients currently registered (seeded, registered or added by a control).
    pub fn web_clients(&self) -> Vec<ClientRegistration> {
        let mut v: Vec<_> = self
            .shared
            .store()
            .clients
            .values()
            .filter(|c| c.kind == ClientKind::Web)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }
}

/// A client in Google's `client_secret.json` download format, pointing at `origin`.
pub fn client_secret_json(client: &ClientRegistration, origin: &str) -> serde_json::Value {
    let origin = origin.trim_end_matches('/');
    let section = match client.kind {
        ClientKind::Web => "web",
        ClientKind::Android | ClientKind::Ios => "installed",
    };
    serde_json::json!({ section: {
        "client_id": client.client_id,
        "project_id": "offline-access-emulator",
        "auth_uri": format!("{origin}/o/oauth2/v2/auth"),
        "token_uri": format!("{origin}/token"),
        "auth_provider_x509_cert_url": format!("{origin}/oauth2/v1/certs"),
        "client_secret": client.client_secret,
        "redirect_uris": client.redirect_uris,
    }})
}

pub(crate) fn load_seed(path: Option<&PathBuf>) -> anyhow::Result<seed::Seed> {
    match path {
        Some(p) => seed::Seed::load(p),
        None => Ok(seed::Seed::default_seed().clone()),
    }
}

/// Starts the emulator on `listener`; the returned server must be spawned or awaited.
pub fn start(
    listener: TcpListener,
    options: Options,
) -> anyhow::Result<(Emulator, actix_web::dev::Server)> {
    let addr = listener.local_addr()?;
    let url = issuer_of(&options, addr);
    let controls = addr.ip().is_loopback() || options.allow_controls;
    let shared = Arc::new(shared_state(url.clone(), &options)?);
    let policy = ControlPolicy::new(addr, &url, &options.allowed_hosts);
    keep_state_file(&shared)?;
    let server = serve(listener, shared.clone(), policy, controls)?;
    Ok((
        Emulator {
            url,
            controls,
            shared,
        },
        server,
    ))
}

/// The issuer announced: the configured one without a trailing slash, else the listener's
/// origin.
fn issuer_of(options: &Options, addr: std::net::SocketAddr) -> String {
    options
        .issuer
        .clone()
        .map(|s| s.trim_end_matches('/').to_string())
        .unwrap_or_else(|| announced_origin(addr))
}

/// The store and signing keys to begin with: the state file's (a configured signing key
/// replacing its keys), else the seed's with the configured or a generated key.
fn initial_state(options: &Options, seed: &seed::Seed) -> anyhow::Result<(Store, KeyRing)> {
    let kept = match &options.state_file {
        Some(path) if !options.reset_state => persist::load(path)?,
        _ => None,
    };
    let chosen_key = match &options.signing_key {
        Some(p) => Some(Keys::from_file(p)?),
        None => None,
    };
    Ok(match kept {
        Some(doc) => {
            let kept_keys = doc.keys().map_err(|reason| StateFileError {
                path: options.state_file.clone().unwrap_or_default(),
                reason,
            })?;
            (
                doc.into_store(),
                chosen_key.map(KeyRing::one).unwrap_or(kept_keys),
            )
        }
        None => (
            Store::from_seed(seed),
            KeyRing::one(chosen_key.unwrap_or_else(Keys::generated)),
        ),
    })
}

/// Everything the handlers share, built from the options.
fn shared_state(issuer: String, options: &Options) -> anyhow::Result<Shared> {
    let seed = load_seed(options.seed.as_ref())?;
    let (store, keys) = initial_state(options, &seed)?;
    Ok(Shared {
        issuer,
        start_profile: options.profile,
        profile: Mutex::new(options.profile),
        keys: Mutex::new(keys),
        persister: options.state_file.clone().map(state::StateFile::new),
        code_ttl: options.code_ttl.unwrap_or(Duration::from_secs(600)),
        access_ttl: options
            .access_token_ttl
            .unwrap_or(Duration::from_secs(3599)),
        store: Mutex::new(store),
        seed,
        pinned_clients: Mutex::new(HashMap::new()),
        faults: Mutex::default(),
        log: Mutex::default(),
        risc_http: risc::delivery::http_client()?,
        risc_retry_base: options
            .risc_retry_base
            .unwrap_or(Duration::from_millis(500)),
        risc_generation: Default::default(),
    })
}

/// With a state file: writes it at once (a path that cannot be written fails the start, not a
/// later save), then starts the debounced writer.
fn keep_state_file(shared: &Arc<Shared>) -> Result<(), StateFileError> {
    if let Some(file) = &shared.persister {
        persist::save(shared).map_err(|e| StateFileError {
            path: file.path().to_path_buf(),
            reason: format!("cannot be written: {e}"),
        })?;
        tokio::spawn(persist::writer(shared.clone()));
    }
    Ok(())
}

/// The HTTP server: Google's endpoints, and the controls when they are served.
fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    policy: ControlPolicy,
    controls: bool,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::from(shared);
    let policy = web::Data::new(policy);
    Ok(HttpServer::new(move || {
        let app = App::new()
            .app_data(data.clone())
            .app_data(policy.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .wrap(middleware::from_fn(requests::log_requests))
            .wrap(middleware::from_fn(cors::cors))
            .configure(oauth::routes)
            .configure(api::routes);
        if controls {
            app.configure(control::routes)
        } else {
            app
        }
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run())
}

/// The origin the emulator announces for a listening address: `http://ADDR`, with a wildcard
/// address (0.0.0.0, [::]), which no browser can use, replaced by loopback.
pub fn announced_origin(addr: std::net::SocketAddr) -> String {
    let mut public = addr;
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            public.set_ip(std::net::Ipv4Addr::LOCALHOST.into())
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            public.set_ip(std::net::Ipv6Addr::LOCALHOST.into())
        }
        _ => {}
    }
    format!("http://{public}")
}

/// [`announced_origin`] for a `host:port` bind string.
pub fn announced_origin_of(bind: &str) -> anyhow::Result<String> {
    use std::net::ToSocketAddrs;
    let addr = bind
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| anyhow::anyhow!("{bind:?} is not a host:port address"))?;
    Ok(announced_origin(addr))
}
