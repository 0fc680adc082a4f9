//! The request log middleware: every non-control request, once answered, lands in
//! `Shared::log` (read back through `GET /emulator/requests`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::faults::{LogEntry, LogInfo};
use super::state::Shared;

/// Middleware: logs every non-control request after it is answered.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().to_string();
    let path = req.path().to_string();
    let shared = req.app_data::<web::Data<Shared>>().cloned();
    let res = next.call(req).await?;
    if path.starts_with("/emulator/") || path == "/emulator" {
        return Ok(res);
    }
    if let Some(shared) = shared {
        let info = res
            .request()
            .extensions()
            .get::<LogInfo>()
            .cloned()
            .unwrap_or_default();
        let entry = LogEntry {
            method,
            path,
            grant_type: info.grant_type,
            client_id: info.client_id,
            delivery: None,
            status: Some(res.status().as_u16()),
        };
        shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(entry);
    }
    Ok(res)
}
