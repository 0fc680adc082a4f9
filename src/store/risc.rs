//! Cross-Account Protection in the database: the security events received (`risc_events`,
//! keyed by the token's `jti` and the event's type, so a replay is recognised), and what each event does to a user,
//! applied together with that record and its audit entry in one transaction.

use anyhow::Context;
use diesel::prelude::*;

use super::schema::{credentials, risc_events, users};
use super::users::UserId;
use super::{audit, credentials::Status, now, sessions, AnyConnection};

/// How a `token-revoked` event named the refresh token (the stored identifier forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenMatch {
    Hash(String),
    PrefixHash(String),
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// End every session of the user.
    EndSessions,
    /// Delete the user's stored tokens; their credentials need consent (sessions stay).
    DropTokens,
    /// Delete one credential's tokens (it needs consent), if it still holds the refresh token
    /// the event named.
    DropCredential(i64, TokenMatch),
    /// End sessions, delete tokens, and block sign-in until an admin lets the user in again
    /// (or the provider re-enables the account).
    Block,
    /// Lift a block the provider set (an admin's own block stays).
    LiftProviderBlock,
    /// Flag the account: the provider asks for its credentials to be changed.
    FlagCredentialChange,
    /// Recorded and logged, nothing else.
    Nothing,
}

/// One event to apply.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    pub jti: &'a str,
    /// The event type's short name (`sessions-revoked`, …) or its URI when unknown.
    pub event_type: &'a str,
    pub user: Option<UserId>,
    pub reason: Option<&'a str>,
    pub effect: Effect,
}

/// What applying did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Done: what was changed, in words (also in the audit log).
    Done(String),
    /// This `jti` was received before: nothing was done again.
    Replay,
}

/// Records the event and applies its effect, in one transaction. The record goes first, so
/// the same event (`jti`, type) arriving twice at once (on two instances) is applied once: the
/// second insert fails on the key and its transaction changes nothing.
pub fn apply(conn: &mut AnyConnection, event: &Received<'_>) -> anyhow::Result<Applied> {
    let result = conn.transaction::<_, anyhow::Error, _>(|c| {
        diesel::insert_into(risc_events::table)
            .values((
                risc_events::jti.eq(event.jti),
                risc_events::received_at.eq(now()),
                risc_events::event_type.eq(event.event_type),
                risc_events::user_id.eq(event.user.map(|u| u.0)),
                risc_events::reason.eq(event.reason),
                risc_events::action.eq(""),
            ))
            .execute(c)?;
        let done = match event.user {
            None => "no such user here; nothing to do".to_string(),
            Some(user) => effect(c, user, &event.effect)?,
        };
        diesel::update(risc_events::table.find((event.jti, event.event_type)))
            .set(risc_events::action.eq(&done))
            .execute(c)?;
        let detail = format!(
            "{} (jti {}{})",
            event.event_type,
            event.jti,
            event
                .reason
                .map(|r| format!(", reason {r}"))
                .unwrap_or_default()
        );
        audit::record(
            c,
            &audit::NewEntry {
                actor: None,
                action: "provider.security_event",
                target: event.user,
                detail: &detail,
                outcome: &done,
            },
        )?;
        Ok(Applied::Done(done))
    });
    match result {
        Err(e)
            if matches!(
                e.downcast_ref::<diesel::result::Error>(),
                Some(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                ))
            ) =>
        {
            Ok(Applied::Replay)
        }
        other => other.context("applying a security event"),
    }
}

fn effect(c: &mut AnyConnection, user: UserId, effect: &Effect) -> anyhow::Result<String> {
    Ok(match effect {
        Effect::EndSessions => format!("{} session(s) ended", sessions::delete_for_user(c, user)?),
        Effect::DropTokens => format!(
            "{} credential(s) cleared; consent needed",
            drop_tokens(c, user, None)?
        ),
        Effect::DropCredential(id, token) => {
            format!(
                "{} credential(s) cleared; consent needed",
                drop_tokens(c, user, Some((*id, token)))?
            )
        }
        Effect::Block => {
            let ended = sessions::delete_for_user(c, user)?;
            let cleared = drop_tokens(c, user, None)?;
            // An admin's block stays the admin's: account-enabled must not lift it later.
            let blocked = diesel::update(
                users::table
                    .find(user.0)
                    .filter(users::disabled_at.is_null()),
            )
            .set((
                users::disabled_at.eq(now()),
                users::blocked_by_provider.eq(true),
            ))
            .execute(c)?;
            let block = if blocked == 1 {
                "sign-in blocked"
            } else {
                "sign-in was already blocked"
            };
            format!("{ended} session(s) ended, {cleared} credential(s) cleared; {block}")
        }
        Effect::LiftProviderBlock => {
            let lifted = diesel::update(
                users::table
                    .find(user.0)
                    .filter(users::blocked_by_provider.eq(true)),
            )
            .set((
                users::disabled_at.eq(None::<chrono::NaiveDateTime>),
                users::blocked_by_provider.eq(false),
            ))
            .execute(c)?;
            if lifted == 1 {
                "the provider's block was lifted".into()
            } else {
                "no block set by the provider; nothing to lift".into()
            }
        }
        Effect::FlagCredentialChange => {
            diesel::update(users::table.find(user.0))
                .set(users::credential_change_required_at.eq(now()))
                .execute(c)?;
            "flagged: credential change required".into()
        }
        Effect::Nothing => "logged".into(),
    })
}

