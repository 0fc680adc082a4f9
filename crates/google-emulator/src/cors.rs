//! CORS for the endpoints browsers call from JavaScript (discovery, JWKS, token, revoke,
//! userinfo, Drive, Gmail), so single-page apps work against the emulator as against Google.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::HttpResponse;

fn applies(path: &str) -> bool {
    !(path.starts_with("/emulator") || path.starts_with("/o/oauth2/")) || path == "/o/oauth2/revoke"
}

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .cloned()
        .filter(|_| applies(req.path()));
    let Some(origin) = origin else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if req.method() == Method::OPTIONS {
        let requested = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type"));
        let res = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "3600"))
            .insert_header((header::VARY, "Origin"))
            .finish();
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    Ok(res.map_into_left_body())
}
