//! AES-256-GCM sealing: `key id (1 byte) ‖ nonce (12 bytes) ‖ ciphertext+tag`, with the caller's
//! associated data (user id + field) so a value cannot be moved to another row or column.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("sealed value is too short")]
    Truncated,
    #[error("sealed with unknown key id {0}")]
    UnknownKey(u8),
    #[error("value does not decrypt with this key and associated data")]
    Corrupt,
}

/// Encrypts and decrypts values at rest.
#[derive(Clone)]
pub struct Cipher {
    key_id: u8,
    aead: Aes256Gcm,
}

impl Cipher {
    pub fn new(key_id: u8, key: &[u8; 32]) -> Self {
        Self {
            key_id,
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }

    /// Encrypts `plaintext` under a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(self.key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value made by [`Cipher::seal`] with the same associated data.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < 1 + NONCE_LEN + 16 {
            return Err(VaultError::Truncated);
        }
        if sealed[0] != self.key_id {
            return Err(VaultError::UnknownKey(sealed[0]));
        }
        let nonce = Nonce::from_slice(&sealed[1..1 + NONCE_LEN]);
        self.aead
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonces() {
        let c = Cipher::new(1, &[7u8; 32]);
        let a = c.seal(b"refresh-token", "user:1:refresh_token");
        let b = c.seal(b"refresh-token", "user:1:refresh_token");
        assert_ne!(a, b, "nonces must differ");
        assert_eq!(
            c.open(&a, "user:1:refresh_token").unwrap(),
            b"refresh-token"
        );
    }

    #[test]
    fn wrong_aad_or_tampering_fails_cleanly() {
        let c = Cipher::new(1, &[7u8; 32]);
        let mut a = c.seal(b"v", "user:1:access_token");
        assert!(matches!(
            c.open(&a, "user:2:access_token"),
            Err(VaultError::Corrupt)
        ));
        let last = a.len() - 1;
        a[last] ^= 1;
        assert!(matches!(
            c.open(&a, "user:1:access_token"),
            Err(VaultError::Corrupt)
        ));
        assert!(matches!(c.open(&[1, 2], "x"), Err(VaultError::Truncated)));
        let other = Cipher::new(2, &[7u8; 32]);
        let sealed = other.seal(b"v", "x");
        assert!(matches!(
            c.open(&sealed, "x"),
            Err(VaultError::UnknownKey(2))
        ));
    }
}
