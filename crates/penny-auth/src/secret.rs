//! Opaque bearer secrets. Only their SHA-256 digest is stored, so a database leak does
//! not leak usable credentials; the plaintext is shown to the user once.

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Every API key starts with this, so keys are recognisable in logs and secret scanners.
pub const API_KEY_PREFIX: &str = "pk_";

/// A freshly generated API key: `plaintext` is given to the user once; `display_prefix`
/// (e.g. `pk_7Hq2xK9a`) is stored to let people tell their keys apart.
pub struct ApiKeySecret {
    pub plaintext: String,
    pub display_prefix: String,
    pub digest: Vec<u8>,
}

fn random_alnum(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// SHA-256 of a secret, as stored in the database. Secrets have 190+ bits of entropy, so
/// a fast hash is right here (unlike passwords).
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub fn new_api_key() -> ApiKeySecret {
    let plaintext = format!("{API_KEY_PREFIX}{}", random_alnum(40));
    let display_prefix = plaintext[..API_KEY_PREFIX.len() + 8].to_string();
    let digest = digest(&plaintext);
    ApiKeySecret {
        plaintext,
        display_prefix,
        digest,
    }
}

/// Returns `(plaintext, digest)` of a new refresh token.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let plaintext = format!("rt_{}", random_alnum(48));
    let d = digest(&plaintext);
    (plaintext, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_unique_prefixed_and_digest_matches() {
        let a = new_api_key();
        let b = new_api_key();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with("pk_"));
        assert_eq!(a.plaintext.len(), 43);
        assert!(a.plaintext.starts_with(&a.display_prefix));
        assert_eq!(digest(&a.plaintext), a.digest);
    }
}
