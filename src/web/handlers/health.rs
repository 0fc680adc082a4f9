//! `GET /healthz`: 200 when the database answers, else 503.

use actix_web::HttpResponse;

use crate::web::State;

pub async fn healthz(state: State) -> HttpResponse {
    if state.db.ping().await {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok")
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .content_type("text/plain; charset=utf-8")
            .body("database unavailable")
    }
}
