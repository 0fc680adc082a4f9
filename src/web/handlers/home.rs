//! `GET /`: the landing page, or the signed-in user's Drive files, 25 a page (the PHP sample's
//! index.php). A view reads the session, then the user, their grant and their last sync in one
//! query, then asks Drive; it writes nothing unless the access token must be refreshed.

use actix_web::{http::StatusCode, HttpRequest, HttpResponse};
use askama::Template;

use crate::google::drive::{self, DriveFile};
use crate::google::{GoogleError, PageToken};
use crate::store::sync_status::SyncStatus;
use crate::vault::{Access, CallError, TokenError};
use crate::web::errors::AppError;
use crate::web::extract::{CurrentUser, MaybeUser};
use crate::web::feature::Feature;
use crate::web::page::{render, see_other};
use crate::web::paging::{Cursor, Requested};
use crate::web::State;

pub const PAGE_SIZE: u32 = 25;

#[derive(Template)]
#[template(path = "pages/landing.html")]
struct Landing {
    /// Shown in emulator mode: which seeded account to sign in with.
    demo_hint: Option<String>,
}

/// One row of the file table.
struct FileRow {
    name: String,
    kind: String,
    modified: String,
}

impl From<DriveFile> for FileRow {
    fn from(f: DriveFile) -> Self {
        Self {
            kind: drive::kind_label(&f.mime_type).to_string(),
            modified: f
                .modified_time
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| {
                    // "%Y-%m-%d %H:%M", without parsing a format string for every row.
                    use chrono::{Datelike, Timelike};
                    format!(
                        "{:04}-{:02}-{:02} {:02}:{:02}",
                        t.year(),
                        t.month(),
                        t.day(),
                        t.hour(),
                        t.minute()
                    )
                })
                .unwrap_or_default(),
            name: f.name,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/home.html")]
struct Home {
    /// The signed-in user's name, in the greeting.
    name: String,
    files: Vec<FileRow>,
    page: u32,
    prev: Option<String>,
    next: Option<String>,
    /// Past the first page with no Previous (the link's history ran out).
    first: Option<&'static str>,
    /// Drive was not granted: explain and offer to grant it.
    missing_drive: bool,
    /// No refresh token is stored: background access needs consent again.
    offline_missing: bool,
    /// "Last background sync: …", when `sync` has run for this user.
    last_sync: Option<String>,
}

/// Access is gone (revoked, expired, never granted offline): say so and offer consent.
#[derive(Template)]
#[template(path = "pages/reconsent.html")]
struct Reconsent {
    reason: &'static str,
}

pub async fn index(
    state: State,
    user: MaybeUser,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(render(
            StatusCode::OK,
            Landing {
                demo_hint: state.oauth.config().demo_hint.clone(),
            },
        ));
    };
    let cursor = match Cursor::from_query(req.query_string())? {
        Requested::Page(c) => c,
        Requested::Restart => return Ok(see_other("/")),
    };
    let access = match state
        .vault
        .access_token_from(user.id(), &user.credentials, drive::SCOPES)
        .await
    {
        Ok(a) => a,
        Err(e) => return token_failure(e),
    };
    let mut home = Home {
        name: user.user.name.clone(),
        files: vec![],
        page: cursor.page,
        prev: None,
        next: None,
        first: None,
        missing_drive: false,
        offline_missing: !user.has_offline_access(),
        last_sync: user.last_sync.as_ref().map(describe_sync),
    };
    if !access.has_any_scope(drive::SCOPES) {
        home.missing_drive = true;
        return Ok(render(StatusCode::OK, home));
    }
    match list_page(&state, &user, access, &cursor).await {
        Ok(page) => {
            home.files = page.files.into_iter().map(FileRow::from).collect();
            home.next = page
                .next_page_token
                .as_deref()
                .and_then(PageToken::parse)
                .map(|t| cursor.next_link("/", &[], &t));
            home.prev = cursor.prev_link("/", &[]);
            if home.prev.is_none() && cursor.page > 1 {
                home.first = Some("/");
            }
            Ok(render(StatusCode::OK, home))
        }
        Err(CallError::Token(e)) => token_failure(e),
        Err(CallError::Google(GoogleError::ApiNotOffered | GoogleError::NotFound)) => {
            Ok(super::grant::not_offered(Feature::Drive))
        }
        Err(CallError::Google(GoogleError::BadRequest)) => Err(AppError::BadRequest(
            "This page link was not accepted (it may be too old). Start again from the first page.",
        )),
        Err(CallError::Google(e)) => Err(e.into()),
    }
}

/// One page of Drive files (a 401 refreshes once and retries, through the vault).
async fn list_page(
    state: &State,
    user: &CurrentUser,
    access: Access,
    cursor: &Cursor,
) -> Result<drive::FileList, CallError> {
    let drive = &state.drive;
    state
        .vault
        .call(user.id(), access, |a| async move {
            drive
                .list_files(&a.token, PAGE_SIZE, cursor.token.as_ref())
                .await
        })
        .await
}

fn describe_sync(s: &SyncStatus) -> String {
    let at = s.synced_at.format("%Y-%m-%d %H:%M UTC");
    let gmail = s
        .gmail_messages
        .map(|n| format!(", {n} Gmail messages"))
        .unwrap_or_default();
    match (&s.error, s.drive_files) {
        (Some(e), _) => format!("{at}, failed: {e}"),
        (None, Some(n)) => format!("{at}, {n} Drive files seen{gmail}"),
        (None, None) => format!("{at}, Drive access not granted{gmail}"),
    }
}

/// No access token could be had: explain and offer consent, or fail the request.
pub fn token_failure(e: TokenError) -> Result<HttpResponse, AppError> {
    match e {
        TokenError::NeedsConsent(reason) => Ok(render(StatusCode::OK, Reconsent { reason })),
        TokenError::Db(e) => Err(e.into()),
        TokenError::Unavailable(e) => Err(AppError::Upstream(e)),
        TokenError::WrongKey => Err(AppError::Misconfigured(anyhow::anyhow!(
            "stored tokens were sealed under another SECRET_KEY"
        ))),
    }
}
