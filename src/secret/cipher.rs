//! AES-256-GCM sealing: `key id (4 bytes) ‖ nonce (12 bytes) ‖ ciphertext+tag`, with the
//! caller's associated data (user id + field) so a value cannot be moved to another row or
//! column. The key id is a fingerprint of the key (never the key), so a value names the key
//! that sealed it: a `Cipher` seals under its current key and opens under the key a value
//! names — the current one or a retired one still accepted for reading (key rotation) — and a
//! value sealed under a key it does not hold is recognised as such instead of being mistaken
//! for corrupt data.

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

/// Which of a cipher's keys sealed a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedUnder {
    Current,
    Previous,
    /// A key this cipher does not hold (or a value too short to name one).
    Unknown,
}

#[derive(Clone)]
struct SealingKey {
    id: [u8; ID_LEN],
    aead: Aes256Gcm,
}

impl SealingKey {
    fn new(key: &[u8; 32]) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"offline-access key id")
            .chain_update(key)
            .finalize();
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&digest[..ID_LEN]);
        Self {
            id,
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }
}

/// Encrypts and decrypts values at rest: seals under the current key, opens under the current
/// key or any previous one.
#[derive(Clone)]
pub struct Cipher {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl Cipher {
    pub fn new(key: &[u8; 32]) -> Self {
        Self::with_previous(key, &[])
    }

    /// A cipher that seals under `current` and still opens what `previous` keys sealed.
    pub fn with_previous(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        let current = SealingKey::new(current);
        let previous = previous
            .iter()
            .map(SealingKey::new)
            .filter(|k| k.id != current.id)
            .collect();
        Self { current, previous }
    }

    /// The current key's id in hex: what an operator may print to tell keys apart.
    pub fn key_id(&self) -> String {
        super::hex(&self.current.id)
    }

    /// Which key sealed `sealed`, judged by the id it carries (nothing is decrypted).
    pub fn sealed_under(&self, sealed: &[u8]) -> SealedUnder {
        match sealed.get(..ID_LEN) {
            Some(id) if id == self.current.id => SealedUnder::Current,
            Some(id) if self.previous.iter().any(|k| k.id == id) => SealedUnder::Previous,
            _ => SealedUnder::Unknown,
        }
    }

    /// Encrypts `plaintext` under the current key and a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Vec<u8> {
        let key = &self.current;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = key
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
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value made by [`Cipher::seal`] with the same associated data, under the key
    /// the value names.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<Vec<u8>, SealError> {
        if sealed.len() < ID_LEN + NONCE_LEN + 16 {
            return Err(SealError::Truncated);
        }
        let id = &sealed[..ID_LEN];
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or(SealError::UnknownKey)?;
        let nonce = Nonce::from_slice(&sealed[ID_LEN..ID_LEN + NONCE_LEN]);
        key.aead
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[ID_LEN + NONCE_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)
    }

    /// Opens a value and, when a previous key sealed it, seals it again under the current
    /// key: `Ok(None)` when it is already under the current key (nothing to do).
    pub fn reseal(&self, sealed: &[u8], aad: &str) -> Result<Option<Vec<u8>>, SealError> {
        if self.sealed_under(sealed) == SealedUnder::Current {
            return Ok(None);
        }
        let plaintext = self.open(sealed, aad)?;
        Ok(Some(self.seal(&plaintext, aad)))
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

    #[test]
    fn previous_keys_open_and_current_key_seals() {
        let old = Cipher::new(&[1u8; 32]);
        let sealed_old = old.seal(b"refresh", "user:1:refresh_token");
        let rotated = Cipher::with_previous(&[2u8; 32], &[[1u8; 32]]);
        assert_eq!(rotated.sealed_under(&sealed_old), SealedUnder::Previous);
        assert_eq!(
            rotated.open(&sealed_old, "user:1:refresh_token").unwrap(),
            b"refresh"
        );
        let fresh = rotated.seal(b"refresh", "user:1:refresh_token");
        assert_eq!(rotated.sealed_under(&fresh), SealedUnder::Current);
        assert!(matches!(
            old.open(&fresh, "user:1:refresh_token"),
            Err(SealError::UnknownKey)
        ));
        let resealed = rotated
            .reseal(&sealed_old, "user:1:refresh_token")
            .unwrap()
            .expect("a value under a previous key is re-sealed");
        assert_eq!(rotated.sealed_under(&resealed), SealedUnder::Current);
        assert!(rotated
            .reseal(&resealed, "user:1:refresh_token")
            .unwrap()
            .is_none());
        // Once the old key is dropped, its values are named as under an unknown key.
        let dropped = Cipher::new(&[2u8; 32]);
        assert_eq!(dropped.sealed_under(&sealed_old), SealedUnder::Unknown);
        assert!(matches!(
            dropped.reseal(&sealed_old, "user:1:refresh_token"),
            Err(SealError::UnknownKey)
        ));
        assert_ne!(old.key_id(), rotated.key_id());
    }
}
