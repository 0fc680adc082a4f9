//! The command line (`google-emulator …`, `offline-access emulator …`): its arguments, and
//! running the emulator from them. What it says goes to the caller's output.

use std::net::TcpListener;
use std::path::PathBuf;

use crate::{
    announced_origin_of, client_secret_json, load_seed, start, ClientKind, Emulator, Options,
    Profile, StateFileError,
};

/// The emulator's command-line arguments (`google-emulator …`, `offline-access emulator …`).
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
    /// Serve the `/emulator/*` test controls even when not bound on loopback.
    #[arg(long)]
    pub allow_controls: bool,
    /// Another Host name (NAME for any port, or NAME:PORT) the `/emulator/*` controls answer
    /// to, besides loopback with the bound port and the issuer's host. Repeatable.
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Behave as Google (default) or as a standards-compliant OpenID provider that is not
    /// Google (oidc-strict).
    #[arg(long, value_enum, default_value_t = Profile::Google)]
    pub profile: Profile,
    /// PEM RSA private key (PKCS#1 or PKCS#8) to sign ID tokens with; default: generated.
    #[arg(long, env = "EMULATOR_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// Keep the state (accounts, clients, consents, tokens, signing keys) in this JSON file
    /// across restarts; written shortly after every change and at shutdown.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Begin again from the seed, overwriting the --state file (also one that cannot be read).
    #[arg(long, requires = "state")]
    pub reset_state: bool,
}

impl Default for EmulatorArgs {
    /// What `google-emulator` with no arguments runs.
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Bare {
            #[command(flatten)]
            args: EmulatorArgs,
        }
        Bare::parse_from(["google-emulator"]).args
    }
}

/// Runs the emulator from its command line until interrupted (or, with
/// `--write-client-secret`, writes the file and returns). What it has to say goes to `out`.
pub async fn run_cli(args: EmulatorArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    if let Some(path) = &args.write_client_secret {
        let seed = load_seed(args.seed.as_ref())?;
        let origin = match &args.issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_string(),
            None => announced_origin_of(&args.bind)?,
        };
        let client = seed
            .clients
            .iter()
            .find(|c| c.kind == ClientKind::Web)
            .ok_or_else(|| anyhow::anyhow!("the seed has no web client"))?;
        let json = serde_json::to_string_pretty(&client_secret_json(client, &origin))?;
        std::fs::write(path, json + "\n")?;
        writeln!(
            out,
            "Wrote {} ({}) for {origin}",
            path.display(),
            client.client_id
        )?;
        return Ok(());
    }
    let listener = TcpListener::bind(&args.bind)?;
    let options = Options {
        issuer: args.issuer.clone(),
        seed: args.seed.clone(),
        allow_controls: args.allow_controls,
        allowed_hosts: args.allowed_hosts.clone(),
        profile: args.profile,
        signing_key: args.signing_key.clone(),
        state_file: args.state.clone(),
        reset_state: args.reset_state,
        ..Options::default()
    };
    let (emulator, server) = start(listener, options).map_err(|e| match e.downcast() {
        Ok(StateFileError { path, reason }) => anyhow::anyhow!(
            "{}; start with --reset-state to begin again from the seed (the file is then \
             overwritten), or move it away",
            StateFileError { path, reason }
        ),
        Err(e) => e,
    })?;
    out.write_all(emulator.summary(&args.allowed_hosts).as_bytes())?;
    if let Some(path) = &args.state {
        writeln!(out, "State kept in {} (across restarts)", path.display())?;
    }
    out.flush()?;
    let handle = server.handle();
    tokio::select! {
        res = server => res?,
        _ = tokio::signal::ctrl_c() => handle.stop(true).await,
    }
    emulator.save()?;
    Ok(())
}

impl Emulator {
    /// What a person starting the emulator wants to know: where it is, its accounts and its
    /// web clients (the emulator's own, public test credentials), one line each.
    pub fn summary(&self, allowed_hosts: &[String]) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "Google emulator listening on {}", self.url);
        if self.shared.profile().is_strict() {
            let _ = writeln!(
                s,
                "  profile:   oidc-strict (a standards-compliant OpenID provider, not Google)"
            );
        }
        let _ = writeln!(
            s,
            "  discovery: {}/.well-known/openid-configuration",
            self.url
        );
        let controls = if self.controls {
            format!("{}/emulator/ (see docs/EMULATOR.md)", self.url)
        } else {
            "off (not bound on loopback)".to_string()
        };
        let _ = writeln!(s, "  controls:  {controls}");
        if self.controls && !allowed_hosts.is_empty() {
            let _ = writeln!(
                s,
                "  controls also answer Host: {}",
                allowed_hosts.join(", ")
            );
        }
        let _ = writeln!(s, "Accounts:");
        for a in self.shared.store().accounts.iter() {
            let _ = writeln!(
                s,
                "  {:<24} {:<16} sub={} files={} messages={}",
                a.email,
                a.name,
                a.sub,
                a.files.len(),
                a.messages.len()
            );
        }
        let _ = writeln!(s, "Web clients:");
        for c in self.web_clients() {
            let _ = writeln!(s, "  client_id:     {}", c.client_id);
            let _ = writeln!(s, "  client_secret: {}", c.client_secret);
            let _ = writeln!(s, "  redirect_uris: {}", c.redirect_uris.join(" "));
        }
        s
    }
}
