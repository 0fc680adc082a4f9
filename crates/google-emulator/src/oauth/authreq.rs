//! Parsing and validating an authorization request (shared by the GET and the consent POST).

use std::collections::BTreeSet;

use crate::errors::error_page;
use crate::errors::Refusal;
use crate::model::{is_basic, normalize_scope, OFFLINE_ACCESS};
use crate::model::{ClientRegistration, Profile};
use crate::state::Store;

/// The parameters the consent form carries back as hidden fields, in this order.
pub const AUTH_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "access_type",
    "prompt",
    "include_granted_scopes",
    "login_hint",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The original parameters worth carrying through the consent form.
    pub hidden: Vec<(String, String)>,
    pub client: ClientRegistration,
    pub redirect_uri: String,
    /// Requested scopes, normalised, in request order, without duplicates.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub offline: bool,
    pub prompts: BTreeSet<String>,
    pub include_granted: bool,
    pub login_hint: Option<String>,
    pub nonce: Option<String>,
    pub challenge: Option<(String, String)>,
}

impl AuthRequest {
    pub fn requested(&self) -> BTreeSet<String> {
        self.scopes.iter().cloned().collect()
    }

    pub fn optional_scopes(&self) -> impl Iterator<Item = &String> {
        self.scopes.iter().filter(|s| !is_basic(s))
    }
}

fn invalid(detail: String) -> Refusal {
    error_page(400, "invalid_request", &detail)
}

/// Google accepts its own API scopes; anything else is `invalid_scope`. A strict OpenID
/// provider also knows `offline_access`.
fn known_scope(s: &str, profile: Profile) -> bool {
    is_basic(s)
        || s == "https://mail.google.com/"
        || (s.starts_with("https://www.googleapis.com/auth/") && s.len() > 32)
        || (profile.is_strict() && s == OFFLINE_ACCESS)
}

/// Validates in Google's order: client, redirect URI (never redirect on a mismatch), then the rest.
pub fn validate(
    store: &Store,
    params: &[(String, String)],
    profile: Profile,
) -> Result<AuthRequest, Refusal> {
    let mut seen = BTreeSet::new();
    for (k, _) in params {
        if AUTH_PARAMS.contains(&k.as_str()) && !seen.insert(k.as_str()) {
            return Err(invalid(format!("Parameter {k} is repeated.")));
        }
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let client_id = get("client_id")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("Missing required parameter: client_id".into()))?;
    let client = store.clients.get(&client_id).cloned().ok_or_else(|| {
        error_page(
            401,
            "invalid_client",
            &format!("The OAuth client was not found. client_id={client_id}"),
        )
    })?;
    let redirect_uri = get("redirect_uri")
        .ok_or_else(|| invalid("Missing required parameter: redirect_uri".into()))?;
    if !client.redirect_uris.contains(&redirect_uri) {
        return Err(error_page(
            400,
            "redirect_uri_mismatch",
            &format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. \
                 If you're the app developer, register the redirect URI in the Google Cloud Console. \
                 Request details: redirect_uri={redirect_uri}"
            ),
        ));
    }
    match get("response_type").as_deref() {
        None | Some("") => {
            return Err(invalid(
                "Required parameter is missing: response_type".into(),
            ))
        }
        Some("code") => {}
        Some(other) => {
            return Err(invalid(format!(
                "Invalid parameter value for response_type: {other} (only code is supported)"
            )))
        }
    }
    let raw_scope = get("scope").unwrap_or_default();
    let mut scopes: Vec<String> = Vec::new();
    for s in raw_scope.split(' ').filter(|s| !s.is_empty()) {
        let s = normalize_scope(s);
        if !known_scope(&s, profile) {
            return Err(error_page(
                400,
                "invalid_scope",
                &format!("Some requested scopes were invalid. {{invalid=[{s}]}}"),
            ));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if scopes.is_empty() {
        return Err(invalid("Missing required parameter: scope".into()));
    }
    // access_type is Google's; a strict OpenID provider ignores it (offline_access instead).
    let offline = match get("access_type").as_deref() {
        _ if profile.is_strict() => false,
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return Err(invalid(format!(
                "Invalid access_type: {other}. Expected online or offline."
            )))
        }
    };
    let mut prompts = BTreeSet::new();
    for p in get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
    {
        if !["none", "consent", "select_account"].contains(&p) {
            return Err(invalid(format!("Invalid parameter value for prompt: {p}")));
        }
        prompts.insert(p.to_string());
    }
    if prompts.contains("none") && prompts.len() > 1 {
        return Err(invalid(
            "Invalid parameter value for prompt: None cannot be specified with other values".into(),
        ));
    }
    if !prompts.contains("consent") {
        // OpenID Connect Core §11: offline_access without prompt=consent is ignored.
        scopes.retain(|s| s != OFFLINE_ACCESS);
    }
    let include_granted = match get("include_granted_scopes").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(invalid(format!(
                "Invalid parameter value for include_granted_scopes: {other}"
            )))
        }
    };
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(invalid(
                "Missing required parameter: code_challenge (code_challenge_method was sent)"
                    .into(),
            ))
        }
        (Some(c), method) => {
            let method = method.unwrap_or_else(|| "plain".into());
            if method != "S256" && method != "plain" {
                return Err(invalid(format!(
                    "Invalid parameter value for code_challenge_method: {method}"
                )));
            }
            let ok_chars = c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch));
            if !(43..=128).contains(&c.len()) || !ok_chars {
                return Err(invalid(
                    "Invalid parameter value for code_challenge.".into(),
                ));
            }
            Some((c, method))
        }
    };
    let hidden = AUTH_PARAMS
        .iter()
        .filter_map(|k| get(k).map(|v| (k.to_string(), v)))
        .collect();
    Ok(AuthRequest {
        hidden,
        client,
        redirect_uri,
        scopes,
        state: get("state"),
        offline,
        prompts,
        include_granted,
        login_hint: get("login_hint").filter(|s| !s.is_empty()),
        nonce: get("nonce"),
        challenge,
    })
}
