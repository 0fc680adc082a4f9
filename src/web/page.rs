//! What every page's layout needs: the signed-in banner's data, and rendering a template with
//! a status. A leaf of the web layer: errors, extractors and handlers all build on it.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use crate::store::users::User;

/// The signed-in user as the layout shows them, with the CSRF token their forms carry.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub csrf: String,
    /// Shows the Admin link.
    pub is_admin: bool,
}

/// Renders a template with a status; a template failure becomes a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong.")
        }
    }
}

/// A 303 to one of our own paths.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}
