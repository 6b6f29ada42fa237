//! Stripe's webhook signature scheme: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]`,
//! the HMAC keyed with the endpoint secret (the whole `whsec_...` string) over `"<t>.<raw body>"`.
//!
//! Verification uses the raw body exactly as received (a re-serialised payload fails), accepts any matching
//! `v1` (secret rotation), compares in constant time and refuses timestamps more than the tolerance away from
//! now, in either direction.

use ring::hmac;

/// Stripe's default tolerance.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("the signature timestamp is outside the tolerance")]
    Expired,
    #[error("no signature matches the payload")]
    Mismatch,
}

fn key(secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())
}

fn signed_payload(t: i64, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(payload.len() + 12);
    m.extend_from_slice(t.to_string().as_bytes());
    m.push(b'.');
    m.extend_from_slice(payload);
    m
}

/// The hex `v1` signature of `payload` at `t`.
pub fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
    hex::encode(hmac::sign(&key(secret), &signed_payload(t, payload)).as_ref())
}

/// A complete `Stripe-Signature` header value.
pub fn header(secret: &str, t: i64, payload: &[u8]) -> String {
    format!("t={t},v1={}", sign(secret, t, payload))
}

/// Verify a `Stripe-Signature` header against the raw body; returns the signed timestamp.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: i64,
    tolerance_seconds: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if header.len() > 4096 {
        return Err(SignatureError::Malformed);
    }
    let mut t: Option<i64> = None;
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed);
        };
        match k {
            "t" => {
                if t.is_some() || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(SignatureError::Malformed);
                }
                t = Some(v.parse().map_err(|_| SignatureError::Malformed)?);
            }
            // A v1 that is not 64 hex digits cannot match; skip it rather than reject the whole header.
            "v1" => {
                if let Ok(b) = hex::decode(v)
                    && b.len() == 32
                {
                    candidates.push(b);
                }
            }
            _ => {} // v0 (test mode) and future schemes are ignored, as Stripe's libraries do
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let key = key(secret);
    let message = signed_payload(t, payload);
    // Check every candidate (no early exit on the first match), each in constant time.
    let matched = candidates.iter().fold(false, |acc, c| hmac::verify(&key, &message, c).is_ok() | acc);
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now - t).abs() > tolerance_seconds {
        return Err(SignatureError::Expired);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const PAYLOAD: &str = r#"{"id":"evt_test_webhook","object":"event"}"#;
    const T: i64 = 1_700_000_000;
    const V1: &str = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";

    #[test]
    fn stripe_test_vector() {
        assert_eq!(sign(SECRET, T, PAYLOAD.as_bytes()), V1);
        let h = format!("t={T},v1={V1}");
        assert_eq!(verify(Some(&h), PAYLOAD.as_bytes(), SECRET, T + 10, 300), Ok(T));
    }

    #[test]
    fn any_one_byte_change_fails() {
        let h = format!("t={T},v1={V1}");
        let bytes = PAYLOAD.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] ^= 0x01;
            assert_eq!(verify(Some(&h), &b, SECRET, T, 300), Err(SignatureError::Mismatch), "byte {i}");
        }
        let reserialised = serde_json::to_vec_pretty(&serde_json::from_str::<serde_json::Value>(PAYLOAD).unwrap());
        assert_eq!(verify(Some(&h), &reserialised.unwrap(), SECRET, T, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&h), bytes, "whsec_other", T, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn header_forms() {
        let p = PAYLOAD.as_bytes();
        let wrong = "0".repeat(64);
        // rotation: any v1 may match, in any position; unknown schemes are ignored
        assert!(verify(Some(&format!("t={T},v1={wrong},v0=abc,v1={V1}")), p, SECRET, T, 300).is_ok());
        assert_eq!(verify(None, p, SECRET, T, 300), Err(SignatureError::Missing));
        assert_eq!(verify(Some(""), p, SECRET, T, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&format!("v1={V1}")), p, SECRET, T, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&format!("t=-5,v1={V1}")), p, SECRET, T, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(Some(&format!("t={T}")), p, SECRET, T, 300), Err(SignatureError::NoSignature));
        assert_eq!(verify(Some(&format!("t={T},v1=zz")), p, SECRET, T, 300), Err(SignatureError::NoSignature));
        assert_eq!(verify(Some(&format!("t={T},t={T},v1={V1}")), p, SECRET, T, 300), Err(SignatureError::Malformed));
    }

    #[test]
    fn tolerance_both_ways() {
        let h = format!("t={T},v1={V1}");
        let p = PAYLOAD.as_bytes();
        assert!(verify(Some(&h), p, SECRET, T + 300, 300).is_ok());
        assert_eq!(verify(Some(&h), p, SECRET, T + 301, 300), Err(SignatureError::Expired));
        assert_eq!(verify(Some(&h), p, SECRET, T - 301, 300), Err(SignatureError::Expired));
    }

    #[test]
    fn header_round_trip() {
        let h = header(SECRET, T, b"{}");
        assert!(verify(Some(&h), b"{}", SECRET, T, 300).is_ok());
    }
}
