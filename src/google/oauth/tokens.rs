//! The token calls: the authorization URL (state, nonce, PKCE, offline access, incremental
//! scopes) and the response's issuer check, the code exchange (and a mobile app's
//! `serverAuthCode`, redeemed with `redirect_uri=""`), refresh and revocation.

use std::time::{Duration, Instant};

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, NonceVerifier, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RequestTokenError, Scope, TokenResponse,
};

use super::OAuth;
use crate::google::GoogleError;
use crate::secret::Token;
use crate::store::users::Profile;

/// What the authorization redirect needs remembered in the session.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct PendingAuth {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Options for one authorization request.
#[derive(Debug, Default, Clone)]
pub struct AuthRequest<'a> {
    pub scopes: &'a [&'a str],
    /// Force the consent screen (needed to get a refresh token again).
    pub force_consent: bool,
    pub login_hint: Option<&'a str>,
}

/// The useful parts of a successful code exchange.
#[derive(Debug)]
pub struct Grant {
    pub profile: Profile,
    pub access_token: Token,
    pub refresh_token: Option<Token>,
    pub expires_at: chrono::NaiveDateTime,
    /// Granted scopes, space separated, as the provider reported them.
    pub scopes: String,
}

impl OAuth {
    /// Builds the authorization URL (state, nonce, PKCE S256, offline access, incremental).
    pub async fn authorize_url(
        &self,
        req: &AuthRequest<'_>,
    ) -> Result<(url::Url, PendingAuth), GoogleError> {
        let (client, discovered) = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut auth = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("include_granted_scopes", "true");
        for scope in req.scopes.iter().filter(|s| **s != "openid") {
            auth = auth.add_scope(Scope::new((*scope).to_string()));
        }
        // A standard provider issues a refresh token only for `offline_access`, and only with
        // the consent prompt (Core 11); Google's discovery does not list the scope and keys
        // offline access on `access_type` instead.
        let offline_scope = discovered.offline_access_scope();
        if offline_scope {
            auth = auth.add_scope(Scope::new("offline_access".into()));
        }
        if req.force_consent || offline_scope {
            auth = auth.add_extra_param("prompt", "consent");
        }
        if let Some(hint) = req.login_hint {
            auth = auth.add_extra_param("login_hint", hint);
        }
        let (url, state, nonce) = auth.url();
        Ok((
            url,
            PendingAuth {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
            },
        ))
    }

    /// Checks the `iss` of an authorization response (RFC 9207, the mix-up defence): when
    /// present it must be our provider's issuer, and a provider that promises it must send it.
    pub async fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), GoogleError> {
        let (_, discovered) = self.client().await?;
        let expected = discovered.metadata.issuer().as_str();
        match iss {
            Some(iss) if iss == expected => Ok(()),
            Some(_) => Err(GoogleError::WrongIssuer),
            None if discovered.iss_parameter_supported => Err(GoogleError::WrongIssuer),
            None => Ok(()),
        }
    }

    /// Exchanges `code` and verifies the ID token (signature, iss, aud, exp, nonce, at_hash).
    pub async fn exchange(&self, code: &str, pending: PendingAuth) -> Result<Grant, GoogleError> {
        let nonce = Nonce::new(pending.nonce);
        let (grant, _) = self
            .redeem(
                code,
                Some(PkceCodeVerifier::new(pending.pkce_verifier)),
                |n| (&nonce).verify(n),
            )
            .await?;
        Ok(grant)
    }

    /// Redeems a `serverAuthCode` a mobile app obtained for this (server) client: no PKCE, and
    /// `redirect_uri` sent as the empty string, as Google asks when the code came from an app.
    /// The ID token is verified (signature, iss, aud = this client, exp, at_hash); its `azp`,
    /// the app's own client id, is returned for the caller to check.
    pub async fn exchange_server_code(&self, code: &str) -> Result<ServerGrant, GoogleError> {
        let (grant, authorized_party) = self.redeem(code, None, |_| Ok(())).await?;
        Ok(ServerGrant {
            grant,
            authorized_party,
        })
    }

    async fn redeem(
        &self,
        code: &str,
        pkce: Option<PkceCodeVerifier>,
        nonce: impl Fn(Option<&Nonce>) -> Result<(), String>,
    ) -> Result<(Grant, Option<String>), GoogleError> {
        let (client, _) = self.client().await?;
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| GoogleError::Unavailable(e.into()))?;
        request = match pkce {
            Some(verifier) => request.set_pkce_verifier(verifier),
            None => request,
        };
        if self.config.redirect_uri.is_empty() {
            request = request.add_extra_param("redirect_uri", "");
        }
        let response = request
            .request_async(&Metered(self.http()))
            .await
            .map_err(token_error)?;

        let (profile, authorized_party) = self
            .verified_identity(&client, response.id_token(), response.access_token(), nonce)
            .await?;
        Ok((
            Grant {
                profile,
                access_token: Token::new(response.access_token().secret().clone()),
                refresh_token: response
                    .refresh_token()
                    .map(|t| Token::new(t.secret().clone())),
                expires_at: expiry(response.expires_in()),
                scopes: joined(response.scopes()).unwrap_or_default(),
            },
            authorized_party,
        ))
    }
}

