//! `POST /token`: authorization_code and refresh_token grants.

use std::collections::{BTreeSet, HashMap};

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::errors::{oauth_error, Refusal};
use crate::faults::LogInfo;
use crate::keys::IdTokenInput;
use crate::model::ClientKind;
use crate::model::{scope_string, OPENID};
use crate::state::id_token;
use crate::state::take_fault;
use crate::state::{Shared, Store};

fn invalid_request(d: &str) -> Refusal {
    oauth_error(400, "invalid_request", d)
}

fn invalid_grant(d: &str) -> Refusal {
    oauth_error(400, "invalid_grant", d)
}

/// RFC 6749 §2.3.1 form-encodes id and secret before Basic; many clients do not. Decoding only
/// `%XX` (not `+`) accepts both.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// (client_id, client_secret) from HTTP Basic or the body; both at once is invalid_request.
fn client_credentials(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<(String, Option<String>), Refusal> {
    let basic = req
        .headers()
        .get("Authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
        .map(|b64| {
            let raw = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| {
                    s.split_once(':')
                        .map(|(i, p)| (percent_decode(i), percent_decode(p)))
                });
            raw.ok_or_else(|| {
                oauth_error(401, "invalid_client", "Malformed HTTP Basic credentials.")
            })
        });
    let in_body = form.contains_key("client_secret");
    match basic {
        Some(Err(e)) => Err(e),
        Some(Ok(_)) if in_body => Err(invalid_request(
            "Client authentication must use either HTTP Basic or the request body, not both.",
        )),
        Some(Ok((id, secret))) => {
            if form.get("client_id").is_some_and(|b| *b != id) {
                return Err(invalid_request(
                    "client_id in the body does not match HTTP Basic.",
                ));
            }
            Ok((id, Some(secret)))
        }
        None => match form.get("client_id").filter(|s| !s.is_empty()) {
            Some(id) => Ok((id.clone(), form.get("client_secret").cloned())),
            None => Err(invalid_request(
                "Could not determine client ID from request.",
            )),
        },
    }
}

fn authenticate(store: &Store, id: &str, secret: Option<&str>) -> Result<(), Refusal> {
    let Some(client) = store.clients.get(id) else {
        return Err(oauth_error(
            401,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    match (client.kind, secret) {
        (ClientKind::Web, Some(s)) if s == client.client_secret => Ok(()),
        (ClientKind::Web, None) => Err(invalid_request("client_secret is missing.")),
        (ClientKind::Web, Some(_)) => Err(oauth_error(401, "invalid_client", "Unauthorized")),
        // Installed (Android / iOS) clients have no secret to check.
        (_, None) => Ok(()),
        (_, Some(s)) if s.is_empty() || s == client.client_secret => Ok(()),
        (_, Some(_)) => Err(oauth_error(401, "invalid_client", "Unauthorized")),
    }
}

fn token_json(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            "Cache-Control",
            "no-cache, no-store, max-age=0, must-revalidate",
        ))
        .insert_header(("Pragma", "no-cache"))
        .content_type("application/json; charset=utf-8")
        .body(serde_json::to_string_pretty(&body).unwrap_or_default())
}

pub async fn token(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    let mut form = HashMap::new();
    let mut repeated = None;
    let is_json = req
        .headers()
        .get("Content-Type")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json {
        // Google's token endpoint also takes a JSON object of the same parameters.
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body) {
            Ok(obj) => {
                for (k, v) in obj {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    form.insert(k, v);
                }
            }
            Err(_) => return Err(invalid_request("Invalid JSON payload received.")),
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(&body).into_owned() {
            if form.insert(k.clone(), v).is_some() {
                repeated = Some(k);
            }
        }
    }
    let grant_type = form.get("grant_type").cloned();
    let credentials = client_credentials(&req, &form);
    let logged_client = match &credentials {
        Ok((id, _)) => Some(id.clone()),
        Err(_) => None,
    };
    note(&req, grant_type.clone(), logged_client);
    take_fault(&shared, "token").await?;
    let (client_id, secret) = credentials?;
    if let Some(k) = repeated {
        return Err(invalid_request(&format!("Parameter {k} is repeated.")));
    }
    authenticate(&shared.store(), &client_id, secret.as_deref())?;
    match grant_type.as_deref() {
        Some("authorization_code") => authorization_code(&shared, &client_id, &form),
        Some("refresh_token") => refresh(&shared, &client_id, &form),
        None | Some("") => Err(oauth_error(
            400,
            "unsupported_grant_type",
            "Invalid grant_type: ",
        )),
        Some(other) => Err(oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        )),
    }
}

fn note(req: &HttpRequest, grant_type: Option<String>, client_id: Option<String>) {
    req.extensions_mut().insert(LogInfo {
        grant_type,
        client_id,
    });
}

fn pkce_ok(challenge: &(String, String), verifier: &str) -> bool {
    let (c, method) = challenge;
    if method == "S256" {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == *c
    } else {
        verifier == c
    }
}

fn authorization_code(
    shared: &Shared,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<HttpResponse, Refusal> {
    let Some(code) = form.get("code").filter(|c| !c.is_empty()) else {
        return Err(invalid_request("Missing required parameter: code"));
    };
    let mut store = shared.store_mut();
    let Some(entry) = store.codes.get(code).cloned() else {
        return Err(invalid_grant("Malformed auth code."));
    };
    if entry.used {
        // Reuse: refuse, and revoke what the first redemption produced.
        if let Some(family) = entry.family {
            store.revoke_family(family);
        }
        return Err(invalid_grant("Bad Request"));
    }
    if entry.expires_at <= Utc::now() || store.is_disabled(&entry.email) {
        return Err(invalid_grant("Bad Request"));
    }
    if entry.client_id != client_id {
        return Err(oauth_error(400, "invalid_grant", "Unauthorized"));
    }
    let redirect_uri = match form.get("redirect_uri") {
        Some(r) => r.as_str(),
        None if entry.redirect_uri.is_empty() => "",
        None => return Err(invalid_request("Missing parameter: redirect_uri")),
    };
    if redirect_uri != entry.redirect_uri {
        return Err(oauth_error(400, "redirect_uri_mismatch", "Bad Request"));
    }
    if let Some(ch) = &entry.code_challenge {
        match form.get("code_verifier") {
            None => return Err(invalid_grant("Missing code verifier.")),
            Some(v) if !pkce_ok(ch, v) => return Err(invalid_grant("Invalid code verifier.")),
            Some(_) => {}
        }
    }
    if entry.combine {
        for r in store.refresh.values_mut() {
            if r.email == entry.email && r.client_id == client_id {
                r.scopes.extend(entry.scopes.iter().cloned());
            }
        }
    }
    let family = store.new_family();
    if let Some(e) = store.codes.get_mut(code) {
        e.used = true;
        e.family = Some(family);
    }
    let access = store.issue_access(
        &entry.email,
        client_id,
        &entry.scopes,
        family,
        shared.access_ttl,
    );
    let refresh = entry.issue_refresh.then(|| {
        // Offline access is now granted: later consents for this client issue no refresh token.
        if let Some(c) = store
            .consents
            .get_mut(&(entry.email.clone(), client_id.to_string()))
        {
            c.offline = true;
        }
        store.issue_refresh(&entry, family)
    });
    let Some(account) = store.account(&entry.email).cloned() else {
        return Err(invalid_grant("Account not found."));
    };
    drop(store);
    let mut body = json!({
        "access_token": access,
        "expires_in": shared.access_ttl.as_secs(),
        "scope": scope_string(&entry.scopes),
        "token_type": "Bearer",
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    if entry.scopes.contains(OPENID) {
        body["id_token"] = json!(id_token(
            shared,
            IdTokenInput {
                account: &account,
                aud: client_id,
                azp: entry.azp.as_deref().unwrap_or(client_id),
                scopes: &entry.scopes,
                nonce: entry.nonce.as_deref(),
                access_token: Some(&access),
                auth_time: Some(entry.auth_time.timestamp()),
            }
        ));
    }
    Ok(token_json(body))
}

fn refresh(
    shared: &Shared,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<HttpResponse, Refusal> {
    let Some(token) = form.get("refresh_token").filter(|c| !c.is_empty()) else {
        return Err(invalid_request("Missing required parameter: refresh_token"));
    };
    let mut store = shared.store_mut();
    let Some(entry) = store.refresh.get(token).cloned() else {
        return Err(invalid_grant("Token has been expired or revoked."));
    };
    // A disabled account's tokens are refused (and work again once it is enabled).
    if store.is_disabled(&entry.email) {
        return Err(invalid_grant("Token has been expired or revoked."));
    }
    if entry.client_id != client_id {
        return Err(oauth_error(400, "unauthorized_client", "Unauthorized"));
    }
    let scopes: BTreeSet<String> = match form.get("scope").filter(|s| !s.is_empty()) {
        None => entry.scopes.clone(),
        Some(s) => {
            let wanted: BTreeSet<String> = s
                .split(' ')
                .filter(|x| !x.is_empty())
                .map(crate::model::normalize_scope)
                .collect();
            if !wanted.is_subset(&entry.scopes) {
                return Err(oauth_error(400, "invalid_scope", "Some requested scopes were invalid. They are not a subset of the originally granted scopes."));
            }
            wanted
        }
    };
    let access = store.issue_access(
        &entry.email,
        client_id,
        &scopes,
        entry.family,
        shared.access_ttl,
    );
    let Some(account) = store.account(&entry.email).cloned() else {
        return Err(invalid_grant("Token has been expired or revoked."));
    };
    drop(store);
    let mut body = json!({
        "access_token": access,
        "expires_in": shared.access_ttl.as_secs(),
        "scope": scope_string(&scopes),
        "token_type": "Bearer",
    });
    if scopes.contains(OPENID) {
        body["id_token"] = json!(id_token(
            shared,
            IdTokenInput {
                account: &account,
                aud: client_id,
                azp: client_id,
                scopes: &scopes,
                nonce: None,
                access_token: Some(&access),
                auth_time: Some(entry.auth_time.timestamp()),
            }
        ));
    }
    Ok(token_json(body))
}
