//! Stored OAuth grants: one row per (user, OAuth client). Token columns hold values sealed by
//! the vault; this module never sees plaintext.

use anyhow::Context;
use diesel::prelude::*;

use super::schema::credentials;
use super::users::UserId;
use super::{now, on_backend, AnyConnection};

/// Where a credential stands, as stored in `credentials.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Usable (its access token may still need a refresh).
    Active,
    /// The grant is gone (revoked, expired, unreadable): the user must consent again.
    NeedsConsent,
    /// Revoked on purpose (by the user or an admin).
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsConsent => "needs_consent",
            Self::Revoked => "revoked",
        }
    }
}

impl TryFrom<String> for Status {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "active" => Ok(Self::Active),
            "needs_consent" => Ok(Self::NeedsConsent),
            "revoked" => Ok(Self::Revoked),
            _ => Err(format!("unknown credential status {s:?}")),
        }
    }
}

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
    #[diesel(deserialize_as = String)]
    pub status: Status,
    pub updated_at: chrono::NaiveDateTime,
    /// Why the last refresh failed, and when (cleared by the next success).
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::NaiveDateTime>,
}

impl Credential {
    /// Whether background access works: active, with a refresh token.
    pub fn has_offline_access(&self) -> bool {
        self.status == Status::Active && self.refresh_token.is_some()
    }
}

/// A refresh token as stored: sealed, with the identifiers a provider's `token-revoked`
/// security event names it by (hashes, never the token).
pub struct StoredRefresh {
    pub sealed: Vec<u8>,
    pub hash: String,
    pub prefix_hash: String,
}

/// A token response, sealed, ready to store.
pub struct SealedGrant {
    /// `None`: the response carried no refresh token; the stored one is kept.
    pub refresh_token: Option<StoredRefresh>,
    pub access_token: Vec<u8>,
    pub access_expires_at: chrono::NaiveDateTime,
    pub scopes: String,
}

/// What storing a token response changes on a credential row (a grant, or a refresh): the
/// access token and its expiry; the refresh token with its identifiers, the scopes and the
/// status only when given (`None` leaves the column as it is); the last refresh error cleared.
/// A new row is inserted from the same values.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = credentials)]
struct TokensUpdate<'a> {
    access_token: &'a [u8],
    access_expires_at: chrono::NaiveDateTime,
    refresh_token: Option<&'a [u8]>,
    refresh_token_hash: Option<&'a str>,
    refresh_token_prefix_hash: Option<&'a str>,
    scopes: Option<&'a str>,
    status: Option<&'static str>,
    updated_at: chrono::NaiveDateTime,
    #[diesel(treat_none_as_null = true)]
    last_error: Option<&'a str>,
    #[diesel(treat_none_as_null = true)]
    last_error_at: Option<chrono::NaiveDateTime>,
}

impl<'a> TokensUpdate<'a> {
    /// New tokens at `at`: the refresh token too when one came; scopes and status untouched.
    fn new(
        access_token: &'a [u8],
        access_expires_at: chrono::NaiveDateTime,
        refresh: Option<&'a StoredRefresh>,
        at: chrono::NaiveDateTime,
    ) -> Self {
        Self {
            access_token,
            access_expires_at,
            refresh_token: refresh.map(|r| r.sealed.as_slice()),
            refresh_token_hash: refresh.map(|r| r.hash.as_str()),
            refresh_token_prefix_hash: refresh.map(|r| r.prefix_hash.as_str()),
            scopes: None,
            status: None,
            updated_at: at,
            last_error: None,
            last_error_at: None,
        }
    }
}

