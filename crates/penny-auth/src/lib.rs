//! Credentials: argon2id password hashes, HS256 access tokens, and opaque secrets
//! (refresh tokens, API keys) that are stored only as SHA-256 digests.

mod password;
mod sealed;
mod secret;
mod token;

pub use password::{hash_password, verify_password, PasswordError, MIN_PASSWORD_LEN};
pub use sealed::{SealError, SealingKey};
pub use secret::{digest, new_api_key, new_refresh_token, ApiKeySecret, API_KEY_PREFIX};
pub use token::{AccessClaims, TokenError, TokenIssuer};
