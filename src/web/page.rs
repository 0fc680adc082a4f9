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

thread_local! {
    /// The provider's name on this thread's pages: each actix worker thread serves one app,
    /// whose factory sets it ([`set_provider_name`]).
    static PROVIDER: std::cell::RefCell<String> = std::cell::RefCell::new("Google".into());
}

/// Names the provider on the pages this worker thread renders (`PROVIDER_NAME`).
pub fn set_provider_name(name: &str) {
    PROVIDER.with(|p| name.clone_into(&mut p.borrow_mut()));
}

/// The provider as pages name it ("Google" unless configured otherwise).
pub fn provider() -> String {
    PROVIDER.with(|p| p.borrow().clone())
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
