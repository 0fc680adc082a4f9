//! What a signed-in page view reads: the user, their grant for the app's OAuth client and their
//! last background sync, in one query (one database round trip per view).

use anyhow::Context;
use diesel::prelude::*;

use super::credentials::Credential;
use super::schema::{credentials, sync_status, users};
use super::sync_status::SyncStatus;
use super::users::{User, UserId};
use super::{now, AnyConnection};

/// A signed-in user with their grant for one OAuth client and their last background sync:
/// what a page view needs, read in one query.
#[derive(Debug, Clone)]
pub struct SignedInUser {
    pub user: User,
    pub credential: Option<Credential>,
    pub last_sync: Option<SyncStatus>,
}

/// Reads user `id` with their credential for `client_id` and their sync status in one query.
/// With `touch`, also records them as seen now (the caller does so at most every few
/// minutes, so most page views write nothing).
pub fn find(
    conn: &mut AnyConnection,
    id: UserId,
    client_id: &str,
    touch: bool,
) -> anyhow::Result<Option<SignedInUser>> {
    if touch {
        diesel::update(users::table.find(id.0))
            .set(users::last_seen_at.eq(now()))
            .execute(conn)
            .context("recording when a user was last seen")?;
    }
    let client_id = client_id.to_string();
    let row = users::table
        .find(id.0)
        .left_join(
            credentials::table.on(credentials::user_id
                .eq(users::id)
                .and(credentials::client_id.eq(client_id))),
        )
        .left_join(sync_status::table)
        .select((
            User::as_select(),
            Option::<Credential>::as_select(),
            Option::<SyncStatus>::as_select(),
        ))
        .first::<(User, Option<Credential>, Option<SyncStatus>)>(conn)
        .optional()
        .context("loading the signed-in user")?;
    Ok(row.map(|(user, credential, last_sync)| SignedInUser {
        user,
        credential,
        last_sync,
    }))
}
