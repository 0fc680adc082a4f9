//! `GET /gmail`: the signed-in user's Gmail messages, 25 a page, with a search box. The Gmail
//! scope is asked for when this page is first opened (incremental authorization); a user who
//! did not grant it gets an explanation and a button, never a redirect loop. A view lists one
//! page of ids, then reads each message's headers, at most [`CONCURRENT_GETS`] at a time; a
//! message that cannot be read is shown as unavailable. It writes nothing.

use actix_session::Session;
use actix_web::{http::StatusCode, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt;

use super::grant::not_granted;
use super::home::token_failure;
use crate::google::gmail::{self, Summary};
use crate::google::{GoogleError, PageToken};
use crate::secret::Token;
use crate::vault::CallError;
use crate::web::errors::AppError;
use crate::web::extract::CurrentUser;
use crate::web::feature::{self, Feature};
use crate::web::page::{render, see_other};
use crate::web::paging::{first_link, Cursor, Requested};
use crate::web::State;

pub const PAGE_SIZE: u32 = 25;
/// How many messages.get calls run at once for one page.
pub const CONCURRENT_GETS: usize = 8;
/// The longest search accepted.
const MAX_QUERY: usize = 200;

/// One row of the message table (`None`: that message could not be read).
struct Row(Option<Summary>);

#[derive(Template)]
#[template(path = "pages/gmail.html")]
struct GmailPage {
    q: String,
    rows: Vec<Row>,
    page: u32,
    prev: Option<String>,
    next: Option<String>,
    first: Option<String>,
}

pub async fn index(
    state: State,
    user: CurrentUser,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let cursor = match Cursor::from_query(req.query_string())? {
        Requested::Page(c) => c,
        Requested::Restart => return Ok(see_other("/gmail")),
    };
    let q = search(req.query_string())?;
    if !Feature::Gmail.granted_by(user.granted_scopes().into_iter()) {
        if feature::declined(&session, Feature::Gmail) {
            return Ok(not_granted(Feature::Gmail));
        }
        // First use: ask for just this scope.
        return Ok(HttpResponse::Found()
            .insert_header(("Location", Feature::Gmail.grant_link()))
            .finish());
    }
    let access = match state
        .vault
        .access_token_from(user.id(), &user.credentials, gmail::SCOPES)
        .await
    {
        Ok(a) => a,
        Err(e) => return token_failure(e),
    };
    let gmail = &state.gmail;
    let query = (!q.is_empty()).then_some(q.as_str());
    let listed = state
        .vault
        .call(user.id(), access, |a| {
            let token = cursor.token.clone();
            async move {
                let list = gmail
                    .list_messages(&a.token, PAGE_SIZE, token.as_ref(), query)
                    .await?;
                Ok((list, a.token))
            }
        })
        .await;
    let (list, token) =
        match listed {
            Ok(found) => found,
            Err(CallError::Token(e)) => return token_failure(e),
            Err(CallError::Google(GoogleError::InsufficientScope)) => {
                return Ok(not_granted(Feature::Gmail))
            }
            Err(CallError::Google(GoogleError::ApiNotOffered | GoogleError::NotFound)) => {
                return Ok(super::grant::not_offered(Feature::Gmail))
            }
            Err(CallError::Google(GoogleError::BadRequest)) => return Err(AppError::BadRequest(
                "Gmail did not accept this search or page link. Start again from the first page.",
            )),
            Err(CallError::Google(e)) => return Err(e.into()),
        };
    let rows = summaries(gmail, &token, list.messages.iter().map(|m| m.id.as_str())).await;
    let keep = [("q", q.as_str())];
    let prev = cursor.prev_link("/gmail", &keep);
    let page = GmailPage {
        rows,
        page: cursor.page,
        next: list
            .next_page_token
            .as_deref()
            .and_then(PageToken::parse)
            .map(|t| cursor.next_link("/gmail", &keep, &t)),
        first: (prev.is_none() && cursor.page > 1).then(|| first_link("/gmail", &keep)),
        prev,
        q,
    };
    Ok(render(StatusCode::OK, page))
}

/// Each message's headers, [`CONCURRENT_GETS`] requests at a time, in list order.
async fn summaries<'a>(
    gmail: &gmail::Gmail,
    token: &Token,
    ids: impl Iterator<Item = &'a str>,
) -> Vec<Row> {
    futures_util::stream::iter(ids)
        .map(|id| async move {
            match gmail.summary(token, id).await {
                Ok(s) => Row(Some(s)),
                Err(e) => {
                    tracing::warn!(error = %e, "a Gmail message could not be read");
                    Row(None)
                }
            }
        })
        .buffered(CONCURRENT_GETS)
        .collect()
        .await
}

/// The search box's value (`q`), trimmed and bounded.
fn search(query: &str) -> Result<String, AppError> {
    let q = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    if q.chars().count() > MAX_QUERY {
        return Err(AppError::BadRequest("That search is too long."));
    }
    Ok(q)
}
