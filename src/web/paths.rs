//! The paths other parts of the web layer name besides the route table: a leaf, so that a
//! middleware can tell them without importing the routes (and through them the handlers).

/// Where mobile apps send their codes (answered in JSON, even when refused early).
pub const AUTHCODE: &str = "/authcode";
/// Where the provider pushes security event tokens (Cross-Account Protection).
pub const RISC: &str = "/risc";
