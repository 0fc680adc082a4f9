//! Gmail v1: `GET /gmail/v1/users/{userId}/messages` and `…/messages/{id}`.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::call::{api_call, ApiCall};
use super::drive::{page_token, parse_page_token};
use crate::errors::{api_error, api_invalid_param, json_response, Refusal};
use crate::model::Message;
use crate::state::{AccessEntry, Shared};

const METADATA: &str = "https://www.googleapis.com/auth/gmail.metadata";
pub const GMAIL_SCOPES: &[&str] = &[
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://www.googleapis.com/auth/gmail.readonly",
    METADATA,
];

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Only the metadata scope (no full read scope) was granted.
fn metadata_only(entry: &AccessEntry) -> bool {
    !GMAIL_SCOPES[..3].iter().any(|s| entry.scopes.contains(*s))
}

fn check_user(user: &str, entry: &AccessEntry) -> Result<(), Refusal> {
    if user == "me" || user.eq_ignore_ascii_case(&entry.email) {
        Ok(())
    } else {
        let msg = format!("Delegation denied for {user}");
        Err(api_error(403, &msg, "forbidden", json!({})))
    }
}

/// The small Gmail search subset: `from:`, `to:`, `subject:`, `is:unread`, `in:`/`label:`, words.
fn matches_q(m: &Message, q: &str) -> bool {
    let has_label = |l: &str| m.label_ids.iter().any(|x| x.eq_ignore_ascii_case(l));
    q.split_whitespace().all(|term| {
        let (neg, term) = match term.strip_prefix('-') {
            Some(t) => (true, t),
            None => (false, term),
        };
        let term_l = term.to_lowercase();
        let hit = if let Some(v) = term_l.strip_prefix("from:") {
            m.from.to_lowercase().contains(v)
        } else if let Some(v) = term_l.strip_prefix("to:") {
            m.to.to_lowercase().contains(v)
        } else if let Some(v) = term_l.strip_prefix("subject:") {
            m.subject.to_lowercase().contains(v.trim_matches('"'))
        } else if let Some(v) = term_l.strip_prefix("is:") {
            match v {
                "unread" => has_label("UNREAD"),
                "read" => !has_label("UNREAD"),
                "important" => has_label("IMPORTANT"),
                "starred" => has_label("STARRED"),
                _ => false,
            }
        } else if let Some(v) = term_l
            .strip_prefix("in:")
            .or_else(|| term_l.strip_prefix("label:"))
        {
            v == "anywhere" || has_label(v)
        } else {
            let w = term_l.trim_matches('"');
            m.subject.to_lowercase().contains(w)
                || m.snippet.to_lowercase().contains(w)
                || m.from.to_lowercase().contains(w)
        };
        hit != neg
    })
}

pub async fn list(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Refusal> {
    let ApiCall { entry, params } = api_call(
        &shared,
        &req,
        "gmail",
        "caribou.api.proto.MailboxService.ListMessages",
        GMAIL_SCOPES,
    )
    .await?;
    check_user(&path.into_inner(), &entry)?;
    let max = match param(&params, "maxResults").map(str::parse::<i64>) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n as usize,
        Some(Ok(n)) if n > 500 => 500,
        Some(_) => return Err(api_invalid_param("Invalid maxResults", "maxResults")),
    };
    let offset = match param(&params, "pageToken").filter(|s| !s.is_empty()) {
        None => 0,
        Some(t) => match parse_page_token(t) {
            Some(o) => o,
            None => return Err(api_invalid_param("Invalid pageToken", "pageToken")),
        },
    };
    let q = param(&params, "q").unwrap_or("").trim().to_string();
    if !q.is_empty() && metadata_only(&entry) {
        return Err(api_error(
            403,
            "Metadata scope does not support 'q' parameter",
            "forbidden",
            json!({}),
        ));
    }
    let labels: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "labelIds")
        .map(|(_, v)| v.as_str())
        .collect();
    let include_spam = param(&params, "includeSpamTrash") == Some("true");
    let store = shared.store();
    let Some(account) = store.account(&entry.email) else {
        return Err(api_error(
            404,
            "Requested entity was not found.",
            "notFound",
            json!({}),
        ));
    };
    let mut selected: Vec<&Message> = account
        .messages
        .iter()
        .filter(|m| include_spam || !m.label_ids.iter().any(|l| l == "SPAM" || l == "TRASH"))
        .filter(|m| labels.iter().all(|l| m.label_ids.iter().any(|x| x == l)))
        .filter(|m| q.is_empty() || matches_q(m, &q))
        .collect();
    selected.sort_by(|a, b| {
        b.internal_date
            .cmp(&a.internal_date)
            .then_with(|| b.id.cmp(&a.id))
    });
    let page: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(max)
        .map(|m| json!({"id": m.id, "threadId": m.thread_id}))
        .collect();
    let mut body = json!({});
    if !page.is_empty() {
        body["messages"] = Value::Array(page);
    }
    if offset + max < selected.len() {
        body["nextPageToken"] = json!(page_token(offset + max));
    }
    body["resultSizeEstimate"] = json!(selected.len());
    Ok(json_response(200, &body))
}

