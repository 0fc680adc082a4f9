//! What wraps every request, outermost first as `server` registers them: request spans and
//! metrics ([`telemetry`]), security headers ([`headers`]), requests refused before they are
//! read ([`admission`]), session cookies made under a previous key ([`cookie_keys`]), database
//! outages ([`outage`]), the session with its user in one round trip ([`session`]) and the page
//! renderer ([`render`]). None imports a handler.

pub mod admission;
pub mod cookie_keys;
pub mod headers;
pub mod outage;
pub mod render;
pub mod session;
pub mod telemetry;
