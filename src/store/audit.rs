//! The audit log: who did what to whom, when, and what came of it (including the provider's
//! answer to a revocation). Rows are only ever added.

use anyhow::Context;
use diesel::prelude::*;

use super::schema::{audit_log, users};
use super::users::UserId;
use super::{now, AnyConnection};

/// One entry to write.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// `None`: the command line or the system.
    pub actor: Option<UserId>,
    /// e.g. `user.disconnect`, `admin.revoke`, `admin.unblock`, `admin.grant`.
    pub action: &'a str,
    pub target: Option<UserId>,
    pub detail: &'a str,
    pub outcome: &'a str,
}

/// One entry as pages show it, with the emails of actor and target.
#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    pub id: i64,
    pub at: chrono::NaiveDateTime,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_user_id: Option<i64>,
    pub target_email: Option<String>,
    pub detail: String,
    pub outcome: String,
}

pub fn record(conn: &mut AnyConnection, e: &NewEntry<'_>) -> anyhow::Result<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(now()),
            audit_log::actor_user_id.eq(e.actor.map(|u| u.0)),
            audit_log::action.eq(e.action),
            audit_log::target_user_id.eq(e.target.map(|u| u.0)),
            audit_log::detail.eq(e.detail),
            audit_log::outcome.eq(e.outcome),
        ))
        .execute(conn)
        .context("writing the audit log")?;
    Ok(())
}

/// Up to `limit` entries older than `before` (an entry id), newest first; only `target`'s when
/// given.
pub fn list(
    conn: &mut AnyConnection,
    target: Option<UserId>,
    before: Option<i64>,
    limit: i64,
) -> anyhow::Result<Vec<Entry>> {
    let (actor, target_user) = diesel::alias!(users as actor, users as target_user);
    let mut query = audit_log::table
        .left_join(actor.on(audit_log::actor_user_id.eq(actor.field(users::id).nullable())))
        .left_join(
            target_user.on(audit_log::target_user_id.eq(target_user.field(users::id).nullable())),
        )
        .select((
            audit_log::id,
            audit_log::at,
            actor.field(users::email).nullable(),
            audit_log::action,
            audit_log::target_user_id,
            target_user.field(users::email).nullable(),
            audit_log::detail,
            audit_log::outcome,
        ))
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(t) = target {
        query = query.filter(audit_log::target_user_id.eq(t.0));
    }
    if let Some(b) = before {
        query = query.filter(audit_log::id.lt(b));
    }
    query.load(conn).context("reading the audit log")
}
