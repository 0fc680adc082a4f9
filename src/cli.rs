//! Command line: `serve` (the default), `emulator`, `migrate`, `sync`, `admin`, `rekey`,
//! `check`.

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{ConfigError, Settings};
use google_emulator::EmulatorArgs;

#[derive(Debug, Parser)]
#[command(
    name = "offline-access",
    version,
    about = "Sign in with Google, then let the server work for the user"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app (the default). Without GOOGLE_CLIENT_SECRET_FILE, the Google emulator
    /// starts in-process on EMULATOR_BIND.
    Serve(ServeArgs),
    /// Run the Google emulator on its own (for your end-to-end tests).
    Emulator(EmulatorArgs),
    /// Run pending database migrations and exit.
    Migrate,
    /// Grant or take back the admin role (besides ADMIN_EMAILS, which is read at every request).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Act for users who are away: refresh tokens as needed and record each user's Drive
    /// summary, shown on their home page. Exits 1 when any user failed.
    Sync(SyncArgs),
    /// Seal every stored token and session again under SECRET_KEY, so that the keys in
    /// SECRET_KEYS_PREVIOUS can be dropped. Safe while instances serve, safe to run again.
    /// Exits 1 unless nothing is left under a previous key and every value could be read.
    Rekey(RekeyArgs),
    /// Validate the configuration without serving: the client secret, the provider's
    /// discovery and keys, the redirect URI, the database and its migrations, and whether the
    /// stored tokens open with the configured keys. One line per check; exits 1 on a failure.
    Check,
    /// Cross-Account Protection: show what to register with Google (the receiver URL, the
    /// event types, the client ids events are addressed to); with --register-with, register
    /// it with a Google emulator running on its own.
    Risc {
        /// The emulator's origin, e.g. http://127.0.0.1:9000.
        #[arg(long, value_name = "EMULATOR_URL")]
        register_with: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RekeyArgs {
    /// Rows read and re-sealed per batch.
    #[arg(long, default_value_t = crate::rekey::DEFAULT_BATCH, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub batch_size: i64,
    /// Milliseconds to wait between batches (to spare a busy database).
    #[arg(long, default_value_t = 0)]
    pub pause_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Make the user with this verified email an admin (they must have signed in once).
    Grant {
        email: String,
        #[command(flatten)]
        account: AccountChoice,
    },
    /// Take the admin role given with `grant` back.
    Revoke {
        email: String,
        #[command(flatten)]
        account: AccountChoice,
    },
    /// Allow a blocked user to sign in again (as Unblock on the dashboard does).
    Unblock {
        email: String,
        #[command(flatten)]
        account: AccountChoice,
    },
}

/// Which account, when several share an email (signed in through different providers).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AccountChoice {
    /// The account's OpenID issuer (as `admin` lists it when the email is ambiguous).
    #[arg(long, requires = "sub")]
    pub issuer: Option<String>,
    /// The account's subject at that issuer.
    #[arg(long, requires = "issuer")]
    pub sub: Option<String>,
}

