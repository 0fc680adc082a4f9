//! What the server-side session holds, and the signed-in user.

use actix_session::Session;

use super::errors::AppError;
use super::State;
use crate::store::sessions::USER_ID_KEY;
use crate::store::users::{self, User, UserId};

/// Session key of the access token obtained at sign-in (the PHP sample's `$_SESSION['access_token']`).
pub const TOKEN_KEY: &str = "access_token";
/// Session key of the pending authorization (state, nonce, PKCE verifier).
pub const PENDING_KEY: &str = "pending_auth";
/// Session key of the Drive page tokens seen so far (index i = token of page i + 1).
pub const DRIVE_PAGES_KEY: &str = "drive_pages";

/// Set when a Drive 401 sent the user through sign-in again; survives that sign-in so a second
/// 401 right after it shows an error instead of looping.
pub const REAUTH_KEY: &str = "drive_reauth";

/// The access token as kept in the (encrypted) session row. Never sent to the browser.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct SessionToken {
    pub access_token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub obtained_at: i64,
    /// Granted scopes, space separated.
    pub scopes: String,
}

impl SessionToken {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.split_whitespace().any(|s| s == scope)
    }
}

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
