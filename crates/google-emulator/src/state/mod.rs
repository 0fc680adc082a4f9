//! In-memory state: accounts (with their Drive files and Gmail messages), clients, consents,
//! codes and tokens. One `Mutex<Store>`; handlers never hold it across an `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

pub mod formtoken;

use super::errors::Refusal;
use super::faults::{fault_response, Faults, RequestLog};
use super::keys::{sign_id_token, IdTokenInput, KeyRing};
use super::model::{Account, ClientRegistration, Profile, Stream};
use super::seed::Seed;
use formtoken::FormTokens;

/// What an account has consented to for one client.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Consent {
    pub scopes: BTreeSet<String>,
    /// A refresh token was issued under this consent (offline access granted).
    pub offline: bool,
}

#[derive(Debug, Clone)]
pub struct CodeEntry {
    pub email: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: BTreeSet<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, String)>,
    pub expires_at: DateTime<Utc>,
    pub issue_refresh: bool,
    /// Issued with include_granted_scopes=true: redeeming it widens the account's existing
    /// refresh tokens for this client to the combined grant.
    pub combine: bool,
    /// The ID token's `azp` when it differs from the client (mobile sign-in codes).
    pub azp: Option<String>,
    pub used: bool,
    /// Token family created when the code was redeemed (for the reuse cascade).
    pub family: Option<u64>,
    /// When the user authenticated for this code (the ID token's `auth_time`).
    pub auth_time: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessEntry {
    pub email: String,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
    pub expires_at: DateTime<Utc>,
    pub family: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshEntry {
    pub email: String,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
    pub family: u64,
    /// The authentication the grant came from (refreshed ID tokens keep its `auth_time`).
    pub auth_time: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub accounts: Vec<Account>,
    pub clients: HashMap<String, ClientRegistration>,
    pub consents: HashMap<(String, String), Consent>,
    pub codes: HashMap<String, CodeEntry>,
    pub access: HashMap<String, AccessEntry>,
    pub refresh: HashMap<String, RefreshEntry>,
    /// CSRF tokens of the consent pages rendered and not yet submitted.
    pub form_tokens: FormTokens,
    pub(crate) next_family: u64,
    /// Disabled accounts (lowercased email → the reason given, if any).
    pub disabled: BTreeMap<String, Option<String>>,
    /// The RISC push streams, one per receiver URL.
    pub risc_streams: Vec<Stream>,
}

impl Store {
    pub fn from_seed(seed: &Seed) -> Self {
        let mut store = Store {
            accounts: seed.accounts.clone(),
            ..Default::default()
        };
        for c in &seed.clients {
            store.clients.insert(c.client_id.clone(), c.clone());
        }
        store
    }

    pub fn account(&self, email: &str) -> Option<&Account> {
        let email = email.to_ascii_lowercase();
        self.accounts
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(&email))
    }

    pub fn account_mut(&mut self, email: &str) -> Option<&mut Account> {
        self.accounts
            .iter_mut()
            .find(|a| a.email.eq_ignore_ascii_case(email))
    }

    /// Finds an account by email or by `sub` (login_hint accepts both).
    pub fn account_by_hint(&self, hint: &str) -> Option<&Account> {
        self.account(hint)
            .or_else(|| self.accounts.iter().find(|a| a.sub == hint))
    }

    /// Whether the account is disabled (it cannot sign in, its refresh tokens are refused).
    pub fn is_disabled(&self, email: &str) -> bool {
        self.disabled.contains_key(&email.to_ascii_lowercase())
    }

    /// The account's most recently issued refresh token for `client_id` that is still valid
    /// (families grow with every code redemption, so the newest has the highest).
    pub fn latest_refresh(&self, email: &str, client_id: &str) -> Option<&str> {
        self.refresh
            .iter()
            .filter(|(_, r)| r.email.eq_ignore_ascii_case(email) && r.client_id == client_id)
            .max_by_key(|(_, r)| r.family)
            .map(|(t, _)| t.as_str())
    }

    pub fn new_family(&mut self) -> u64 {
        self.next_family += 1;
        self.next_family
    }

    pub fn consent(&self, email: &str, client_id: &str) -> Option<&Consent> {
        self.consents
            .get(&(email.to_string(), client_id.to_string()))
    }

    /// Issues an access token in `family`.
    pub fn issue_access(
        &mut self,
        email: &str,
        client_id: &str,
        scopes: &BTreeSet<String>,
        family: u64,
        ttl: Duration,
    ) -> String {
        let now = Utc::now();
        if self.access.len() > 50_000 {
            self.access.retain(|_, a| a.expires_at > now);
        }
        let token = format!("ya29.a0{}", random_token(96));
        self.access.insert(
            token.clone(),
            AccessEntry {
                email: email.to_string(),
                client_id: client_id.to_string(),
                scopes: scopes.clone(),
                expires_at: now + chrono::Duration::from_std(ttl).unwrap_or_default(),
                family,
            },
        );
        token
    }

    /// Issues a refresh token for the grant a redeemed code stands for.
    pub fn issue_refresh(&mut self, code: &CodeEntry, family: u64) -> String {
        let token = format!("1//0{}", random_token(64));
        self.refresh.insert(
            token.clone(),
            RefreshEntry {
                email: code.email.clone(),
                client_id: code.client_id.clone(),
                scopes: code.scopes.clone(),
                family,
                auth_time: code.auth_time,
            },
        );
        token
    }

    pub fn new_code(&mut self, entry: CodeEntry) -> String {
        let now = Utc::now();
        if self.codes.len() > 50_000 {
            self.codes.retain(|_, c| c.expires_at > now);
        }
        let code = format!("4/0{}", random_token(48));
        self.codes.insert(code.clone(), entry);
        code
    }

    /// A live (unexpired, unrevoked) access token of an account that is not disabled.
    pub fn live_access(&self, token: &str) -> Option<&AccessEntry> {
        self.access
            .get(token)
            .filter(|a| a.expires_at > Utc::now() && !self.is_disabled(&a.email))
    }

    /// Revokes every token of one token family (tokens from one code redemption).
    pub fn revoke_family(&mut self, family: u64) {
        self.access.retain(|_, a| a.family != family);
        self.refresh.retain(|_, r| r.family != family);
    }

    /// The user removes the app's access: all tokens, codes and the consent of (email, client).
    pub fn revoke_grant(&mut self, email: &str, client_id: &str) {
        let same = |e: &str, c: &str| e.eq_ignore_ascii_case(email) && c == client_id;
        self.access.retain(|_, a| !same(&a.email, &a.client_id));
        self.refresh.retain(|_, r| !same(&r.email, &r.client_id));
        self.codes.retain(|_, c| !same(&c.email, &c.client_id));
        self.consents.retain(|(e, c), _| !same(e, c));
    }

    /// Every client this account has a consent or token for.
    pub fn clients_of(&self, email: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (e, c) in self.consents.keys() {
            if e.eq_ignore_ascii_case(email) {
                out.insert(c.clone());
            }
        }
        for r in self.refresh.values() {
            if r.email.eq_ignore_ascii_case(email) {
                out.insert(r.client_id.clone());
            }
        }
        for a in self.access.values() {
            if a.email.eq_ignore_ascii_case(email) {
                out.insert(a.client_id.clone());
            }
        }
        out
    }
}

