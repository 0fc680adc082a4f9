//! Drive v3: `GET /drive/v3/files` and `GET /drive/v3/files/{fileId}`.

use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::SecondsFormat;
use serde_json::{json, Value};

use super::call::{api_call, ApiCall};
use super::fields::{self, Field};
use crate::errors::{api_error, api_invalid_param, json_response, Refusal};
use crate::model::DriveFile;
use crate::state::Shared;

pub const DRIVE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
    "https://www.googleapis.com/auth/drive.metadata",
    "https://www.googleapis.com/auth/drive.file",
];
const FILE_FIELDS: &[&str] = &[
    "kind",
    "id",
    "name",
    "mimeType",
    "createdTime",
    "modifiedTime",
    "size",
    "trashed",
    "starred",
    "parents",
    "webViewLink",
    "iconLink",
    "version",
];

/// A file resource with only the wanted members (`None` = all of them).
fn file_json(f: &DriveFile, wanted: Option<&[Field]>) -> Value {
    let want =
        |name: &str| wanted.is_none_or(|w| w.iter().any(|x| x.name == name || x.name == "*"));
    let mut v = serde_json::Map::new();
    let mut put = |name: &str, make: &dyn Fn() -> Value| {
        if want(name) {
            v.insert(name.to_string(), make());
        }
    };
    put("kind", &|| json!("drive#file"));
    put("id", &|| json!(f.id));
    put("name", &|| json!(f.name));
    put("mimeType", &|| json!(f.mime_type));
    put("createdTime", &|| {
        json!(f.created_time.to_rfc3339_opts(SecondsFormat::Millis, true))
    });
    put("modifiedTime", &|| {
        json!(f.modified_time.to_rfc3339_opts(SecondsFormat::Millis, true))
    });
    put("trashed", &|| json!(false));
    put("starred", &|| json!(false));
    put("parents", &|| json!(["0AEmulatorRootFolderUk9PVA"]));
    put("webViewLink", &|| {
        json!(format!(
            "https://drive.google.com/file/d/{}/view?usp=drivesdk",
            f.id
        ))
    });
    put("iconLink", &|| {
        json!(format!(
            "https://drive-thirdparty.googleusercontent.com/16/type/{}",
            f.mime_type
        ))
    });
    put("version", &|| json!("1"));
    if let Some(size) = f.size {
        put("size", &|| json!(size.to_string()));
    }
    Value::Object(v)
}

/// The sub-selection of `files` in a list selection: `None` = every member.
fn files_selection(selection: &[Field]) -> Option<&[Field]> {
    if selection.iter().any(|f| f.name == "*" && f.sub.is_none()) {
        return None;
    }
    selection
        .iter()
        .find(|f| f.name == "files")
        .and_then(|f| f.sub.as_deref())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_fields(
    raw: Option<&str>,
    default: &str,
    top: &'static [&'static str],
) -> Result<Vec<Field>, Refusal> {
    let raw = raw.unwrap_or(default);
    let bad = |what: &str| {
        api_error(
            400,
            &format!("Invalid field selection {what}"),
            "invalidParameter",
            json!({"location": "fields", "locationType": "parameter"}),
        )
    };
    let parsed = fields::parse(raw).map_err(|e| bad(&e))?;
    let known = |parent: &str, name: &str| match parent {
        "" => top.contains(&name),
        "files" => FILE_FIELDS.contains(&name),
        _ => false,
    };
    match fields::unknown(&parsed, &known, "") {
        Some(name) => Err(bad(&name)),
        None => Ok(parsed),
    }
}

/// One clause of the small `q` subset we understand.
fn matches_q(f: &DriveFile, q: &str) -> Result<bool, ()> {
    let mut ok = true;
    for clause in q.split(" and ") {
        let c = clause.trim();
        let quoted = |s: &str| -> Result<String, ()> {
            let s = s.trim();
            s.strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .map(|s| s.replace("\\'", "'"))
                .ok_or(())
        };
        ok &= if c == "trashed = false" || c == "trashed=false" {
            true
        } else if c == "trashed = true" || c == "trashed=true" {
            false
        } else if let Some(v) = c.strip_prefix("name contains ") {
            f.name.to_lowercase().contains(&quoted(v)?.to_lowercase())
        } else if let Some(v) = c.strip_prefix("name = ") {
            f.name == quoted(v)?
        } else if let Some(v) = c.strip_prefix("mimeType != ") {
            f.mime_type != quoted(v)?
        } else if let Some(v) = c.strip_prefix("mimeType = ") {
            f.mime_type == quoted(v)?
        } else if c.ends_with(" in parents") {
            true
        } else {
            return Err(());
        };
    }
    Ok(ok)
}

