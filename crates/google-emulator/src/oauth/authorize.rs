//! `GET|POST /o/oauth2/v2/auth`: account chooser, granular consent, code issuance.

use std::collections::BTreeSet;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;

use super::authreq::{validate, AuthRequest};
use crate::errors::error_page;
use crate::errors::Refusal;
use crate::faults::LogInfo;
use crate::model::{is_basic, normalize_scope, scope_string, OFFLINE_ACCESS};
use crate::state::formtoken;
use crate::state::{random_token, take_fault};
use crate::state::{CodeEntry, Shared, Store};

pub const ACCOUNTS_COOKIE: &str = "GEMU_ACCOUNTS";

struct AccountRow {
    email: String,
    name: String,
    local: String,
    checked: bool,
}

struct ScopeRow {
    scope: String,
    testid: String,
    description: String,
}

#[derive(Template)]
#[template(path = "emulator/consent.html")]
struct ConsentPage {
    action: String,
    csrf_field: &'static str,
    csrf_token: String,
    client_id: String,
    hidden: Vec<(String, String)>,
    accounts: Vec<AccountRow>,
    basic: Vec<String>,
    scopes: Vec<ScopeRow>,
}

fn describe(scope: &str) -> String {
    let last = scope.rsplit('/').next().unwrap_or(scope);
    match (scope, last) {
        (OFFLINE_ACCESS, _) => "Keep access to what you allow here, also while you are not using the app".into(),
        ("https://mail.google.com/", _) => "Read, compose, send and permanently delete all your email from Gmail".into(),
        (_, "drive") => "See, edit, create and delete all of your Google Drive files".into(),
        (_, "drive.readonly") => "See and download all your Google Drive files".into(),
        (_, "drive.metadata.readonly") => "See information about your Google Drive files".into(),
        (_, "drive.metadata") => "View and manage metadata of files in your Google Drive".into(),
        (_, "drive.file") => "See, edit, create and delete only the specific Google Drive files you use with this app".into(),
        (_, "gmail.readonly") => "View your email messages and settings".into(),
        (_, "gmail.metadata") => "View your email message metadata such as labels and headers, but not the email body".into(),
        (_, "gmail.modify") => "Read, compose and send emails from your Gmail account".into(),
        _ => format!("Access {scope}"),
    }
}

fn testid(scope: &str) -> String {
    let trimmed = scope.trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    format!("scope-{last}")
}

