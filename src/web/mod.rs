//! The HTTP layer: one file per area. Handlers speak HTTP and call into `google`, `vault` and
//! `store`; they never build SQL or provider wire formats themselves.

pub mod account;
pub mod admin;
pub mod authcode;
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
pub mod ratelimit;
pub mod revocation;
pub mod session;
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
    /// Per-address allowance of `POST /authcode`.
    pub authcode_limit: ratelimit::RateLimiter,
}

pub type State = web::Data<Arc<AppState>>;

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::index))
        .route("/gmail", web::get().to(gmail::index))
        .route("/oauth2callback", web::get().to(oauth::callback))
        .route("/logout", web::post().to(oauth::logout))
        .route("/account", web::get().to(account::show))
        .route("/account/disconnect", web::get().to(account::confirm))
        .route("/account/disconnect", web::post().to(account::disconnect))
        .route("/authcode", web::post().to(authcode::exchange))
        .route("/healthz", web::get().to(health::healthz))
        .configure(admin::routes);
}
