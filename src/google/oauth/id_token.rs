//! ID-token verification: signature with the provider's keys (fetched once more when a token
//! names a key they do not list), iss, aud/azp, exp, iat, nonce and at_hash; the verified
//! profile, from the token or — for providers that keep profile claims out of it — from the
//! userinfo endpoint.

use openidconnect::core::{CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier};
use openidconnect::{AccessToken, AccessTokenHash, Nonce};

use super::{Client, OAuth};
use crate::google::GoogleError;
use crate::store::users::Profile;

/// How far ahead of our clock a provider's may run.
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

#[derive(Debug, thiserror::Error)]
enum VerifyError {
    #[error("the ID token is signed with a key the provider does not list")]
    UnknownKey,
    #[error("{0}")]
    Invalid(String),
}

impl From<openidconnect::ClaimsVerificationError> for VerifyError {
    fn from(e: openidconnect::ClaimsVerificationError) -> Self {
        use openidconnect::{ClaimsVerificationError, SignatureVerificationError};
        match e {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => Self::UnknownKey,
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl OAuth {
    /// The identity a token response's ID token vouches for, verified (signature, iss, aud,
    /// azp, exp, `nonce`, at_hash against `access_token`), with its `azp`.
    pub(super) async fn verified_identity(
        &self,
        client: &Client,
        id_token: Option<&CoreIdToken>,
        access_token: &AccessToken,
        nonce: impl Fn(Option<&Nonce>) -> Result<(), String>,
    ) -> Result<(Profile, Option<String>), GoogleError> {
        let id_token = id_token
            .ok_or_else(|| GoogleError::InvalidIdToken("no id_token in the response".into()))?;
        let claims = self
            .with_fresh_keys_on_miss(client, |c| verify(c, id_token, &nonce, access_token))
            .await?;
        let profile = match profile_of(&claims) {
            Some(profile) => profile,
            None => {
                self.profile_from_userinfo(client, &claims, access_token)
                    .await?
            }
        };
        let authorized_party = claims.authorized_party().map(|p| p.as_str().to_string());
        Ok((profile, authorized_party))
    }

    /// Verifies an ID token a mobile app received from Google Sign-In (signature, iss, exp, and
    /// `aud` = this client); no nonce is checked, as only the app knows it. Returns its `sub`.
    pub async fn verify_app_id_token(&self, id_token: &str) -> Result<String, GoogleError> {
        let token: CoreIdToken = id_token
            .parse()
            .map_err(|e: serde_json::Error| GoogleError::InvalidIdToken(e.to_string()))?;
        let (client, _) = self.client().await?;
        let any_nonce = |_: Option<&Nonce>| Ok(());
        let claims = self
            .with_fresh_keys_on_miss(&client, |c| {
                Ok(token.claims(&id_token_verifier(c), any_nonce)?.clone())
            })
            .await?;
        Ok(claims.subject().as_str().to_string())
    }

    /// Runs `check` with `client`'s keys and, when the token names a key they do not list,
    /// once more with the keys fetched again (the provider may have rotated them since
    /// discovery).
    async fn with_fresh_keys_on_miss<T>(
        &self,
        client: &Client,
        check: impl Fn(&Client) -> Result<T, VerifyError>,
    ) -> Result<T, GoogleError> {
        match check(client) {
            Err(VerifyError::UnknownKey) => check(&self.rediscover().await?),
            other => other,
        }
        .map_err(|e| GoogleError::InvalidIdToken(e.to_string()))
    }

    /// The profile from the userinfo endpoint, for an ID token without profile claims. Its
    /// `sub` must be the ID token's (Core 5.3.2: otherwise the response must not be used).
    async fn profile_from_userinfo(
        &self,
        client: &Client,
        claims: &CoreIdTokenClaims,
        access_token: &AccessToken,
    ) -> Result<Profile, GoogleError> {
        let invalid = |why: &str| GoogleError::InvalidIdToken(why.to_string());
        let endpoint = client.user_info_url().ok_or_else(|| {
            invalid("no email claim, and the provider lists no userinfo_endpoint")
        })?;
        let request = self
            .http()
            .get(endpoint.url().clone())
            .bearer_auth(access_token.secret())
            .header("Accept", "application/json");
        let response = crate::google::send("userinfo", request)
            .await
            .map_err(|e| {
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

/// The audiences an ID token names, read **without** verifying it: only to choose which of our
/// clients should verify it.
pub fn unverified_audiences(id_token: &str) -> Vec<String> {
    let Ok(token) = id_token.parse::<CoreIdToken>() else {
        return vec![];
    };
    let verifier = CoreIdTokenVerifier::new_insecure_without_verification();
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

/// Verifies an ID token's signature and claims (iss, aud, azp, exp, nonce) and its at_hash.
fn verify(
    client: &Client,
    id_token: &CoreIdToken,
    nonce: impl Fn(Option<&Nonce>) -> Result<(), String>,
    access_token: &AccessToken,
) -> Result<CoreIdTokenClaims, VerifyError> {
    let verifier = id_token_verifier(client);
    let claims = id_token.claims(&verifier, nonce)?;
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

/// The ID-token verifier: signature with the provider's keys (RS256 only: no `none`, no HMAC
/// keyed with something public), iss, aud/azp, exp — and an `iat` that is not in the future.
fn id_token_verifier(client: &Client) -> CoreIdTokenVerifier<'_> {
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
