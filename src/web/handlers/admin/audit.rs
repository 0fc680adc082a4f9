//! `GET /admin/audit?before=…`: the audit log, newest first, 50 a page.

use actix_web::{http::StatusCode, web, HttpResponse};
use askama::Template;

use crate::store::audit::{self, Entry};
use crate::web::errors::AppError;
use crate::web::extract::AdminUser;
use crate::web::page::render;
use crate::web::State;

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct Audit {
    entries: Vec<Entry>,
    next: Option<String>,
    first: bool,
}

#[derive(serde::Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

pub async fn list(
    state: State,
    _: AdminUser,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let before = query.before;
    let mut entries = state
        .db
        .run(move |c| audit::list(c, None, before, PAGE_SIZE + 1))
        .await?;
    let next = (entries.len() as i64 > PAGE_SIZE).then(|| {
        entries.truncate(PAGE_SIZE as usize);
        format!("/admin/audit?before={}", entries[entries.len() - 1].id)
    });
    Ok(render(
        StatusCode::OK,
        Audit {
            entries,
            next,
            first: before.is_none(),
        },
    ))
}