fn headers(m: &Message) -> Vec<(&'static str, String)> {
    let date = Utc
        .timestamp_millis_opt(m.internal_date)
        .single()
        .unwrap_or_default();
    vec![
        ("Delivered-To", m.to.clone()),
        ("From", m.from.clone()),
        ("To", m.to.clone()),
        ("Subject", m.subject.clone()),
        (
            "Date",
            date.format("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        ),
        ("Message-ID", format!("<{}@mail.example.test>", m.id)),
        ("MIME-Version", "1.0".into()),
        ("Content-Type", "text/plain; charset=\"UTF-8\"".into()),
    ]
}

pub async fn get(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Refusal> {
    let ApiCall { entry, params } = api_call(
        &shared,
        &req,
        "gmail",
        "caribou.api.proto.MailboxService.GetMessage",
        GMAIL_SCOPES,
    )
    .await?;
    let (user, id) = path.into_inner();
    check_user(&user, &entry)?;
    let format = param(&params, "format").unwrap_or("full").to_string();
    if !["full", "metadata", "minimal", "raw"].contains(&format.as_str()) {
        return Err(api_invalid_param(
            &format!("Invalid value at 'format' ({format})"),
            "format",
        ));
    }
    if metadata_only(&entry) && (format == "full" || format == "raw") {
        return Err(api_error(
            403,
            &format!(
                "Metadata scope doesn't allow format {}",
                format.to_uppercase()
            ),
            "forbidden",
            json!({}),
        ));
    }
    let wanted: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "metadataHeaders")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect();
    let store = shared.store();
    let Some(m) = store
        .account(&entry.email)
        .and_then(|a| a.messages.iter().find(|m| m.id == id))
    else {
        return Err(api_error(
            404,
            "Requested entity was not found.",
            "notFound",
            json!({}),
        ));
    };
    let mut body = json!({
        "id": m.id,
        "threadId": m.thread_id,
        "labelIds": m.label_ids,
        "snippet": m.snippet,
        "sizeEstimate": m.body.len() + 512,
        "historyId": "100001",
        "internalDate": m.internal_date.to_string(),
    });
    let all_headers = headers(m);
    let header_json = |only: Option<&[String]>| -> Vec<Value> {
        all_headers
            .iter()
            .filter(|(n, _)| only.is_none_or(|w| w.contains(&n.to_lowercase())))
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect()
    };
    match format.as_str() {
        "metadata" => {
            let only = (!wanted.is_empty()).then_some(wanted.as_slice());
            body["payload"] = json!({"mimeType": "text/plain", "headers": header_json(only)});
        }
        "full" => {
            body["payload"] = json!({
                "partId": "",
                "mimeType": "text/plain",
                "filename": "",
                "headers": header_json(None),
                "body": {"size": m.body.len(), "data": URL_SAFE.encode(m.body.as_bytes())},
            });
        }
        "raw" => {
            let mut raw = String::new();
            for (n, v) in &all_headers {
                raw.push_str(&format!("{n}: {v}\r\n"));
            }
            raw.push_str("\r\n");
            raw.push_str(&m.body);
            body["raw"] = json!(URL_SAFE.encode(raw.as_bytes()));
        }
        _ => {}
    }
    Ok(json_response(200, &body))
}
