//! Database outages seen by the session store become the 503 page (with Retry-After and the
//! security headers; `POST /authcode` gets its JSON 503), never actix-session's bare 500.
//!
//! - On load, the store marks the session (in memory) and [`on_load`], just inside the session
//!   middleware, answers 503 before any handler runs on an empty session.
//! - On save (after the handler), actix-session fails the whole request with an error, which
//!   carries no request to answer with. [`on_save`], just outside the session middleware, leaves
//!   a slot in the request; [`on_load`] puts the request there once routing is done; on an error
//!   [`on_save`] answers the 503 page with it.

use std::cell::RefCell;
use std::future::{ready, Future};
use std::rc::Rc;

use actix_session::SessionExt;
use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage, HttpRequest};
use futures_util::future::Either;

use super::authcode;
use super::errors::{database_outage, session_store_failure};
use super::sign_out::offer_sign_out;
use crate::store::sessions::DB_UNAVAILABLE_KEY;

/// Where [`on_load`] leaves the request for [`on_save`].
#[derive(Clone, Default)]
struct RequestSlot(Rc<RefCell<Option<HttpRequest>>>);

/// Registered just inside the session middleware.
pub fn on_load<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<EitherBody<B>>>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    super::extract::keep_prefetched(&req);
    if req.get_session().contains_key(DB_UNAVAILABLE_KEY) {
        // Mobile apps are answered in their JSON, everyone else with the page.
        let answer = if req.path() == authcode::PATH {
            authcode::unavailable()
        } else {
            database_outage()
        };
        let res = req.into_response(answer);
        return Either::Left(ready(Ok(res.map_into_right_body())));
    }
    let response = srv.call(req);
    Either::Right(async move {
        let res = response.await?;
        // Routing is over, so the request may be shared now.
        if let Some(slot) = res.request().extensions().get::<RequestSlot>() {
            slot.0.replace(Some(res.request().clone()));
        }
        Ok(offer_sign_out(res).map_into_left_body())
    })
}

/// Registered just outside the session middleware.
pub fn on_save<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<B>>, Error>>
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
            (Err(e), Some(req)) => Ok(session_store_failure(req, e).map_into_right_body()),
            (Err(e), None) => Err(e),
        }
    }
}
