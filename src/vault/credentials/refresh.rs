//! The refresh machinery behind [`Vault::access_token`] and [`Vault::force_refresh`]: one
//! refresh in flight per user in this process (an async lock per user, whose outcome, success or
//! failure, the callers queued behind it share), one across instances (a lease on the credential
//! row), each run in a task of its own so that a caller going away cannot strand it.

use std::sync::Arc;

use super::{Access, Key, TokenError, Vault};
use crate::google::GoogleError;
use crate::secret::{SealError, Token};
use crate::store::credentials;
use crate::store::users::UserId;

/// How long a refresh lease holds: longer than a token request may take (20 s timeout).
const LEASE: chrono::Duration = chrono::Duration::seconds(45);
/// How long a caller waits for another instance's refresh before giving up.
const LEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(50);

/// A random name for one refresh attempt, so only its holder releases the lease.
fn lease_owner() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

impl Vault {
    /// Refreshes in a task of its own, which runs to completion even when the request that
    /// started it goes away: the lease is released and a rotated refresh token is stored
    /// whatever happens to the caller.
    pub(super) async fn refresh_once(
        &self,
        user: UserId,
        client_id: &str,
        failed: Option<&Token>,
    ) -> Result<Access, TokenError> {
        let (vault, failed, key) = (self.clone(), failed.cloned(), (user, client_id.to_string()));
        tokio::spawn(async move { vault.refresh_locked(key, failed.as_ref()).await })
            .await
            .unwrap_or_else(|e| {
                Err(TokenError::Unavailable(anyhow::anyhow!(
                    "the refresh task failed: {e}"
                )))
            })
    }

    /// Refreshes under the user's lock (one refresh per process) and the credential's lease in
    /// the database (one refresh across instances); callers queued behind a refresh reuse it.
    async fn refresh_locked(&self, key: Key, failed: Option<&Token>) -> Result<Access, TokenError> {
        let lock = self.lock_for(&key);
        let queued_at = std::time::Instant::now();
        let result = async {
            let Ok(_guard) = tokio::time::timeout(LEASE_WAIT, lock.lock()).await else {
                return Err(TokenError::Unavailable(anyhow::anyhow!(
                    "waited too long for another refresh of this user"
                )));
            };
            if self.failed_since(&key, queued_at) {
                crate::meters::refresh_waited();
                return Err(TokenError::Unavailable(anyhow::anyhow!(
                    "the refresh this request waited for failed"
                )));
            }
            let result = self.refresh_with_lease(&key, failed).await;
            // Recorded before the guard goes, so the callers queued behind see it.
            self.note_outcome(&key, &result);
            result
        }
        .await;
        self.release(&key, lock);
        result
    }

