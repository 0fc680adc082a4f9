//! Test support for the emulator's own tests and for apps tested against it (cargo feature
//! `testing`): [`Emu`], an emulator on port 0 with a client for it; the consent screen walked
//! as a browser walks it ([`walk_consent`], [`csrf_token`]); table-driven checks of token
//! refusals and ID tokens; and headless Chromium through chromedriver ([`chromium`]).
//!
//! Helpers panic with a message when something they rely on fails: they are for tests.

pub mod chromium;
mod client;
mod consent;
mod tables;

pub use client::*;
pub use consent::*;
pub use tables::*;
/// The WebDriver client the browser helpers use.
pub use thirtyfour;
