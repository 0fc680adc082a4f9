//! The extractor that spends a route's per-address allowance ([`crate::web::limits`]) before
//! its handler runs.

use std::marker::PhantomData;

use actix_web::{dev::Payload, FromRequest, HttpRequest};

use crate::web::errors::AppError;
use crate::web::limits::{client_address, Limits, RateLimiter};
use crate::web::{AppState, State};

/// Which of [`Limits`] a route spends.
pub trait Limit {
    fn of(limits: &Limits) -> &RateLimiter;
    /// For the log.
    const ROUTE: &'static str;
}

/// `/oauth2callback`: starting and completing sign-ins.
pub struct SignIn;
impl Limit for SignIn {
    fn of(limits: &Limits) -> &RateLimiter {
        &limits.sign_in
    }
    const ROUTE: &'static str = "/oauth2callback";
}

/// The admin dashboard's POSTs.
pub struct AdminPost;
impl Limit for AdminPost {
    fn of(limits: &Limits) -> &RateLimiter {
        &limits.admin
    }
    const ROUTE: &'static str = "admin POST";
}

/// Takes one request from the client address's allowance for `L` before the handler runs; a
/// used-up allowance is a 429 page with Retry-After.
pub struct Allowance<L>(PhantomData<L>);

impl<L: Limit> FromRequest for Allowance<L> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(allow::<L>(req).map(|()| Self(PhantomData)))
    }
}

fn allow<L: Limit>(req: &HttpRequest) -> Result<(), AppError> {
    let Some(state) = req.app_data::<State>() else {
        return Ok(());
    };
    let state: &AppState = state;
    let Some(addr) = client_address(req, &state.settings.trusted_proxies) else {
        return Ok(());
    };
    L::of(&state.limits).check(addr).map_err(|wait| {
        tracing::warn!(%addr, route = L::ROUTE, "rate limit reached");
        AppError::TooManyRequests {
            retry_after: wait.as_secs().max(1),
        }
    })
}