/// URL-safe random string of `len` characters from the OS CSPRNG.
pub fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len * 3 / 4 + 1];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut s = URL_SAFE_NO_PAD.encode(bytes);
    s.truncate(len);
    s
}

/// Where the state is kept across restarts, and whether it changed since it was written (the
/// writing is `persist`'s).
pub struct StateFile {
    path: std::path::PathBuf,
    dirty: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl StateFile {
    pub fn new(path: std::path::PathBuf) -> Self {
        StateFile {
            path,
            dirty: Default::default(),
            wake: tokio::sync::Notify::new(),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Marks the state changed and wakes the writer.
    pub fn changed(&self) {
        self.dirty.store(true, std::sync::atomic::Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether it changed since the last call (and clears the mark).
    pub fn take_changed(&self) -> bool {
        self.dirty.swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    pub async fn wait_for_change(&self) {
        self.wake.notified().await
    }
}

/// Everything a handler needs.
pub struct Shared {
    pub issuer: String,
    /// The profile chosen at start (`POST /emulator/reset` returns to it).
    pub start_profile: Profile,
    /// The profile in force (`PUT /emulator/profile` changes it).
    pub profile: Mutex<Profile>,
    /// The signing keys: the current one, and the one before the last rotation.
    pub keys: Mutex<KeyRing>,
    /// Where the state is kept across restarts (`None`: in memory only).
    pub persister: Option<StateFile>,
    pub code_ttl: Duration,
    pub access_ttl: Duration,
    pub seed: Seed,
    pub store: Mutex<Store>,
    /// Clients registered in-process with `Emulator::register_client`; they survive a reset.
    pub pinned_clients: Mutex<HashMap<String, ClientRegistration>>,
    pub faults: Mutex<Faults>,
    pub log: Mutex<RequestLog>,
    /// The HTTP client that pushes RISC events to the receivers.
    pub risc_http: reqwest::Client,
    /// The first wait before a failed RISC delivery is tried again (doubled each time).
    pub risc_retry_base: Duration,
    /// Bumped by every reset and import: RISC retries begun before stop.
    pub risc_generation: std::sync::atomic::AtomicU64,
}

/// The store, to read: a guard that cannot change it (changes go through
/// [`Shared::store_mut`], so that they are saved).
pub struct StoreRead<'a>(std::sync::MutexGuard<'a, Store>);

impl std::ops::Deref for StoreRead<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

impl Shared {
    /// The store, to read.
    pub fn store(&self) -> StoreRead<'_> {
        StoreRead(self.store.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The store, to change: with a state file, the change is saved shortly after.
    pub fn store_mut(&self) -> std::sync::MutexGuard<'_, Store> {
        if let Some(p) = &self.persister {
            p.changed();
        }
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The signing keys in force.
    pub fn keys(&self) -> KeyRing {
        *self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the signing keys (a rotation, an import); saved like a change of the store.
    pub fn set_keys(&self, keys: KeyRing) {
        *self.keys.lock().unwrap_or_else(|e| e.into_inner()) = keys;
        if let Some(p) = &self.persister {
            p.changed();
        }
    }

    pub fn profile(&self) -> Profile {
        *self.profile.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_profile(&self, profile: Profile) {
        *self.profile.lock().unwrap_or_else(|e| e.into_inner()) = profile;
    }

    pub fn clear_faults(&self) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = Faults::default();
    }

    /// Back to the start: the seed, the pinned clients, the start profile, no faults.
    pub fn reset(&self) {
        let mut fresh = Store::from_seed(&self.seed);
        for c in self
            .pinned_clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            fresh.clients.insert(c.client_id.clone(), c.clone());
        }
        *self.store_mut() = fresh;
        self.set_profile(self.start_profile);
        self.clear_faults();
        self.new_risc_generation();
    }

    /// The RISC deliveries under way belong to the state before: their retries stop.
    pub fn new_risc_generation(&self) {
        self.risc_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn risc_generation(&self) -> u64 {
        self.risc_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Applies the next pending fault for `endpoint`: waits, then maybe refuses (`Err`).
pub async fn take_fault(shared: &Shared, endpoint: &str) -> Result<(), Refusal> {
    let fault = shared
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take(endpoint);
    let Some(fault) = fault else {
        return Ok(());
    };
    if let Some(ms) = fault.delay_ms {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    match fault.status {
        Some(s) => Err(fault_response(endpoint, s, fault.reason)),
        None => Ok(()),
    }
}

/// Mints an ID token signed by this emulator, applying the next pending ID-token fault if any.
pub fn id_token(shared: &Shared, input: IdTokenInput<'_>) -> String {
    let fault = shared
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take_id_token();
    sign_id_token(
        shared.keys().current,
        &shared.issuer,
        shared.profile(),
        fault,
        input,
    )
}