/// The accounts remembered in this browser (most recent first).
fn remembered(req: &HttpRequest) -> Vec<String> {
    req.cookie(ACCOUNTS_COOKIE)
        .and_then(|c| URL_SAFE_NO_PAD.decode(c.value()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| {
            s.split('\n')
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn accounts_cookie(mut list: Vec<String>, email: &str) -> Cookie<'static> {
    list.retain(|e| !e.eq_ignore_ascii_case(email));
    list.insert(0, email.to_string());
    list.truncate(10);
    Cookie::build(ACCOUNTS_COOKIE, URL_SAFE_NO_PAD.encode(list.join("\n")))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}

/// The redirect back to the client with `pairs` in the query; `oidc-strict` adds RFC 9207's
/// `iss`, so a client talking to several providers can tell which one answered.
fn redirect_with(shared: &Shared, req: &AuthRequest, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut pairs = pairs.to_vec();
    if shared.profile().is_strict() {
        pairs.push(("iss", shared.issuer.as_str()));
    }
    let location = match url::Url::parse(&req.redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in &pairs {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => {
            let q = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            let sep = if req.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{sep}{q}", req.redirect_uri)
        }
    };
    HttpResponse::Found()
        .insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

fn error_redirect(shared: &Shared, req: &AuthRequest, error: &str) -> HttpResponse {
    let mut pairs = vec![("error", error)];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    redirect_with(shared, req, &pairs)
}

/// Whether the account's consent for this client already covers the request.
fn covered(store: &Store, email: &str, req: &AuthRequest) -> bool {
    match store.consent(email, &req.client.client_id) {
        Some(c) => req.scopes.iter().all(|s| c.scopes.contains(s)) && (!req.offline || c.offline),
        None => false,
    }
}

/// Records consent, mints a code and redirects back to the client.
fn issue(
    shared: &Shared,
    store: &mut Store,
    req: &AuthRequest,
    email: &str,
    granted: BTreeSet<String>,
    shown: bool,
) -> (HttpResponse, String) {
    let key = (email.to_string(), req.client.client_id.clone());
    let previous = store.consents.get(&key).cloned().unwrap_or_default();
    let mut scopes = granted.clone();
    if req.include_granted {
        scopes.extend(previous.scopes.iter().cloned());
    }
    let issue_refresh = if shared.profile().is_strict() {
        // OpenID Connect Core §11: offline_access granted now (which needs prompt=consent, see
        // authreq) is what asks for a refresh token; an earlier grant of it does not.
        if !granted.contains(OFFLINE_ACCESS) {
            scopes.remove(OFFLINE_ACCESS);
        }
        granted.contains(OFFLINE_ACCESS)
    } else {
        // Google: access_type=offline on the first offline consent, or with prompt=consent.
        req.offline && (!previous.offline || req.prompts.contains("consent"))
    };
    let consent = store.consents.entry(key).or_default();
    consent.scopes.extend(granted);
    let code = store.new_code(CodeEntry {
        email: email.to_string(),
        client_id: req.client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scopes: scopes.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.challenge.clone(),
        expires_at: Utc::now() + chrono::Duration::from_std(shared.code_ttl).unwrap_or_default(),
        issue_refresh,
        combine: req.include_granted,
        azp: None,
        used: false,
        family: None,
        auth_time: Utc::now(),
    });
    let scope = scope_string(&scopes);
    let mut pairs = vec![];
    if let Some(s) = &req.state {
        pairs.push(("state", s.as_str()));
    }
    pairs.push(("code", code.as_str()));
    pairs.push(("scope", scope.as_str()));
    pairs.push(("authuser", "0"));
    pairs.push(("prompt", if shown { "consent" } else { "none" }));
    (redirect_with(shared, req, &pairs), email.to_string())
}

/// The account chooser and consent form, with a fresh CSRF token for this request.
fn consent_page(
    store: &mut Store,
    req: &AuthRequest,
    path: &str,
    selected: Option<&str>,
) -> Result<HttpResponse, Refusal> {
    let csrf_token = store.form_tokens.issue(&req.hidden, random_token(43));
    let accounts = store
        .accounts
        .iter()
        .map(|a| AccountRow {
            local: a.email.split('@').next().unwrap_or_default().to_string(),
            checked: selected.is_some_and(|s| s.eq_ignore_ascii_case(&a.email)),
            email: a.email.clone(),
            name: a.name.clone(),
        })
        .collect();
    let page = ConsentPage {
        action: path.to_string(),
        csrf_field: formtoken::FIELD,
        csrf_token,
        client_id: req.client.client_id.clone(),
        hidden: req.hidden.clone(),
        accounts,
        basic: req.scopes.iter().filter(|s| is_basic(s)).cloned().collect(),
        scopes: req
            .optional_scopes()
            .map(|s| ScopeRow {
                scope: s.clone(),
                testid: testid(s),
                description: describe(s),
            })
            .collect(),
    };
    match page.render() {
        Ok(html) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("X-Frame-Options", "DENY"))
            .body(html)),
        Err(e) => Err(error_page(500, "server_error", &e.to_string())),
    }
}

fn note_client(req: &HttpRequest, params: &[(String, String)]) {
    let client_id = params
        .iter()
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.clone());
    req.extensions_mut().insert(LogInfo {
        grant_type: None,
        client_id,
    });
}

/// Google's page for a disabled account: no sign-in completes.
fn account_disabled(email: &str) -> Refusal {
    error_page(
        403,
        "account_disabled",
        &format!(
            "Account disabled: {email} was disabled because it looks like it was being used in \
             a way that violated Google's policies. Couldn't sign you in."
        ),
    )
}

pub async fn get(shared: web::Data<Shared>, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    take_fault(&shared, "authorize").await?;
    let params: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    note_client(&req, &params);
    let mut store = shared.store_mut();
    let auth = validate(&store, &params, shared.profile())?;
    let cookie_accounts = remembered(&req);
    // A login_hint names the account (an unknown one is not replaced by the remembered one).
    let known: Option<String> = match &auth.login_hint {
        Some(hint) => store.account_by_hint(hint).map(|a| a.email.clone()),
        None => match cookie_accounts.as_slice() {
            [only] => store.account(only).map(|a| a.email.clone()),
            _ => None,
        },
    };
    if let Some(email) = known.as_deref().filter(|e| store.is_disabled(e)) {
        return Err(account_disabled(email));
    }
    if auth.prompts.contains("none") {
        return Ok(match known {
            None => error_redirect(&shared, &auth, "login_required"),
            Some(email) if covered(&store, &email, &auth) => {
                let granted = auth.requested();
                issue(&shared, &mut store, &auth, &email, granted, false).0
            }
            Some(_) => error_redirect(&shared, &auth, "consent_required"),
        });
    }
    let silent = !auth.prompts.contains("consent") && !auth.prompts.contains("select_account");
    if let Some(email) = known.as_deref() {
        if silent && covered(&store, email, &auth) {
            let granted = auth.requested();
            return Ok(issue(&shared, &mut store, &auth, email, granted, false).0);
        }
    }
    consent_page(&mut store, &auth, req.path(), known.as_deref())
}

pub async fn post(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Refusal> {
    take_fault(&shared, "authorize").await?;
    let all: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    note_client(&req, &all);
    let (extra, params): (Vec<_>, Vec<_>) = all.into_iter().partition(|(k, _)| {
        k == "account" || k == "action" || k == "granted_scope" || k == formtoken::FIELD
    });
    let mut store = shared.store_mut();
    let auth = validate(&store, &params, shared.profile())?;
    let field = |name: &str| {
        extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // Checked after the request itself (so a bad client or redirect URI gets its own page)
    // and before anything is granted or denied.
    if !store
        .form_tokens
        .take(field(formtoken::FIELD).unwrap_or_default(), &auth.hidden)
    {
        return Err(error_page(
            400,
            "invalid_request",
            "This sign-in page has expired or was not sent by this server: \
             missing or invalid parameter csrf_token. Go back to the app and sign in again.",
        ));
    }
    match field("action") {
        Some("cancel") => return Ok(error_redirect(&shared, &auth, "access_denied")),
        Some("allow") => {}
        _ => {
            return Err(error_page(
                400,
                "invalid_request",
                "Missing or invalid parameter: action (allow or cancel)",
            ))
        }
    }
    let Some(email) = field("account")
        .and_then(|e| store.account(e))
        .map(|a| a.email.clone())
    else {
        return Err(error_page(
            400,
            "invalid_request",
            "Missing or unknown parameter: account",
        ));
    };
    if store.is_disabled(&email) {
        return Err(account_disabled(&email));
    }
    let ticked: BTreeSet<String> = extra
        .iter()
        .filter(|(k, _)| k == "granted_scope")
        .map(|(_, v)| normalize_scope(v))
        .collect();
    let granted: BTreeSet<String> = auth
        .scopes
        .iter()
        .filter(|s| is_basic(s) || ticked.contains(*s))
        .cloned()
        .collect();
    if granted.is_empty() {
        return Ok(error_redirect(&shared, &auth, "access_denied"));
    }
    let (mut res, email) = issue(&shared, &mut store, &auth, &email, granted, true);
    drop(store);
    let cookie = accounts_cookie(remembered(&req), &email);
    let _ = res.add_cookie(&cookie);
    Ok(res)
}
