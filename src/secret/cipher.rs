//! AES-256-GCM sealing: `key id (4 bytes) ‖ nonce (12 bytes) ‖ ciphertext+tag`, with the
//! caller's associated data (user id + field) so a value cannot be moved to another row or
//! column. The key id is a fingerprint of the key, so a value sealed under another key (a
//! different SECRET_KEY, or an older key once keys rotate) is recognised as such instead of
//! being mistaken for corrupt data.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};

const NONCE_LEN: usize = 12;
const ID_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is too short")]
    Truncated,
    #[error("sealed under another key")]
    UnknownKey,
    #[error("value does not decrypt with this key and associated data")]
    Corrupt,
}

/// Encrypts and decrypts values at rest.
#[derive(Clone)]
pub struct Cipher {
    key_id: [u8; ID_LEN],
    aead: Aes256Gcm,
}

impl Cipher {
    pub fn new(key: &[u8; 32]) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"offline-access key id")
            .chain_update(key)
            .finalize();
        let mut key_id = [0u8; ID_LEN];
        key_id.copy_from_slice(&digest[..ID_LEN]);
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
        let mut out = Vec::with_capacity(ID_LEN + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value made by [`Cipher::seal`] with the same associated data.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, SealError> {
        if sealed.len() < ID_LEN + NONCE_LEN + 16 {
            return Err(SealError::Truncated);
        }
        if sealed[..ID_LEN] != self.key_id {
            return Err(SealError::UnknownKey);
        }
        let nonce = Nonce::from_slice(&sealed[ID_LEN..ID_LEN + NONCE_LEN]);
        self.aead
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[ID_LEN + NONCE_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_fresh_nonces() {
        let c = Cipher::new(&[7u8; 32]);
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
        let c = Cipher::new(&[7u8; 32]);
        let mut a = c.seal(b"v", "user:1:access_token");
        assert!(matches!(
            c.open(&a, "user:2:access_token"),
            Err(SealError::Corrupt)
        ));
        let last = a.len() - 1;
        a[last] ^= 1;
        assert!(matches!(
            c.open(&a, "user:1:access_token"),
            Err(SealError::Corrupt)
        ));
        assert!(matches!(c.open(&[1, 2], "x"), Err(SealError::Truncated)));
        let other = Cipher::new(&[8u8; 32]);
        let sealed = other.seal(b"v", "x");
        assert!(matches!(c.open(&sealed, "x"), Err(SealError::UnknownKey)));
    }
}
