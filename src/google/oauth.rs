//! Authorization URL, code exchange and ID-token verification (openidconnect crate).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata,
};
use openidconnect::NonceVerifier;
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::RwLock;

use super::{GoogleConfig, GoogleError};
use crate::secret::Token;
use crate::store::users::Profile;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long discovery (and the keys it fetched) is trusted at most before it is fetched again;
/// sooner when the key set's `Cache-Control: max-age` says so.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// The shortest time keys are kept, whatever `Cache-Control` says, and the least time between
/// two fetches caused by an ID token naming a key we do not know (anyone can send one).
const MIN_KEYS_TTL: Duration = Duration::from_secs(60);

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

/// The OAuth/OIDC side of the provider, for one OAuth client: the app's web client, or one of
/// the server clients mobile apps hand their codes to ([`OAuth::for_client`]). Clients of one
/// provider share its discovery document and keys.
pub struct OAuth {
    config: GoogleConfig,
    provider: Arc<Provider>,
}

/// The provider's discovery document and keys, fetched once for every client.
struct Provider {
    issuer: url::Url,
    http: reqwest::Client,
    /// The provider as last discovered, and until when it is trusted.
    discovered: RwLock<Option<(Instant, Arc<Discovered>)>>,
    /// When an unknown key last made us fetch the keys again.
    last_key_refetch: std::sync::Mutex<Option<Instant>>,
}

/// What discovery found: the OpenID metadata with the provider's keys, and the revocation
/// endpoint when the provider lists one (Google does; it is not part of OpenID Connect
/// Discovery itself, RFC 8414 adds it).
struct Discovered {
    metadata: CoreProviderMetadata,
    revocation_endpoint: Option<url::Url>,
    /// RFC 9207: the provider names itself (`iss`) in every authorization response.
    iss_parameter_supported: bool,
}

impl Discovered {
    /// Whether refresh tokens come from the standard `offline_access` scope (OpenID Connect
    /// Core 11) rather than Google's `access_type=offline`: the document lists the scope.
    fn offline_access_scope(&self) -> bool {
        self.metadata
            .scopes_supported()
            .is_some_and(|s| s.iter().any(|s| s.as_str() == "offline_access"))
    }
}

impl OAuth {
    pub fn new(config: GoogleConfig, http: reqwest::Client) -> Self {
        let provider = Arc::new(Provider {
            issuer: config.issuer.clone(),
            http,
            discovered: RwLock::new(None),
            last_key_refetch: std::sync::Mutex::new(None),
        });
        Self { config, provider }
    }

    /// The same provider for another OAuth client (a mobile app's server client), sharing the
    /// discovery document and keys. It has no redirect URI: codes from mobile apps are
    /// redeemed with `redirect_uri` set to the empty string.
    pub fn for_client(&self, client_id: String, client_secret: SecretString) -> Self {
        Self {
            config: GoogleConfig {
                client_id,
                client_secret,
                redirect_uri: String::new(),
                ..self.config.clone()
            },
            provider: self.provider.clone(),
        }
    }

    pub fn config(&self) -> &GoogleConfig {
        &self.config
    }

    /// Makes sure the provider's discovery document and keys are at hand.
    pub async fn ready(&self) -> Result<(), GoogleError> {
        self.provider.get().await.map(|_| ())
    }

    /// This client as the discovered provider knows it.
    async fn client(&self) -> Result<(Client, Arc<Discovered>), GoogleError> {
        let discovered = self.provider.get().await?;
        Ok((self.client_of(&discovered)?, discovered))
    }

    fn client_of(&self, discovered: &Discovered) -> Result<Client, GoogleError> {
        let client = CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose_secret().to_string(),
            )),
        );
        if self.config.redirect_uri.is_empty() {
            return Ok(client);
        }
        let redirect = RedirectUrl::new(self.config.redirect_uri.clone())
            .map_err(|e| GoogleError::Unavailable(anyhow::anyhow!("the redirect URI: {e}")))?;
        Ok(client.set_redirect_uri(redirect))
    }

    /// Fetches discovery again (e.g. an ID token names a key we do not know yet).
    async fn rediscover(&self) -> Result<Client, GoogleError> {
        let discovered = self.provider.rediscover().await?;
        self.client_of(&discovered)
    }
}

