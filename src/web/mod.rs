//! The HTTP layer, by role. Handlers speak HTTP and call into `google`, `vault` and `store`;
//! they never build SQL or provider wire formats themselves.
//!
//! - [`server`] assembles the actix `App` and `HttpServer` (and the metrics listener) from
//!   [`routes`], the route table, and [`middleware`], what wraps every request.
//! - [`handlers`]: one file per area, under the routes. Beside them (neither imports the
//!   other): [`middleware`].
//! - Below both: [`extract`] (who is asking: `CurrentUser`, `AdminUser`; the rate-limit
//!   allowance), [`state`] (what handlers share), [`page`] (the layout and the one place
//!   pages are rendered), [`errors`], [`session`], [`csrf`], [`paging`], [`pending`],
//!   [`feature`], [`limits`], [`paths`].
//!
//! Arrows point down that list: no middleware reaches a handler, even through another module,
//! and nothing below the handlers imports them.

pub mod csrf;
pub mod errors;
pub mod extract;
pub mod feature;
pub mod handlers;
pub mod limits;
pub mod middleware;
pub mod page;
pub mod paging;
pub mod paths;
pub mod pending;
pub mod routes;
pub mod server;
pub mod session;
pub mod state;

pub use state::{AppState, State};
