//! `offline-access check`: the configuration validated without serving, one line per check
//! (`ok`, `warn` or `FAIL` and what was found), so that a deployment can be tried before it
//! takes traffic. Only `FAIL` lines make the command exit 1.

use std::io::Write;

use crate::config::{GoogleSource, Settings};
use crate::google::{http_client, oauth::OAuth};
use crate::secret::Keys;
use crate::store::{Backend, Db};

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Warn,
    Fail,
}

struct Lines<'a> {
    out: &'a mut (dyn Write + Send),
    failed: bool,
}

impl Lines<'_> {
    fn line(&mut self, outcome: Outcome, what: &str, detail: impl std::fmt::Display) {
        let mark = match outcome {
            Outcome::Ok => "ok  ",
            Outcome::Warn => "warn",
            Outcome::Fail => {
                self.failed = true;
                "FAIL"
            }
        };
        // A closed stdout must not hide the exit code.
        let _ = writeln!(self.out, "{mark} {what}: {detail}");
    }
}

/// Runs every check on `settings`; whether none failed.
pub async fn run(settings: &Settings, out: &mut (dyn Write + Send)) -> bool {
    let mut lines = Lines { out, failed: false };
    let keys = Keys::derive(&settings.secret_key, &settings.secret_keys_previous);
    lines.line(
        Outcome::Ok,
        "keys",
        format!(
            "SECRET_KEY seals under key id {}; {} previous key(s) accepted for reading",
            keys.tokens.key_id(),
            settings.secret_keys_previous.len()
        ),
    );
    provider(settings, &keys, &mut lines).await;
    database(settings, &keys, &mut lines).await;
    !lines.failed
}

async fn provider(settings: &Settings, keys: &Keys, lines: &mut Lines<'_>) {
    let redirect_uri = settings.redirect_uri();
    // In the default mode a scratch emulator (in memory, on a free port) stands in for the one
    // `serve` starts, so the same discovery code is tried without touching the state file.
    let (google, _emulator) = match &settings.google {
        GoogleSource::Provider { client, .. } => {
            lines.line(
                Outcome::Ok,
                "client secret",
                format!("client {} (its secret was read)", client.client_id),
            );
            if client.redirect_uris.is_empty() {
                lines.line(
                    Outcome::Warn,
                    "redirect URI",
                    format!(
                        "the client secret lists no redirect URIs; {redirect_uri} must be \
                         registered for this client"
                    ),
                );
            } else if client.redirect_uris.contains(&redirect_uri) {
                lines.line(Outcome::Ok, "redirect URI", &redirect_uri);
            } else {
                lines.line(
                    Outcome::Fail,
                    "redirect URI",
                    format!(
                        "APP_BASE_URL/oauth2callback is {redirect_uri}, which the client does not \
                         list (it lists {}); register it in the provider's console and download \
                         the client secret again, or correct APP_BASE_URL",
                        client.redirect_uris.join(", ")
                    ),
                );
            }
            match crate::startup::background_google(settings, keys) {
                Ok(google) => (google, None),
                Err(e) => return lines.line(Outcome::Fail, "provider", format!("{e:#}")),
            }
        }
        GoogleSource::Emulator { .. } => {
            lines.line(
                Outcome::Ok,
                "client secret",
                "none configured: `serve` emulates Google in-process (the default mode)",
            );
            lines.line(Outcome::Ok, "redirect URI", &redirect_uri);
            let mut scratch = settings.clone();
            scratch.google = GoogleSource::Emulator {
                bind: "127.0.0.1:0".into(),
                state: None,
            };
            match crate::startup::resolve_google(&scratch, keys) {
                Ok((google, Some((emu, server)))) => {
                    tokio::spawn(server);
                    (google, Some(emu))
                }
                Ok((google, None)) => (google, None),
                Err(e) => return lines.line(Outcome::Fail, "provider", format!("{e:#}")),
            }
        }
    };
    let issuer = google.issuer.clone();
    let http = match http_client(settings.upstream.connect, settings.upstream.total) {
        Ok(http) => http,
        Err(e) => return lines.line(Outcome::Fail, "provider", format!("{e:#}")),
    };
    let risc = crate::google::risc::Receiver::new(http.clone(), issuer.clone(), Vec::new());
    match OAuth::new(google, http).ready().await {
        Ok(()) => lines.line(
            Outcome::Ok,
            "provider",
            format!("discovery document and signing keys fetched from {issuer}"),
        ),
        Err(e) => {
            return lines.line(
                Outcome::Fail,
                "provider",
                format!("{issuer} (GOOGLE_ISSUER) could not be discovered: {e:#}"),
            )
        }
    }
    // Cross-Account Protection is optional: a provider without it is worth a warning only.
    match risc.ready().await {
        Ok(()) => lines.line(
            Outcome::Ok,
            "security events",
            format!(
                "RISC configuration and keys fetched from {}; the receiver is {}/risc",
                risc.configuration_url(),
                settings.origin()
            ),
        ),
        Err(e) => lines.line(
            Outcome::Warn,
            "security events",
            format!(
                "{}: {e}; POST /risc will refuse security events (answering 503)",
                risc.configuration_url()
            ),
        ),
    }
}

