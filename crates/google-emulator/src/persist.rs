//! State that survives restarts: accounts (with their files and messages), clients, consents,
//! refresh and access tokens, the signing keys, disabled accounts and RISC streams, as one JSON
//! document. The same document is
//! what `GET /emulator/state` exports and `PUT /emulator/state` imports.
//!
//! With a state file, every change of the store wakes a writer that waits a moment (so a burst
//! of changes is one write), then writes the whole document to a temporary file beside the
//! state file and renames it over it: a reader, or a crash, sees the old file or the new one,
//! never half of one. [`crate::Emulator::save`] writes at once (at shutdown).
//!
//! Not kept: authorization codes and pending consent pages (single-use and minutes long),
//! pending faults and the request log.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::keys::{KeyRing, Keys};
use crate::model::{Account, ClientRegistration, Profile, Stream};
use crate::state::{AccessEntry, Consent, RefreshEntry, Shared, Store};

/// What the document says it is, so that another JSON file is not taken for one.
const FORMAT: &str = "google-emulator-state";
const VERSION: u32 = 1;

/// How long the writer waits after a change before it writes.
const SETTLE: Duration = Duration::from_millis(200);

/// The emulator's state as a document.
#[derive(Debug, Serialize, Deserialize)]
pub struct StateDocument {
    pub format: String,
    pub version: u32,
    /// The profile in force (an import sets it; a restart uses the one it is started with).
    pub profile: Profile,
    /// PKCS#8 PEM private keys: the current signing key first, then the previous one.
    pub signing_keys: Vec<String>,
    pub accounts: Vec<Account>,
    pub clients: Vec<ClientRegistration>,
    pub consents: Vec<ConsentRecord>,
    pub refresh_tokens: Vec<Token<RefreshEntry>>,
    pub access_tokens: Vec<Token<AccessEntry>>,
    /// The last token family issued (families tie tokens to the code they came from).
    pub next_family: u64,
    /// Accounts disabled with `POST /emulator/accounts/{email}/disable`.
    #[serde(default)]
    pub disabled_accounts: Vec<DisabledAccount>,
    /// The RISC push streams.
    #[serde(default)]
    pub risc_streams: Vec<Stream>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DisabledAccount {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub email: String,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
    pub offline: bool,
}

/// A token and what it stands for.
#[derive(Debug, Serialize, Deserialize)]
pub struct Token<E> {
    pub token: String,
    #[serde(flatten)]
    pub entry: E,
}

impl StateDocument {
    /// The document of `store` and `keys` (sorted, so equal states are equal documents).
    pub fn of(store: &Store, keys: KeyRing, profile: Profile) -> Self {
        let mut clients: Vec<_> = store.clients.values().cloned().collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        let mut consents: Vec<_> = store
            .consents
            .iter()
            .map(|((email, client_id), c)| ConsentRecord {
                email: email.clone(),
                client_id: client_id.clone(),
                scopes: c.scopes.clone(),
                offline: c.offline,
            })
            .collect();
        consents.sort_by(|a, b| (&a.email, &a.client_id).cmp(&(&b.email, &b.client_id)));
        let now = chrono::Utc::now();
        let mut refresh_tokens: Vec<_> = store
            .refresh
            .iter()
            .map(|(t, e)| Token {
                token: t.clone(),
                entry: e.clone(),
            })
            .collect();
        refresh_tokens.sort_by(|a, b| a.token.cmp(&b.token));
        let mut access_tokens: Vec<_> = store
            .access
            .iter()
            .filter(|(_, e)| e.expires_at > now)
            .map(|(t, e)| Token {
                token: t.clone(),
                entry: e.clone(),
            })
            .collect();
        access_tokens.sort_by(|a, b| a.token.cmp(&b.token));
        StateDocument {
            format: FORMAT.into(),
            version: VERSION,
            profile,
            signing_keys: keys.all().map(|k| k.private_pem.clone()).collect(),
            accounts: store.accounts.clone(),
            clients,
            consents,
            refresh_tokens,
            access_tokens,
            next_family: store.next_family,
            disabled_accounts: store
                .disabled
                .iter()
                .map(|(email, reason)| DisabledAccount {
                    email: email.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            risc_streams: store.risc_streams.clone(),
        }
    }

    /// Reads a document, checking that it is one.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let doc: StateDocument =
            serde_json::from_slice(json).map_err(|e| format!("not an emulator state: {e}"))?;
        if doc.format != FORMAT {
            return Err(format!("its \"format\" is not {FORMAT:?}"));
        }
        if doc.version != VERSION {
            return Err(format!(
                "version {} (this emulator reads version {VERSION})",
                doc.version
            ));
        }
        if doc.signing_keys.is_empty() || doc.signing_keys.len() > 2 {
            return Err("\"signing_keys\" must hold one or two keys".into());
        }
        Ok(doc)
    }

    /// The signing keys it names.
    pub fn keys(&self) -> Result<KeyRing, String> {
        let mut keys = self
            .signing_keys
            .iter()
            .map(|pem| Keys::from_pem(pem).map_err(|e| format!("a signing key: {e}")));
        let current = keys.next().ok_or("no signing key")??;
        let previous = keys.next().transpose()?;
        Ok(KeyRing { current, previous })
    }

    /// The store it describes (no codes, no pending consent pages).
    pub fn into_store(self) -> Store {
        let mut store = Store {
            accounts: self.accounts,
            next_family: self.next_family,
            disabled: self
                .disabled_accounts
                .into_iter()
                .map(|d| (d.email.to_ascii_lowercase(), d.reason))
                .collect(),
            risc_streams: self.risc_streams,
            ..Store::default()
        };
        for c in self.clients {
            store.clients.insert(c.client_id.clone(), c);
        }
        for c in self.consents {
            store.consents.insert(
                (c.email, c.client_id),
                Consent {
                    scopes: c.scopes,
                    offline: c.offline,
                },
            );
        }
        for t in self.refresh_tokens {
            store.next_family = store.next_family.max(t.entry.family);
            store.refresh.insert(t.token, t.entry);
        }
        for t in self.access_tokens {
            store.next_family = store.next_family.max(t.entry.family);
            store.access.insert(t.token, t.entry);
        }
        store
    }
}

/// A state file that cannot be used: the emulator does not start (and leaves the file alone).
#[derive(Debug)]
pub struct StateFileError {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for StateFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the emulator state file {} cannot be used: {}",
            self.path.display(),
            self.reason
        )
    }
}