impl Provider {
    /// The discovered provider, fetched again once it expires ([`DISCOVERY_TTL`], or the keys'
    /// `Cache-Control`). When fetching again fails, the previous one is kept (with a warning)
    /// rather than failing every sign-in.
    async fn get(&self) -> Result<Arc<Discovered>, GoogleError> {
        let cached = self.discovered.read().await.clone();
        if let Some((until, client)) = &cached {
            if Instant::now() < *until {
                return Ok(client.clone());
            }
        }
        match self.discover().await {
            Ok((client, until)) => {
                *self.discovered.write().await = Some((until, client.clone()));
                Ok(client)
            }
            Err(e) => match cached {
                Some((_, stale)) => {
                    tracing::warn!(error = %e, "discovery failed; keeping the previous provider metadata");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }

    /// Fetches discovery and keys again because an ID token names a key we do not know (the
    /// provider may have rotated its keys) — at most once a [`MIN_KEYS_TTL`]: otherwise the
    /// cached provider, whose keys will refuse the token.
    async fn rediscover(&self) -> Result<Arc<Discovered>, GoogleError> {
        let due = {
            let mut last = self
                .last_key_refetch
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|at| at.elapsed() >= MIN_KEYS_TTL);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if !due {
            tracing::warn!("an ID token names an unknown key; keys were fetched moments ago");
            return self.get().await;
        }
        let (client, until) = self.discover().await?;
        *self.discovered.write().await = Some((until, client.clone()));
        Ok(client)
    }

    /// Fetches the discovery document and the keys; returns them with until when to trust them.
    async fn discover(&self) -> Result<(Arc<Discovered>, Instant), GoogleError> {
        let unavailable =
            |e: anyhow::Error| GoogleError::Unavailable(e.context("discovery failed"));
        let issuer = IssuerUrl::new(self.issuer.as_str().trim_end_matches('/').to_string())
            .map_err(|e| unavailable(e.into()))?;
        // The document is fetched here rather than by `discover_async` so that the one fetch
        // yields both the OpenID metadata and the revocation endpoint beside it.
        let url = issuer
            .join(".well-known/openid-configuration")
            .map_err(|e| unavailable(e.into()))?;
        let request = self.http.get(url).header("Accept", "application/json");
        let body = super::send("discovery", request)
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(e.into()))?
            .bytes()
            .await
            .map_err(|e| unavailable(e.into()))?;
        let metadata: CoreProviderMetadata =
            serde_json::from_slice(&body).map_err(|e| unavailable(e.into()))?;
        if metadata.issuer() != &issuer {
            return Err(unavailable(anyhow::anyhow!(
                "the discovery document names issuer {} instead of {}",
                metadata.issuer().as_str(),
                issuer.as_str()
            )));
        }
        #[derive(serde::Deserialize)]
        struct Extra {
            revocation_endpoint: Option<url::Url>,
            #[serde(default)]
            authorization_response_iss_parameter_supported: bool,
        }
        let extra: Extra = serde_json::from_slice(&body).map_err(|e| unavailable(e.into()))?;
        let request = self
            .http
            .get(metadata.jwks_uri().url().clone())
            .header("Accept", "application/json");
        let keys = super::send("jwks", request)
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(anyhow::anyhow!("fetching the provider's keys: {e}")))?;
        let ttl = max_age(keys.headers())
            .unwrap_or(DISCOVERY_TTL)
            .clamp(MIN_KEYS_TTL, DISCOVERY_TTL);
        let body = keys
            .bytes()
            .await
            .map_err(|e| unavailable(anyhow::anyhow!("reading the provider's keys: {e}")))?;
        let jwks: openidconnect::core::CoreJsonWebKeySet = serde_json::from_slice(&body)
            .map_err(|e| unavailable(anyhow::anyhow!("the provider's keys: {e}")))?;
        Ok((
            Arc::new(Discovered {
                metadata: metadata.set_jwks(jwks),
                revocation_endpoint: extra.revocation_endpoint,
                iss_parameter_supported: extra.authorization_response_iss_parameter_supported,
            }),
            Instant::now() + ttl,
        ))
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

/// The `max-age` of a `Cache-Control` header.
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|d| d.trim().strip_prefix("max-age=")?.trim().parse().ok())
        .map(Duration::from_secs)
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
            .request_async(&Metered(&self.provider.http))
            .await
            .map_err(token_error)?;

        let id_token = response
            .id_token()
            .ok_or_else(|| GoogleError::InvalidIdToken("no id_token in the response".into()))?;
        let claims = match verify(&client, id_token, &nonce, response.access_token()) {
            Err(VerifyError::UnknownKey) => {
                // The provider may have rotated its keys since discovery: fetch them once more.
                let fresh = self.rediscover().await?;
                verify(&fresh, id_token, &nonce, response.access_token())
            }
            other => other,
        }
        .map_err(|e| GoogleError::InvalidIdToken(e.to_string()))?;
        let profile = match profile_of(&claims) {
            Some(profile) => profile,
            None => {
                self.profile_from_userinfo(&client, &claims, response.access_token())
                    .await?
            }
        };
        let authorized_party = claims.authorized_party().map(|p| p.as_str().to_string());
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

    /// Verifies an ID token a mobile app received from Google Sign-In (signature, iss, exp, and
    /// `aud` = this client); no nonce is checked, as only the app knows it. Returns its `sub`.
    pub async fn verify_app_id_token(&self, id_token: &str) -> Result<String, GoogleError> {
        let invalid = |e: &dyn std::fmt::Display| GoogleError::InvalidIdToken(e.to_string());
        let token: openidconnect::core::CoreIdToken = id_token.parse().map_err(|e| invalid(&e))?;
        let (client, _) = self.client().await?;
        let any_nonce = |_: Option<&Nonce>| Ok(());
        let claims = match token.claims(&id_token_verifier(&client), any_nonce) {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.rediscover().await?;
                let claims = token
                    .claims(&id_token_verifier(&fresh), any_nonce)
                    .map_err(|e| invalid(&e))?
                    .clone();
                claims
            }
            other => other.map_err(|e| invalid(&e))?.clone(),
        };
        Ok(claims.subject().as_str().to_string())
    }
}

