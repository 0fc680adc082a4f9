//! Renders the page a handler or an error left in its response, once, with the layout's data:
//! the provider's name from the app's state, and from the request the signed-in banner (the
//! user the extractor found, while the session still names them) or, on pages without the
//! banner, the Sign out button for a visitor whose session names a user. Registered just inside
//! the session middleware, so it reads the session as the handler left it (and hands the request
//! to [`super::outage`] there).

use std::future::Future;

use actix_session::SessionExt;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};

use crate::web::page::{finish, wants_banner, Layout, SignedIn};
use crate::web::state::provider_name;
use crate::web::{csrf, session};

pub fn render<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<B, BoxBody>>, Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: 'static,
    B: 'static,
{
    let response = srv.call(req);
    async move {
        let res = response.await?;
        super::outage::after_routing(&res);
        let Some(banner) = wants_banner(res.response()) else {
            return Ok(res.map_into_left_body());
        };
        let layout = layout_of(res.request(), banner);
        // A deferred page's body is empty until now: it is replaced, not read.
        let (req, res) = res.into_parts();
        let res = res.set_body(BoxBody::new(()));
        Ok(ServiceResponse::new(req, finish(res, &layout)).map_into_right_body())
    }
}

fn layout_of(req: &actix_web::HttpRequest, banner: bool) -> Layout {
    let provider = provider_name(req);
    let mut layout = Layout::signed_out(provider);
    let session = req.get_session();
    let Some(id) = session::user_id(&session) else {
        return layout;
    };
    if banner {
        layout.user = req
            .extensions_mut()
            .remove::<SignedIn>()
            .filter(|s| s.user.user_id() == id);
    } else {
        layout.sign_out = session.get::<String>(csrf::KEY).ok().flatten();
    }
    layout
}