impl std::error::Error for StateFileError {}

/// Reads the state file at `path`: `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<StateDocument>, StateFileError> {
    let fail = |reason: String| StateFileError {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e.to_string())),
    };
    // Its keys are read (once) by the caller, which reports them as this file's fault too.
    StateDocument::parse(&bytes).map(Some).map_err(fail)
}

/// Writes `json` to `path` atomically: a temporary file beside it (readable by its owner only:
/// it holds tokens and private keys), flushed to disk, then renamed over `path`.
pub fn write_atomically(path: &Path, json: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{}.tmp", name.unwrap_or_default()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(json)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Writes the state file now if the state changed since the last write.
pub fn save_if_changed(shared: &Shared) -> std::io::Result<()> {
    let Some(file) = &shared.persister else {
        return Ok(());
    };
    if file.take_changed() {
        if let Err(e) = save(shared) {
            file.changed();
            return Err(e);
        }
    }
    Ok(())
}

/// Writes the state file now (nothing without one).
pub fn save(shared: &Shared) -> std::io::Result<()> {
    match &shared.persister {
        Some(file) => write_atomically(file.path(), &shared.export_json()),
        None => Ok(()),
    }
}

impl Shared {
    /// The state as a document (`GET /emulator/state`, the state file).
    pub fn export(&self) -> StateDocument {
        let store = self.store();
        StateDocument::of(&store, self.keys(), self.profile())
    }

    pub fn export_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(&self.export()).unwrap_or_default();
        json.push(b'\n');
        json
    }

    /// Replaces the state with `doc` (`PUT /emulator/state`); clients registered in-process
    /// are kept, as by a reset. Pending codes, consent pages and faults are dropped.
    pub fn import(&self, doc: StateDocument) -> Result<(), String> {
        let keys = doc.keys()?;
        let profile = doc.profile;
        let mut store = doc.into_store();
        for c in self
            .pinned_clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            store
                .clients
                .entry(c.client_id.clone())
                .or_insert_with(|| c.clone());
        }
        *self.store_mut() = store;
        self.set_keys(keys);
        self.set_profile(profile);
        self.clear_faults();
        self.new_risc_generation();
        Ok(())
    }
}

/// The writer: after each change, waits [`SETTLE`], then writes. Runs as long as the runtime
/// it was spawned on.
pub async fn writer(shared: Arc<Shared>) {
    let Some(file) = shared.persister.as_ref() else {
        return;
    };
    loop {
        file.wait_for_change().await;
        tokio::time::sleep(SETTLE).await;
        let task = {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || save_if_changed(&shared))
        };
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(path = %file.path().display(), error = %e, "could not write the emulator state; will try again at the next change");
            }
            Err(e) => tracing::error!(error = %e, "the emulator state writer failed"),
        }
    }
}