impl AccountChoice {
    /// The one account of `users` (all with the email) this command may act on, or why none.
    fn pick(
        &self,
        email: &str,
        users: Vec<crate::store::users::User>,
        grant: bool,
    ) -> Result<crate::store::users::User, String> {
        if users.is_empty() {
            return Err(format!(
                "no user with the email {email} has signed in yet: they must sign in once first"
            ));
        }
        let named: Vec<_> = users
            .iter()
            .filter(|u| match (&self.issuer, &self.sub) {
                (Some(iss), Some(sub)) => &u.issuer == iss && &u.google_sub == sub,
                _ => true,
            })
            .collect();
        // Only an address the provider verified may become an admin: anyone can sign in with
        // an unverified one.
        let eligible: Vec<_> = named
            .iter()
            .filter(|u| !grant || u.email_verified)
            .collect();
        match eligible.as_slice() {
            [one] => Ok((**one).clone()),
            [] if named.is_empty() => Err(format!(
                "no account with the email {email} has that issuer and subject"
            )),
            [] => Err(format!(
                "{email} has not been verified by the provider of any account that uses it: \
                 nobody was made an admin"
            )),
            several => Err(format!(
                "{} accounts use the email {email}; nothing was changed. Name one with \
                 --issuer and --sub:\n{}",
                several.len(),
                several
                    .iter()
                    .map(|u| format!(
                        "  --issuer {} --sub {}{}",
                        u.issuer,
                        u.google_sub,
                        if u.email_verified {
                            ""
                        } else {
                            "  (unverified)"
                        }
                    ))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
        }
    }
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Also run `sync --all` in the background at this interval (e.g. 30m, 1h).
    #[arg(long, value_parser = crate::sync::parse_duration)]
    pub sync_every: Option<std::time::Duration>,
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct SyncArgs {
    /// Sync only the user with this email.
    #[arg(long)]
    pub user: Option<String>,
    /// Sync every user with an active credential.
    #[arg(long)]
    pub all: bool,
}

/// How a command failed: bad configuration exits 2, anything else 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
    #[error("{0} user(s) could not be synced")]
    Failed(usize),
    #[error("a check failed (the FAIL lines above)")]
    Checks,
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Config(_) => 2,
            Self::Other(_) | Self::Failed(_) | Self::Checks => 1,
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(args).await,
        Command::Sync(args) => {
            let settings = Settings::from_env()?;
            let target = match args.user {
                Some(email) => crate::sync::Target::Email(email),
                None => crate::sync::Target::All,
            };
            let syncer = crate::startup::syncer(&settings).await?;
            // A progress line only where a person watches a terminal.
            let mut stderr = std::io::stderr();
            let progress = std::io::IsTerminal::is_terminal(&stderr)
                .then_some(&mut stderr as &mut (dyn std::io::Write + Send));
            let failed = syncer
                .run(&target, &mut std::io::stdout(), progress)
                .await?;
            if failed > 0 {
                return Err(CliError::Failed(failed));
            }
            Ok(())
        }
        Command::Emulator(args) => {
            Ok(google_emulator::run_cli(args, &mut std::io::stdout()).await?)
        }
        Command::Admin { action } => admin(action).await,
        Command::Risc { register_with } => {
            let settings = Settings::from_env()?;
            let (receiver, audiences) = crate::startup::risc_registration(&settings);
            println!("receiver (push delivery): {receiver}");
            println!("audiences (OAuth client ids): {}", audiences.join(", "));
            println!("event types:");
            for t in crate::startup::RISC_EVENT_TYPES {
                println!("  {t}");
            }
            if let Some(emulator) = register_with {
                let http = reqwest::Client::new();
                crate::startup::register_risc_stream(&http, &emulator, &receiver, &audiences[0])
                    .await?;
                println!("registered with the emulator at {emulator}");
            }
            Ok(())
        }
        Command::Check => {
            let settings = match Settings::from_env() {
                Ok(s) => s,
                Err(e) => {
                    println!("FAIL configuration: {e}");
                    return Err(CliError::Checks);
                }
            };
            println!("ok   configuration: APP_BASE_URL={}", settings.origin());
            if !crate::check::run(&settings, &mut std::io::stdout()).await {
                return Err(CliError::Checks);
            }
            Ok(())
        }
        Command::Rekey(args) => {
            let settings = Settings::from_env()?;
            let rekey = crate::startup::rekeyer(&settings).await?;
            let report = rekey
                .run(
                    args.batch_size,
                    std::time::Duration::from_millis(args.pause_ms),
                    &mut std::io::stdout(),
                )
                .await?;
            if !report.complete() {
                return Err(CliError::Other(anyhow::anyhow!(
                    "{} value(s) are still under a previous key and {} could not be read with \
                     SECRET_KEY or SECRET_KEYS_PREVIOUS; keep the previous keys. Values written \
                     meanwhile by an instance without the new SECRET_KEY are re-sealed by running \
                     rekey again once every instance has it",
                    report.after.under_previous_keys(),
                    report.after.unreadable()
                )));
            }
            Ok(())
        }
        Command::Migrate => {
            let settings = Settings::from_env()?;
            let database = settings.database;
            let ran =
                tokio::task::spawn_blocking(move || crate::store::Db::open(&database)?.migrate())
                    .await
                    .map_err(anyhow::Error::from)??;
            println!("database is up to date ({ran} migrations applied now)");
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let settings = Settings::from_env()?;
    let origin = settings.origin();
    let running = crate::startup::start(settings, args.sync_every).await?;
    println!(
        "offline-access is listening on {origin}/ (port {})",
        running.port
    );
    match running.emulator.as_ref().map(|e| &e.url) {
        Some(url) => {
            println!("EMULATOR MODE: no GOOGLE_CLIENT_SECRET_FILE is set, so Google is emulated at {url}/");
            println!("Open {origin}/ and sign in as alice@example.test, bob@example.test or admin@example.test (no password).");
        }
        None => println!("Using the configured Google client; open {origin}/ to sign in."),
    }
    running.server.await.map_err(anyhow::Error::from)?;
    // The emulator's state, as it is at shutdown (changes are also saved as they happen).
    if let Some(emulator) = &running.emulator {
        emulator
            .save()
            .context("cannot write the emulator state at shutdown")?;
    }
    Ok(())
}

async fn admin(action: AdminAction) -> Result<(), CliError> {
    use crate::store::{audit, users, Db};
    let settings = Settings::from_env()?;
    let (email, account) = match &action {
        AdminAction::Grant { email, account }
        | AdminAction::Revoke { email, account }
        | AdminAction::Unblock { email, account } => (email.clone(), account.clone()),
    };
    let grant = matches!(action, AdminAction::Grant { .. });
    let unblock = matches!(action, AdminAction::Unblock { .. });
    let database = settings.database.clone();
    let lookup = email.clone();
    let user = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let db = Db::connect(&database)?;
        let all = db.run_blocking(|c| users::all_by_email(c, &lookup))?;
        let user = account
            .pick(&lookup, all, grant)
            .map_err(anyhow::Error::msg)?;
        db.run_blocking(|c| {
            use diesel::Connection;
            c.transaction::<_, anyhow::Error, _>(|c| {
                let action = if unblock {
                    users::set_blocked(c, user.user_id(), false)?;
                    "admin.unblock"
                } else {
                    users::set_admin(c, user.user_id(), grant)?;
                    if grant {
                        "admin.grant"
                    } else {
                        "admin.take_back"
                    }
                };
                audit::record(
                    c,
                    &audit::NewEntry {
                        actor: None,
                        action,
                        target: Some(user.user_id()),
                        detail: "on the command line",
                        outcome: "done",
                    },
                )
            })
        })?;
        Ok(user)
    })
    .await
    .map_err(anyhow::Error::from)??;
    if unblock {
        println!("{} may sign in again", user.email);
    } else if grant {
        println!("{} is now an admin", user.email);
    } else if settings.is_admin_email(&user.email, user.email_verified) {
        println!(
            "{}: the role given on the command line is taken back, but ADMIN_EMAILS still makes them an admin",
            user.email
        );
    } else {
        println!("{} is no longer an admin", user.email);
    }
    Ok(())
}