/// The audiences an ID token names, read **without** verifying it: only to choose which of our
/// clients should verify it.
pub fn unverified_audiences(id_token: &str) -> Vec<String> {
    let Ok(token) = id_token.parse::<openidconnect::core::CoreIdToken>() else {
        return vec![];
    };
    let verifier = openidconnect::core::CoreIdTokenVerifier::new_insecure_without_verification();
    token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .map(|c| {
            c.audiences()
                .iter()
                .map(|a| a.as_str().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A redeemed mobile `serverAuthCode`.
#[derive(Debug)]
pub struct ServerGrant {
    pub grant: Grant,
    /// The ID token's `azp`: the client id of the app that obtained the code.
    pub authorized_party: Option<String>,
}

/// The verified identity an ID token carries; `None` when it lacks the email (standard
/// providers put profile claims in the userinfo response, Google in the ID token).
fn profile_of(claims: &CoreIdTokenClaims) -> Option<Profile> {
    let email = claims.email()?.as_str().to_string();
    Some(Profile {
        issuer: claims.issuer().as_str().to_string(),
        sub: claims.subject().as_str().to_string(),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|| email.clone()),
        email_verified: claims.email_verified().unwrap_or(false),
        picture: claims
            .picture()
            .and_then(|p| p.get(None))
            .map(|p| p.as_str().to_string()),
        email,
    })
}

/// The claims of a userinfo response the app uses (OpenID Connect Core 5.3.2).
#[derive(serde::Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    /// A boolean, though some providers send the string "true".
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    name: Option<String>,
    picture: Option<String>,
}

impl OAuth {
    /// The profile from the userinfo endpoint, for an ID token without profile claims. Its
    /// `sub` must be the ID token's (Core 5.3.2: otherwise the response must not be used).
    async fn profile_from_userinfo(
        &self,
        client: &Client,
        claims: &CoreIdTokenClaims,
        access_token: &openidconnect::AccessToken,
    ) -> Result<Profile, GoogleError> {
        let invalid = |why: &str| GoogleError::InvalidIdToken(why.to_string());
        let endpoint = client.user_info_url().ok_or_else(|| {
            invalid("no email claim, and the provider lists no userinfo_endpoint")
        })?;
        let request = self
            .provider
            .http
            .get(endpoint.url().clone())
            .bearer_auth(access_token.secret())
            .header("Accept", "application/json");
        let response = super::send("userinfo", request).await.map_err(|e| {
            GoogleError::Unavailable(anyhow::anyhow!("userinfo request failed: {e}"))
        })?;
        if !response.status().is_success() {
            return Err(GoogleError::Unavailable(anyhow::anyhow!(
                "the userinfo endpoint answered {}",
                response.status()
            )));
        }
        let info: UserInfo = response
            .json()
            .await
            .map_err(|_| invalid("the userinfo response is not the JSON object expected"))?;
        if info.sub != claims.subject().as_str() {
            return Err(invalid("the userinfo response names another subject"));
        }
        let email = info
            .email
            .ok_or_else(|| invalid("no email claim in the ID token or the userinfo response"))?;
        let email_verified = match info.email_verified {
            Some(serde_json::Value::Bool(b)) => b,
            Some(serde_json::Value::String(s)) => s == "true",
            _ => false,
        };
        Ok(Profile {
            issuer: claims.issuer().as_str().to_string(),
            sub: info.sub,
            name: info.name.unwrap_or_else(|| email.clone()),
            email_verified,
            picture: info.picture,
            email,
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum VerifyError {
    #[error("the ID token is signed with a key the provider does not list")]
    UnknownKey,
    #[error("{0}")]
    Invalid(String),
}

/// Verifies an ID token's signature and claims (iss, aud, azp, exp, nonce) and its at_hash.
fn verify(
    client: &Client,
    id_token: &openidconnect::core::CoreIdToken,
    nonce: impl Fn(Option<&Nonce>) -> Result<(), String>,
    access_token: &openidconnect::AccessToken,
) -> Result<CoreIdTokenClaims, VerifyError> {
    use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
    let verifier = id_token_verifier(client);
    let claims = id_token.claims(&verifier, nonce).map_err(|e| match e {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => VerifyError::UnknownKey,
        other => VerifyError::Invalid(other.to_string()),
    })?;
    if let Some(expected) = claims.access_token_hash() {
        let invalid = |e: &dyn std::fmt::Display| VerifyError::Invalid(e.to_string());
        let alg = id_token.signing_alg().map_err(|e| invalid(&e))?;
        let key = id_token.signing_key(&verifier).map_err(|e| invalid(&e))?;
        let actual =
            AccessTokenHash::from_token(access_token, alg, key).map_err(|e| invalid(&e))?;
        if &actual != expected {
            return Err(VerifyError::Invalid("at_hash does not match".into()));
        }
    }
    Ok(claims.clone())
}

/// How far ahead of our clock a provider's may run.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The ID-token verifier: signature with the provider's keys (RS256 only: no `none`, no HMAC
/// keyed with something public), iss, aud/azp, exp — and an `iat` that is not in the future.
fn id_token_verifier(client: &Client) -> openidconnect::core::CoreIdTokenVerifier<'_> {
    client
        .id_token_verifier()
        .set_allowed_algs([openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
        .set_issue_time_verifier_fn(|iat| {
            if iat > chrono::Utc::now() + CLOCK_SKEW {
                Err(format!("issued in the future ({iat})"))
            } else {
                Ok(())
            }
        })
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
            .request_async(&Metered(&self.provider.http))
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
}

impl OAuth {
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
            .provider
            .http
            .post(endpoint)
            .form(&[("token", token.expose())]);
        let response = super::send("revoke", request).await.map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_max_age_is_read_from_cache_control() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(max_age(&headers), None);
        headers.insert(
            reqwest::header::CACHE_CONTROL,
            "public, max-age=19800, must-revalidate, no-transform"
                .parse()
                .unwrap(),
        );
        assert_eq!(max_age(&headers), Some(Duration::from_secs(19800)));
        headers.insert(reqwest::header::CACHE_CONTROL, "no-cache".parse().unwrap());
        assert_eq!(max_age(&headers), None);
    }
}
