//! Tokens at rest: the credential keeper (`Vault`), which seals grants into the database and
//! hands out fresh access tokens. The keys and the sealing itself live in `crate::secret`.

mod credentials;

pub use credentials::{Access, CallError, Revocation, SignIn, TokenError, Vault};

/// Associated data binding a sealed value to its user and column.
pub fn aad(user: crate::store::users::UserId, field: &str) -> String {
    format!("user:{user}:{field}")
}
