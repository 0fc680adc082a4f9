//! The emulator's data model: accounts with their Drive files and Gmail messages, OAuth
//! clients, Google's scope vocabulary and RISC push streams. Plain data, imported by everything
//! else, importing nothing of the emulator.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const OPENID: &str = "openid";
pub const EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
pub const PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";
/// OpenID Connect Core §11: the scope that asks for a refresh token (`oidc-strict` only).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// How the emulator behaves as an identity provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Google, as faithfully as the emulator can (the default).
    #[default]
    Google,
    /// A standards-compliant OpenID provider that is not Google: profile claims only from
    /// userinfo, refresh tokens only for `offline_access` with `prompt=consent`, RFC 9207 `iss`
    /// in the authorization response. For testing that an app needs nothing Google-specific.
    OidcStrict,
}

impl Profile {
    pub fn is_strict(self) -> bool {
        self == Profile::OidcStrict
    }
}

/// A Drive file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveFile {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub created_time: DateTime<Utc>,
    pub modified_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A Gmail message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub snippet: String,
    pub body: String,
    /// Milliseconds since the epoch.
    pub internal_date: i64,
}

/// A Google account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub picture: String,
    #[serde(default)]
    pub files: Vec<DriveFile>,
    #[serde(default)]
    pub messages: Vec<Message>,
}

/// OAuth client kinds, as in Google Cloud console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Web,
    Android,
    Ios,
}

/// A registered OAuth client.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ClientRegistration {
    pub client_id: String,
    pub client_secret: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
}

/// Normalises one requested scope (`email`/`profile` shorthands → full URLs).
pub fn normalize_scope(s: &str) -> String {
    match s {
        "email" => EMAIL.to_string(),
        "profile" => PROFILE.to_string(),
        other => other.to_string(),
    }
}

/// openid, email and profile: always granted when requested, never a checkbox.
pub fn is_basic(s: &str) -> bool {
    s == OPENID || s == EMAIL || s == PROFILE
}

/// Google's order in the `scope` answer: the basic ones as requested, then the rest.
pub fn scope_string(scopes: &BTreeSet<String>) -> String {
    let mut v: Vec<&str> = scopes.iter().map(String::as_str).collect();
    v.sort_by_key(|s| (!is_basic(s), *s));
    v.join(" ")
}

/// A push stream: where to POST the SETs, for which client (`aud`), which event types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    pub receiver: String,
    pub client_id: String,
    /// Event type URIs.
    pub events_requested: Vec<String>,
}

impl Stream {
    pub fn wants(&self, event_type: &str) -> bool {
        self.events_requested.iter().any(|e| e == event_type)
    }
}
