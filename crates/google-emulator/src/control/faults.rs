//! Fault injection and the request log.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::body::{bad, parse};
use crate::errors::{json_response, Refusal};
use crate::faults::{ApiReason, EndpointFault, IdTokenFault, API_ENDPOINTS, ENDPOINTS};
use crate::state::Shared;

#[derive(Deserialize)]
struct FaultBody {
    endpoint: Option<String>,
    id_token: Option<IdTokenFault>,
    #[serde(default = "one")]
    count: u32,
    status: Option<u16>,
    /// A specific Drive/Gmail error (`accessNotConfigured`); implies its status.
    reason: Option<ApiReason>,
    delay_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

pub async fn add_fault(
    shared: web::Data<Shared>,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let input: FaultBody = parse(&body)?;
    {
        let mut faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
        match (input.endpoint, input.id_token) {
            (Some(endpoint), None) => {
                if !ENDPOINTS.contains(&endpoint.as_str()) {
                    return Err(bad(&format!(
                        "endpoint must be one of {}",
                        ENDPOINTS.join(", ")
                    )));
                }
                let status = match input.reason {
                    None => input.status,
                    Some(_) if !API_ENDPOINTS.contains(&endpoint.as_str()) => {
                        return Err(bad("reason is for the drive and gmail endpoints"))
                    }
                    Some(r) if input.status.is_some_and(|s| s != r.status()) => {
                        return Err(bad(&format!(
                            "this reason comes with status {}",
                            r.status()
                        )))
                    }
                    Some(r) => Some(r.status()),
                };
                if status.is_none() && input.delay_ms.is_none() {
                    return Err(bad("give status and/or delay_ms"));
                }
                if status.is_some_and(|s| !(100..=599).contains(&s)) {
                    return Err(bad("status must be 100..=599"));
                }
                faults.endpoints.push(EndpointFault {
                    endpoint,
                    remaining: input.count,
                    status,
                    reason: input.reason,
                    delay_ms: input.delay_ms,
                });
            }
            (None, Some(kind)) => faults.id_tokens.push((kind, input.count)),
            _ => return Err(bad("give exactly one of endpoint or id_token")),
        }
    }
    let mut res = list_faults(shared).await?;
    *res.status_mut() = actix_web::http::StatusCode::CREATED;
    Ok(res)
}

pub async fn list_faults(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    let faults = shared.faults.lock().unwrap_or_else(|e| e.into_inner());
    let id_tokens: Vec<_> = faults
        .id_tokens
        .iter()
        .map(|(k, n)| json!({"id_token": k, "remaining": n}))
        .collect();
    Ok(json_response(
        200,
        &json!({"endpoints": faults.endpoints, "id_tokens": id_tokens}),
    ))
}

pub async fn clear_faults(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    *shared.faults.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    Ok(HttpResponse::NoContent().finish())
}

pub async fn requests(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    let log = shared.log.lock().unwrap_or_else(|e| e.into_inner());
    Ok(json_response(
        200,
        &json!({"requests": log.requests, "counts": log.counts}),
    ))
}

pub async fn clear_requests(shared: web::Data<Shared>) -> Result<HttpResponse, Refusal> {
    *shared.log.lock().unwrap_or_else(|e| e.into_inner()) = Default::default();
    Ok(HttpResponse::NoContent().finish())
}
