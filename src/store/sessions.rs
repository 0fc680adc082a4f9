//! actix-session's `SessionStore` on the database. The cookie carries only a random key; the
//! row is keyed by its SHA-256, holds the state sealed by the vault, and knows its user so that
//! every session of a user can be ended at once (sign-out everywhere, admin revocation).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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
use crate::secret::{hex, Cipher};

/// Session key under which the signed-in user's id is kept.
pub const USER_ID_KEY: &str = "user_id";

/// A session's state as the store keeps it.
pub type State = HashMap<String, String>;

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    cipher: Cipher,
    /// The state [`DbSessionStore::preload`] read for the request in flight, until
    /// actix-session asks [`SessionStore::load`] for it. Each worker thread has a store of its
    /// own (so this is not `Send`), and a request's preload and load run in one poll of its
    /// future on that worker, with no await between the two: no other request can take or
    /// replace it.
    waiting: Rc<RefCell<Option<Waiting>>>,
}

/// A session state read ahead, for the session key it belongs to (`None`: the key names no
/// live session).
struct Waiting {
    session_key: String,
    state: Option<State>,
}

impl DbSessionStore {
    pub fn new(db: Db, cipher: Cipher) -> Self {
        Self {
            db,
            cipher,
            waiting: Rc::default(),
        }
    }

    fn seal(&self, id_hash: &str, state: &State) -> anyhow::Result<Vec<u8>> {
        let json = serde_json::to_vec(state).context("serializing session state")?;
        Ok(self.cipher.seal(&json, &aad(id_hash)))
    }

    /// Reads the session row of `session_key` (the cookie's value, opened) and the user it
    /// names in one database round trip, before actix-session asks for the state: the state
    /// waits here for [`SessionStore::load`], the user goes back to the caller (a middleware,
    /// which hands it to the extractor through the request). An outage is the caller's to
    /// answer: nothing is waiting then.
    pub async fn preload(&self, session_key: &str) -> Result<Option<SignedInUser>, DbError> {
        let id_hash = hash(session_key);
        let lookup = id_hash.clone();
        let row = self
            .db
            .run(move |c| {
                let row = find_row(c, &lookup)?;
                // The row names its user: read them too, in this same round trip. A failure
                // here is not the session's: the extractor asks again and reports it.
                let user = match &row {
                    Some((_, Some(id))) => signed_in::find(c, UserId(*id)).ok().flatten(),
                    _ => None,
                };
                Ok(row.map(|(sealed, user_id)| (sealed, user_id, user)))
            })
            .await?;
        let (state, user) = match row {
            Some((sealed, user_id, user)) => match self.open(&id_hash, &sealed) {
                Some(state) => {
                    // Handed over only when the sealed state names the same user as the row.
                    let user =
                        user.filter(|u| user_id == user_of(&state) && user_id == Some(u.user.id));
                    (Some(state), user)
                }
                None => (None, None),
            },
            None => (None, None),
        };
        self.waiting.replace(Some(Waiting {
            session_key: session_key.to_string(),
            state,
        }));
        Ok(user)
    }

    /// Drops what [`Self::preload`] left if actix-session did not take it (a request it
    /// refused before loading the session); nothing otherwise.
    pub fn forget(&self) {
        self.waiting.take();
    }

    /// The state sealed in a row; `None` for one that does not open (or parse).
    fn open(&self, id_hash: &str, sealed: &[u8]) -> Option<State> {
        match self.cipher.open(sealed, &aad(id_hash)) {
            Ok(json) => match serde_json::from_slice(&json) {
                Ok(state) => Some(state),
                Err(e) => {
                    tracing::warn!(error = %e, "discarding a session whose state does not parse");
                    None
                }
            },
            Err(e) => {
                // A session sealed under another key is simply not a session any more.
                tracing::warn!(error = %e, "discarding a session that does not decrypt");
                None
            }
        }
    }
}

/// A live session row by its key's hash: the sealed state and the user it names.
fn find_row(
    c: &mut AnyConnection,
    id_hash: &str,
) -> anyhow::Result<Option<(Vec<u8>, Option<i64>)>> {
    // By primary key, without `LIMIT ?`: SQLite would prepare a statement with a bound LIMIT
    // again on every execution.
    on_backend!(c, c => sessions::table
        .find(id_hash)
        .filter(sessions::expires_at.gt(now()))
        .select((sessions::state, sessions::user_id))
        .get_result::<(Vec<u8>, Option<i64>)>(c))
    .optional()
    .context("loading a session")
}

/// Associated data binding sealed session state to its row.
pub fn aad(id_hash: &str) -> String {
    format!("session:{id_hash}")
}

fn hash(session_key: &str) -> String {
    hex(&Sha256::digest(session_key.as_bytes()))
}

fn hash_key(key: &SessionKey) -> String {
    hash(key.as_ref())
}

fn user_of(state: &State) -> Option<i64> {
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
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let waiting = self.waiting.take();
        if let Some(w) = waiting.filter(|w| w.session_key == key.as_ref()) {
            return Ok(w.state);
        }
        // Not preloaded (no session middleware of the app's own in front): the row alone.
        let id_hash = hash_key(key);
        let lookup = id_hash.clone();
        let row = self
            .db
            .run(move |c| find_row(c, &lookup))
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        Ok(row.and_then(|(sealed, _)| self.open(&id_hash, &sealed)))
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
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
        state: State,
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
