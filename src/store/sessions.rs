//! actix-session's `SessionStore` on the database. The cookie carries only a random key; the
//! row is keyed by its SHA-256, holds the state sealed by the vault, and knows its user so that
//! every session of a user can be ended at once (sign-out everywhere, admin revocation).

use std::cell::RefCell;
use std::collections::HashMap;

use actix_session::storage::{
    generate_session_key, LoadError, SaveError, SessionKey, SessionStore, UpdateError,
};
use actix_web::cookie::time::Duration;
use anyhow::Context;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::sessions;
use super::signed_in::{self, SignedInUser};
use super::users::UserId;
use super::{now, on_backend, AnyConnection, Db, DbError};
use crate::secret::Cipher;

/// Set (only in memory, never saved) on a session whose row could not be loaded because the
/// database is unavailable; a middleware answers such requests with the 503 page. actix-session
/// would otherwise fail the request with a bare 500 outside every other middleware.
pub const DB_UNAVAILABLE_KEY: &str = "__db_unavailable";

/// Session key under which the signed-in user's id is kept.
pub const USER_ID_KEY: &str = "user_id";

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    cipher: Cipher,
}

impl DbSessionStore {
    pub fn new(db: Db, cipher: Cipher) -> Self {
        Self { db, cipher }
    }

    fn seal(&self, id_hash: &str, state: &HashMap<String, String>) -> anyhow::Result<Vec<u8>> {
        let json = serde_json::to_vec(state).context("serializing session state")?;
        Ok(self.cipher.seal(&json, &aad(id_hash)))
    }
}

/// Associated data binding sealed session state to its row.
pub fn aad(id_hash: &str) -> String {
    format!("session:{id_hash}")
}

fn hash_key(key: &SessionKey) -> String {
    let digest = Sha256::digest(key.as_ref().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

thread_local! {
    /// The signed-in user the last [`DbSessionStore::load`] on this thread read beside the
    /// session row; see [`take_prefetched`].
    static PREFETCHED: RefCell<Option<SignedInUser>> = const { RefCell::new(None) };
}

/// The user (with their grants and last sync) that the session load which just finished on
/// this thread read in the same database round trip as the session row, if the row names one.
///
/// actix-session calls its inner service synchronously once `load` has returned, so the
/// middleware just inside it takes this before any other request can run on the thread; the
/// next load clears it in any case, and the taker checks the user id against the session's.
pub fn take_prefetched() -> Option<SignedInUser> {
    PREFETCHED.with(|p| p.take())
}

fn user_of(state: &HashMap<String, String>) -> Option<i64> {
    state.get(USER_ID_KEY).and_then(|v| v.parse().ok())
}

/// Lifetime of a session that names no user (a sign-in in progress): anonymous visitors cannot
/// fill the table with week-long rows.
const ANONYMOUS_TTL_SECS: i64 = 15 * 60;

fn expiry(user: Option<i64>, ttl: &Duration) -> chrono::NaiveDateTime {
    let secs = match user {
        Some(_) => ttl.whole_seconds(),
        None => ttl.whole_seconds().min(ANONYMOUS_TTL_SECS),
    };
    now() + chrono::Duration::seconds(secs)
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        PREFETCHED.with(|p| p.take());
        let id_hash = hash_key(key);
        let lookup = id_hash.clone();
        let row = self
            .db
            .run(move |c| {
                // By primary key, without `LIMIT ?`: SQLite would prepare a statement with a
                // bound LIMIT again on every execution.
                let row = on_backend!(c, c => sessions::table
                    .find(&lookup)
                    .filter(sessions::expires_at.gt(now()))
                    .select((sessions::state, sessions::user_id))
                    .get_result::<(Vec<u8>, Option<i64>)>(c))
                .optional()
                .context("loading a session")?;
                // The row names its user: read them too, in this same round trip. A failure
                // here is not the session's: the extractor asks again and reports it.
                let user = match &row {
                    Some((_, Some(id))) => signed_in::find(c, UserId(*id)).ok().flatten(),
                    _ => None,
                };
                Ok(row.map(|(sealed, user_id)| (sealed, user_id, user)))
            })
            .await;
        let row = match row {
            Ok(r) => r,
            Err(DbError::Unavailable(e)) => {
                tracing::warn!(error = %e, "the database is unavailable; answering 503");
                return Ok(Some(HashMap::from([(
                    DB_UNAVAILABLE_KEY.to_string(),
                    "true".to_string(),
                )])));
            }
            Err(e) => return Err(LoadError::Other(e.into())),
        };
        let Some((sealed, user_id, user)) = row else {
            return Ok(None);
        };
        let state: HashMap<String, String> = match self.cipher.open(&sealed, &aad(&id_hash)) {
            Ok(json) => {
                serde_json::from_slice(&json).map_err(|e| LoadError::Deserialization(e.into()))?
            }
            Err(e) => {
                // A session sealed under another key is simply not a session any more.
                tracing::warn!(error = %e, "discarding a session that does not decrypt");
                return Ok(None);
            }
        };
        // Handed over only when the sealed state names the same user as the row.
        if let Some(user) =
            user.filter(|u| user_id == user_of(&state) && user_id == Some(u.user.id))
        {
            PREFETCHED.with(|p| p.replace(Some(user)));
        }
        Ok(Some(state))
    }

    async fn save(
        &self,
        state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        let key = generate_session_key();
        let id_hash = hash_key(&key);
        let sealed = self
            .seal(&id_hash, &state)
            .map_err(SaveError::Serialization)?;
        let user = user_of(&state);
        let expires = expiry(user, ttl);
        self.db
            .run(move |c| {
                diesel::insert_into(sessions::table)
                    .values((
                        sessions::id_hash.eq(&id_hash),
                        sessions::user_id.eq(user),
                        sessions::state.eq(&sealed),
                        sessions::expires_at.eq(expires),
                    ))
                    .execute(c)
                    .context("saving a session")
            })
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let id_hash = hash_key(&key);
        let sealed = self
            .seal(&id_hash, &state)
            .map_err(UpdateError::Serialization)?;
        let user = user_of(&state);
        let expires = expiry(user, ttl);
        self.db
            .run(move |c| {
                // A row that is gone (signed out elsewhere, revoked, expired) stays gone: the
                // request carries on with a session that the next load will not find.
                diesel::update(
                    sessions::table
                        .find(&id_hash)
                        .filter(sessions::expires_at.gt(now())),
                )
                .set((
                    sessions::user_id.eq(user),
                    sessions::state.eq(&sealed),
                    sessions::expires_at.eq(expires),
                ))
                .execute(c)
                .context("updating a session")
            })
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        Ok(key)
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        let id_hash = hash_key(key);
        let expires = expiry(Some(0), ttl);
        self.db
            .run(move |c| {
                // Only signed-in sessions get the long lifetime.
                diesel::update(
                    sessions::table
                        .find(&id_hash)
                        .filter(sessions::user_id.is_not_null()),
                )
                .set(sessions::expires_at.eq(expires))
                .execute(c)
                .context("extending a session")
            })
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let id_hash = hash_key(key);
        self.db
            .run(move |c| {
                diesel::delete(sessions::table.find(&id_hash))
                    .execute(c)
                    .context("deleting a session")
            })
            .await?;
        Ok(())
    }
}

/// Ends every session of `user` (on every instance sharing the database).
pub fn delete_for_user(conn: &mut AnyConnection, user: UserId) -> anyhow::Result<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user.0)))
        .execute(conn)
        .context("deleting a user's sessions")
}

