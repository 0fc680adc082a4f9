//! Key rotation at rest: `offline-access rekey` seals every stored token and session again
//! under the current key, and [`Rekey::census`] counts which key sealed each value (`rekey`'s
//! last line, `offline-access check`).
//!
//! It walks each table in keyset pages. A value already under the current key is skipped, so a
//! second run, or a run after one that was killed half-way, does only what is left. Each value
//! is replaced only while its row still holds the bytes that were read, so a token or session
//! written meanwhile by a serving instance is never overwritten with an older one.

use std::io::Write;
use std::time::Duration;

use crate::secret::{Cipher, Keys, SealedUnder};
use crate::store::credentials::{self, SealedColumn};
use crate::store::sessions;
use crate::store::users::UserId;
use crate::store::Db;
use crate::vault::aad;

/// What a pass over one table did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Sealed again under the current key.
    pub resealed: u64,
    /// Already under the current key.
    pub current: u64,
    /// Could not be opened with any configured key (a key that is no longer listed, or
    /// damaged data); left as it is.
    pub unreadable: u64,
    /// Changed by a serving instance between reading and writing; left to that writer.
    pub changed_meanwhile: u64,
}

impl Pass {
    fn add(&mut self, other: Pass) {
        self.resealed += other.resealed;
        self.current += other.current;
        self.unreadable += other.unreadable;
        self.changed_meanwhile += other.changed_meanwhile;
    }
}

/// How many stored values each kind of key sealed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub current: u64,
    pub previous: u64,
    /// Under a key that is not configured, or not opening under the key it names.
    pub unreadable: u64,
}

impl Count {
    fn add(&mut self, cipher: &Cipher, sealed: &[u8], aad: &str) {
        match (cipher.sealed_under(sealed), cipher.open(sealed, aad)) {
            (_, Err(_)) => self.unreadable += 1,
            (SealedUnder::Current, Ok(_)) => self.current += 1,
            (_, Ok(_)) => self.previous += 1,
        }
    }
}

/// The census of both tables.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    pub tokens: Count,
    pub sessions: Count,
}

impl Census {
    pub fn under_previous_keys(&self) -> u64 {
        self.tokens.previous + self.sessions.previous
    }
    pub fn unreadable(&self) -> u64 {
        self.tokens.unreadable + self.sessions.unreadable
    }
}

/// What `rekey` did, and what is left.
#[derive(Debug)]
pub struct Report {
    pub tokens: Pass,
    pub sessions: Pass,
    pub after: Census,
}

impl Report {
    /// Done: nothing is left under a previous key and everything opened, so the previous keys
    /// may be dropped.
    pub fn complete(&self) -> bool {
        self.after.under_previous_keys() == 0 && self.after.unreadable() == 0
    }
}

pub struct Rekey {
    db: Db,
    tokens: Cipher,
    sessions: Cipher,
}

/// Rows read per query.
pub const DEFAULT_BATCH: i64 = 200;

impl Rekey {
    pub fn new(db: Db, keys: &Keys) -> Self {
        Self {
            db,
            tokens: keys.tokens.clone(),
            sessions: keys.sessions.clone(),
        }
    }

    /// Re-seals every stored value under the current key, `batch` rows at a time with `pause`
    /// between batches (to spare a busy database), writing one progress line per batch.
    pub async fn run(
        &self,
        batch: i64,
        pause: Duration,
        out: &mut (dyn Write + Send),
    ) -> anyhow::Result<Report> {
        let batch = batch.max(1);
        writeln!(out, "re-sealing under key {}", self.tokens.key_id())?;
        let mut tokens = Pass::default();
        let mut after = 0;
        loop {
            let cipher = self.tokens.clone();
            let (pass, last) = self
                .db
                .run(move |c| {
                    let rows = credentials::sealed_page(c, after, batch)?;
                    let mut pass = Pass::default();
                    for row in &rows {
                        let user = UserId(row.user_id);
                        for (column, value) in [
                            (SealedColumn::Refresh, &row.refresh_token),
                            (SealedColumn::Access, &row.access_token),
                        ] {
                            let Some(old) = value else { continue };
                            match cipher.reseal(old, &aad(user, column.field())) {
                                Ok(None) => pass.current += 1,
                                Ok(Some(new)) => {
                                    if credentials::replace_sealed(c, row.id, column, old, &new)? {
                                        pass.resealed += 1;
                                    } else {
                                        pass.changed_meanwhile += 1;
                                    }
                                }
                                Err(_) => pass.unreadable += 1,
                            }
                        }
                    }
                    Ok((pass, rows.last().map(|r| r.id)))
                })
                .await?;
            let Some(last) = last else { break };
            tokens.add(pass);
            after = last;
            writeln!(
                out,
                "tokens: {} re-sealed, {} already current, {} unreadable (through credential {last})",
                tokens.resealed, tokens.current, tokens.unreadable
            )?;
            tokio::time::sleep(pause).await;
        }
        let mut session_pass = Pass::default();
        let mut after = String::new();
        loop {
            let cipher = self.sessions.clone();
            let from = after.clone();
            let (pass, last) = self
                .db
                .run(move |c| {
                    let rows = sessions::sealed_page(c, &from, batch)?;
                    let mut pass = Pass::default();
                    for (id_hash, old) in &rows {
                        match cipher.reseal(old, &sessions::aad(id_hash)) {
                            Ok(None) => pass.current += 1,
                            Ok(Some(new)) => {
                                if sessions::replace_sealed(c, id_hash, old, &new)? {
                                    pass.resealed += 1;
                                } else {
                                    pass.changed_meanwhile += 1;
                                }
                            }
                            Err(_) => pass.unreadable += 1,
                        }
                    }
                    Ok((pass, rows.last().map(|(id, _)| id.clone())))
                })
                .await?;
            let Some(last) = last else { break };
            session_pass.add(pass);
            after = last;
            writeln!(
                out,
                "sessions: {} re-sealed, {} already current, {} unreadable",
                session_pass.resealed, session_pass.current, session_pass.unreadable
            )?;
            tokio::time::sleep(pause).await;
        }
        let census = self.census().await?;
        writeln!(
            out,
            "done: {} token(s) and {} session(s) re-sealed; left under previous keys: {}; unreadable: {}",
            tokens.resealed,
            session_pass.resealed,
            census.under_previous_keys(),
            census.unreadable()
        )?;
        Ok(Report {
            tokens,
            sessions: session_pass,
            after: census,
        })
    }

    /// Which key sealed every stored token and session (each is opened, so a value that names
    /// a configured key but does not decrypt counts as unreadable).
    pub async fn census(&self) -> anyhow::Result<Census> {
        let mut census = Census::default();
        let mut after = 0;
        loop {
            let rows = self
                .db
                .run(move |c| credentials::sealed_page(c, after, DEFAULT_BATCH))
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in &rows {
                let user = UserId(row.user_id);
                for (column, value) in [
                    (SealedColumn::Refresh, &row.refresh_token),
                    (SealedColumn::Access, &row.access_token),
                ] {
                    if let Some(sealed) = value {
                        census
                            .tokens
                            .add(&self.tokens, sealed, &aad(user, column.field()));
                    }
                }
            }
        }
        let mut after = String::new();
        loop {
            let from = after.clone();
            let rows = self
                .db
                .run(move |c| sessions::sealed_page(c, &from, DEFAULT_BATCH))
                .await?;
            let Some((last, _)) = rows.last() else { break };
            after = last.clone();
            for (id_hash, sealed) in &rows {
                census
                    .sessions
                    .add(&self.sessions, sealed, &sessions::aad(id_hash));
            }
        }
        Ok(census)
    }
}
