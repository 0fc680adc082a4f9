//! Stored OAuth grants: one row per (user, OAuth client). Token columns hold values sealed by
//! the vault; this module never sees plaintext.

use anyhow::Context;
use diesel::prelude::*;

use super::schema::credentials;
use super::users::UserId;
use super::{now, AnyConnection};

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_NEEDS_CONSENT: &str = "needs_consent";
pub const STATUS_REVOKED: &str = "revoked";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = credentials)]
pub struct Credential {
    pub id: i64,
    pub user_id: i64,
    pub client_id: String,
    pub refresh_token: Option<Vec<u8>>,
    pub access_token: Option<Vec<u8>>,
    pub access_expires_at: Option<chrono::NaiveDateTime>,
    pub scopes: String,
    pub status: String,
    pub updated_at: chrono::NaiveDateTime,
}

/// A token response, sealed, ready to store.
pub struct SealedGrant {
    /// `None`: the response carried no refresh token; the stored one is kept.
    pub refresh_token: Option<Vec<u8>>,
    pub access_token: Vec<u8>,
    pub access_expires_at: chrono::NaiveDateTime,
    pub scopes: String,
}

/// Stores a grant. A missing refresh token never overwrites a stored one.
pub fn save_grant(
    conn: &mut AnyConnection,
    user: UserId,
    client_id: &str,
    grant: SealedGrant,
) -> anyhow::Result<()> {
    conn.transaction(|conn| {
        let t = now();
        let target = credentials::table
            .filter(credentials::user_id.eq(user.0))
            .filter(credentials::client_id.eq(client_id));
        let updated = match &grant.refresh_token {
            Some(rt) => diesel::update(target)
                .set((
                    credentials::refresh_token.eq(rt),
                    credentials::access_token.eq(&grant.access_token),
                    credentials::access_expires_at.eq(grant.access_expires_at),
                    credentials::scopes.eq(&grant.scopes),
                    credentials::status.eq(STATUS_ACTIVE),
                    credentials::updated_at.eq(t),
                ))
                .execute(conn)?,
            None => diesel::update(target)
                .set((
                    credentials::access_token.eq(&grant.access_token),
                    credentials::access_expires_at.eq(grant.access_expires_at),
                    credentials::scopes.eq(&grant.scopes),
                    credentials::updated_at.eq(t),
                ))
                .execute(conn)?,
        };
        if updated == 0 {
            diesel::insert_into(credentials::table)
                .values((
                    credentials::user_id.eq(user.0),
                    credentials::client_id.eq(client_id),
                    credentials::refresh_token.eq(&grant.refresh_token),
                    credentials::access_token.eq(&grant.access_token),
                    credentials::access_expires_at.eq(grant.access_expires_at),
                    credentials::scopes.eq(&grant.scopes),
                    credentials::status.eq(STATUS_ACTIVE),
                    credentials::updated_at.eq(t),
                ))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .context("saving a credential")
}

pub fn find(
    conn: &mut AnyConnection,
    user: UserId,
    client_id: &str,
) -> anyhow::Result<Option<Credential>> {
    credentials::table
        .filter(credentials::user_id.eq(user.0))
        .filter(credentials::client_id.eq(client_id))
        .select(Credential::as_select())
        .first(conn)
        .optional()
        .context("loading a credential")
}

/// Every credential of a user (tests and the admin view).
pub fn for_user(conn: &mut AnyConnection, user: UserId) -> anyhow::Result<Vec<Credential>> {
    credentials::table
        .filter(credentials::user_id.eq(user.0))
        .select(Credential::as_select())
        .load(conn)
        .context("loading credentials")
}
