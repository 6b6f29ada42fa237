//! One-click unsubscribe tokens (RFC 8058): which traveller of which booking stops which category.
//!
//! `<payload>.<mac>`, both base64url without padding: the payload is `v1|<reference>|<traveller>|<category>`,
//! the MAC the first 16 bytes of HMAC-SHA256 under `UNSUBSCRIBE_KEY`. It carries no address and never
//! expires (a mail client may POST it years later); it can only turn emails off.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::kind::Category;

const VERSION: &str = "v1";
const MAC_BYTES: usize = 16;
/// Longer tokens are refused before any work.
pub const MAX_TOKEN_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub reference: String,
    pub traveller_id: String,
    pub category: Category,
}

fn mac(key: &[u8], payload: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    m.update(payload);
    m.finalize().into_bytes()[..MAC_BYTES].to_vec()
}

pub fn token(key: &[u8], u: &Unsubscribe) -> String {
    let payload = format!("{VERSION}|{}|{}|{}", u.reference, u.traveller_id, u.category.as_str());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload.as_bytes()), URL_SAFE_NO_PAD.encode(mac(key, payload.as_bytes())))
}

/// The token's meaning, if it is one of ours (constant-time MAC check) and names an optional category.
pub fn verify(key: &[u8], token: &str) -> Option<Unsubscribe> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (p, m) = token.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(p).ok()?;
    let given = URL_SAFE_NO_PAD.decode(m).ok()?;
    if given.len() != MAC_BYTES || !bool::from(mac(key, &payload).ct_eq(&given)) {
        return None;
    }
    let text = String::from_utf8(payload).ok()?;
    let mut parts = text.split('|');
    if parts.next()? != VERSION {
        return None;
    }
    let (reference, traveller_id, category) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || reference.is_empty() || traveller_id.is_empty() {
        return None;
    }
    let category = Category::parse(category).filter(|c| c.optional())?;
    Some(Unsubscribe { reference: reference.into(), traveller_id: traveller_id.into(), category })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u() -> Unsubscribe {
        Unsubscribe { reference: "AE-10001".into(), traveller_id: "t1".into(), category: Category::Reminders }
    }

    #[test]
    fn round_trip_and_tampering() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = token(key, &u());
        assert_eq!(verify(key, &t), Some(u()));
        assert!(!t.contains('='), "URL-safe, unpadded: {t}");
        assert_eq!(verify(b"another key", &t), None, "another key");
        let (p, m) = t.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode(b"v1|AE-10002|t1|payment_reminders");
        assert_eq!(verify(key, &format!("{other}.{m}")), None, "payload swapped");
        assert_eq!(verify(key, &format!("{p}.{}", &m[1..])), None, "mac cut");
        assert_eq!(verify(key, "nonsense"), None);
        assert_eq!(verify(key, &"a".repeat(MAX_TOKEN_LEN + 1)), None);
        let transactional = Unsubscribe { category: Category::Transactional, ..u() };
        assert_eq!(verify(key, &token(key, &transactional)), None, "transactional email cannot be stopped");
    }
}