/// A redeemed mobile `serverAuthCode`.
#[derive(Debug)]
pub struct ServerGrant {
    pub grant: Grant,
    /// The ID token's `azp`: the client id of the app that obtained the code.
    pub authorized_party: Option<String>,
}

/// A new access token bought with a refresh token.
#[derive(Debug)]
pub struct Refreshed {
    pub access_token: Token,
    /// Present only when the provider rotates refresh tokens.
    pub refresh_token: Option<Token>,
    pub expires_at: chrono::NaiveDateTime,
    pub scopes: Option<String>,
}

impl OAuth {
    /// Redeems a refresh token at the token endpoint.
    pub async fn refresh(&self, refresh_token: &Token) -> Result<Refreshed, GoogleError> {
        let (client, _) = self.client().await?;
        let response = client
            .exchange_refresh_token(&openidconnect::RefreshToken::new(
                refresh_token.expose().to_string(),
            ))
            .map_err(|e| GoogleError::Unavailable(e.into()))?
            .request_async(&Metered(self.http()))
            .await
            .map_err(token_error)?;
        Ok(Refreshed {
            access_token: Token::new(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|t| Token::new(t.secret().clone())),
            expires_at: expiry(response.expires_in()),
            scopes: joined(response.scopes()),
        })
    }

    /// Revokes a token at the provider's revocation endpoint (RFC 7009; Google ends the whole
    /// grant). A token the provider no longer knows counts as revoked.
    pub async fn revoke(&self, token: &Token) -> Result<(), GoogleError> {
        let (_, discovered) = self.client().await?;
        let endpoint = discovered.revocation_endpoint.clone().ok_or_else(|| {
            GoogleError::Unavailable(anyhow::anyhow!(
                "the provider's discovery document lists no revocation_endpoint"
            ))
        })?;
        let request = self
            .http()
            .post(endpoint)
            .form(&[("token", token.expose())]);
        let response = crate::google::send("revoke", request).await.map_err(|e| {
            GoogleError::Unavailable(anyhow::anyhow!("revocation request failed: {e}"))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        #[derive(serde::Deserialize)]
        struct OAuthError {
            error: String,
        }
        match response.json::<OAuthError>().await {
            // Already revoked or expired there: nothing is left to revoke.
            Ok(e) if status == 400 && e.error == "invalid_token" => Ok(()),
            Ok(e) => Err(GoogleError::Rejected { error: e.error }),
            Err(_) => Err(GoogleError::Unavailable(anyhow::anyhow!(
                "the revocation endpoint answered {status}"
            ))),
        }
    }
}

/// When a token with this `expires_in` expires (Google's 3599 s when absent; at most a day, so
/// a nonsensical value cannot overflow the clock).
fn expiry(expires_in: Option<Duration>) -> chrono::NaiveDateTime {
    let secs = expires_in.map_or(3599, |d| d.as_secs().min(86_400));
    crate::store::now() + chrono::Duration::seconds(secs as i64)
}

/// Scopes as one space-separated string.
fn joined(scopes: Option<&Vec<Scope>>) -> Option<String> {
    scopes.map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
}

/// Whether a token response that failed to parse is nonetheless a JSON object with an ID token.
fn carries_id_token(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("access_token").is_some() && v.get("id_token").is_some())
}

fn token_error<RE: std::error::Error + Send + Sync + 'static>(
    e: RequestTokenError<
        RE,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> GoogleError {
    match e {
        // Error codes that say the provider is in trouble, not that our request was wrong
        // (RFC 6749's, and Google's own for 5xx and 429 answers).
        RequestTokenError::ServerResponse(r)
            if matches!(
                r.error().as_ref(),
                "server_error"
                    | "temporarily_unavailable"
                    | "internal_failure"
                    | "rate_limit_exceeded"
            ) =>
        {
            GoogleError::Unavailable(anyhow::anyhow!(
                "the token endpoint answered {}",
                r.error().as_ref()
            ))
        }
        RequestTokenError::ServerResponse(r) => GoogleError::Rejected {
            error: r.error().to_string(),
        },
        // A token response with an ID token that does not even parse (say, without `sub`)
        // failed verification like any other bad ID token.
        RequestTokenError::Parse(_, body) if carries_id_token(&body) => {
            GoogleError::InvalidIdToken("the ID token is malformed".into())
        }
        other => GoogleError::Unavailable(anyhow::anyhow!("token request failed: {other}")),
    }
}

/// The provider's HTTP client as openidconnect's requests (the token endpoint) use it, each
/// call counted as a call to `token`.
struct Metered<'a>(&'a reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Metered<'_> {
    type Error = openidconnect::HttpClientError<reqwest::Error>;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, Self::Error>>
                + Send
                + Sync
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        let started = Instant::now();
        let call = self.0.call(request);
        Box::pin(async move {
            let result = call.await;
            let status = result.as_ref().ok().map(|r| r.status().as_u16());
            crate::meters::upstream("token", status, started.elapsed());
            result
        })
    }
}
