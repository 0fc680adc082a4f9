//! What every Drive and Gmail handler starts from ([`api_call`]).

use actix_web::HttpRequest;

use crate::errors::{api_insufficient_scope, api_unauthenticated, Refusal};
use crate::oauth::userinfo::bearer;
use crate::state::{take_fault, AccessEntry, Shared};

/// Authenticates an API call: 401 `authError` or 403 insufficient scope in Google's API shape.
fn api_auth(
    shared: &Shared,
    req: &HttpRequest,
    method: &str,
    accepted: &[&str],
) -> Result<AccessEntry, Refusal> {
    let token = bearer(req).ok_or_else(api_unauthenticated)?;
    let entry = shared
        .store()
        .live_access(&token)
        .cloned()
        .ok_or_else(api_unauthenticated)?;
    if !accepted.iter().any(|s| entry.scopes.contains(*s)) {
        return Err(api_insufficient_scope(method, accepted));
    }
    Ok(entry)
}

/// What every Drive and Gmail handler starts from: the endpoint's pending fault (if any), then
/// the access token's grant (401 / 403 in Google's API shape), then the query parameters.
pub struct ApiCall {
    pub entry: AccessEntry,
    pub params: Vec<(String, String)>,
}

/// The shared prologue of the API handlers: [`ApiCall`].
pub async fn api_call(
    shared: &Shared,
    req: &HttpRequest,
    endpoint: &str,
    method: &str,
    accepted: &[&str],
) -> Result<ApiCall, Refusal> {
    take_fault(shared, endpoint).await?;
    let entry = api_auth(shared, req, method, accepted)?;
    let params = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    Ok(ApiCall { entry, params })
}
