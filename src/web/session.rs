//! What the server-side session holds, and the signed-in user.

use actix_session::Session;

use super::errors::AppError;
use super::State;
use crate::store::sessions::USER_ID_KEY;
use crate::store::users::{self, User, UserId};

/// Session key of the pending authorization (state, nonce, PKCE verifier).
pub const PENDING_KEY: &str = "pending_auth";
/// Session key of the Drive page tokens seen so far (index i = token of page i + 1).
pub const DRIVE_PAGES_KEY: &str = "drive_pages";

/// A signed-in user, with the CSRF token their forms carry.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub csrf: String,
}

pub fn user_id(session: &Session) -> Option<UserId> {
    session.get::<i64>(USER_ID_KEY).ok().flatten().map(UserId)
}

/// The signed-in user, if the session names one that still exists and is not disabled.
pub async fn current_user(state: &State, session: &Session) -> Result<Option<SignedIn>, AppError> {
    let Some(id) = user_id(session) else {
        return Ok(None);
    };
    let user = state.db.run(move |c| users::find(c, id)).await?;
    match user {
        Some(user) if user.disabled_at.is_none() => Ok(Some(SignedIn {
            user,
            csrf: super::csrf::token(session)?,
        })),
        _ => {
            session.purge();
            Ok(None)
        }
    }
}
