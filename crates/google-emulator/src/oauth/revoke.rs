//! `POST /revoke`: an access or refresh token revokes the whole grant.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::errors::{oauth_error, Refusal};
use crate::state::take_fault;
use crate::state::Shared;

pub async fn revoke(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    take_fault(&shared, "revoke").await?;
    let find = |bytes: &[u8]| {
        url::form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    };
    let Some(token) = find(req.query_string().as_bytes()).or_else(|| find(&body)) else {
        return Err(oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: token",
        ));
    };
    let mut store = shared.store_mut();
    let owner = store
        .access
        .get(&token)
        .map(|a| (a.email.clone(), a.client_id.clone()))
        .or_else(|| {
            store
                .refresh
                .get(&token)
                .map(|r| (r.email.clone(), r.client_id.clone()))
        });
    match owner {
        Some((email, client_id)) => {
            store.revoke_grant(&email, &client_id);
            Ok(HttpResponse::Ok()
                .content_type("application/json; charset=utf-8")
                .body("{}"))
        }
        None => Err(oauth_error(
            400,
            "invalid_token",
            "Token expired or revoked",
        )),
    }
}
