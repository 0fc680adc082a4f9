//! OAuth 2.0 / OpenID Connect: `discovery` (the discovery and certs documents), `authorize`
//! (account chooser and granular consent, on `authreq`'s validated request and
//! `state::formtoken`'s CSRF tokens), `token`, `revoke` and `userinfo`.

mod authorize;
mod authreq;
mod discovery;
mod revoke;
mod token;
pub mod userinfo;

use actix_web::web;

/// The OAuth and OpenID endpoints, at Google's paths (and their older aliases).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::discovery),
    )
    .route(
        "/.well-known/risc-configuration",
        web::get().to(discovery::risc_configuration),
    )
    .route("/oauth2/v3/certs", web::get().to(discovery::certs))
    .route("/oauth2/v1/certs", web::get().to(discovery::certs_v1))
    .route("/o/oauth2/v2/auth", web::get().to(authorize::get))
    .route("/o/oauth2/v2/auth", web::post().to(authorize::post))
    .route("/o/oauth2/auth", web::get().to(authorize::get))
    .route("/o/oauth2/auth", web::post().to(authorize::post))
    .route("/token", web::post().to(token::token))
    .route("/revoke", web::post().to(revoke::revoke))
    .route("/revoke", web::get().to(revoke::revoke))
    .route("/o/oauth2/revoke", web::post().to(revoke::revoke))
    .route("/oauth2/v3/userinfo", web::get().to(userinfo::userinfo))
    .route("/tokeninfo", web::get().to(userinfo::tokeninfo))
    .route("/tokeninfo", web::post().to(userinfo::tokeninfo))
    .route("/oauth2/v3/tokeninfo", web::get().to(userinfo::tokeninfo))
    .route("/oauth2/v3/userinfo", web::post().to(userinfo::userinfo));
}
