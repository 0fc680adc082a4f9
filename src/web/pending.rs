//! The sign-in in progress, kept in a sealed cookie of its own rather than in a database row:
//! starting a sign-in (any anonymous visitor can) costs the server nothing to store. The cookie
//! holds the state, nonce and PKCE verifier, the feature being asked for, and when it was
//! issued; it is sealed (AES-256-GCM, its own associated data) so the browser can neither read
//! nor alter it, and it lives 15 minutes. Single use is enforced when the callback claims the
//! state in the database ([`crate::store::claims`]).

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::feature::Feature;
use crate::google::oauth::PendingAuth;
use crate::secret::Cipher;

/// How long a started sign-in may take to come back.
pub const TTL_SECS: i64 = 15 * 60;
/// Associated data binding the sealed value to this one use.
const AAD: &str = "pending-sign-in/v1";
/// Cookies larger than this are not ours: refused before any decryption.
const MAX_COOKIE_LEN: usize = 1024;

/// What the callback needs of the sign-in it completes.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct PendingSignIn {
    #[serde(flatten)]
    pub auth: PendingAuth,
    /// The feature whose scope this authorization asks for (incremental authorization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    asking: Option<String>,
    /// Seconds since the epoch.
    issued_at: i64,
}

impl PendingSignIn {
    pub fn new(auth: PendingAuth, asking: Option<Feature>) -> Self {
        Self {
            auth,
            asking: asking.map(|f| f.as_str().to_string()),
            issued_at: chrono::Utc::now().timestamp(),
        }
    }

    pub fn asking(&self) -> Option<Feature> {
        self.asking.as_deref().and_then(Feature::parse)
    }

    /// When this sign-in can no longer complete.
    pub fn expires_at(&self) -> chrono::NaiveDateTime {
        chrono::DateTime::from_timestamp(self.issued_at + TTL_SECS, 0)
            .unwrap_or_default()
            .naive_utc()
    }
}

/// Issues and reads the pending-sign-in cookie.
#[derive(Clone)]
pub struct PendingCookies {
    cipher: Cipher,
    secure: bool,
}

impl PendingCookies {
    pub fn new(cipher: Cipher, secure: bool) -> Self {
        Self { cipher, secure }
    }

    /// `__Host-` when served over https: only this origin can set or read it.
    fn name(&self) -> &'static str {
        if self.secure {
            "__Host-oa_pending"
        } else {
            "oa_pending"
        }
    }

    fn cookie(&self, value: String, max_age: time::Duration) -> Cookie<'static> {
        Cookie::build(self.name(), value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            // The provider sends the browser back with a top-level GET, which Lax allows.
            .same_site(SameSite::Lax)
            .max_age(max_age)
            .finish()
    }

    /// The cookie that remembers `pending` for [`TTL_SECS`].
    pub fn issue(&self, pending: &PendingSignIn) -> Cookie<'static> {
        let json = serde_json::to_vec(pending).expect("a pending sign-in serializes");
        let sealed = URL_SAFE_NO_PAD.encode(self.cipher.seal(&json, AAD));
        self.cookie(sealed, time::Duration::seconds(TTL_SECS))
    }

    /// The cookie that removes it.
    pub fn removal(&self) -> Cookie<'static> {
        self.cookie(String::new(), time::Duration::ZERO)
    }

    /// The sign-in this browser started, if its cookie is ours, intact and not expired.
    pub fn read(&self, req: &HttpRequest) -> Option<PendingSignIn> {
        let cookie = req.cookie(self.name())?;
        let value = cookie.value();
        if value.is_empty() || value.len() > MAX_COOKIE_LEN {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        let json = self.cipher.open(&sealed, AAD).ok()?;
        let pending: PendingSignIn = serde_json::from_slice(&json).ok()?;
        let age = chrono::Utc::now().timestamp() - pending.issued_at;
        (0..=TTL_SECS).contains(&age).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingSignIn {
        PendingSignIn::new(
            PendingAuth {
                state: "s".into(),
                nonce: "n".into(),
                pkce_verifier: "v".into(),
            },
            Some(Feature::Gmail),
        )
    }

    fn request_with(cookies: &PendingCookies, value: &str) -> HttpRequest {
        actix_web::test::TestRequest::default()
            .cookie(Cookie::new(cookies.name(), value.to_string()))
            .to_http_request()
    }

    #[test]
    fn a_pending_sign_in_round_trips_and_nothing_else_is_accepted() {
        let cookies = PendingCookies::new(Cipher::new(&[7; 32]), true);
        let issued = cookies.issue(&pending());
        assert_eq!(issued.name(), "__Host-oa_pending");
        assert_eq!(issued.max_age(), Some(time::Duration::minutes(15)));
        assert_eq!(issued.http_only(), Some(true));
        assert!(!issued.value().contains("pkce") && !issued.value().contains('"'));
        let back = cookies
            .read(&request_with(&cookies, issued.value()))
            .unwrap();
        assert_eq!(back.auth.state, "s");
        assert_eq!(back.asking(), Some(Feature::Gmail));

        // Another key, a flipped byte, garbage, an oversized value: not a pending sign-in.
        let other = PendingCookies::new(Cipher::new(&[8; 32]), true);
        assert!(other.read(&request_with(&other, issued.value())).is_none());
        let mut tampered = issued.value().to_string();
        let flipped = if tampered.ends_with('A') { "B" } else { "A" };
        tampered.replace_range(tampered.len() - 1.., flipped);
        assert!(cookies.read(&request_with(&cookies, &tampered)).is_none());
        for junk in ["", "%%%", "not base64!", &"A".repeat(5000)] {
            assert!(
                cookies.read(&request_with(&cookies, junk)).is_none(),
                "{junk}"
            );
        }
    }

    #[test]
    fn an_old_pending_sign_in_has_expired() {
        let cookies = PendingCookies::new(Cipher::new(&[7; 32]), false);
        let mut old = pending();
        old.issued_at -= TTL_SECS + 1;
        let issued = cookies.issue(&old);
        assert!(cookies
            .read(&request_with(&cookies, issued.value()))
            .is_none());
    }
}
