//! CSRF tokens for the consent form (account chooser + scopes). Each rendered page gets a
//! random token, kept here with a short expiry and bound to the authorization request the page
//! shows; the POST must hand it back, and it works once. A page on another origin can make a
//! browser POST the form but cannot read a token, so it can never grant anything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The hidden form field that carries the token.
pub const FIELD: &str = "csrf_token";

/// How long a rendered consent page can be submitted.
const TTL: Duration = Duration::from_secs(10 * 60);
/// At most this many pending tokens: rendering pages in a loop cannot grow memory unbounded
/// (the oldest token is dropped first).
const MAX_PENDING: usize = 10_000;

struct Pending {
    issued: Instant,
    /// Issue order, to drop the oldest first.
    seq: u64,
    /// SHA-256 of the authorization request the page was rendered for.
    request: [u8; 32],
}

#[derive(Default)]
pub struct FormTokens {
    pending: HashMap<String, Pending>,
    issued: u64,
}

impl std::fmt::Debug for FormTokens {
    /// Counts only: the tokens are secrets of the pages they were issued to.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormTokens")
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// A digest of the request parameters the form carries back, so a token only answers the
/// request it was rendered for.
fn digest(request: &[(String, String)]) -> [u8; 32] {
    let mut h = Sha256::new();
    for (k, v) in request {
        for part in [k, v] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
    }
    h.finalize().into()
}

impl FormTokens {
    /// Records `token` (a fresh random value) for a page showing `request`; returns it.
    pub fn issue(&mut self, request: &[(String, String)], token: String) -> String {
        let now = Instant::now();
        if self.pending.len() >= MAX_PENDING {
            self.pending
                .retain(|_, p| now.duration_since(p.issued) < TTL);
        }
        if self.pending.len() >= MAX_PENDING {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.seq)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.pending.remove(&k);
            }
        }
        self.issued += 1;
        self.pending.insert(
            token.clone(),
            Pending {
                issued: now,
                seq: self.issued,
                request: digest(request),
            },
        );
        token
    }

    /// Spends `token`: true when it was issued for `request` and has not expired. Any answer
    /// removes it, so a token is never accepted twice.
    pub fn take(&mut self, token: &str, request: &[(String, String)]) -> bool {
        match self.pending.remove(token) {
            Some(p) => p.issued.elapsed() < TTL && p.request == digest(request),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(state: &str) -> Vec<(String, String)> {
        vec![
            ("client_id".into(), "c".into()),
            ("state".into(), state.into()),
        ]
    }

    #[test]
    fn single_use_and_bound_to_the_request() {
        let mut t = FormTokens::default();
        let a = t.issue(&req("1"), "a".into());
        assert!(t.take(&a, &req("1")));
        assert!(!t.take(&a, &req("1")), "used once");
        let b = t.issue(&req("1"), "b".into());
        assert!(!t.take(&b, &req("2")), "another request");
        assert!(!t.take(&b, &req("1")), "a refused token is spent too");
        assert!(!t.take("never-issued", &req("1")));
    }

    #[test]
    fn bounded() {
        let mut t = FormTokens::default();
        for i in 0..MAX_PENDING + 5 {
            t.issue(&req("1"), format!("t{i}"));
        }
        assert_eq!(t.pending.len(), MAX_PENDING);
        assert!(!t.take("t0", &req("1")), "the oldest went first");
        assert!(t.take(&format!("t{}", MAX_PENDING + 4), &req("1")));
    }
}
