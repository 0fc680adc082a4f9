//! `GET /.well-known/openid-configuration`, the two certs documents and
//! `GET /.well-known/risc-configuration`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::errors::Refusal;
use crate::keys::discovery_document;
use crate::risc::configuration_document;
use crate::state::{take_fault, Shared};

/// `GET /oauth2/v3/certs`: the JWKS.
pub async fn certs(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    let keys: Vec<&Value> = shared.keys().all().map(|k| &k.jwk).collect();
    let body = json!({ "keys": keys });
    certs_response(&shared, &body).await
}

/// `GET /oauth2/v1/certs`: Google's older format, `{kid: PEM certificate}`.
pub async fn certs_v1(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    let body: serde_json::Map<String, Value> = shared
        .keys()
        .all()
        .map(|k| (k.kid.clone(), json!(k.cert_pem)))
        .collect();
    let body = Value::Object(body);
    certs_response(&shared, &body).await
}

/// Either certs document, with Google's caching headers (and the `certs` fault, if any).
async fn certs_response(shared: &web::Data<Shared>, body: &Value) -> Result<HttpResponse, Refusal> {
    take_fault(shared, "certs").await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Cache-Control",
            "public, max-age=21600, must-revalidate, no-transform",
        ))
        .content_type("application/json; charset=UTF-8")
        .body(serde_json::to_string_pretty(body).unwrap_or_default()))
}

pub async fn discovery(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    take_fault(&shared, "discovery").await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .content_type("application/json")
        .body(
            serde_json::to_string_pretty(&discovery_document(&shared.issuer, shared.profile()))
                .unwrap_or_default(),
        ))
}

/// `GET /.well-known/risc-configuration`: Cross-Account Protection's configuration, cached as
/// discovery is.
pub async fn risc_configuration(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .content_type("application/json")
        .body(
            serde_json::to_string_pretty(&configuration_document(&shared.issuer))
                .unwrap_or_default(),
        ))
}