/// Stores a grant. A missing refresh token never overwrites a stored one.
pub fn save_grant(
    conn: &mut AnyConnection,
    user: UserId,
    client_id: &str,
    grant: SealedGrant,
) -> anyhow::Result<()> {
    // On the backend's own connection: every sign-in runs it (see `on_backend!`).
    on_backend!(conn, conn => super::upsert(conn, |conn| {
        let t = now();
        let target = credentials::table
            .filter(credentials::user_id.eq(user.0))
            .filter(credentials::client_id.eq(client_id));
        // No refresh token came: the stored one is kept. Either way the grant is live again (a
        // credential that needed consent now has a working access token; whether offline
        // access works is decided by the refresh token, as before).
        let update = TokensUpdate {
            scopes: Some(&grant.scopes),
            status: Some(Status::Active.as_str()),
            ..TokensUpdate::new(
                &grant.access_token,
                grant.access_expires_at,
                grant.refresh_token.as_ref(),
                t,
            )
        };
        let updated = diesel::update(target).set(&update).execute(conn)?;
        if updated == 0 {
            diesel::insert_into(credentials::table)
                .values((
                    credentials::user_id.eq(user.0),
                    credentials::client_id.eq(client_id),
                    &update,
                ))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    }))
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

/// Stores a refreshed access token (and a rotated refresh token when the provider sent one),
/// only if the row still holds `used_refresh_token`, the sealed value the refresh redeemed: a
/// grant stored meanwhile (a new sign-in) is never overwritten by an older one. Returns whether
/// the row was updated.
pub fn update_access(
    conn: &mut AnyConnection,
    credential_id: i64,
    used_refresh_token: &[u8],
    access_token: &[u8],
    access_expires_at: chrono::NaiveDateTime,
    scopes: Option<&str>,
    rotated_refresh_token: Option<&StoredRefresh>,
) -> anyhow::Result<bool> {
    let target = credentials::table
        .find(credential_id)
        .filter(credentials::refresh_token.eq(used_refresh_token));
    let update = TokensUpdate {
        scopes,
        ..TokensUpdate::new(
            access_token,
            access_expires_at,
            rotated_refresh_token,
            now(),
        )
    };
    diesel::update(target)
        .set(&update)
        .execute(conn)
        .map(|n| n == 1)
        .context("storing a refreshed token")
}

/// Takes the credential's refresh lease for `ttl` as `owner` unless another holder's lease is
/// still running. The lease is how instances sharing a database agree on a single refresh.
pub fn try_lease(
    conn: &mut AnyConnection,
    credential_id: i64,
    owner: &str,
    ttl: chrono::Duration,
) -> anyhow::Result<bool> {
    let t = now();
    let taken = diesel::update(
        credentials::table.find(credential_id).filter(
            credentials::refresh_lease_until
                .is_null()
                .or(credentials::refresh_lease_until.lt(t)),
        ),
    )
    .set((
        credentials::refresh_lease_until.eq(t + ttl),
        credentials::refresh_lease_owner.eq(owner),
    ))
    .execute(conn)
    .context("taking the refresh lease")?;
    Ok(taken == 1)
}

/// Gives the refresh lease back, if `owner` still holds it.
pub fn release_lease(
    conn: &mut AnyConnection,
    credential_id: i64,
    owner: &str,
) -> anyhow::Result<()> {
    diesel::update(
        credentials::table
            .find(credential_id)
            .filter(credentials::refresh_lease_owner.eq(owner)),
    )
    .set((
        credentials::refresh_lease_until.eq(None::<chrono::NaiveDateTime>),
        credentials::refresh_lease_owner.eq(None::<String>),
    ))
    .execute(conn)
    .context("releasing the refresh lease")?;
    Ok(())
}

/// The grant is gone (revoked, expired, unreadable): delete its tokens and ask for consent —
/// only if the row still holds `seen_refresh_token` (a grant stored meanwhile is kept).
/// Returns whether the row was changed.
pub fn mark_needs_consent(
    conn: &mut AnyConnection,
    credential_id: i64,
    seen_refresh_token: Option<&[u8]>,
    why: &str,
) -> anyhow::Result<bool> {
    let set = (
        credentials::last_error.eq(why),
        credentials::last_error_at.eq(now()),
        credentials::status.eq(Status::NeedsConsent.as_str()),
        credentials::refresh_token.eq(None::<Vec<u8>>),
        credentials::access_token.eq(None::<Vec<u8>>),
        credentials::access_expires_at.eq(None::<chrono::NaiveDateTime>),
        credentials::updated_at.eq(now()),
        credentials::refresh_token_hash.eq(None::<String>),
        credentials::refresh_token_prefix_hash.eq(None::<String>),
    );
    let target = credentials::table.find(credential_id);
    match seen_refresh_token {
        Some(seen) => diesel::update(target.filter(credentials::refresh_token.eq(seen)))
            .set(set)
            .execute(conn),
        None => diesel::update(target.filter(credentials::refresh_token.is_null()))
            .set(set)
            .execute(conn),
    }
    .map(|n| n == 1)
    .context("marking a credential as needing consent")
}

/// Users with a credential from any OAuth client (not disabled), with their emails and
/// whether one of their credentials is active (else they all need consent), for background
/// work.
pub fn users_with_credentials(
    conn: &mut AnyConnection,
) -> anyhow::Result<Vec<(UserId, String, bool)>> {
    use super::schema::users;
    let rows: Vec<(i64, String, String)> = credentials::table
        .inner_join(users::table)
        .filter(users::disabled_at.is_null())
        .order((users::email.asc(), users::id.asc()))
        .select((users::id, users::email, credentials::status))
        .load(conn)
        .context("listing users with a credential")?;
    let mut users: Vec<(UserId, String, bool)> = Vec::with_capacity(rows.len());
    for (id, email, status) in rows {
        let active = status == Status::Active.as_str();
        match users.last_mut() {
            Some(last) if last.0 == UserId(id) => last.2 |= active,
            _ => users.push((UserId(id), email, active)),
        }
    }
    Ok(users)
}

/// Records why a refresh failed (the provider or the database was unavailable): the admin
/// list's "refresh failing". The next successful refresh or grant clears it.
pub fn record_error(conn: &mut AnyConnection, credential_id: i64, why: &str) -> anyhow::Result<()> {
    diesel::update(credentials::table.find(credential_id))
        .set((
            credentials::last_error.eq(why),
            credentials::last_error_at.eq(now()),
        ))
        .execute(conn)
        .context("recording a refresh error")?;
    Ok(())
}

/// Deletes every stored credential of `user` (revocation); returns how many.
pub fn delete_for_user(conn: &mut AnyConnection, user: UserId) -> anyhow::Result<usize> {
    diesel::delete(credentials::table.filter(credentials::user_id.eq(user.0)))
        .execute(conn)
        .context("deleting a user's credentials")
}

/// A sealed token column, for re-sealing under a new key (`rekey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    Refresh,
    Access,
}

impl SealedColumn {
    /// The column's name, which is also the field its values are bound to when sealed.
    pub fn field(self) -> &'static str {
        match self {
            Self::Refresh => "refresh_token",
            Self::Access => "access_token",
        }
    }
}

