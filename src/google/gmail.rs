//! Gmail v1: one page of the user's messages (messages.list), each message's Subject, From,
//! Date and snippet (messages.get with format=metadata), and a count of all messages.

use serde::Deserialize;
use url::Url;

use super::{GoogleError, PageToken};
use crate::secret::Token;

/// The scope the app asks for when Gmail is first used.
pub const READONLY: &str = "https://www.googleapis.com/auth/gmail.readonly";

/// Scopes any of which lets the app list and search messages and read their headers
/// (`gmail.metadata` cannot search, so it is not enough).
pub const SCOPES: &[&str] = &[
    READONLY,
    "https://www.googleapis.com/auth/gmail.modify",
    "https://mail.google.com/",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageList {
    #[serde(default)]
    pub messages: Vec<MessageRef>,
    pub next_page_token: Option<String>,
}

/// A message's headers as the list shows them.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub subject: String,
    pub from: String,
    pub date: String,
    pub snippet: String,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    snippet: String,
    #[serde(default)]
    payload: Payload,
}

#[derive(Deserialize, Default)]
struct Payload {
    #[serde(default)]
    headers: Vec<Header>,
}

#[derive(Deserialize)]
struct Header {
    name: String,
    value: String,
}

/// The Gmail v1 API at `api_base`. Cheap to clone.
#[derive(Clone)]
pub struct Gmail {
    http: reqwest::Client,
    api_base: Url,
}

impl Gmail {
    pub fn new(http: reqwest::Client, api_base: Url) -> Self {
        Self { http, api_base }
    }

    fn url(&self, path: &str) -> Result<Url, GoogleError> {
        self.api_base
            .join(path)
            .map_err(|e| GoogleError::Unavailable(e.into()))
    }

    /// One page of message ids, newest first, matching `q` (Gmail's search syntax) when given.
    pub async fn list_messages(
        &self,
        token: &Token,
        max_results: u32,
        page_token: Option<&PageToken>,
        q: Option<&str>,
    ) -> Result<MessageList, GoogleError> {
        let mut url = self.url("gmail/v1/users/me/messages")?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("maxResults", &max_results.to_string());
            if let Some(t) = page_token {
                query.append_pair("pageToken", t.as_str());
            }
            if let Some(q) = q.filter(|q| !q.is_empty()) {
                query.append_pair("q", q);
            }
        }
        super::get_json(&self.http, url, token, "Gmail").await
    }

    /// Subject, From, Date and snippet of message `id`.
    pub async fn summary(&self, token: &Token, id: &str) -> Result<Summary, GoogleError> {
        // Message ids are hex; anything else would change the path.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(GoogleError::BadRequest);
        }
        let mut url = self.url(&format!("gmail/v1/users/me/messages/{id}"))?;
        url.query_pairs_mut()
            .append_pair("format", "metadata")
            .append_pair("metadataHeaders", "Subject")
            .append_pair("metadataHeaders", "From")
            .append_pair("metadataHeaders", "Date")
            .append_pair("fields", "snippet,payload/headers");
        let message: Message = super::get_json(&self.http, url, token, "Gmail").await?;
        let header = |name: &str| {
            message
                .payload
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.clone())
                .unwrap_or_default()
        };
        Ok(Summary {
            subject: header("Subject"),
            from: header("From"),
            date: header("Date"),
            snippet: message.snippet.clone(),
        })
    }
}
