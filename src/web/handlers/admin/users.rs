//! `GET /admin/users?q=…&filter=…&after=…`: 50 users a page, most recently seen first.

use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;
use url::form_urlencoded;

use super::{health, when};
use crate::store::admin::{self, Counts, Filter};
use crate::web::errors::AppError;
use crate::web::extract::AdminUser;
use crate::web::page::render;
use crate::web::State;

pub const PAGE_SIZE: i64 = 50;

struct UserRow {
    id: i64,
    email: String,
    name: String,
    created: String,
    last_seen: String,
    scopes: String,
    health: &'static str,
    sessions: i64,
}

struct FilterLink {
    label: &'static str,
    href: String,
    count: i64,
    current: bool,
    testid: &'static str,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct Users {
    q: String,
    filter: &'static str,
    filters: Vec<FilterLink>,
    rows: Vec<UserRow>,
    next: Option<String>,
    /// Not on the first page: a link back to it.
    first: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    filter: Option<String>,
    after: Option<String>,
}

const BAD_LINK: &str = "This list link is not valid. Start again from the user list.";

pub async fn list(
    state: State,
    _: AdminUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let filter = match query.filter.as_deref() {
        None | Some("") => Filter::All,
        Some(f) => Filter::parse(f).ok_or(AppError::BadRequest(BAD_LINK))?,
    };
    let after = query
        .after
        .as_deref()
        .map(|a| parse_cursor(a).ok_or(AppError::BadRequest(BAD_LINK)))
        .transpose()?;
    // Control characters (a NUL ends an FTS5 phrase early) are nobody's email or name.
    let q: String = query
        .q
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .chars()
        .take(100)
        .collect();
    let search = q.clone();
    let (rows, counts) = state
        .db
        .run(move |c| {
            let rows = admin::list(c, Some(&search), filter, after, PAGE_SIZE + 1)?;
            Ok((rows, admin::counts(c)?))
        })
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    let shown = &rows[..rows.len().min(PAGE_SIZE as usize)];
    let next = more
        .then(|| shown.last())
        .flatten()
        .map(|r| link(&q, filter, Some((r.user.last_seen_at, r.user.id))));
    let page = Users {
        filter: filter.as_str(),
        filters: filter_links(&q, filter, counts),
        rows: shown
            .iter()
            .map(|r| UserRow {
                id: r.user.id,
                email: r.user.email.clone(),
                name: r.user.name.clone(),
                created: when(r.user.created_at),
                last_seen: when(r.user.last_seen_at),
                scopes: short_scopes(r.credentials.iter().map(|c| c.scopes.as_str())),
                health: health(&r.user, &r.credentials),
                sessions: r.sessions,
            })
            .collect(),
        next,
        first: after.map(|_| link(&q, filter, None)),
        q,
    };
    Ok(render(StatusCode::OK, page))
}

fn filter_links(q: &str, current: Filter, counts: Counts) -> Vec<FilterLink> {
    Filter::ALL
        .into_iter()
        .map(|f| {
            let (label, count, testid) = match f {
                Filter::All => ("All", counts.all, "filter-all"),
                Filter::NeedsConsent => (
                    "Needs consent",
                    counts.needs_consent,
                    "filter-needs-consent",
                ),
                Filter::RefreshFailing => (
                    "Refresh failing",
                    counts.refresh_failing,
                    "filter-refresh-failing",
                ),
                Filter::Blocked => ("Blocked", counts.blocked, "filter-blocked"),
            };
            FilterLink {
                label,
                href: link(q, f, None),
                count,
                current: f == current,
                testid,
            }
        })
        .collect()
}

/// `/admin/users?…` for a search, a filter and a page start.
fn link(q: &str, filter: Filter, after: Option<admin::Cursor>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        s.append_pair("q", q);
    }
    if filter != Filter::All {
        s.append_pair("filter", filter.as_str());
    }
    if let Some((seen, id)) = after {
        s.append_pair(
            "after",
            &format!("{}_{id}", seen.and_utc().timestamp_micros()),
        );
    }
    let query = s.finish();
    if query.is_empty() {
        "/admin/users".to_string()
    } else {
        format!("/admin/users?{query}")
    }
}

/// `MICROS_ID`, as [`link`] writes it.
fn parse_cursor(s: &str) -> Option<admin::Cursor> {
    let (micros, id) = s.split_once('_')?;
    let seen = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
    Some((seen, id.parse().ok()?))
}

/// The scopes' last path segments (`drive.metadata.readonly`), for a narrow column.
/// The scopes of every grant, each once, by its last path segment.
fn short_scopes<'a>(grants: impl Iterator<Item = &'a str>) -> String {
    let mut scopes: Vec<&str> = grants
        .flat_map(str::split_whitespace)
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let seen = chrono::DateTime::from_timestamp_micros(1_764_000_000_123_456)
            .unwrap()
            .naive_utc();
        let href = link("bob", Filter::Blocked, Some((seen, 42)));
        assert_eq!(
            href,
            "/admin/users?q=bob&filter=blocked&after=1764000000123456_42"
        );
        assert_eq!(parse_cursor("1764000000123456_42"), Some((seen, 42)));
        for bad in ["", "x_1", "1_x", "1", "99999999999999999999_1"] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }
}
