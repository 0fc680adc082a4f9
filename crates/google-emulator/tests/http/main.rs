//! The Google emulator over real HTTP, one module per endpoint family, on the crate's
//! `testing` support (the client, the consent form, the refusal tables, Chromium).

mod authorize;
mod callback_page;
mod client_libraries;
mod controls;
mod discovery;
mod drive;
mod faults;
mod gmail;
mod profile;
mod revoke_userinfo;
mod risc;
mod safety;
mod state;
mod token;

/// What every module here uses.
mod prelude {
    pub use google_emulator::testing::*;
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
