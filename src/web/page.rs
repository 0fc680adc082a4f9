//! Pages: what the layout needs ([`Layout`]) and the one place a page is rendered. A handler,
//! or an error, puts its page in the response ([`render`], [`render_with`]); the render
//! middleware renders it once, when the response passes on its way out, with the layout's data
//! from the request and the app's state: the provider's name, the signed-in banner, the Sign
//! out button. Templates read the layout as Askama's runtime value `"layout"`. A leaf of the
//! web layer: errors, extractors, middleware and handlers all build on it.

use std::any::Any;

use actix_web::body::BoxBody;
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

/// What every page reads besides its own fields.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The provider as pages name it ("Google" unless `PROVIDER_NAME` says otherwise).
    pub provider: String,
    /// The signed-in banner: the visitor, on a page that shows it.
    pub user: Option<SignedIn>,
    /// A signed-in visitor's CSRF token, on a page that offers Sign out without the banner
    /// (error pages: the error may be about the session itself).
    pub sign_out: Option<String>,
}

impl Layout {
    /// A signed-out visitor's layout.
    pub fn signed_out(provider: &str) -> Self {
        Self {
            provider: provider.to_string(),
            user: None,
            sign_out: None,
        }
    }
}

impl askama::Values for Layout {
    fn get_value<'a>(&'a self, key: &str) -> Option<&'a dyn Any> {
        match key {
            "layout" => Some(self),
            "provider" => Some(&self.provider),
            _ => None,
        }
    }
}

/// Renders a page with its layout.
type RenderFn = Box<dyn FnOnce(&Layout) -> askama::Result<String>>;

/// A page waiting in its response for the layout.
struct Deferred {
    render: RenderFn,
    /// Whether the page shows the signed-in banner (error pages do not).
    banner: bool,
}

/// Whether the page in `res` (if any) shows the signed-in banner.
pub fn wants_banner<B>(res: &HttpResponse<B>) -> Option<bool> {
    res.extensions().get::<Deferred>().map(|d| d.banner)
}

fn defer(
    status: StatusCode,
    banner: bool,
    render: impl FnOnce(&Layout) -> askama::Result<String> + 'static,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .finish();
    resp.extensions_mut().insert(Deferred {
        render: Box::new(render),
        banner,
    });
    resp
}

/// A page with a status, rendered on its way out with the signed-in banner when the visitor
/// is signed in.
pub fn render<T: Template + 'static>(status: StatusCode, page: T) -> HttpResponse {
    defer(status, true, move |layout| page.render_with_values(layout))
}

/// Whether a page shows the signed-in banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Banner {
    Shown,
    /// Error pages: the error may be about the session itself (they may still offer Sign out).
    Hidden,
}

/// A page rendered by `render` with the layout, on its way out.
pub fn render_with(
    status: StatusCode,
    banner: Banner,
    render: impl FnOnce(&Layout) -> askama::Result<String> + 'static,
) -> HttpResponse {
    defer(status, banner == Banner::Shown, render)
}

/// Renders the page waiting in `res`, if one is, with `layout`. A template failure becomes a
/// plain 500.
pub fn finish(mut res: HttpResponse, layout: &Layout) -> HttpResponse<BoxBody> {
    let Some(page) = res.extensions_mut().remove::<Deferred>() else {
        return res;
    };
    match (page.render)(layout) {
        Ok(body) => res.set_body(BoxBody::new(body)),
        Err(e) => {
            // The response's other headers (a cookie it removes, Retry-After) still go out.
            tracing::error!(error = %e, "template failed to render");
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            res.headers_mut().insert(
                actix_web::http::header::CONTENT_TYPE,
                actix_web::http::header::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res.set_body(BoxBody::new("Something went wrong."))
        }
    }
}

/// A 303 to one of our own paths.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}
