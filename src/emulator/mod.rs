//! A faithful local copy of Google's OAuth 2.0 / OpenID Connect server and of the Drive v3 and
//! Gmail v1 endpoints the app uses. It shares nothing with the app but the wire protocol.
//!
//! INTERFACE STUB — the emulator helper replaces the bodies; the signatures below are the
//! contract the rest of the crate (cli.rs, startup.rs, tests) relies on.

use std::net::TcpListener;
use std::path::PathBuf;

/// `offline-access emulator …` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub bind: String,
    /// JSON seed file replacing the built-in accounts, clients, files and messages.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Issuer (and public origin) to announce; defaults to http://<bind>.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Write a web client in Google's client_secret.json download format to this path and exit.
    #[arg(long)]
    pub write_client_secret: Option<PathBuf>,
}

/// OAuth client kinds, as in Google Cloud console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Web,
    Android,
    Ios,
}

/// A registered OAuth client.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
}

/// Options for an emulator started in-process.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Issuer to announce; `None` = the listener's origin (`http://127.0.0.1:PORT`).
    pub issuer: Option<String>,
    /// Seed file; `None` = the built-in deterministic seed.
    pub seed: Option<PathBuf>,
    /// Serve the `/emulator/*` test controls even when not bound on loopback.
    pub allow_controls: bool,
}

/// A running emulator.
pub struct Emulator {
    /// Origin, e.g. `http://127.0.0.1:8081` (no trailing slash).
    pub url: String,
}

impl Emulator {
    /// Registers (or replaces) a client.
    pub fn register_client(&self, _client: ClientRegistration) {
        unimplemented!("emulator stub")
    }
}

/// Starts the emulator on `listener`; the returned server must be spawned or awaited.
pub fn start(
    _listener: TcpListener,
    _options: Options,
) -> anyhow::Result<(Emulator, actix_web::dev::Server)> {
    anyhow::bail!("emulator stub")
}

/// Runs `offline-access emulator` until interrupted.
pub async fn run_cli(_args: EmulatorArgs) -> anyhow::Result<()> {
    anyhow::bail!("emulator stub")
}
