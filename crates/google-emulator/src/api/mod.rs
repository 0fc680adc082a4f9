//! The Google APIs behind OAuth: Drive v3 (`drive`) and Gmail v1 (`gmail`), with Google's
//! partial-response `fields` selector; every handler begins with `call::api_call`.

mod call;
mod drive;
mod fields;
mod gmail;

use actix_web::web;

/// The Drive and Gmail endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/drive/v3/files", web::get().to(drive::list))
        .route("/drive/v3/files/{id}", web::get().to(drive::get))
        .route(
            "/gmail/v1/users/{user}/messages",
            web::get().to(gmail::list),
        )
        .route(
            "/gmail/v1/users/{user}/messages/{id}",
            web::get().to(gmail::get),
        );
}
