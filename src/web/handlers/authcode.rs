//! `POST /authcode`: an Android or iOS app that signed the user in with Google Sign-In sends
//! the one-time `serverAuthCode` here; it is redeemed with one of our server clients (and
//! `redirect_uri=""`), the ID token that comes back is verified, the user is keyed by its `sub`
//! and the grant is stored through the vault, so the server can act for the user offline.
//! Answers JSON, never a token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::google::mobile::Platform;
use crate::web::errors::{app_error, APP_RETRY_AFTER, APP_UNAVAILABLE};
use crate::web::limits::client_address;
use crate::web::State;

use crate::google::GoogleError;
use crate::vault::SignIn;

/// The largest body accepted.
pub const MAX_BODY: usize = 8 * 1024;

/// What the app sent.
struct Request {
    auth_code: String,
    platform: Option<Platform>,
    id_token: Option<String>,
}

/// A refusal: HTTP status, stable `error` code, a sentence for people.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    message: &'static str,
    retry_after: Option<u64>,
}

const fn refuse(status: StatusCode, error: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status,
        error,
        message,
        retry_after: None,
    }
}

impl Refusal {
    fn response(&self) -> HttpResponse {
        app_error(self.status, self.error, self.message, self.retry_after)
    }
}

/// While the database cannot be reached: nothing was stored.
const UNAVAILABLE: Refusal = Refusal {
    retry_after: Some(APP_RETRY_AFTER),
    ..refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        APP_UNAVAILABLE.0,
        APP_UNAVAILABLE.1,
    )
};

const BAD_BODY: Refusal = refuse(
    StatusCode::BAD_REQUEST,
    "invalid_request",
    "The body must carry authCode (and optionally platform = android | ios, and idToken).",
);

/// `POST /authcode`.
pub async fn exchange(state: State, req: HttpRequest, body: web::Payload) -> HttpResponse {
    match handle(&state, &req, body).await {
        Ok(response) => response,
        Err(refusal) => refusal.response(),
    }
}

async fn handle(
    state: &State,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, Refusal> {
    if let Some(addr) = client_address(req, &state.settings.trusted_proxies) {
        if let Err(wait) = state.limits.authcode.check(addr) {
            tracing::warn!(%addr, "POST /authcode rate limit reached");
            return Err(Refusal {
                retry_after: Some(wait.as_secs().max(1)),
                ..refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many sign-ins from this address. Try again shortly.",
                )
            });
        }
    }
    // A cross-site form or fetch cannot set this header without a CORS preflight, which this
    // server never grants: its presence shows the request came from the app.
    let from_app = req
        .headers()
        .get("x-requested-with")
        .is_some_and(|v| !v.is_empty());
    if !from_app {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "missing_requested_with",
            "Requests must carry the X-Requested-With header.",
        ));
    }
    let json = match content_type(req).as_deref() {
        Some("application/json") => true,
        Some("application/x-www-form-urlencoded") => false,
        _ => {
            return Err(refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_content_type",
                "Send application/x-www-form-urlencoded or application/json.",
            ))
        }
    };
    let bytes = match body.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return Err(BAD_BODY),
        Err(_) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "body_too_large",
                "The body is larger than 8 KiB.",
            ))
        }
    };
    let request = parse(&bytes, json).ok_or(BAD_BODY)?;

    let mobile = &state.mobile;
    let client = mobile.choose(request.platform, request.id_token.as_deref());
    let app_sub = match &request.id_token {
        None => None,
        Some(token) => Some(client.verify_app_id_token(token).await.map_err(|e| {
            tracing::warn!(error = %e, "POST /authcode: the app's ID token failed verification");
            match e {
                GoogleError::Unavailable(_) => unreachable_provider(),
                _ => refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_id_token",
                    "The app's ID token is not valid for this server.",
                ),
            }
        })?),
    };
    let server = client
        .exchange_server_code(&request.auth_code)
        .await
        .map_err(exchange_refusal)?;
    let grant = server.grant;
    if !mobile.app_client_ids.is_empty()
        && !server
            .authorized_party
            .as_ref()
            .is_some_and(|azp| mobile.app_client_ids.contains(azp))
    {
        tracing::warn!(azp = ?server.authorized_party, "POST /authcode: a code from an app that is not allowed");
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "unknown_app",
            "This app is not allowed to sign in here.",
        ));
    }
    if app_sub.as_ref().is_some_and(|s| *s != grant.profile.sub) {
        tracing::warn!("POST /authcode: the app's ID token names another user than the code");
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "id_token_mismatch",
            "The ID token and the code belong to different users.",
        ));
    }
    let client_id = client.config().client_id.clone();
    let (user, offline) = match state
        .vault
        .sign_in(&client_id, &grant)
        .await
        .map_err(|e| database_refusal(&e))?
    {
        SignIn::Stored { user, offline } => (user, offline),
        SignIn::Blocked(user) => {
            tracing::warn!(user_id = %user.user_id(), "POST /authcode: a blocked user");
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "account_blocked",
                "This account is blocked from signing in.",
            ));
        }
    };
    tracing::info!(user_id = %user.user_id(), client_id = %client_id, offline, "mobile sign-in");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "user_id": user.id,
            "email": user.email,
            "scopes": grant.scopes.split_whitespace().collect::<Vec<_>>(),
            "offline_access": offline,
        })))
}

