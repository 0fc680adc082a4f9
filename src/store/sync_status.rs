//! The last background sync of each user (what `offline-access sync` found).

use anyhow::Context;
use diesel::prelude::*;

use super::schema::sync_status;
use super::users::UserId;
use super::AnyConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sync_status)]
pub struct SyncStatus {
    pub user_id: i64,
    pub synced_at: chrono::NaiveDateTime,
    pub drive_files: Option<i64>,
    /// Names of the newest files, one per line.
    pub newest: String,
    pub error: Option<String>,
    /// Messages in Gmail (`None`: Gmail not granted).
    pub gmail_messages: Option<i64>,
}

pub fn save(conn: &mut AnyConnection, s: &SyncStatus) -> anyhow::Result<()> {
    super::on_backend!(conn, conn => super::upsert(conn, |conn| {
        let values = (
            sync_status::synced_at.eq(s.synced_at),
            sync_status::drive_files.eq(s.drive_files),
            sync_status::newest.eq(&s.newest),
            sync_status::error.eq(&s.error),
            sync_status::gmail_messages.eq(s.gmail_messages),
        );
        let n = diesel::update(sync_status::table.find(s.user_id))
            .set(values)
            .execute(conn)?;
        if n == 0 {
            diesel::insert_into(sync_status::table)
                .values((sync_status::user_id.eq(s.user_id), values))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))
    .context("saving the sync status")
}

pub fn find(conn: &mut AnyConnection, user: UserId) -> anyhow::Result<Option<SyncStatus>> {
    sync_status::table
        .find(user.0)
        .select(SyncStatus::as_select())
        .first(conn)
        .optional()
        .context("loading the sync status")
}
