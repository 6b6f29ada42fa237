//! The crypto behind `jsonwebtoken` for our session tokens: HMAC (HS256, and HS384/HS512 so tests can
//! mint tokens the verifier must refuse) on ring, installed as `jsonwebtoken`'s process-wide provider.
//!
//! Why not one of `jsonwebtoken`'s built-in providers: both pick the signer and verifier from the token's
//! algorithm at run time, so every algorithm they support (RSA, ECDSA, EdDSA with their big-number and
//! curve code) is linked into every binary that verifies a session, for tokens that are only ever HS256.
//! `aws_lc_rs` also brought aws-lc itself (2+ MB). Everything else here uses ring already (TLS, the Stripe
//! signature, magic-link tokens); this is the documented extension point (`CryptoProvider`), not a JWT
//! implementation: parsing, claims validation and encoding stay `jsonwebtoken`'s.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::hmac;

static PROVIDER: CryptoProvider =
    CryptoProvider { signer_factory: signer, verifier_factory: verifier, key_utils: KeyUtils::new_unimplemented() };

/// Install the provider (idempotent, cheap after the first call). Every `jsonwebtoken` call in this
/// workspace runs after it: [`crate::session::SessionConfig::new`] calls it (at cold start), tests that
/// mint tokens with `jsonwebtoken` directly call it first.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is already installed, which is then ours.
        let _ = PROVIDER.install_default();
    });
}

fn ring_algorithm(alg: &Algorithm) -> Result<hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Ok(hmac::HMAC_SHA256),
        Algorithm::HS384 => Ok(hmac::HMAC_SHA384),
        Algorithm::HS512 => Ok(hmac::HMAC_SHA512),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

struct Hmac {
    alg: Algorithm,
    key: hmac::Key,
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    if key.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(Hmac { alg: *alg, key: hmac::Key::new(ring_algorithm(alg)?, key.as_bytes()) }))
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if key.family() != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(Hmac { alg: *alg, key: hmac::Key::new(ring_algorithm(alg)?, key.try_get_as_bytes()?) }))
}

impl Signer<Vec<u8>> for Hmac {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.key, msg).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hmac {
    /// Constant time (ring's `hmac::verify`).
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        hmac::verify(&self.key, msg, signature).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

impl JwtVerifier for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7515 appendix A.1: the HS256 example, byte for byte.
    #[test]
    fn rfc7515_hs256_example() {
        install();
        let key = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        let signing_input = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig =
            jsonwebtoken::crypto::sign(signing_input.as_bytes(), &EncodingKey::from_secret(&key), Algorithm::HS256)
                .unwrap();
        assert_eq!(sig, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let dk = DecodingKey::from_secret(&key);
        assert!(jsonwebtoken::crypto::verify(&sig, signing_input.as_bytes(), &dk, Algorithm::HS256).unwrap());
        let mut tampered = signing_input.to_string();
        tampered.push('x');
        assert!(!jsonwebtoken::crypto::verify(&sig, tampered.as_bytes(), &dk, Algorithm::HS256).unwrap());
    }

    #[test]
    fn refuses_non_hmac_algorithms() {
        install();
        let r = jsonwebtoken::crypto::sign(b"x", &EncodingKey::from_secret(b"k"), Algorithm::RS256);
        assert!(r.is_err());
        let dk = DecodingKey::from_secret(b"k");
        assert!(jsonwebtoken::crypto::verify("AAAA", b"x", &dk, Algorithm::ES256).is_err());
    }
}
