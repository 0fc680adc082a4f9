//! offline-access: sign in with Google, then let the server work for the user.
//!
//! See `docs/ARCHITECTURE.md` for a tour of the modules.

pub mod check;
pub mod cli;
pub mod config;
pub mod google;
pub mod logging;
pub mod meters;
pub mod rekey;
pub mod secret;
pub mod startup;
pub mod store;
pub mod sync;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vault;
pub mod web;
