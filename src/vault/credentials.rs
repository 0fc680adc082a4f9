//! Credentials: sealing grants into the database, and a fresh access token for every Google call
//! — refreshed when it expires within 60 s, with one refresh in flight per user however many
//! callers (and instances sharing the database) wait on it, and `invalid_grant` turning the
//! credential into "needs consent".

use std::collections::HashMap;
use std::sync::Arc;

use super::aad;
use crate::google::oauth::{Grant, OAuth};
use crate::google::GoogleError;
use crate::secret::{Cipher, SealError, Token};
use crate::store::credentials::{self, Credential, SealedGrant, Status, StoredRefresh};
use crate::store::users::{self, User, UserId};
use crate::store::{Db, DbError};

mod refresh;

/// How close to expiry an access token is refreshed before use.
const MARGIN: chrono::Duration = chrono::Duration::seconds(60);
/// A usable access token.
#[derive(Debug, Clone)]
pub struct Access {
    pub token: Token,
    pub expires_at: chrono::NaiveDateTime,
    /// Granted scopes, space separated.
    pub scopes: String,
    /// The OAuth client the grant belongs to (the one that refreshes it).
    pub client_id: String,
}

impl Access {
    pub fn has_any_scope(&self, wanted: &[&str]) -> bool {
        self.scopes.split_whitespace().any(|s| wanted.contains(&s))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No usable grant: the user must go through consent again (with `prompt=consent`).
    #[error("the user must consent again: {0}")]
    NeedsConsent(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the provider is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Stored tokens were sealed under another key: a configuration fault (SECRET_KEY differs
    /// between instances or runs). Nothing is deleted.
    #[error("stored tokens were sealed under another SECRET_KEY")]
    WrongKey,
}

/// What [`Vault::sign_in`] stored.
#[derive(Debug)]
pub enum SignIn {
    /// The user, and whether their credential now holds a refresh token.
    Stored { user: User, offline: bool },
    /// An admin has blocked the account: the user row is up to date, no grant was stored.
    Blocked(User),
}

/// One refresh in flight per credential: a user's grant to one OAuth client.
type Key = (UserId, String);

/// The credential keeper. A user holds one credential per OAuth client that obtained a grant
/// (the web client, mobile apps' server clients); each is refreshed with its own client.
/// Cheap to clone (shared state behind `Arc`s).
#[derive(Clone)]
pub struct Vault {
    db: Db,
    cipher: Cipher,
    /// The web client's id: what sign-in stores under.
    web_client_id: String,
    /// Every configured client by id, the web client included.
    clients: Arc<HashMap<String, Arc<OAuth>>>,
    /// One async lock per credential with a refresh in flight.
    inflight: Arc<std::sync::Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>>,
    /// When each credential's last refresh attempt failed (provider or database unavailable),
    /// so callers that queued behind it share the failure instead of retrying one by one.
    failures: Arc<std::sync::Mutex<HashMap<Key, std::time::Instant>>>,
}

impl Vault {
    /// A vault for the web client `web` and the other clients (mobile server clients) whose
    /// grants it keeps and refreshes.
    pub fn new(db: Db, cipher: Cipher, web: Arc<OAuth>, others: Vec<Arc<OAuth>>) -> Self {
        let web_client_id = web.config().client_id.clone();
        let mut clients = HashMap::new();
        for client in std::iter::once(web).chain(others) {
            // The first wins: the web client, when a server client is the same one.
            clients
                .entry(client.config().client_id.clone())
                .or_insert(client);
        }
        Self {
            db,
            cipher,
            web_client_id,
            clients: Arc::new(clients),
            inflight: Default::default(),
            failures: Default::default(),
        }
    }

    /// A sign-in's writes in one database round trip: the user upserted from the grant's
    /// verified profile and, unless an admin has blocked them, the tokens of the code exchange
    /// made with `client_id` sealed for them and stored (a response without a refresh token
    /// keeps the stored one). A blocked user's grant is dropped.
    pub async fn sign_in(&self, client_id: &str, grant: &Grant) -> Result<SignIn, DbError> {
        let vault = self.clone();
        let client_id = client_id.to_string();
        let profile = grant.profile.clone();
        let (access_token, refresh_token) =
            (grant.access_token.clone(), grant.refresh_token.clone());
        let (access_expires_at, scopes) = (grant.expires_at, grant.scopes.clone());
        self.db
            .run(move |c| {
                let user = users::upsert(c, &profile)?;
                if user.disabled_at.is_some() {
                    return Ok(SignIn::Blocked(user));
                }
                let id = user.user_id();
                let sealed = SealedGrant {
                    refresh_token: refresh_token.as_ref().map(|t| vault.stored_refresh(id, t)),
                    access_token: vault.seal(id, "access_token", &access_token),
                    access_expires_at,
                    scopes,
                };
                credentials::save_grant(c, id, &client_id, sealed)?;
                let offline = credentials::find(c, id, &client_id)?
                    .is_some_and(|cred| cred.refresh_token.is_some());
                Ok(SignIn::Stored { user, offline })
            })
            .await
    }

    /// The web client's id: sign-in stores its grants under it.
    pub fn client_id(&self) -> &str {
        &self.web_client_id
    }

    /// Whether background access works for `user` (an active credential with a refresh token,
    /// from any client).
    pub async fn has_offline_access(&self, user: UserId) -> Result<bool, DbError> {
        Ok(self
            .load_all(user)
            .await?
            .iter()
            .any(|c| c.has_offline_access()))
    }

    /// An access token holding one of `wanted` (any scope when empty), valid for at least
    /// another minute, refreshing if needed.
    pub async fn access_token(&self, user: UserId, wanted: &[&str]) -> Result<Access, TokenError> {
        let creds = self.load_all(user).await?;
        self.access_token_from(user, &creds, wanted).await
    }

    /// The same, starting from `creds`, the user's credentials as the caller just read them:
    /// no database round trip while the chosen access token is fresh. The credential chosen is
    /// an active one whose client is configured, holding one of `wanted` if any does; among
    /// those, one with a fresh access token, then the web client's.
    pub async fn access_token_from(
        &self,
        user: UserId,
        creds: &[Credential],
        wanted: &[&str],
    ) -> Result<Access, TokenError> {
        let cred = self.choose(creds, wanted)?;
        if let Some(access) = self.usable(user, cred, None) {
            return Ok(access);
        }
        self.refresh_once(user, &cred.client_id, None).await
    }

    fn choose<'c>(
        &self,
        creds: &'c [Credential],
        wanted: &[&str],
    ) -> Result<&'c Credential, TokenError> {
        let now = crate::store::now();
        let holds = |c: &Credential| {
            wanted.is_empty() || c.scopes.split_whitespace().any(|s| wanted.contains(&s))
        };
        creds
            .iter()
            .filter(|c| c.status == Status::Active && self.clients.contains_key(&c.client_id))
            .max_by_key(|c| {
                (
                    holds(c),
                    c.access_expires_at.is_some_and(|at| at > now + MARGIN),
                    c.client_id == self.web_client_id,
                    c.refresh_token.is_some(),
                    c.updated_at,
                )
            })
            .ok_or(if creds.is_empty() {
                TokenError::NeedsConsent("no access has been granted yet")
            } else {
                TokenError::NeedsConsent("access must be granted again")
            })
    }

    /// The API refused `failed` (401): refresh once, unless another caller already replaced it.
    pub async fn force_refresh(&self, user: UserId, failed: &Access) -> Result<Access, TokenError> {
        self.refresh_once(user, &failed.client_id, Some(&failed.token))
            .await
    }

    /// The API keeps refusing `refused`, a token fresh from a refresh: drop the grant and ask
    /// for consent again — unless the row holds another token by now (a new sign-in).
    pub async fn give_up(&self, user: UserId, refused: &Access) -> Result<(), TokenError> {
        let Some(cred) = self.load(user, &refused.client_id).await? else {
            return Ok(());
        };
        let still_the_same = cred
            .access_token
            .as_deref()
            .and_then(|sealed| self.open(user, "access_token", sealed).ok())
            .is_some_and(|t| t.expose() == refused.token.expose());
        if !still_the_same {
            return Ok(());
        }
        match self
            .needs_consent(user, &cred, "the provider no longer accepts our access")
            .await
        {
            Ok(_) | Err(TokenError::NeedsConsent(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes the tokens of `cred` and marks it as needing consent, unless a new grant was
    /// stored meanwhile, which is then used instead.
    async fn needs_consent(
        &self,
        user: UserId,
        cred: &Credential,
        why: &'static str,
    ) -> Result<Access, TokenError> {
        let (id, seen) = (cred.id, cred.refresh_token.clone());
        let marked = self
            .db
            .run(move |c| credentials::mark_needs_consent(c, id, seen.as_deref(), why))
            .await?;
        if !marked {
            let fresh = self.load_active(user, &cred.client_id).await?;
            if let Some(access) = self.usable(user, &fresh, None) {
                return Ok(access);
            }
        }
        Err(TokenError::NeedsConsent(why))
    }

    async fn load(&self, user: UserId, client_id: &str) -> Result<Option<Credential>, DbError> {
        let client_id = client_id.to_string();
        self.db
            .run(move |c| credentials::find(c, user, &client_id))
            .await
    }

    async fn load_all(&self, user: UserId) -> Result<Vec<Credential>, DbError> {
        self.db.run(move |c| credentials::for_user(c, user)).await
    }

    async fn load_active(&self, user: UserId, client_id: &str) -> Result<Credential, TokenError> {
        match self.load(user, client_id).await? {
            Some(c) if c.status == Status::Active => Ok(c),
            Some(_) => Err(TokenError::NeedsConsent("access must be granted again")),
            None => Err(TokenError::NeedsConsent("no access has been granted yet")),
        }
    }

    /// The configured client `client_id`.
    fn client(&self, client_id: &str) -> Result<&Arc<OAuth>, TokenError> {
        self.clients.get(client_id).ok_or_else(|| {
            TokenError::Unavailable(anyhow::anyhow!(
                "the OAuth client {client_id} is no longer configured"
            ))
        })
    }

    /// The stored access token if it is readable, valid for more than [`MARGIN`], and not the
    /// one the API just refused (`failed`).
    fn usable(&self, user: UserId, cred: &Credential, failed: Option<&Token>) -> Option<Access> {
        self.usable_for(user, cred, failed, MARGIN)
    }

    /// The same, valid for more than `margin`.
    pub(super) fn usable_for(
        &self,
        user: UserId,
        cred: &Credential,
        failed: Option<&Token>,
        margin: chrono::Duration,
    ) -> Option<Access> {
        let (Some(sealed), Some(expires_at)) = (&cred.access_token, cred.access_expires_at) else {
            return None;
        };
        if expires_at <= crate::store::now() + margin {
            return None;
        }
        match self.open(user, "access_token", sealed) {
            Ok(token) if failed.is_some_and(|f| f.expose() == token.expose()) => None,
            Ok(token) => Some(Access {
                token,
                expires_at,
                scopes: cred.scopes.clone(),
                client_id: cred.client_id.clone(),
            }),
            // Unreadable access token: the refresh path decides (it may still work).
            Err(e) => {
                tracing::warn!(user_id = %user, error = %e, "stored access token does not decrypt");
                None
            }
        }
    }

    /// A refresh token sealed, with its `token-revoked` identifiers.
    pub(super) fn stored_refresh(&self, user: UserId, token: &Token) -> StoredRefresh {
        let ids = token.ids();
        StoredRefresh {
            sealed: self.seal(user, "refresh_token", token),
            hash: ids.hash,
            prefix_hash: ids.prefix_hash,
        }
    }

    fn seal(&self, user: UserId, field: &str, token: &Token) -> Vec<u8> {
        self.cipher
            .seal(token.expose().as_bytes(), &aad(user, field))
    }

    fn open(&self, user: UserId, field: &str, sealed: &[u8]) -> Result<Token, SealError> {
        let bytes = self.cipher.open(sealed, &aad(user, field))?;
        String::from_utf8(bytes)
            .map(Token::new)
            .map_err(|_| SealError::Corrupt)
    }

    /// Revokes each of `user`'s grants at the provider, with the client that obtained it (the
    /// refresh token, else the access token: Google then ends the whole grant), and deletes
    /// every credential stored for them, whatever the provider answered. Returns that answer,
    /// for the person and the audit log.
    pub async fn revoke(&self, user: UserId) -> Result<Revocation, DbError> {
        let mut answer = Revocation::NothingStored;
        for cred in self.load_all(user).await? {
            let token = cred
                .refresh_token
                .as_deref()
                .and_then(|t| self.open(user, "refresh_token", t).ok())
                .or_else(|| {
                    cred.access_token
                        .as_deref()
                        .and_then(|t| self.open(user, "access_token", t).ok())
                });
            let Some(token) = token else { continue };
            let outcome = match self.client(&cred.client_id) {
                Err(e) => Err(e.to_string()),
                Ok(client) => client.revoke(&token).await.map_err(|e| e.to_string()),
            };
            answer = match (answer, outcome) {
                (failed @ Revocation::ProviderFailed(_), _) => failed,
                (_, Err(why)) => {
                    tracing::warn!(user_id = %user, client_id = %cred.client_id, error = %why, "the provider did not confirm the revocation; local tokens are deleted anyway");
                    Revocation::ProviderFailed(why)
                }
                (_, Ok(())) => Revocation::Revoked,
            };
        }
        self.db
            .run(move |c| credentials::delete_for_user(c, user))
            .await?;
        Ok(answer)
    }

    /// Decrypts the stored refresh token of `user`'s grant to `client_id` (tests and
    /// diagnostics).
    pub async fn stored_refresh_token(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<Token>, TokenError> {
        let Some(cred) = self.load(user, client_id).await? else {
            return Ok(None);
        };
        match cred.refresh_token {
            None => Ok(None),
            Some(v) => self
                .open(user, "refresh_token", &v)
                .map(Some)
                .map_err(|e| TokenError::Unavailable(e.into())),
        }
    }
}

/// What the provider said to a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The provider revoked the grant (or it was already gone there).
    Revoked,
    /// No readable token was stored: there was nothing to revoke at the provider.
    NothingStored,
    /// The provider could not be reached or refused; the local tokens were deleted anyway.
    ProviderFailed(String),
}

impl Revocation {
    /// The outcome as the audit log records it.
    pub fn describe(&self) -> String {
        match self {
            Self::Revoked => "revoked at the provider".into(),
            Self::NothingStored => "no token was stored; nothing to revoke at the provider".into(),
            Self::ProviderFailed(why) => format!("the provider did not confirm: {why}"),
        }
    }
}

/// Why a provider call made through [`Vault::call`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Google(GoogleError),
}

impl From<DbError> for CallError {
    fn from(e: DbError) -> Self {
        Self::Token(TokenError::Db(e))
    }
}

impl Vault {
    /// Runs `f` with `access`; on a 401 refreshes once and retries once; a second 401 drops the
    /// credential's tokens and reports that consent is needed.
    pub async fn call<T, F, Fut>(&self, user: UserId, access: Access, f: F) -> Result<T, CallError>
    where
        F: Fn(Access) -> Fut,
        Fut: std::future::Future<Output = Result<T, GoogleError>>,
    {
        let failed = access.clone();
        match f(access).await {
            Err(GoogleError::Unauthorized) => {}
            other => return other.map_err(CallError::Google),
        }
        let fresh = self.force_refresh(user, &failed).await?;
        let refused = fresh.clone();
        match f(fresh).await {
            Err(GoogleError::Unauthorized) => {
                tracing::warn!(user_id = %user, "the API refused a freshly refreshed token; tokens deleted");
                self.give_up(user, &refused).await?;
                Err(TokenError::NeedsConsent("the provider no longer accepts our access").into())
            }
            other => other.map_err(CallError::Google),
        }
    }
}
