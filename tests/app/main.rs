//! Integration tests of the web app against the Google emulator, over real HTTP, each with a
//! fresh SQLite database.

mod admin;
mod architecture;
mod authcode;
mod bad_input;
mod browser;
mod cli;
mod gmail;
mod hardening;
mod offline;
mod oidc;
mod operations;
mod pageview;
mod properties;
mod ratelimit;
mod risc;
mod scaleout;
mod signin;
