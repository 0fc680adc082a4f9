//! The route table, as data: each path with the methods it answers and their handlers. GET
//! answers HEAD too (load balancers probe with HEAD; actix sends no body for it); any other
//! method gets 405 with an `Allow` header listing what the path answers.

use actix_web::dev::Handler;
use actix_web::http::header::ALLOW;
use actix_web::{guard, web, FromRequest, HttpResponse, Responder};

use super::handlers::{
    account, admin, assets, authcode, gmail, health, home, oauth, risc as risc_receiver,
};
use super::paths::{AUTHCODE, RISC};

/// Every route of the public server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let table = [
        ("/", vec![get(home::index)]),
        ("/static/app.css", vec![get(assets::stylesheet)]),
        ("/gmail", vec![get(gmail::index)]),
        ("/oauth2callback", vec![get(oauth::callback)]),
        ("/logout", vec![post(oauth::logout)]),
        ("/account", vec![get(account::show)]),
        (
            "/account/disconnect",
            vec![get(account::confirm), post(account::disconnect)],
        ),
        (AUTHCODE, vec![post(authcode::exchange)]),
        (RISC, vec![post(risc_receiver::receive)]),
        ("/healthz", vec![get(health::healthz)]),
        ("/admin", vec![get(admin::index)]),
        ("/admin/users", vec![get(admin::users::list)]),
        ("/admin/users/{id}", vec![get(admin::user::show)]),
        (
            "/admin/users/{id}/revoke",
            vec![get(admin::user::confirm_revoke), post(admin::user::revoke)],
        ),
        (
            "/admin/users/{id}/unblock",
            vec![post(admin::user::unblock)],
        ),
        ("/admin/audit", vec![get(admin::audit::list)]),
    ];
    for (path, endpoints) in table {
        cfg.service(resource(path, endpoints));
    }
}

/// One method of a path and its handler.
pub struct Endpoint {
    /// The methods it answers, as `Allow` lists them.
    allow: &'static str,
    route: actix_web::Route,
}

/// GET (and HEAD) to `handler`.
pub fn get<F, Args>(handler: F) -> Endpoint
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Endpoint {
        allow: "GET, HEAD",
        route: web::route()
            .guard(guard::Any(guard::Get()).or(guard::Head()))
            .to(handler),
    }
}

/// POST to `handler`.
pub fn post<F, Args>(handler: F) -> Endpoint
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Endpoint {
        allow: "POST",
        route: web::post().to(handler),
    }
}

/// `path` answering `endpoints`; any other method gets 405 with `Allow`.
pub fn resource(path: &str, endpoints: Vec<Endpoint>) -> actix_web::Resource {
    let allow = endpoints
        .iter()
        .map(|e| e.allow)
        .collect::<Vec<_>>()
        .join(", ");
    let resource = endpoints
        .into_iter()
        .fold(web::resource(path), |r, e| r.route(e.route));
    resource.default_service(web::to(move || {
        let allow = allow.clone();
        async move {
            HttpResponse::MethodNotAllowed()
                .insert_header((ALLOW, allow))
                .content_type("text/plain; charset=utf-8")
                .body("Method not allowed.")
        }
    }))
}
