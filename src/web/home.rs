//! `GET /`: the landing page, or the signed-in user's Drive files, 25 a page.

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;

use super::errors::{render, AppError};
use super::session::{self, SignedIn, DRIVE_PAGES_KEY};
use super::State;
use crate::google::drive;
use crate::store::sync_status::{self, SyncStatus};
use crate::vault::{CallError, TokenError};

pub const PAGE_SIZE: u32 = 25;

#[derive(Template)]
#[template(path = "pages/landing.html")]
struct Landing<'a> {
    user: Option<SignedIn>,
    /// Shown in emulator mode: which seeded account to sign in with.
    demo_hint: Option<&'a str>,
}

/// One row of the file table.
struct FileRow {
    name: String,
    kind: String,
    modified: String,
}

#[derive(Template)]
#[template(path = "pages/home.html")]
struct Home {
    user: Option<SignedIn>,
    files: Vec<FileRow>,
    page: usize,
    prev: Option<usize>,
    next: Option<usize>,
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
struct Reconsent<'a> {
    user: Option<SignedIn>,
    reason: &'a str,
}

#[derive(serde::Deserialize)]
pub struct HomeQuery {
    page: Option<usize>,
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish()
}

pub async fn index(
    state: State,
    session: Session,
    query: web::Query<HomeQuery>,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = session::current_user(&state, &session).await? else {
        return Ok(render(
            StatusCode::OK,
            &Landing {
                user: None,
                demo_hint: state.settings.demo_hint.as_deref(),
            },
        ));
    };
    let user = signed_in.user.user_id();
    let access = match state.vault.access_token(user).await {
        Ok(a) => a,
        Err(e) => return token_failure(e, signed_in),
    };
    let offline_missing = !state.vault.has_offline_access(user).await?;
    let last_sync = state
        .db
        .run(move |c| sync_status::find(c, user))
        .await?
        .map(|s| describe_sync(&s));
    let mut home = Home {
        user: None,
        files: vec![],
        page: 1,
        prev: None,
        next: None,
        missing_drive: false,
        offline_missing,
        last_sync,
    };
    if !access.has_any_scope(drive::SCOPES) {
        home.missing_drive = true;
        home.user = Some(signed_in);
        return Ok(render(StatusCode::OK, &home));
    }

    let page = query.page.unwrap_or(1).max(1);
    let mut pages: Vec<String> = session
        .get(DRIVE_PAGES_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    let page_token = match page {
        1 => None,
        n if n - 1 < pages.len() => Some(pages[n - 1].clone()),
        // A page we have no token for (old link, new session): start at the beginning.
        _ => return Ok(see_other("/")),
    };

    let (http, api_base) = (&state.http, &state.oauth.config().api_base);
    let fetched =
        state
            .vault
            .call(user, access, |a| {
                let token = page_token.clone();
                async move {
                    drive::list_files(http, api_base, &a.token, PAGE_SIZE, token.as_deref()).await
                }
            })
            .await;
    let list = match fetched {
        Ok(list) => list,
        Err(CallError::Token(e)) => return token_failure(e, signed_in),
        Err(CallError::Google(e)) => return Err(e.into()),
    };

    pages.truncate(page);
    if page == 1 {
        pages = vec![String::new()];
    }
    home.next = match &list.next_page_token {
        Some(t) => {
            pages.push(t.clone());
            Some(page + 1)
        }
        None => None,
    };
    session
        .insert(DRIVE_PAGES_KEY, &pages)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving page tokens: {e}")))?;

    home.files = list
        .files
        .into_iter()
        .map(|f| FileRow {
            kind: drive::kind_label(&f.mime_type).to_string(),
            modified: f
                .modified_time
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
            name: f.name,
        })
        .collect();
    home.page = page;
    home.prev = (page > 1).then(|| page - 1);
    home.user = Some(signed_in);
    Ok(render(StatusCode::OK, &home))
}

fn describe_sync(s: &SyncStatus) -> String {
    let at = s.synced_at.format("%Y-%m-%d %H:%M UTC");
    match (&s.error, s.drive_files) {
        (Some(e), _) => format!("{at}, failed: {e}"),
        (None, Some(n)) => format!("{at}, {n} Drive files seen"),
        (None, None) => format!("{at}, Drive access not granted"),
    }
}

/// No access token could be had: explain and offer consent, or fail the request.
fn token_failure(e: TokenError, signed_in: SignedIn) -> Result<HttpResponse, AppError> {
    match e {
        TokenError::NeedsConsent(reason) => Ok(render(
            StatusCode::OK,
            &Reconsent {
                user: Some(signed_in),
                reason,
            },
        )),
        TokenError::Db(e) => Err(e.into()),
        TokenError::Unavailable(e) => Err(AppError::Upstream(e)),
        TokenError::WrongKey => Err(AppError::Misconfigured(anyhow::anyhow!(
            "stored tokens were sealed under another SECRET_KEY"
        ))),
    }
}