    /// Holding the user's lock: refresh under the credential's lease, or wait for the instance
    /// that holds it to store its token.
    async fn refresh_with_lease(
        &self,
        (user, client_id): &Key,
        failed: Option<&Token>,
    ) -> Result<Access, TokenError> {
        let user = *user;
        // Discovery can take a while: do it before holding the lease.
        self.client(client_id)?
            .ready()
            .await
            .map_err(|e| TokenError::Unavailable(e.into()))?;
        let owner = lease_owner();
        let deadline = std::time::Instant::now() + LEASE_WAIT;
        loop {
            let cred = self.load_active(user, client_id).await?;
            if let Some(access) = self.usable(user, &cred, failed) {
                return Ok(access);
            }
            let (id, who) = (cred.id, owner.clone());
            if self
                .db
                .run(move |c| credentials::try_lease(c, id, &who, LEASE))
                .await?
            {
                let result = self.refresh_leased(user, client_id, failed).await;
                let who = owner.clone();
                if let Err(e) = self
                    .db
                    .run(move |c| credentials::release_lease(c, id, &who))
                    .await
                {
                    tracing::warn!(user_id = %user, error = %e, "could not release the refresh lease; it lapses by itself");
                }
                return result;
            }
            // Another instance is refreshing: wait for its token to land.
            if std::time::Instant::now() > deadline {
                return Err(TokenError::Unavailable(anyhow::anyhow!(
                    "another instance's refresh did not finish in time"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Whether a refresh of this credential failed after `since`.
    fn failed_since(&self, key: &Key, since: std::time::Instant) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(key).is_some_and(|at| *at > since)
    }

    /// Remembers a failed refresh (for the callers queued behind it) or forgets it on success.
    fn note_outcome(&self, key: &Key, result: &Result<Access, TokenError>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Err(TokenError::Unavailable(_)) | Err(TokenError::Db(_)) => {
                failures.retain(|_, at| at.elapsed() < std::time::Duration::from_secs(60));
                failures.insert(key.clone(), std::time::Instant::now());
            }
            _ => {
                failures.remove(key);
            }
        }
    }

    /// Holding the lease: read the row afresh (the previous holder may just have stored a new
    /// token) and refresh only if it is still needed.
    async fn refresh_leased(
        &self,
        user: UserId,
        client_id: &str,
        failed: Option<&Token>,
    ) -> Result<Access, TokenError> {
        let cred = self.load_active(user, client_id).await?;
        if let Some(access) = self.usable(user, &cred, failed) {
            // Another request refreshed while this one waited.
            crate::meters::refresh_waited();
            return Ok(access);
        }
        let Some(sealed_refresh) = cred.refresh_token.clone() else {
            // Nothing to refresh with: the access token serves until it really expires (the
            // margin is for refreshing ahead of time, which is not possible here).
            if let Some(access) = self.usable_for(user, &cred, failed, chrono::Duration::zero()) {
                return Ok(access);
            }
            tracing::warn!(user_id = %user, "no refresh token stored; consent is needed again");
            return self
                .needs_consent(user, &cred, "no refresh token is stored")
                .await;
        };
        let refresh_token = match self.open(user, "refresh_token", &sealed_refresh) {
            Ok(t) => t,
            Err(SealError::UnknownKey) => {
                tracing::error!(user_id = %user, "the stored refresh token was sealed under another key: is SECRET_KEY the same on every instance? Nothing was deleted");
                return Err(TokenError::WrongKey);
            }
            Err(e) => {
                tracing::error!(user_id = %user, error = %e, "the stored refresh token does not decrypt; consent is needed again");
                return self
                    .needs_consent(user, &cred, "the stored token could not be read")
                    .await;
            }
        };
        match self.client(client_id)?.refresh(&refresh_token).await {
            Ok(r) => {
                let sealed_access = self.seal(user, "access_token", &r.access_token);
                let rotated = r
                    .refresh_token
                    .as_ref()
                    .map(|t| self.stored_refresh(user, t));
                let (id, expires_at, scopes) = (cred.id, r.expires_at, r.scopes.clone());
                let stored = self
                    .db
                    .run(move |c| {
                        credentials::update_access(
                            c,
                            id,
                            &sealed_refresh,
                            &sealed_access,
                            expires_at,
                            scopes.as_deref(),
                            rotated.as_ref(),
                        )
                    })
                    .await?;
                crate::meters::refresh(crate::meters::Refresh::Ok);
                tracing::info!(user_id = %user, rotated = r.refresh_token.is_some(), stored, "access token refreshed");
                Ok(Access {
                    token: r.access_token,
                    expires_at: r.expires_at,
                    scopes: r.scopes.unwrap_or(cred.scopes),
                    client_id: cred.client_id,
                })
            }
            Err(GoogleError::Rejected { error }) if error == "invalid_grant" => {
                crate::meters::refresh(crate::meters::Refresh::InvalidGrant);
                tracing::warn!(user_id = %user, "refresh token revoked or expired (invalid_grant); tokens deleted, consent needed");
                self.needs_consent(user, &cred, "access was revoked or has expired")
                    .await
            }
            Err(e) => {
                crate::meters::refresh(crate::meters::Refresh::UpstreamError);
                let (id, why) = (cred.id, format!("refresh failed: {e}"));
                if let Err(db) = self
                    .db
                    .run(move |c| credentials::record_error(c, id, &why))
                    .await
                {
                    tracing::warn!(user_id = %user, error = %db, "could not record the refresh error");
                }
                Err(TokenError::Unavailable(anyhow::Error::new(e)))
            }
        }
    }

    fn lock_for(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.clone()).or_default().clone()
    }

    fn release(&self, key: &Key, lock: Arc<tokio::sync::Mutex<()>>) {
        drop(lock);
        let mut map = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(key);
        }
    }
}
