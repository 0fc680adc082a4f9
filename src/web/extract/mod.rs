//! Who is asking: `MaybeUser` (anyone) and `CurrentUser` (signed in, else off to sign-in), as
//! extractors, so a handler's signature says who may call it. The session is looked up once
//! per request (the result is cached in the request's extensions), and the user, their grants
//! and their last background sync come in one query, which the session store makes in the
//! same database round trip as the session row's (`middleware::session`). A user found is also
//! left in the request as the layout's banner (`page::SignedIn`).

pub mod allowance;

use std::future::Future;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::store::credentials::Credential;
use crate::store::signed_in;
use crate::store::sync_status::SyncStatus;
use crate::store::users::{User, UserId};
use crate::web::errors::AppError;
use crate::web::page::SignedIn;
use crate::web::{csrf, session, State};

/// A signed-in user, with their grants.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    /// The token their forms carry.
    pub csrf: String,
    /// Their credentials, one per OAuth client that obtained a grant (the web client, mobile
    /// apps' server clients); empty: never granted.
    pub credentials: Vec<Credential>,
    /// What the last background sync found for them.
    pub last_sync: Option<SyncStatus>,
    /// An admin: granted on the command line, or a verified email listed in ADMIN_EMAILS.
    pub is_admin: bool,
}

impl CurrentUser {
    pub fn id(&self) -> UserId {
        self.user.user_id()
    }

    /// Whether background access works through any of their grants.
    pub fn has_offline_access(&self) -> bool {
        self.credentials.iter().any(Credential::has_offline_access)
    }

    /// The scopes granted to any of their grants that is active.
    pub fn granted_scopes(&self) -> Vec<&str> {
        let mut scopes: Vec<&str> = self
            .credentials
            .iter()
            .filter(|c| c.status == crate::store::credentials::Status::Active)
            .flat_map(|c| c.scopes.split_whitespace())
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        scopes
    }

    /// What the layout shows for them.
    pub fn signed_in(&self) -> SignedIn {
        SignedIn {
            user: self.user.clone(),
            csrf: self.csrf.clone(),
            is_admin: self.is_admin,
        }
    }
}

/// A signed-in admin. Signed out → sign-in; signed in but not an admin → the 403 page.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

impl FromRequest for AdminUser {
    type Error = actix_web::Error;
    type Future = Pending<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = look_up(&req).await?.ok_or(AppError::SignInRequired)?;
            if !user.is_admin {
                tracing::warn!(user_id = %user.id(), path = req.path(), "a non-admin asked for an admin page");
                return Err(AppError::Forbidden("This page is for administrators only.").into());
            }
            Ok(Self(user))
        })
    }
}

/// The signed-in user, if any.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

/// The outcome of this request's lookup, kept in its extensions.
#[derive(Clone)]
struct Looked(Option<CurrentUser>);

type Pending<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

impl FromRequest for MaybeUser {
    type Error = actix_web::Error;
    type Future = Pending<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(look_up(&req).await?)) })
    }
}

impl FromRequest for CurrentUser {
    type Error = actix_web::Error;
    type Future = Pending<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(look_up(&req).await?.ok_or(AppError::SignInRequired)?) })
    }
}

/// The session's user, if it names one who still exists and is not disabled; otherwise the
/// session (if it named someone) is ended. What [`MaybeUser`] extracts, for a handler that
/// needs it only on some paths.
pub async fn look_up(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    if let Some(Looked(found)) = req.extensions().get::<Looked>() {
        return Ok(found.clone());
    }
    let found = load(req).await?;
    req.extensions_mut().insert(Looked(found.clone()));
    Ok(found)
}

async fn load(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    let session = req.get_session();
    let Some(id) = session::user_id(&session) else {
        return Ok(None);
    };
    let state = req
        .app_data::<State>()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("application state is missing")))?;
    let prefetched = req
        .extensions_mut()
        .remove::<session::Loaded>()
        .map(|session::Loaded(found)| found)
        .filter(|found| found.user.user_id() == id);
    let found = match prefetched {
        Some(found) => Some(found),
        None => state.db.run(move |c| signed_in::find(c, id)).await?,
    };
    match found {
        Some(found) if found.user.disabled_at.is_none() => {
            crate::logging::record_user(found.user.id);
            if session::touch_due(&session) {
                state.db.run(move |c| signed_in::touch(c, id)).await?;
                session::mark_seen(&session).map_err(|e| {
                    AppError::Unexpected(anyhow::anyhow!("extending the session: {e}"))
                })?;
            }
            let is_admin = found.user.is_admin
                || state
                    .settings
                    .is_admin_email(&found.user.email, found.user.email_verified);
            let user = CurrentUser {
                csrf: csrf::token(&session)?,
                is_admin,
                user: found.user,
                credentials: found.credentials,
                last_sync: found.last_sync,
            };
            // The layout's banner, for the page this request renders.
            req.extensions_mut().insert(user.signed_in());
            Ok(Some(user))
        }
        _ => {
            session.purge();
            Ok(None)
        }
    }
}
