//! `GET /`: the landing page, or the signed-in user's Drive files, 25 a page.

use actix_session::Session;
use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;

use super::errors::{render, AppError};
use super::session::{self, SessionToken, SignedIn, DRIVE_PAGES_KEY, REAUTH_KEY, TOKEN_KEY};
use super::State;
use crate::google::{drive, GoogleError};

pub const PAGE_SIZE: u32 = 25;
const DRIVE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
    "https://www.googleapis.com/auth/drive.metadata",
    "https://www.googleapis.com/auth/drive.file",
];

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
    let now = chrono::Utc::now().timestamp();
    let token = session.get::<SessionToken>(TOKEN_KEY).ok().flatten();
    let Some(token) = token.filter(|t| t.expires_at > now + 60) else {
        // No usable token in this session: get a new one through Google.
        return Ok(see_other("/oauth2callback"));
    };

    if !DRIVE_SCOPES.iter().any(|s| token.has_scope(s)) {
        return Ok(render(
            StatusCode::OK,
            &Home {
                user: Some(signed_in),
                files: vec![],
                page: 1,
                prev: None,
                next: None,
                missing_drive: true,
            },
        ));
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

    let access = crate::vault::Token::new(token.access_token.clone());
    let list = match drive::list_files(
        &state.http,
        &state.oauth.config().api_base,
        &access,
        PAGE_SIZE,
        page_token.as_deref(),
    )
    .await
    {
        Ok(list) => list,
        Err(GoogleError::Unauthorized) => {
            session.remove(TOKEN_KEY);
            if session.remove(REAUTH_KEY).is_some() {
                // We just signed in again and Drive still refuses: do not loop through sign-in.
                return Err(AppError::Upstream(anyhow::anyhow!(
                    "Drive refused a fresh access token"
                )));
            }
            session
                .insert(REAUTH_KEY, true)
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving the session: {e}")))?;
            tracing::info!(user_id = signed_in.user.id, "Drive answered 401; signing in again");
            return Ok(see_other("/oauth2callback"));
        }
        Err(e) => return Err(e.into()),
    };

    if session.contains_key(REAUTH_KEY) {
        session.remove(REAUTH_KEY);
    }
    pages.truncate(page);
    if page == 1 {
        pages = vec![String::new()];
    }
    let next = match &list.next_page_token {
        Some(t) => {
            pages.push(t.clone());
            Some(page + 1)
        }
        None => None,
    };
    session
        .insert(DRIVE_PAGES_KEY, &pages)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("saving page tokens: {e}")))?;

    let files = list
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
    Ok(render(
        StatusCode::OK,
        &Home {
            user: Some(signed_in),
            files,
            page,
            prev: (page > 1).then(|| page - 1),
            next,
            missing_drive: false,
        },
    ))
}
