//! The session and its user in one database round trip. Registered just outside actix-session's
//! middleware: it opens the session cookie, has the store read the session row and the user it
//! names together ([`DbSessionStore::preload`]), and puts the user in the request for the
//! extractor (`session::Loaded`); actix-session then finds the row's state waiting in the store,
//! keyed by that row. A database outage is answered here, before anything else runs: the 503
//! page, or JSON for mobile apps.

use std::future::{ready, Ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage};

use super::cookie_keys::SessionCookieKeys;
use super::outage::outage_answer;
use crate::store::sessions::DbSessionStore;
use crate::store::DbError;
use crate::web::session::Loaded;

/// The middleware's factory.
#[derive(Clone)]
pub struct Preload {
    pub store: DbSessionStore,
    pub cookies: SessionCookieKeys,
}

impl<S, B> Transform<S, ServiceRequest> for Preload
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Transform = PreloadService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PreloadService {
            service: Rc::new(service),
            preload: Rc::new(self.clone()),
        }))
    }
}

pub struct PreloadService<S> {
    service: Rc<S>,
    preload: Rc<Preload>,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B, BoxBody>>, Error>;

impl<S, B> Service<ServiceRequest> for PreloadService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Answer<B>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let preload = Rc::clone(&self.preload);
        Box::pin(async move {
            let Preload { store, cookies } = &*preload;
            let Some(key) = cookies.session_key(&req) else {
                return Ok(service.call(req).await?.map_into_left_body());
            };
            match store.preload(&key).await {
                Ok(user) => {
                    if let Some(user) = user {
                        req.extensions_mut().insert(Loaded(user));
                    }
                    let res = service.call(req).await;
                    store.forget();
                    Ok(res?.map_into_left_body())
                }
                Err(DbError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "the database is unavailable; answering 503");
                    let (req, _) = req.into_parts();
                    let answer = outage_answer(&req);
                    Ok(ServiceResponse::new(req, answer).map_into_right_body())
                }
                Err(e) => {
                    // The store reads the row again when actix-session asks for it.
                    tracing::warn!(error = %e, "could not preload the session");
                    Ok(service.call(req).await?.map_into_left_body())
                }
            }
        })
    }
}
