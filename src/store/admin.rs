//! What the admin dashboard reads: users with their grants and live sessions, searched,
//! filtered by connection health, and paged by keyset (last seen, id) so that every page costs
//! the same at 100k users (index `users_last_seen`).

use anyhow::Context;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use super::credentials::{Credential, Status};
use super::schema::{credentials, sessions, users};
use super::users::{lower, User, UserId};
use super::{now, AnyConnection};

/// The connection-health filters an operator checks first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    /// The grant is gone: background access is lost until the user consents again.
    NeedsConsent,
    /// Refreshes are failing (the provider or database was unavailable at the last try).
    RefreshFailing,
    /// Blocked by an admin.
    Blocked,
}

impl Filter {
    pub const ALL: [Filter; 4] = [
        Filter::All,
        Filter::NeedsConsent,
        Filter::RefreshFailing,
        Filter::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::NeedsConsent => "needs_consent",
            Self::RefreshFailing => "refresh_failing",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Where a page of the list starts: after this (last seen, id).
pub type Cursor = (chrono::NaiveDateTime, i64);

/// One row of the list.
#[derive(Debug, Clone)]
pub struct Row {
    pub user: User,
    /// One per OAuth client that obtained a grant (web, mobile server clients).
    pub credentials: Vec<Credential>,
    pub sessions: i64,
}

/// How many users each filter holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub all: i64,
    pub needs_consent: i64,
    pub refresh_failing: i64,
    pub blocked: i64,
}

/// Up to `limit` users after `after`, most recently seen first, matching `search` (a part of
/// the email or the name, any case) and `filter` (a credential of any client in that state);
/// with all their credentials.
pub fn list(
    conn: &mut AnyConnection,
    search: Option<&str>,
    filter: Filter,
    after: Option<Cursor>,
    limit: i64,
) -> anyhow::Result<Vec<Row>> {
    use diesel::dsl::exists;
    let mut query = users::table
        .select(User::as_select())
        .order((users::last_seen_at.desc(), users::id.desc()))
        .limit(limit)
        .into_boxed();
    let of_user = credentials::table.filter(credentials::user_id.eq(users::id));
    query = match filter {
        Filter::All => query,
        Filter::NeedsConsent => query.filter(exists(
            of_user.filter(credentials::status.eq(Status::NeedsConsent.as_str())),
        )),
        Filter::RefreshFailing => query.filter(exists(
            of_user
                .filter(credentials::last_error_at.is_not_null())
                .filter(credentials::status.eq(Status::Active.as_str())),
        )),
        Filter::Blocked => query.filter(users::disabled_at.is_not_null()),
    };
    if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let sqlite = matches!(conn, AnyConnection::Sqlite(_));
        query = if sqlite && s.chars().count() >= 3 {
            // The trigram index (migration 000009) finds the rows holding the text, any case;
            // as one quoted phrase, nothing in it is FTS5 syntax.
            query.filter(
                sql::<Bool>(
                    "users.id IN (SELECT rowid FROM users_search WHERE users_search MATCH ",
                )
                .bind::<Text, _>(format!("\"{}\"", s.replace('"', "\"\"")))
                .sql(")"),
            )
        } else {
            // PostgreSQL's trigram indexes serve this as written; SQLite reads the users in
            // list order until a page is full (a part shorter than a trigram).
            // Folded as the database's lower() folds: SQLite's only ASCII.
            let folded = if sqlite {
                s.to_ascii_lowercase()
            } else {
                s.to_lowercase()
            };
            let pattern = format!("%{}%", escape_like(&folded));
            query.filter(
                lower(users::email)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(users::name).like(pattern).escape('\\')),
            )
        };
    }
    if let Some((seen, id)) = after {
        // Written so that both bounds are the index's range (users_last_seen), not a filter
        // over every row before the cursor.
        query = query.filter(
            users::last_seen_at
                .le(seen)
                .and(users::last_seen_at.lt(seen).or(users::id.lt(id))),
        );
    }
    let users: Vec<User> = query.load(conn).context("listing users")?;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let mut creds: Vec<Credential> = credentials::table
        .filter(credentials::user_id.eq_any(&ids))
        .order(credentials::id.asc())
        .select(Credential::as_select())
        .load(conn)
        .context("loading the listed users' credentials")?;
    let live: Vec<(Option<i64>, i64)> = sessions::table
        .filter(sessions::user_id.eq_any(&ids))
        .filter(sessions::expires_at.gt(now()))
        .group_by(sessions::user_id)
        .select((sessions::user_id, diesel::dsl::count_star()))
        .load(conn)
        .context("counting sessions")?;
    Ok(users
        .into_iter()
        .map(|user| {
            let (mine, rest) = std::mem::take(&mut creds)
                .into_iter()
                .partition(|c| c.user_id == user.id);
            creds = rest;
            Row {
                sessions: live
                    .iter()
                    .find(|(u, _)| *u == Some(user.id))
                    .map_or(0, |(_, n)| *n),
                user,
                credentials: mine,
            }
        })
        .collect())
}

/// How many users each filter holds (search aside).
pub fn counts(conn: &mut AnyConnection) -> anyhow::Result<Counts> {
    use diesel::dsl::count;
    let all = users::table.count().get_result(conn)?;
    let needs_consent = credentials::table
        .filter(credentials::status.eq(Status::NeedsConsent.as_str()))
        .select(count(credentials::user_id).aggregate_distinct())
        .get_result(conn)?;
    let refresh_failing = credentials::table
        .filter(credentials::status.eq(Status::Active.as_str()))
        .filter(credentials::last_error_at.is_not_null())
        .select(count(credentials::user_id).aggregate_distinct())
        .get_result(conn)?;
    let blocked = users::table
        .filter(users::disabled_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(Counts {
        all,
        needs_consent,
        refresh_failing,
        blocked,
    })
}

/// One user with all their credentials and live sessions.
pub fn detail(conn: &mut AnyConnection, id: UserId) -> anyhow::Result<Option<Row>> {
    let Some(user) = super::users::find(conn, id)? else {
        return Ok(None);
    };
    let credentials = super::credentials::for_user(conn, id)?;
    let sessions = super::sessions::count_for_user(conn, id)?;
    Ok(Some(Row {
        user,
        credentials,
        sessions,
    }))
}

/// `%`, `_` and `\` taken literally in a LIKE pattern (with `ESCAPE '\'`).
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_taken_literally() {
        assert_eq!(super::escape_like("a%b_c\\d"), "a\\%b\\_c\\\\d");
        for f in super::Filter::ALL {
            assert_eq!(super::Filter::parse(f.as_str()), Some(f));
        }
    }
}
