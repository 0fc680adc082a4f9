//! Ending a user's access, for the user (`/account` → Disconnect) and for an admin
//! (`/admin/users/{id}` → Revoke): revoke at the provider, delete the stored credential (even
//! when the provider does not answer), end every session of the user on every instance, and
//! write the audit log.

use crate::store::users::UserId;
use crate::store::{audit, sessions, users};
use crate::vault::Revocation;
use crate::web::errors::AppError;
use crate::web::State;

/// Who ends the access, and how.
pub struct Request<'a> {
    pub actor: Option<UserId>,
    pub target: UserId,
    /// `user.disconnect` or `admin.revoke`.
    pub action: &'a str,
    /// Also keep them from signing in again (admins only).
    pub block: bool,
}

/// What came of it.
pub struct Outcome {
    pub provider: Revocation,
    pub sessions_ended: usize,
}

pub async fn revoke(state: &State, req: Request<'_>) -> Result<Outcome, AppError> {
    // The provider first (the credential is deleted whatever it answers), then the sessions,
    // the block and the audit entry together: the log never misses an action taken.
    let provider = state.vault.revoke(req.target).await?;
    let outcome = provider.describe();
    let (actor, target, block, action) = (req.actor, req.target, req.block, req.action.to_string());
    let described = outcome.clone();
    let sessions_ended = state
        .db
        .run(move |c| {
            use diesel::Connection;
            c.transaction::<_, anyhow::Error, _>(|c| {
                if block {
                    users::set_blocked(c, target, true)?;
                }
                let ended = sessions::delete_for_user(c, target)?;
                let detail = format!(
                    "{ended} session(s) ended{}",
                    if block { "; sign-in blocked" } else { "" }
                );
                audit::record(
                    c,
                    &audit::NewEntry {
                        actor,
                        action: &action,
                        target: Some(target),
                        detail: &detail,
                        outcome: &described,
                    },
                )?;
                Ok(ended)
            })
        })
        .await?;
    tracing::info!(
        target_user = %req.target,
        actor = ?req.actor.map(|a| a.0),
        action = req.action,
        sessions_ended,
        provider = %outcome,
        "access revoked"
    );
    Ok(Outcome {
        provider,
        sessions_ended,
    })
}
