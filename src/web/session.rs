//! What the server-side session holds: the signed-in user's id, the CSRF token, and when the
//! session was last extended. A page view reads these; it writes only when [`touch_due`] says the sliding expiry is due (at most every [`TOUCH_EVERY`] seconds).

use actix_session::Session;

pub use crate::store::sessions::USER_ID_KEY;
use crate::store::users::UserId;

/// Session key of when the session was last extended (seconds since the epoch).
const SEEN_KEY: &str = "seen";
/// How often a signed-in session's expiry slides forward (and `users.last_seen_at` moves):
/// page views in between write nothing.
pub const TOUCH_EVERY: i64 = 10 * 60;

pub fn user_id(session: &Session) -> Option<UserId> {
    session.get::<i64>(USER_ID_KEY).ok().flatten().map(UserId)
}

/// Whether this view should extend the session (and record the user as seen).
pub fn touch_due(session: &Session) -> bool {
    let seen = session.get::<i64>(SEEN_KEY).ok().flatten().unwrap_or(0);
    chrono::Utc::now().timestamp() - seen >= TOUCH_EVERY
}

/// Records that the session was just extended; saving it slides its expiry.
pub fn mark_seen(session: &Session) -> Result<(), actix_session::SessionInsertError> {
    session.insert(SEEN_KEY, chrono::Utc::now().timestamp())
}

/// The user (with their grants and last sync) the session middleware read with this
/// request's session row, for the extractor: one database round trip for both.
pub struct Loaded(pub crate::store::signed_in::SignedInUser);
