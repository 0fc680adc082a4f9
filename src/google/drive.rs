//! Drive v3: one page of the user's files.

use serde::Deserialize;
use url::Url;

use super::{GoogleError, PageToken};
use crate::secret::Token;

/// Scopes any of which lets the app list file metadata.
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
    "https://www.googleapis.com/auth/drive.metadata",
    "https://www.googleapis.com/auth/drive.file",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveFile {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub mime_type: String,
    pub modified_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileList {
    #[serde(default)]
    pub files: Vec<DriveFile>,
    pub next_page_token: Option<String>,
}

/// The Drive v3 API at `api_base`. Cheap to clone.
#[derive(Clone)]
pub struct Drive {
    http: reqwest::Client,
    api_base: Url,
}

impl Drive {
    pub fn new(http: reqwest::Client, api_base: Url) -> Self {
        Self { http, api_base }
    }

    /// Lists one page of files, newest first.
    pub async fn list_files(
        &self,
        token: &Token,
        page_size: u32,
        page_token: Option<&PageToken>,
    ) -> Result<FileList, GoogleError> {
        let mut url = self
            .api_base
            .join("drive/v3/files")
            .map_err(|e| GoogleError::Unavailable(e.into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("pageSize", &page_size.to_string())
                .append_pair("orderBy", "modifiedTime desc")
                .append_pair(
                    "fields",
                    "nextPageToken,files(id,name,mimeType,modifiedTime)",
                );
            if let Some(t) = page_token {
                q.append_pair("pageToken", t.as_str());
            }
        }
        super::get_json(&self.http, url, token, "Drive").await
    }
}

/// A MIME type as people say it.
pub fn kind_label(mime: &str) -> &str {
    match mime {
        "application/vnd.google-apps.folder" => "Folder",
        "application/vnd.google-apps.document" => "Google Doc",
        "application/vnd.google-apps.spreadsheet" => "Google Sheet",
        "application/vnd.google-apps.presentation" => "Google Slides",
        "application/pdf" => "PDF",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/msword" => "Word document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.ms-excel" => "Excel spreadsheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.ms-powerpoint" => "PowerPoint presentation",
        "application/zip" => "ZIP archive",
        m if m.starts_with("video/") => "Video",
        m if m.starts_with("audio/") => "Audio",
        m if m.starts_with("image/") => "Image",
        m if m.starts_with("text/") => "Text",
        "" => "File",
        m => m,
    }
}
