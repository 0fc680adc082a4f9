//! `/emulator/*` test controls: served only on loopback or with `allow_controls`, and only to
//! requests that pass the safety rules of `guard` (this emulator's Host, no foreign Origin,
//! JSON bodies). One file per concern: `data` (accounts, clients, files, messages), `grants`
//! (what a user or a phone does to tokens), `faults` (fault injection and the request log),
//! `lifecycle` (state export/import, key rotation), `risc` (Cross-Account Protection streams,
//! events, disabling accounts).

mod body;
mod data;
mod faults;
mod grants;
mod guard;
mod lifecycle;
mod risc;

pub use guard::ControlPolicy;

use actix_web::{middleware, web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::errors::{json_response, Refusal};
use crate::model::{DriveFile, Message, Profile};
use crate::state::Shared;
use body::parse;
use guard::guard_controls;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/emulator")
            .wrap(middleware::from_fn(guard_controls))
            .route("/reset", web::post().to(reset))
            .route("/state", web::get().to(lifecycle::export))
            .service(
                web::resource("/state")
                    .app_data(web::PayloadConfig::new(lifecycle::MAX_STATE))
                    .route(web::put().to(lifecycle::import)),
            )
            .route("/keys/rotate", web::post().to(lifecycle::rotate_keys))
            .route("/profile", web::get().to(get_profile))
            .route("/profile", web::put().to(put_profile))
            .route("/accounts", web::post().to(data::add_account))
            .route("/accounts", web::get().to(data::list_accounts))
            .route("/clients", web::post().to(data::add_client))
            .route(
                "/accounts/{email}/files",
                web::post().to(data::append::<DriveFile>),
            )
            .route(
                "/accounts/{email}/messages",
                web::post().to(data::append::<Message>),
            )
            .route(
                "/accounts/{email}/expire-tokens",
                web::post().to(grants::expire_tokens),
            )
            .route(
                "/accounts/{email}/revoke",
                web::post().to(grants::revoke_grants),
            )
            .route("/accounts/{email}/disable", web::post().to(risc::disable))
            .route("/accounts/{email}/enable", web::post().to(risc::enable))
            .route("/risc/stream", web::post().to(risc::add_stream))
            .route("/risc/stream", web::get().to(risc::list_streams))
            .route("/risc/stream", web::delete().to(risc::remove_stream))
            .route("/risc/events", web::post().to(risc::send_event))
            .route("/mobile-sign-in", web::post().to(grants::mobile_sign_in))
            .route("/faults", web::post().to(faults::add_fault))
            .route("/faults", web::get().to(faults::list_faults))
            .route("/faults", web::delete().to(faults::clear_faults))
            .route("/requests", web::get().to(faults::requests))
            .route("/requests", web::delete().to(faults::clear_requests)),
    );
}

async fn reset(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    shared.reset();
    Ok(json_response(200, &json!({"reset": true})))
}

fn profile_response(profile: Profile) -> HttpResponse {
    json_response(200, &json!({ "profile": profile }))
}

async fn get_profile(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    Ok(profile_response(shared.profile()))
}

#[derive(Deserialize)]
struct ProfileBody {
    profile: Profile,
}

async fn put_profile(shared: web::Data<Shared>, body: web::Bytes) -> Result<HttpResponse, Refusal> {
    let input: ProfileBody = parse(&body)?;
    shared.set_profile(input.profile);
    Ok(profile_response(input.profile))
}
