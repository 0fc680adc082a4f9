//! What a signed-in page view reads: the user, their grants (one per OAuth client: the web
//! client, mobile apps' server clients) and their last background sync, in one query (one
//! database round trip per view: the session store reads it together with the session row,
//! see `sessions::DbSessionStore::preload`).

use anyhow::Context;
use diesel::prelude::*;

use super::credentials::Credential;
use super::schema::{credentials, sync_status, users};
use super::sync_status::SyncStatus;
use super::users::{User, UserId};
use super::{now, on_backend, AnyConnection};

/// A signed-in user with their grants and their last background sync: what a page view needs,
/// read in one query.
#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub user: User,
    pub credentials: Vec<Credential>,
    pub last_sync: Option<SyncStatus>,
}

/// Reads user `id` with their credentials and their sync status in one query (one row per
/// credential). Reads only: see [`touch`].
pub fn find(conn: &mut AnyConnection, id: UserId) -> anyhow::Result<Option<SignedInUser>> {
    let rows = on_backend!(conn, c => users::table
        .find(id.0)
        .left_join(credentials::table.on(credentials::user_id.eq(users::id)))
        .left_join(sync_status::table)
        .select((
            User::as_select(),
            Option::<Credential>::as_select(),
            Option::<SyncStatus>::as_select(),
        ))
        .load::<(User, Option<Credential>, Option<SyncStatus>)>(c))
    .context("loading the signed-in user")?;
    let mut rows = rows.into_iter();
    let Some((user, first, last_sync)) = rows.next() else {
        return Ok(None);
    };
    let credentials = first
        .into_iter()
        .chain(rows.filter_map(|(_, c, _)| c))
        .collect();
    Ok(Some(SignedInUser {
        user,
        credentials,
        last_sync,
    }))
}

/// Records that the user was just seen (the sliding session expiry is due, at most every ten
/// minutes a session): the only write of a page view.
pub fn touch(conn: &mut AnyConnection, id: UserId) -> anyhow::Result<()> {
    diesel::update(users::table.find(id.0))
        .set(users::last_seen_at.eq(now()))
        .execute(conn)
        .context("recording when a user was last seen")?;
    Ok(())
}
