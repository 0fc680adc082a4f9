//! The HTTP layer, by role. Handlers speak HTTP and call into `google`, `vault` and `store`;
//! they never build SQL or provider wire formats themselves.
//!
//! - [`server`] assembles the actix `App` and `HttpServer` (and the metrics listener);
//!   [`routes`] is the route table; [`state`] what handlers share.
//! - [`handlers`]: one file per area. [`middleware`]: what wraps every request. [`extract`]:
//!   who is asking (`CurrentUser`, `AdminUser`) and the rate-limit allowance.
//! - Below them: [`page`] (the layout and the one place pages are rendered), [`errors`],
//!   [`session`], [`csrf`], [`paging`], [`pending`], [`feature`], [`limits`].
//!
//! Arrows point down that list: a middleware never imports a handler, and nothing below the
//! handlers imports them.

pub mod csrf;
pub mod errors;
pub mod extract;
pub mod feature;
pub mod handlers;
pub mod limits;
pub mod middleware;
pub mod page;
pub mod paging;
pub mod pending;
pub mod routes;
pub mod server;
pub mod session;
pub mod state;

pub use state::{AppState, State};
