//! A database outage met while actix-session saves a session (after the handler) becomes the
//! 503 page (with Retry-After and the security headers; `POST /authcode` gets its JSON 503),
//! never actix-session's bare 500. (An outage met while loading the session is answered by
//! [`super::session`], before actix-session runs.)
//!
//! On save, actix-session fails the whole request with an error, which carries no request to
//! answer with. [`on_save`], just outside the session middleware, leaves a slot in the request;
//! [`after_routing`], called just inside it, puts the request there once routing is done; on an
//! error [`on_save`] answers with it.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage, HttpRequest};

use crate::web::errors::database_outage;
use crate::web::page::{finish, Layout};
use crate::web::paths::AUTHCODE;
use crate::web::state::provider_name;

/// Where [`after_routing`] leaves the request for [`on_save`].
#[derive(Clone, Default)]
struct RequestSlot(Rc<RefCell<Option<HttpRequest>>>);

/// Called just inside the session middleware (by the render middleware, which is there)
/// once the response is made: routing is over, so the request may be shared now.
pub fn after_routing<B>(res: &ServiceResponse<B>) {
    if let Some(slot) = res.request().extensions().get::<RequestSlot>() {
        slot.0.replace(Some(res.request().clone()));
    }
}

/// Registered just outside the session middleware.
pub fn on_save<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<actix_web::body::EitherBody<B>>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    let slot = RequestSlot::default();
    req.extensions_mut().insert(slot.clone());
    let response = srv.call(req);
    async move {
        let result = response.await;
        // Always empty the slot: the request holds the slot, so a request left in it would
        // keep itself alive.
        let stashed = slot.0.borrow_mut().take();
        match (result, stashed) {
            (Ok(res), _) => Ok(res.map_into_left_body()),
            (Err(e), Some(req)) => {
                tracing::error!(error = %e, "the session store failed while saving");
                let answer = outage_answer(&req);
                Ok(ServiceResponse::new(req, answer).map_into_right_body())
            }
            (Err(e), None) => Err(e),
        }
    }
}

/// The answer to `req` while the database is down, rendered at once (it is past the render
/// middleware): JSON for mobile apps, the 503 page for everyone else.
pub fn outage_answer(req: &HttpRequest) -> actix_web::HttpResponse {
    let provider = provider_name(req);
    finish(
        database_outage(req.path() == AUTHCODE),
        &Layout::signed_out(provider),
    )
}
