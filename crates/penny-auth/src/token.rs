//! HS256 access tokens. Validation pins the algorithm, so `alg: none` and any other
//! algorithm (including RS/HS confusion) are rejected.

use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The tenant id.
    pub tid: Uuid,
    /// The user's role in the tenant (`admin`, `manager`, `creator`, `viewer`).
    pub role: String,
    /// Platform super-admin.
    #[serde(default)]
    pub sa: bool,
    /// The refresh-session family this token was issued under (lets logout end it).
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("token has expired")]
    Expired,
    #[error("token is invalid")]
    Invalid,
}

#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
}

impl TokenIssuer {
    pub fn new(secret: &[u8], ttl_secs: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(&self, sub: Uuid, tid: Uuid, role: &str, sa: bool, sid: Uuid) -> String {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub,
            tid,
            role: role.to_string(),
            sa,
            sid,
            iat: now,
            exp: now + self.ttl_secs,
        };
        // HS256 encoding of a serialisable struct cannot fail.
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(b"a-test-secret-that-is-long-enough-000", 900)
    }

    #[test]
    fn issued_token_verifies() {
        let i = issuer();
        let (u, t, s) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let c = i.verify(&i.issue(u, t, "admin", true, s)).unwrap();
        assert_eq!((c.sub, c.tid, c.role.as_str(), c.sa), (u, t, "admin", true));
    }

    #[test]
    fn alg_none_is_rejected() {
        let i = issuer();
        let good = i.issue(
            Uuid::new_v4(),
            Uuid::new_v4(),
            "admin",
            true,
            Uuid::new_v4(),
        );
        let payload = good.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            i.verify(&format!("{header}.{payload}.")),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn other_algorithm_and_other_secret_are_rejected() {
        let i = issuer();
        let claims = serde_json::json!({"sub": Uuid::new_v4(), "tid": Uuid::new_v4(), "role": "admin",
            "sid": Uuid::new_v4(), "iat": 0, "exp": Utc::now().timestamp() + 60});
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(b"a-test-secret-that-is-long-enough-000"),
        )
        .unwrap();
        assert_eq!(i.verify(&hs512), Err(TokenError::Invalid));
        let other = TokenIssuer::new(b"another-secret-another-secret-0000", 900);
        let forged = other.issue(
            Uuid::new_v4(),
            Uuid::new_v4(),
            "admin",
            true,
            Uuid::new_v4(),
        );
        assert_eq!(i.verify(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_token_is_reported_as_expired() {
        let i = TokenIssuer::new(b"a-test-secret-that-is-long-enough-000", -5);
        let t = i.issue(
            Uuid::new_v4(),
            Uuid::new_v4(),
            "viewer",
            false,
            Uuid::new_v4(),
        );
        assert_eq!(i.verify(&t), Err(TokenError::Expired));
    }
}
