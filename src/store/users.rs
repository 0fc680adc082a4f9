//! Users, keyed by the provider's stable `sub`.

use anyhow::Context;
use diesel::prelude::*;

use super::schema::users;
use super::{now, on_backend, AnyConnection};

/// A user's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub google_sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub picture: Option<String>,
    /// Made an admin with `offline-access admin grant` (ADMIN_EMAILS is checked apart).
    pub is_admin: bool,
    pub created_at: chrono::NaiveDateTime,
    pub last_seen_at: chrono::NaiveDateTime,
    /// Blocked by an admin: sign-in is refused until they are unblocked.
    pub disabled_at: Option<chrono::NaiveDateTime>,
    /// The OpenID issuer that vouches for `google_sub` ('' for rows from before it was kept).
    pub issuer: String,
    /// The block in `disabled_at` was set by the provider's security event (account disabled
    /// for hijacking), not by an admin: `account-enabled` lifts it.
    pub blocked_by_provider: bool,
    /// The provider asked for the account's credentials to be changed (a security event).
    pub credential_change_required_at: Option<chrono::NaiveDateTime>,
}

impl User {
    pub fn user_id(&self) -> UserId {
        UserId(self.id)
    }
}

/// What the verified ID token says about the person.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The issuer that vouched for `sub`: users are keyed by both.
    pub issuer: String,
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub picture: Option<String>,
}

/// Creates the user for (`profile.issuer`, `profile.sub`) or refreshes their profile (and last
/// seen). A row from before issuers were kept (issuer '') is adopted by its first sign-in.
pub fn upsert(conn: &mut AnyConnection, profile: &Profile) -> anyhow::Result<User> {
    // On the backend's own connection: every sign-in runs it (see `on_backend!`).
    on_backend!(conn, conn => super::upsert(conn, |conn| {
        let t = now();
        let this_user = users::google_sub
            .eq(&profile.sub)
            .and(users::issuer.eq(&profile.issuer).or(users::issuer.eq("")));
        let updated = diesel::update(users::table.filter(this_user))
            .set((
                users::issuer.eq(&profile.issuer),
                users::email.eq(&profile.email),
                users::email_verified.eq(profile.email_verified),
                users::name.eq(&profile.name),
                users::picture.eq(&profile.picture),
                users::last_seen_at.eq(t),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(users::table)
                .values((
                    users::issuer.eq(&profile.issuer),
                    users::google_sub.eq(&profile.sub),
                    users::email.eq(&profile.email),
                    users::email_verified.eq(profile.email_verified),
                    users::name.eq(&profile.name),
                    users::picture.eq(&profile.picture),
                    users::created_at.eq(t),
                    users::last_seen_at.eq(t),
                ))
                .execute(conn)?;
        }
        users::table
            .filter(users::google_sub.eq(&profile.sub))
            .filter(users::issuer.eq(&profile.issuer))
            .select(User::as_select())
            .first(conn)
    }))
    .context("saving the user")
}

pub fn find(conn: &mut AnyConnection, id: UserId) -> anyhow::Result<Option<User>> {
    users::table
        .find(id.0)
        .select(User::as_select())
        .first(conn)
        .optional()
        .context("loading a user")
}

/// Every user with `email` (compared without case), oldest first: the same address may have
/// signed in through several providers, or unverified.
pub fn all_by_email(conn: &mut AnyConnection, email: &str) -> anyhow::Result<Vec<User>> {
    users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .order(users::id)
        .select(User::as_select())
        .load(conn)
        .context("looking up users by email")
}

/// Grants or takes back the admin role given on the command line.
pub fn set_admin(conn: &mut AnyConnection, id: UserId, admin: bool) -> anyhow::Result<()> {
    diesel::update(users::table.find(id.0))
        .set(users::is_admin.eq(admin))
        .execute(conn)
        .context("changing the admin role")?;
    Ok(())
}

/// Blocks sign-in (now) or lets the user in again (`false`).
pub fn set_blocked(conn: &mut AnyConnection, id: UserId, blocked: bool) -> anyhow::Result<()> {
    diesel::update(users::table.find(id.0))
        .set((
            users::disabled_at.eq(blocked.then(now)),
            // An admin's block or unblock replaces whatever the provider set.
            users::blocked_by_provider.eq(false),
        ))
        .execute(conn)
        .context("blocking or unblocking a user")?;
    Ok(())
}

diesel::define_sql_function! {
    /// SQL `lower(text)`, the same on SQLite and PostgreSQL.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