/// One credential's sealed values, for `rekey` and `check`.
#[derive(Debug, Queryable)]
pub struct SealedRow {
    pub id: i64,
    pub user_id: i64,
    pub refresh_token: Option<Vec<u8>>,
    pub access_token: Option<Vec<u8>>,
}

/// Up to `limit` credentials with an id above `after`, in id order (keyset pages).
pub fn sealed_page(
    conn: &mut AnyConnection,
    after: i64,
    limit: i64,
) -> anyhow::Result<Vec<SealedRow>> {
    credentials::table
        .filter(credentials::id.gt(after))
        .order(credentials::id)
        .limit(limit)
        .select((
            credentials::id,
            credentials::user_id,
            credentials::refresh_token,
            credentials::access_token,
        ))
        .load(conn)
        .context("reading sealed credentials")
}

/// Replaces one sealed value with `new` only while the column still holds `old`: a token
/// written meanwhile (a refresh, a new grant) is never overwritten. Whether it replaced.
pub fn replace_sealed(
    conn: &mut AnyConnection,
    id: i64,
    column: SealedColumn,
    old: &[u8],
    new: &[u8],
) -> anyhow::Result<bool> {
    let row = credentials::table.find(id);
    let changed = match column {
        SealedColumn::Refresh => diesel::update(row.filter(credentials::refresh_token.eq(old)))
            .set(credentials::refresh_token.eq(new))
            .execute(conn),
        SealedColumn::Access => diesel::update(row.filter(credentials::access_token.eq(old)))
            .set(credentials::access_token.eq(new))
            .execute(conn),
    }
    .context("re-sealing a credential")?;
    Ok(changed == 1)
}

/// Users by where their credentials stand: (active, needs consent, revoked). A user with
/// several credentials counts once, by the best of them (active before needs consent).
pub fn users_by_status(conn: &mut AnyConnection) -> anyhow::Result<(u64, u64, u64)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        best: i32,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT best, COUNT(*) AS n FROM (\
           SELECT user_id, MIN(CASE status WHEN 'active' THEN 0 \
                                           WHEN 'needs_consent' THEN 1 ELSE 2 END) AS best \
           FROM credentials GROUP BY user_id) AS per_user \
         GROUP BY best",
    )
    .load(conn)
    .context("counting users by credential status")?;
    let count = |b| {
        rows.iter()
            .find(|r| r.best == b)
            .map_or(0, |r| r.n.max(0) as u64)
    };
    Ok((count(0), count(1), count(2)))
}