fn sort(files: &mut [&DriveFile], order_by: &str) -> Result<(), ()> {
    let mut keys = Vec::new();
    for part in order_by.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, desc) = match part.split_once(' ') {
            Some((k, "desc")) => (k, true),
            Some((k, "asc")) => (k, false),
            None => (part, false),
            _ => return Err(()),
        };
        if ![
            "name",
            "modifiedTime",
            "createdTime",
            "folder",
            "name_natural",
            "recency",
            "viewedByMeTime",
            "starred",
            "quotaBytesUsed",
            "modifiedByMeTime",
            "sharedWithMeTime",
        ]
        .contains(&key)
        {
            return Err(());
        }
        keys.push((key.to_string(), desc));
    }
    files.sort_by(|a, b| {
        for (key, desc) in &keys {
            let o = match key.as_str() {
                "name" | "name_natural" => a.name.cmp(&b.name),
                "modifiedTime" | "recency" | "modifiedByMeTime" | "viewedByMeTime" => {
                    a.modified_time.cmp(&b.modified_time)
                }
                "createdTime" => a.created_time.cmp(&b.created_time),
                _ => std::cmp::Ordering::Equal,
            };
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        if keys.is_empty() {
            return b
                .modified_time
                .cmp(&a.modified_time)
                .then_with(|| a.id.cmp(&b.id));
        }
        a.id.cmp(&b.id)
    });
    Ok(())
}

pub fn page_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("emu1:{offset}"))
}

pub fn parse_page_token(t: &str) -> Option<usize> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(t).ok()?).ok()?;
    raw.strip_prefix("emu1:")?.parse().ok()
}

pub async fn list(shared: web::Data<Shared>, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let ApiCall { entry, params } = api_call(
        &shared,
        &req,
        "drive",
        "google.apps.drive.v3.DriveFiles.List",
        DRIVE_SCOPES,
    )
    .await?;
    let only_app_files = !entry
        .scopes
        .iter()
        .any(|s| DRIVE_SCOPES[..4].contains(&s.as_str()));
    let store = shared.store();
    let files: &[DriveFile] = match store.account(&entry.email) {
        Some(a) if !only_app_files => &a.files,
        _ => &[],
    };
    let body = list_body(files, &params)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=UTF-8")
        .body(body))
}

/// The `files.list` answer for `files` (the caller's visible files) and the query parameters.
pub fn list_body(files: &[DriveFile], params: &[(String, String)]) -> Result<String, Refusal> {
    let page_size = match param(params, "pageSize").map(str::parse::<i64>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n as usize,
        Some(Ok(n)) => {
            return Err(api_invalid_param(
                &format!("Invalid value '{n}'. Values must be within the range: [1, 1000]"),
                "pageSize",
            ))
        }
        Some(Err(_)) => return Err(api_invalid_param("Invalid value for pageSize", "pageSize")),
    };
    let offset = match param(params, "pageToken").filter(|s| !s.is_empty()) {
        None => 0,
        Some(t) => {
            parse_page_token(t).ok_or_else(|| api_invalid_param("Invalid Value", "pageToken"))?
        }
    };
    let selection = parse_fields(
        param(params, "fields"),
        "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)",
        &["kind", "incompleteSearch", "nextPageToken", "files"],
    )?;
    let q = param(params, "q").unwrap_or("").trim();
    let mut selected = Vec::with_capacity(files.len());
    for f in files {
        if q.is_empty() || matches_q(f, q).map_err(|_| api_invalid_param("Invalid Value", "q"))? {
            selected.push(f);
        }
    }
    sort(&mut selected, param(params, "orderBy").unwrap_or(""))
        .map_err(|_| api_invalid_param("Invalid Value", "orderBy"))?;
    let page: Vec<Value> = selected
        .iter()
        .skip(offset)
        .take(page_size)
        .map(|f| file_json(f, files_selection(&selection)))
        .collect();
    let mut body = json!({"kind": "drive#fileList", "incompleteSearch": false});
    if offset + page_size < selected.len() {
        body["nextPageToken"] = json!(page_token(offset + page_size));
    }
    body["files"] = Value::Array(page);
    Ok(serde_json::to_string_pretty(&fields::apply_owned(body, &selection)).unwrap_or_default())
}

pub async fn get(
    shared: web::Data<Shared>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Refusal> {
    let ApiCall { entry, params } = api_call(
        &shared,
        &req,
        "drive",
        "google.apps.drive.v3.DriveFiles.Get",
        DRIVE_SCOPES,
    )
    .await?;
    let selection = parse_fields(
        param(&params, "fields"),
        "kind,id,name,mimeType",
        FILE_FIELDS,
    )?;
    let only_app_files = !entry
        .scopes
        .iter()
        .any(|s| DRIVE_SCOPES[..4].contains(&s.as_str()));
    let id = path.into_inner();
    let file = shared
        .store()
        .account(&entry.email)
        .filter(|_| !only_app_files)
        .and_then(|a| {
            a.files
                .iter()
                .find(|f| f.id == id)
                .map(|f| file_json(f, None))
        });
    match file {
        Some(v) => Ok(json_response(200, &fields::apply(&v, &selection))),
        None => Err(api_error(
            404,
            &format!("File not found: {id}."),
            "notFound",
            json!({"location": "fileId", "locationType": "parameter"}),
        )),
    }
}
