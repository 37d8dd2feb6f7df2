//! Secrets PENNY must use later (upstream model API keys) are sealed with AES-256-GCM
//! under `PENNY_ENCRYPTION_KEY`: stored as nonce (12 bytes) followed by the ciphertext.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SealError {
    #[error("must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)")]
    BadKey,
    #[error("sealed value is corrupt or was sealed under another key")]
    Corrupt,
}

#[derive(Clone)]
pub struct SealingKey(Aes256Gcm);

impl SealingKey {
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        Ok(SealingKey(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(
            &bytes,
        ))))
    }

    /// A new random key, base64-encoded.
    pub fn generate_base64() -> String {
        STANDARD.encode(Aes256Gcm::generate_key(OsRng))
    }

    pub fn seal(&self, plaintext: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        let ct = self
            .0
            .encrypt(&nonce, plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, SealError> {
        if sealed.len() < 12 + 16 {
            return Err(SealError::Corrupt);
        }
        let (nonce, ct) = sealed.split_at(12);
        let pt = self
            .0
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(pt).map_err(|_| SealError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_tampering_and_wrong_keys() {
        let k = SealingKey::from_base64(&SealingKey::generate_base64()).unwrap();
        let sealed = k.seal("sk-secret");
        assert!(!sealed.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(k.open(&sealed).unwrap(), "sk-secret");
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert_eq!(k.open(&bad), Err(SealError::Corrupt));
        let other = SealingKey::from_base64(&SealingKey::generate_base64()).unwrap();
        assert_eq!(other.open(&sealed), Err(SealError::Corrupt));
        assert_eq!(
            SealingKey::from_base64("c2hvcnQ=").err(),
            Some(SealError::BadKey)
        );
    }
}