async fn database(settings: &Settings, keys: &Keys, lines: &mut Lines<'_>) {
    let url = &settings.database.url;
    let backend = match Backend::from_url(url) {
        Ok(b) => b,
        Err(e) => return lines.line(Outcome::Fail, "database", format!("{e:#}")),
    };
    let shown = match backend {
        Backend::Sqlite => url.clone(),
        Backend::Postgres => "PostgreSQL (DATABASE_URL)".to_string(),
    };
    if backend == Backend::Sqlite {
        let path = url.trim_start_matches("sqlite://");
        if !std::path::Path::new(path).exists() {
            return lines.line(
                Outcome::Ok,
                "database",
                format!("{path} does not exist yet; `serve` or `migrate` creates it"),
            );
        }
    }
    let database = settings.database.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let db = Db::open(&database)?;
        let pending = db.pending_migrations()?;
        Ok::<_, anyhow::Error>((db, pending))
    })
    .await
    .map_err(anyhow::Error::from)
    .and_then(|r| r);
    let (db, pending) = match opened {
        Ok(v) => v,
        Err(e) => return lines.line(Outcome::Fail, "database", format!("{shown}: {e:#}")),
    };
    lines.line(Outcome::Ok, "database", format!("{shown}: connected"));
    if pending.is_empty() {
        lines.line(Outcome::Ok, "migrations", "none pending");
    } else {
        lines.line(
            Outcome::Warn,
            "migrations",
            format!(
                "{} pending ({}); `serve` applies them at start, or run `migrate`",
                pending.len(),
                pending.join(", ")
            ),
        );
    }
    match crate::rekey::Rekey::new(db, keys).census().await {
        Err(e) => lines.line(Outcome::Fail, "stored tokens", format!("{e:#}")),
        Ok(census) => {
            let (t, s) = (census.tokens, census.sessions);
            let detail = format!(
                "tokens: {} under SECRET_KEY, {} under a previous key, {} unreadable; \
                 sessions: {} under SECRET_KEY, {} under a previous key, {} unreadable",
                t.current, t.previous, t.unreadable, s.current, s.previous, s.unreadable
            );
            if t.unreadable > 0 {
                lines.line(
                    Outcome::Fail,
                    "stored tokens",
                    format!(
                        "{detail} — {} stored token(s) do not open with SECRET_KEY or \
                         SECRET_KEYS_PREVIOUS: is this the key the other instances use?",
                        t.unreadable
                    ),
                );
            } else if census.under_previous_keys() > 0 || s.unreadable > 0 {
                lines.line(
                    Outcome::Warn,
                    "stored tokens",
                    format!("{detail} — run `rekey` before dropping a previous key"),
                );
            } else {
                lines.line(Outcome::Ok, "stored tokens", detail);
            }
        }
    }
}
