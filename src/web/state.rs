//! What every handler may reach, shared by all workers: `AppState`, in `web::Data`.

use std::sync::Arc;

use actix_web::web;

use super::limits::Limits;
use super::pending::PendingCookies;
use crate::config::Settings;
use crate::google::drive::Drive;
use crate::google::gmail::Gmail;
use crate::google::mobile::MobileClients;
use crate::google::oauth::OAuth;
use crate::google::risc::Receiver;
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
    pub mobile: MobileClients,
    /// The sealed cookie that carries a sign-in in progress.
    pub pending: PendingCookies,
    /// Per-address allowances of the routes anyone can hit.
    pub limits: Limits,
    /// Verifies the provider's security event tokens (`POST /risc`).
    pub risc: Receiver,
}

/// How handlers take the state.
pub type State = web::Data<AppState>;

/// The provider's name as pages say it (`PROVIDER_NAME`), for `req`'s layout.
pub fn provider_name(req: &actix_web::HttpRequest) -> &str {
    req.app_data::<State>()
        .map_or("Google", |s| s.settings.provider_name.as_str())
}