/// Deletes the tokens of the user's credentials (only `credential` when given, and only while
/// it holds the refresh token the event named), marking them as needing consent; returns how
/// many had tokens.
fn drop_tokens(
    c: &mut AnyConnection,
    user: UserId,
    credential: Option<(i64, &TokenMatch)>,
) -> anyhow::Result<usize> {
    let mut target = credentials::table
        .filter(credentials::user_id.eq(user.0))
        .filter(
            credentials::refresh_token
                .is_not_null()
                .or(credentials::access_token.is_not_null()),
        )
        .into_boxed();
    if let Some((id, token)) = credential {
        target = target.filter(credentials::id.eq(id));
        target = match token {
            TokenMatch::Hash(h) => target.filter(credentials::refresh_token_hash.eq(h.clone())),
            TokenMatch::PrefixHash(p) => {
                target.filter(credentials::refresh_token_prefix_hash.eq(p.clone()))
            }
        };
    }
    let ids: Vec<i64> = target.select(credentials::id).load(c)?;
    diesel::update(credentials::table.filter(credentials::id.eq_any(&ids)))
        .set((
            credentials::status.eq(Status::NeedsConsent.as_str()),
            credentials::refresh_token.eq(None::<Vec<u8>>),
            credentials::refresh_token_hash.eq(None::<String>),
            credentials::refresh_token_prefix_hash.eq(None::<String>),
            credentials::access_token.eq(None::<Vec<u8>>),
            credentials::access_expires_at.eq(None::<chrono::NaiveDateTime>),
            credentials::last_error.eq("the provider revoked access (security event)"),
            credentials::last_error_at.eq(now()),
            credentials::updated_at.eq(now()),
        ))
        .execute(c)
        .context("deleting tokens for a security event")
}

/// The user the provider knows as (`issuer`, `sub`).
pub fn user_by_subject(
    conn: &mut AnyConnection,
    issuer: &str,
    sub: &str,
) -> anyhow::Result<Option<UserId>> {
    // Issuers are compared without a trailing slash: Google's RISC subjects say
    // `https://accounts.google.com/`, its ID tokens `https://accounts.google.com`.
    let bare = issuer.trim_end_matches('/');
    let slashed = format!("{bare}/");
    Ok(users::table
        .filter(users::google_sub.eq(sub))
        .filter(users::issuer.eq(bare).or(users::issuer.eq(&slashed)))
        .select(users::id)
        .first::<i64>(conn)
        .optional()?
        .map(UserId))
}

/// The credential (id, user) whose refresh token has this identifier (as `secret::TokenIds`
/// makes them).
pub fn credential_by_token(
    conn: &mut AnyConnection,
    token: &TokenMatch,
) -> anyhow::Result<Option<(i64, UserId)>> {
    let query = credentials::table.select((credentials::id, credentials::user_id));
    let found = match token {
        TokenMatch::Hash(h) => query
            .filter(credentials::refresh_token_hash.eq(h))
            .first::<(i64, i64)>(conn)
            .optional()?,
        TokenMatch::PrefixHash(p) => query
            .filter(credentials::refresh_token_prefix_hash.eq(p))
            .first::<(i64, i64)>(conn)
            .optional()?,
    };
    Ok(found.map(|(id, user)| (id, UserId(user))))
}

/// One received event, as the admin page lists it.
#[derive(Debug, Clone, Queryable)]
pub struct EventRow {
    pub jti: String,
    pub received_at: chrono::NaiveDateTime,
    pub event_type: String,
    pub reason: Option<String>,
    pub action: String,
}

/// The latest `limit` events received for `user`, newest first.
pub fn for_user(
    conn: &mut AnyConnection,
    user: UserId,
    limit: i64,
) -> anyhow::Result<Vec<EventRow>> {
    risc_events::table
        .filter(risc_events::user_id.eq(user.0))
        .order(risc_events::received_at.desc())
        .limit(limit)
        .select((
            risc_events::jti,
            risc_events::received_at,
            risc_events::event_type,
            risc_events::reason,
            risc_events::action,
        ))
        .load(conn)
        .context("reading a user's security events")
}
