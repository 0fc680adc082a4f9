//! One file per area of the site. Each handler's signature says who may call it (the
//! extractors) and what it needs (`State`).

pub mod account;
pub mod admin;
pub mod assets;
pub mod authcode;
pub mod gmail;
pub mod grant;
pub mod health;
pub mod home;
pub mod oauth;
pub mod revocation;
pub mod risc;
pub mod scrape;
