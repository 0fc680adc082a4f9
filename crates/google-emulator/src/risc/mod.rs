//! Cross-Account Protection (RISC): `events` (the event vocabulary, streams, the configuration
//! document and the Security Event Tokens: pure functions) and `delivery` (pushing them to the
//! streams' receivers). The controls that drive them are `control::risc`.

pub mod delivery;
mod events;

pub use events::*;