/// The media type without parameters, lower case.
fn content_type(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("content-type")?.to_str().ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

fn parse(body: &[u8], json: bool) -> Option<Request> {
    let (mut code, mut platform, mut id_token) = (None, None, None);
    if json {
        let serde_json::Value::Object(map) = serde_json::from_slice(body).ok()? else {
            return None;
        };
        for (k, v) in map {
            let v = v.as_str()?.to_string();
            match k.as_str() {
                "authCode" => code = Some(v),
                "platform" => platform = Some(v),
                "idToken" => id_token = Some(v),
                _ => {}
            }
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            match &*k {
                "authCode" => code = Some(v.into_owned()),
                "platform" => platform = Some(v.into_owned()),
                "idToken" => id_token = Some(v.into_owned()),
                _ => {}
            }
        }
    }
    let platform = match platform.as_deref() {
        None | Some("") => None,
        Some("android") => Some(Platform::Android),
        Some("ios") => Some(Platform::Ios),
        Some(_) => return None,
    };
    Some(Request {
        auth_code: code.filter(|c| !c.is_empty())?,
        platform,
        id_token: id_token.filter(|t| !t.is_empty()),
    })
}

fn unreachable_provider() -> Refusal {
    refuse(
        StatusCode::BAD_GATEWAY,
        "provider_unavailable",
        "Google could not be reached. Try again shortly.",
    )
}

fn exchange_refusal(e: GoogleError) -> Refusal {
    match e {
        GoogleError::Rejected { error } if error == "invalid_client" => {
            tracing::error!("POST /authcode: the provider does not accept the server client's credentials (invalid_client): check the server client configuration");
            refuse(
                StatusCode::BAD_GATEWAY,
                "provider_refused",
                "Google refused this server's credentials.",
            )
        }
        GoogleError::Rejected { error } => {
            tracing::info!(%error, "POST /authcode: the provider refused the code");
            refuse(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "The code is not valid: it was used already, has expired, or was issued for another server.",
            )
        }
        GoogleError::InvalidIdToken(why) => {
            tracing::warn!(%why, "POST /authcode: the exchanged ID token failed verification");
            refuse(
                StatusCode::BAD_GATEWAY,
                "invalid_provider_response",
                "Google's answer could not be verified.",
            )
        }
        e => {
            tracing::warn!(error = %e, "POST /authcode: the provider is unavailable");
            unreachable_provider()
        }
    }
}

fn database_refusal(e: &crate::store::DbError) -> Refusal {
    tracing::error!(error = %e, "POST /authcode: the database failed");
    UNAVAILABLE
}