/// Removes expired sessions; returns how many.
pub fn delete_expired(conn: &mut AnyConnection) -> anyhow::Result<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now())))
        .execute(conn)
        .context("deleting expired sessions")
}

/// Number of live sessions of a user.
pub fn count_for_user(conn: &mut AnyConnection, user: UserId) -> anyhow::Result<i64> {
    sessions::table
        .filter(sessions::user_id.eq(user.0))
        .filter(sessions::expires_at.gt(now()))
        .count()
        .get_result(conn)
        .context("counting sessions")
}

/// Up to `limit` sessions (id hash, sealed state) whose id hash sorts after `after`, for
/// `rekey` and `check`.
pub fn sealed_page(
    conn: &mut AnyConnection,
    after: &str,
    limit: i64,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    sessions::table
        .filter(sessions::id_hash.gt(after))
        .order(sessions::id_hash)
        .limit(limit)
        .select((sessions::id_hash, sessions::state))
        .load(conn)
        .context("reading sealed sessions")
}

/// Replaces a session's sealed state only while it still holds `old` (a request that changed
/// the session meanwhile wins). Whether it replaced.
pub fn replace_sealed(
    conn: &mut AnyConnection,
    id_hash: &str,
    old: &[u8],
    new: &[u8],
) -> anyhow::Result<bool> {
    let changed = diesel::update(
        sessions::table
            .find(id_hash)
            .filter(sessions::state.eq(old)),
    )
    .set(sessions::state.eq(new))
    .execute(conn)
    .context("re-sealing a session")?;
    Ok(changed == 1)
}

/// Sessions that have not expired.
pub fn live(conn: &mut AnyConnection) -> anyhow::Result<u64> {
    let n: i64 = sessions::table
        .filter(sessions::expires_at.gt(now()))
        .count()
        .get_result(conn)
        .context("counting live sessions")?;
    Ok(n.max(0) as u64)
}
