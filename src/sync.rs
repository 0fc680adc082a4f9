//! Background work for absent users: with no browser involved, refresh tokens as needed and
//! record what Google holds for each user (Drive file count, newest files).

use std::io::Write;

use crate::google::drive::{self, Drive};
use crate::google::gmail::{self, Gmail};
use crate::google::{GoogleError, PageToken};
use crate::store::credentials;
use crate::store::sync_status::{self, SyncStatus};
use crate::store::users::UserId;
use crate::store::Db;
use crate::vault::{CallError, TokenError, Vault};

/// Whom to sync.
#[derive(Debug, Clone)]
pub enum Target {
    All,
    Email(String),
}

/// Why one user's sync failed. Fixed wording: the text is shown to the user on their home page
/// (it is stored as the sync status's error).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("needs consent: {0}")]
    NeedsConsent(&'static str),
    #[error("the database was unavailable")]
    Database,
    #[error("Google was unavailable")]
    Unavailable,
    #[error("stored tokens could not be read (server configuration)")]
    WrongKey,
    #[error("Drive access not granted")]
    DriveNotGranted,
    #[error("Drive answered with an error")]
    Drive,
    #[error("Drive answered with an unusable page token")]
    BadPageToken,
}

impl From<CallError> for SyncError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Token(TokenError::NeedsConsent(why)) => Self::NeedsConsent(why),
            CallError::Token(TokenError::Db(_)) => Self::Database,
            CallError::Token(TokenError::Unavailable(_)) => Self::Unavailable,
            CallError::Token(TokenError::WrongKey) => Self::WrongKey,
            CallError::Google(GoogleError::InsufficientScope) => Self::DriveNotGranted,
            CallError::Google(_) => Self::Drive,
        }
    }
}

impl From<TokenError> for SyncError {
    fn from(e: TokenError) -> Self {
        CallError::from(e).into()
    }
}

/// What one user's sync found.
#[derive(Debug)]
pub struct Summary {
    /// `None`: the user did not grant Drive access (nothing to count, not a failure).
    pub drive_files: Option<i64>,
    pub newest: Vec<String>,
    /// `None`: the user did not grant Gmail access.
    pub gmail_messages: Option<i64>,
}

/// The pieces background work needs, built once.
pub struct Syncer {
    db: Db,
    vault: Vault,
    drive: Drive,
    gmail: Gmail,
}

impl Syncer {
    /// Background work through `vault` (every OAuth client's grants) on `drive` and `gmail`.
    pub fn new(db: Db, vault: Vault, drive: Drive, gmail: Gmail) -> Self {
        Self {
            db,
            vault,
            drive,
            gmail,
        }
    }

    /// Users with a credential from any client (and whether one is active), optionally only
    /// `email`.
    pub async fn users(&self, target: &Target) -> anyhow::Result<Vec<(UserId, String, bool)>> {
        let mut users = self.db.run(credentials::users_with_credentials).await?;
        if let Target::Email(email) = target {
            users.retain(|(_, e, _)| e.eq_ignore_ascii_case(email));
        }
        Ok(users)
    }

    /// Syncs one user and records the outcome (success or error) in `sync_status`.
    pub async fn sync_user(&self, user: UserId) -> Result<Summary, SyncError> {
        let outcome = self.fetch(user).await;
        let status = SyncStatus {
            user_id: user.0,
            synced_at: crate::store::now(),
            drive_files: outcome.as_ref().ok().and_then(|s| s.drive_files),
            newest: outcome
                .as_ref()
                .map(|s| s.newest.join("\n"))
                .unwrap_or_default(),
            error: outcome.as_ref().err().map(SyncError::to_string),
            gmail_messages: outcome.as_ref().ok().and_then(|s| s.gmail_messages),
        };
        if let Err(e) = self.db.run(move |c| sync_status::save(c, &status)).await {
            tracing::error!(user_id = %user, error = %e, "could not record the sync status");
        }
        outcome
    }

    async fn fetch(&self, user: UserId) -> Result<Summary, SyncError> {
        let access = self.vault.access_token(user, drive::SCOPES).await?;
        let gmail_messages = self.count_gmail(user).await?;
        if !access.has_any_scope(drive::SCOPES) {
            return Ok(Summary {
                drive_files: None,
                newest: vec![],
                gmail_messages,
            });
        }
        let drive = &self.drive;
        let mut count = 0i64;
        let mut newest = Vec::new();
        let mut page_token: Option<PageToken> = None;
        loop {
            let list = self
                .vault
                .call(user, access.clone(), |a| {
                    let token = page_token.clone();
                    async move { drive.list_files(&a.token, 1000, token.as_ref()).await }
                })
                .await?;
            if newest.is_empty() {
                newest = list.files.iter().take(5).map(|f| f.name.clone()).collect();
            }
            count += list.files.len() as i64;
            match list.next_page_token.as_deref() {
                Some(t) => page_token = Some(PageToken::parse(t).ok_or(SyncError::BadPageToken)?),
                None => break,
            }
        }
        Ok(Summary {
            drive_files: Some(count),
            newest,
            gmail_messages,
        })
    }

