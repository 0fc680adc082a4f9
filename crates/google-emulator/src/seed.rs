//! The deterministic default seed and the JSON seed format (also used by the controls that
//! add accounts, files and messages).

use std::path::Path;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::model::{Account, DriveFile, Message};
use super::model::{ClientKind, ClientRegistration};

/// Default web client of the built-in seed.
pub const DEFAULT_WEB_CLIENT_ID: &str = "100000000001-emulatorweb.apps.googleusercontent.com";
pub const DEFAULT_WEB_CLIENT_SECRET: &str = "GOCSPX-emulator-web-client-secret";
pub const DEFAULT_ANDROID_CLIENT_ID: &str =
    "100000000001-emulatorandroid.apps.googleusercontent.com";
pub const DEFAULT_IOS_CLIENT_ID: &str = "100000000001-emulatorios.apps.googleusercontent.com";

#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub accounts: Vec<Account>,
    pub clients: Vec<ClientRegistration>,
}

/// `{"accounts": [AccountInput…], "clients": [ClientRegistration…]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub accounts: Vec<AccountInput>,
    #[serde(default)]
    pub clients: Vec<ClientRegistration>,
}

#[derive(Debug, Deserialize)]
pub struct AccountInput {
    pub email: String,
    pub name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub sub: Option<String>,
    #[serde(default)]
    pub files: Vec<FileInput>,
    #[serde(default)]
    pub messages: Vec<MessageInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInput {
    pub id: Option<String>,
    pub name: String,
    pub mime_type: Option<String>,
    pub modified_time: Option<DateTime<Utc>>,
    pub created_time: Option<DateTime<Utc>>,
    pub size: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageInput {
    pub id: Option<String>,
    pub thread_id: Option<String>,
    pub subject: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub snippet: Option<String>,
    pub body: Option<String>,
    pub label_ids: Option<Vec<String>>,
    /// Milliseconds since the epoch (Gmail's `internalDate`), as a number or a string.
    pub internal_date: Option<serde_json::Value>,
}

fn hash(input: &str) -> [u8; 32] {
    Sha256::digest(input.as_bytes()).into()
}

/// A numeric, Google-like `sub` derived from the email.
pub fn sub_for(email: &str) -> String {
    let h = hash(email);
    let n = u64::from_be_bytes(h[..8].try_into().unwrap_or_default()) % 100_000_000_000_000_000;
    format!("1{n:020}")
}

fn drive_id(key: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let h = hash(key);
    let mut s = String::from("1");
    for i in 0..32 {
        s.push(ALPHABET[(h[i % 32] as usize + i * 7) % 64] as char);
    }
    s
}

fn message_id(key: &str) -> String {
    let h = hash(key);
    format!(
        "18{}",
        &h[..7]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn mime_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "txt" => "text/plain",
        "md" => "text/markdown",
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "csv" => "text/csv",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/vnd.google-apps.document",
    }
}

/// Builds a file; `index` is its position in the account's list (for a stable id).
pub fn make_file(email: &str, index: usize, f: FileInput, now: DateTime<Utc>) -> DriveFile {
    let mime = f.mime_type.unwrap_or_else(|| mime_for(&f.name).to_string());
    let modified = f.modified_time.unwrap_or(now);
    let size = if mime.starts_with("application/vnd.google-apps.") {
        None
    } else {
        Some(f.size.unwrap_or(1024 + (hash(&f.name)[0] as u64) * 37))
    };
    DriveFile {
        id: f
            .id
            .unwrap_or_else(|| drive_id(&format!("{email}/{index}/{}", f.name))),
        created_time: f.created_time.unwrap_or(modified),
        modified_time: modified,
        name: f.name,
        mime_type: mime,
        size,
    }
}

pub fn make_message(email: &str, index: usize, m: MessageInput, now: DateTime<Utc>) -> Message {
    let id =
        m.id.unwrap_or_else(|| message_id(&format!("{email}/{index}/{}", m.subject)));
    let internal_date = match &m.internal_date {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or_else(|| now.timestamp_millis());
    let body = m.body.or_else(|| m.snippet.clone()).unwrap_or_else(|| {
        format!(
            "{}\n\nThis message was generated by the emulator.",
            m.subject
        )
    });
    let snippet = m
        .snippet
        .unwrap_or_else(|| body.chars().take(100).collect::<String>());
    Message {
        thread_id: m.thread_id.unwrap_or_else(|| id.clone()),
        id,
        label_ids: m
            .label_ids
            .unwrap_or_else(|| vec!["INBOX".into(), "UNREAD".into()]),
        subject: m.subject,
        from: m
            .from
            .unwrap_or_else(|| "Emulator Sender <sender@example.test>".into()),
        to: m.to.unwrap_or_else(|| email.to_string()),
        snippet,
        body,
        internal_date,
    }
}

pub fn make_account(a: AccountInput, now: DateTime<Utc>) -> Account {
    let email = a.email.to_ascii_lowercase();
    let mut parts = a.name.splitn(2, ' ');
    let first = parts.next().unwrap_or_default().to_string();
    let last = parts.next().unwrap_or_default().to_string();
    let files = a
        .files
        .into_iter()
        .enumerate()
        .map(|(i, f)| make_file(&email, i, f, now))
        .collect();
    let messages = a
        .messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| make_message(&email, i, m, now))
        .collect();
    Account {
        sub: a.sub.unwrap_or_else(|| sub_for(&email)),
        given_name: a.given_name.unwrap_or(first),
        family_name: a.family_name.unwrap_or(last),
        picture: a.picture.unwrap_or_else(|| {
            format!(
                "https://lh3.googleusercontent.com/a/emulator-{}=s96-c",
                &sub_for(&email)[..8]
            )
        }),
        name: a.name,
        email,
        files,
        messages,
    }
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

impl Seed {
    /// Reads a JSON seed file. Times missing from it default to a fixed instant.
    pub fn load(path: &Path) -> anyhow::Result<Seed> {
        let text = std::fs::read_to_string(path)?;
        let file: SeedFile = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: invalid seed: {e}", path.display()))?;
        Ok(Seed {
            accounts: file
                .accounts
                .into_iter()
                .map(|a| make_account(a, base_time()))
                .collect(),
            clients: file.clients,
        })
    }

    /// The built-in deterministic seed (built once per process).
    pub fn default_seed() -> &'static Seed {
        static SEED: OnceLock<Seed> = OnceLock::new();
        SEED.get_or_init(build_default)
    }
}

const FILE_NAMES: &[&str] = &[
    "Budget & Forecast {n}.xlsx",
    "Meeting notes <b>{n}</b>.docx",
    "Résumé – draft {n}.pdf",
    "Plan \"{n}\" final.txt",
    "O'Brien's proposal {n}",
    "Überblick Straße {n}.md",
    "{n} holiday photo.jpg",
    "naïve <script>alert(1)</script> {n}.txt",
    "Zoë & Zeke's notes {n}.csv",
    "日本語のメモ {n}.txt",
    "Tom &amp; Jerry {n}.png",
];

const SUBJECTS: &[&str] = &[
    "Lunch <b>today</b>? #{n}",
    "Q&A session {n}",
    "\"Urgent\": invoice {n}",
    "Café meeting – {n}",
    "Re: naïve question {n}",
    "Ünïcode ✓ test {n}",
    "Tom & Jerry's plan {n}",
    "<script>alert('x')</script> {n}",
];

const SENDERS: &[&str] = &[
    "Zoë O'Connor <zoe@example.test>",
    "\"Bob & Co\" <bob@example.test>",
    "Ada Admin <admin@example.test>",
    "Newsletter <news@example.test>",
];

fn generated_files(email: &str, count: usize, start: DateTime<Utc>) -> Vec<DriveFile> {
    (0..count)
        .map(|i| {
            let n = format!("{:03}", i + 1);
            let name = FILE_NAMES[i % FILE_NAMES.len()].replace("{n}", &n);
            let modified =
                start + Duration::hours(3 * i as i64) + Duration::minutes((i % 60) as i64);
            let input = FileInput {
                id: None,
                name,
                mime_type: None,
                modified_time: Some(modified),
                created_time: Some(modified - Duration::days((i % 30) as i64)),
                size: None,
            };
            make_file(email, i, input, modified)
        })
        .collect()
}

fn generated_messages(email: &str, count: usize, start: DateTime<Utc>) -> Vec<Message> {
    (0..count)
        .map(|i| {
            let n = format!("{:03}", i + 1);
            let subject = SUBJECTS[i % SUBJECTS.len()].replace("{n}", &n);
            let mut labels = vec![if i % 10 == 9 { "SENT" } else { "INBOX" }.to_string()];
            if i % 4 == 0 {
                labels.push("UNREAD".into());
            }
            if i % 7 == 0 {
                labels.push("IMPORTANT".into());
            }
            labels.push(if i % 2 == 0 { "CATEGORY_PERSONAL" } else { "CATEGORY_UPDATES" }.into());
            let date = start + Duration::hours(5 * i as i64);
            let input = MessageInput {
                id: None,
                thread_id: None,
                subject: subject.clone(),
                from: Some(SENDERS[i % SENDERS.len()].to_string()),
                to: Some(email.to_string()),
                snippet: Some(format!("Hi — about “{subject}”: 5 < 6 & \"quotes\" are fine")),
                body: Some(format!(
                    "Hi — about “{subject}”: 5 < 6 & \"quotes\" are fine.\n\nMessage {n} of the emulator seed."
                )),
                label_ids: Some(labels),
                internal_date: Some(serde_json::json!(date.timestamp_millis())),
            };
            make_message(email, i, input, date)
        })
        .collect()
}

fn build_default() -> Seed {
    let t0 = base_time();
    let person = |email: &str, name: &str, given: &str, family: &str, sub: &str| Account {
        sub: sub.into(),
        email: email.into(),
        name: name.into(),
        given_name: given.into(),
        family_name: family.into(),
        picture: format!("https://lh3.googleusercontent.com/a/emulator-{given}=s96-c")
            .to_lowercase(),
        files: vec![],
        messages: vec![],
    };
    let mut alice = person(
        "alice@example.test",
        "Alice Example",
        "Alice",
        "Example",
        "100000000000000000001",
    );
    alice.files = generated_files(&alice.email, 260, t0);
    let newest = t0 + Duration::days(200);
    alice.files.push(make_file(
        &alice.email,
        260,
        FileInput {
            id: None,
            name: "\"Q3\" <b>report</b> & café.txt".into(),
            mime_type: Some("text/plain".into()),
            modified_time: Some(newest),
            created_time: Some(newest - Duration::days(3)),
            size: Some(4096),
        },
        newest,
    ));
    // Thread every three consecutive messages together, like a conversation.
    alice.messages = generated_messages(&alice.email, 130, t0);
    for i in 0..alice.messages.len() {
        let root = alice.messages[i - i % 3].id.clone();
        alice.messages[i].thread_id = root;
    }
    let mut bob = person(
        "bob@example.test",
        "Bob Builder",
        "Bob",
        "Builder",
        "100000000000000000002",
    );
    bob.files = generated_files(&bob.email, 7, t0 + Duration::hours(1));
    bob.messages = generated_messages(&bob.email, 5, t0 + Duration::hours(2));
    let mut admin = person(
        "admin@example.test",
        "Ada Admin",
        "Ada",
        "Admin",
        "100000000000000000003",
    );
    admin.files = generated_files(&admin.email, 2, t0 + Duration::hours(4));
    admin.messages = generated_messages(&admin.email, 2, t0 + Duration::hours(5));
    Seed {
        accounts: vec![alice, bob, admin],
        clients: vec![
            ClientRegistration {
                client_id: DEFAULT_WEB_CLIENT_ID.into(),
                client_secret: DEFAULT_WEB_CLIENT_SECRET.into(),
                kind: ClientKind::Web,
                redirect_uris: vec![
                    "http://127.0.0.1:8080/oauth2callback".into(),
                    "http://localhost:8080/oauth2callback".into(),
                ],
            },
            ClientRegistration {
                client_id: DEFAULT_ANDROID_CLIENT_ID.into(),
                client_secret: String::new(),
                kind: ClientKind::Android,
                redirect_uris: vec![],
            },
            ClientRegistration {
                client_id: DEFAULT_IOS_CLIENT_ID.into(),
                client_secret: String::new(),
                kind: ClientKind::Ios,
                redirect_uris: vec![],
            },
        ],
    }
}
