//! What is not a page of its own: the stylesheet, and the answer where no route matches.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::web::errors::error_page;

/// `GET /static/app.css`, the only stylesheet (served by the binary itself).
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../static/app.css"))
}

/// Any path no route serves.
pub async fn not_found() -> HttpResponse {
    error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
        false,
    )
}
