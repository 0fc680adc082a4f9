//! The HTTP layer: one file per area. Handlers speak HTTP and call into `google`, `vault` and
//! `store`; they never build SQL or provider wire formats themselves.

pub mod account;
pub mod admin;
pub mod admission;
pub mod authcode;
pub mod cookie_keys;
pub mod csrf;
pub mod errors;
pub mod extract;
pub mod gmail;
pub mod grant;
pub mod headers;
pub mod health;
pub mod home;
pub mod oauth;
pub mod outage;
pub mod page;
pub mod paging;
pub mod pending;
pub mod ratelimit;
pub mod revocation;
pub mod risc;
pub mod scrape;
pub mod session;
pub mod sign_out;
pub mod telemetry;

use std::sync::Arc;

use actix_web::web;

use crate::config::Settings;
use crate::google::drive::Drive;
use crate::google::gmail::Gmail;
use crate::google::oauth::OAuth;
use crate::store::Db;
use crate::vault::Vault;

/// Everything a handler may need, shared by all workers.
pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub oauth: Arc<OAuth>,
    /// Stored credentials and fresh access tokens.
    pub vault: Vault,
    /// The Drive API.
    pub drive: Drive,
    /// The Gmail API.
    pub gmail: Gmail,
    /// The server clients for mobile apps' codes (`POST /authcode`).
    pub mobile: authcode::MobileClients,
    /// The sealed cookie that carries a sign-in in progress.
    pub pending: pending::PendingCookies,
    /// Per-address allowances of the routes anyone can hit.
    pub limits: ratelimit::Limits,
    /// Verifies the provider's security event tokens (`POST /risc`).
    pub risc: Arc<crate::google::risc::Receiver>,
}

pub type State = web::Data<Arc<AppState>>;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(at("/", GET).route(get().to(home::index)))
        .service(at("/gmail", GET).route(get().to(gmail::index)))
        .service(at("/oauth2callback", GET).route(get().to(oauth::callback)))
        .service(at("/logout", POST).route(web::post().to(oauth::logout)))
        .service(at("/account", GET).route(get().to(account::show)))
        .service(
            at("/account/disconnect", GET_POST)
                .route(get().to(account::confirm))
                .route(web::post().to(account::disconnect)),
        )
        .service(at(authcode::PATH, POST).route(web::post().to(authcode::exchange)))
        .service(at(risc::PATH, POST).route(web::post().to(risc::receive)))
        .service(at("/healthz", GET).route(get().to(health::healthz)))
        .configure(admin::routes);
}

/// What a resource answers, for the `Allow` header of a 405.
pub const GET: &str = "GET, HEAD";
pub const POST: &str = "POST";
pub const GET_POST: &str = "GET, HEAD, POST";

/// A path whose other methods get 405 with `Allow: allow`.
pub fn at(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        actix_web::HttpResponse::MethodNotAllowed()
            .insert_header((actix_web::http::header::ALLOW, allow))
            .content_type("text/plain; charset=utf-8")
            .body("Method not allowed.")
    }))
}

/// A route for GET and HEAD (load balancers probe with HEAD; actix sends no body for it).
pub fn get() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}
