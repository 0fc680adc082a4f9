//! The Google emulator over real HTTP, one module per endpoint family (tests/emulator/).

#[path = "support/chromium.rs"]
mod chromium;
mod emulator_support;

/// What every module here uses.
mod prelude {
    pub use crate::emulator_support::*;
    pub use google_emulator::{client_secret_json, ClientKind, ClientRegistration, Options};
    pub use reqwest::Method;
    pub use serde_json::{json, Value};

    pub const ALICE: &str = "alice@example.test";
    pub const BOB: &str = "bob@example.test";

    pub fn scope_with(extra: &str) -> String {
        format!("{BASIC} {extra}")
    }

    /// An API or control answer: status and JSON body (`null` when it is not JSON).
    pub async fn json_of(res: reqwest::Response) -> (u16, Value) {
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub fn urlencode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
    }
}

#[path = "emulator/authorize.rs"]
mod authorize;
#[path = "emulator/client_libraries.rs"]
mod client_libraries;
#[path = "emulator/controls.rs"]
mod controls;
#[path = "emulator/discovery.rs"]
mod discovery;
#[path = "emulator/drive.rs"]
mod drive;
#[path = "emulator/faults.rs"]
mod faults;
#[path = "emulator/gmail.rs"]
mod gmail;
#[path = "emulator/profile.rs"]
mod profile;
#[path = "emulator/revoke_userinfo.rs"]
mod revoke_userinfo;
#[path = "emulator/risc.rs"]
mod risc;
#[path = "emulator/safety.rs"]
mod safety;
#[path = "emulator/state.rs"]
mod state;
#[path = "emulator/token.rs"]
mod token;