    /// How many messages the user's Gmail holds, when a grant of theirs includes Gmail.
    async fn count_gmail(&self, user: UserId) -> Result<Option<i64>, CallError> {
        let access = match self.vault.access_token(user, gmail::SCOPES).await {
            Ok(a) if a.has_any_scope(gmail::SCOPES) => a,
            Ok(_) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let gmail = &self.gmail;
        let mut count = 0i64;
        let mut page_token: Option<PageToken> = None;
        loop {
            let list = self
                .vault
                .call(user, access.clone(), |a| {
                    let token = page_token.clone();
                    async move {
                        gmail
                            .list_messages(&a.token, 500, token.as_ref(), None)
                            .await
                    }
                })
                .await?;
            count += list.messages.len() as i64;
            match list.next_page_token.as_deref().and_then(PageToken::parse) {
                Some(t) => page_token = Some(t),
                None => return Ok(Some(count)),
            }
        }
    }

    /// Syncs `target`, one line per user on `out`; returns how many users failed. Users whose
    /// access must be granted again are skipped (and said so): that failure was reported when
    /// it happened. `progress`, when the caller gives one (a terminal), gets a line that is
    /// rewritten as each user is synced.
    pub async fn run(
        &self,
        target: &Target,
        out: &mut impl Write,
        mut progress: Option<&mut (dyn Write + Send)>,
    ) -> anyhow::Result<usize> {
        let users = self.users(target).await?;
        if users.is_empty() {
            writeln!(out, "no users with a credential to sync")?;
            if matches!(target, Target::Email(_)) {
                return Ok(1);
            }
        }
        let (mut failed, mut skipped) = (0, 0);
        for (i, (user, email, active)) in users.iter().enumerate() {
            if !active {
                skipped += 1;
                tracing::info!(user_id = %user, "sync skipped: the user must grant access again");
                writeln!(
                    out,
                    "{email}: skipped, needs consent (the user must sign in again)"
                )?;
                continue;
            }
            if let Some(p) = progress.as_mut() {
                write!(p, "\r\x1b[2K[{}/{}] syncing {email}…", i + 1, users.len())?;
                p.flush()?;
            }
            let line = match self.sync_user(*user).await {
                Ok(Summary {
                    drive_files: Some(n),
                    newest,
                    gmail_messages,
                }) => {
                    tracing::info!(user_id = %user, files = n, "synced");
                    let newest = newest
                        .first()
                        .map(|name| format!(", newest: {name}"))
                        .unwrap_or_default();
                    format!(
                        "{email}: ok, {n} Drive files{}{newest}",
                        gmail_note(gmail_messages)
                    )
                }
                Ok(Summary {
                    drive_files: None,
                    gmail_messages,
                    ..
                }) => format!(
                    "{email}: ok, Drive access not granted (nothing to list){}",
                    gmail_note(gmail_messages)
                ),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(user_id = %user, error = %e, "sync failed; user skipped");
                    format!("{email}: FAILED: {e}")
                }
            };
            if let Some(p) = progress.as_mut() {
                write!(p, "\r\x1b[2K")?;
            }
            writeln!(out, "{line}")?;
        }
        let skipped_note = if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        };
        writeln!(
            out,
            "synced {} of {} users ({failed} failed{skipped_note})",
            users.len() - failed - skipped,
            users.len()
        )?;
        crate::meters::sync_run(failed);
        Ok(failed)
    }
}

/// ", 130 Gmail messages" when Gmail was counted.
fn gmail_note(messages: Option<i64>) -> String {
    messages
        .map(|n| format!(", {n} Gmail messages"))
        .unwrap_or_default()
}

/// Why `--sync-every` was refused.
#[derive(Debug, thiserror::Error)]
pub enum DurationError {
    #[error("{0:?} is not a duration like 30s, 15m, 1h")]
    Unreadable(String),
    #[error("the interval must be more than zero")]
    Zero,
}

/// Parses `30s`, `15m`, `1h`, `2d` (or plain seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, DurationError> {
    let s = s.trim();
    let unreadable = || DurationError::Unreadable(s.to_string());
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| unreadable())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(unreadable()),
    };
    if secs == 0 {
        return Err(DurationError::Zero);
    }
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_duration("1h").unwrap().as_secs(), 3600);
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
