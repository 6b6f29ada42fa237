//! Link tokens, one-time codes and their keyed hashes. Pure apart from the CSPRNG.
//!
//! - A token is 32 bytes (256 bits) from ring's CSPRNG (the OS's getrandom), base64url without padding (43 characters).
//! - A code is 6 decimal digits, drawn without modulo bias.
//! - Only HMAC-SHA256 values under a server secret (`TOKEN_HASH_KEY`) are stored: a copy of the table gives
//!   no working link or code, and without the secret no stored value can be turned back into one. Each hash
//!   is domain-separated (`link`, `code`, `rate`) so one kind of value can never stand for another.

use base64::Engine;
use ring::hmac;
use ring::rand::SecureRandom;
use subtle::ConstantTimeEq;

/// Bytes of entropy in a link token.
pub const TOKEN_BYTES: usize = 32;
/// Length of a token as it appears in a link (base64url, no padding).
pub const TOKEN_CHARS: usize = 43;
/// Digits in a one-time code.
pub const CODE_DIGITS: usize = 8;
/// Wrong codes that invalidate a code.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomUnavailable;

/// The server secret for keyed hashes. Never printed.
#[derive(Clone)]
pub struct TokenKey(hmac::Key);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl TokenKey {
    /// At least 32 bytes of secret.
    pub fn new(secret: &[u8]) -> Option<TokenKey> {
        (secret.len() >= 32).then(|| TokenKey(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    fn mac(&self, parts: &[&str]) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        for p in parts {
            // Length-prefixed: ("ab","c") and ("a","bc") never collide.
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p.as_bytes());
        }
        hex::encode(ctx.sign().as_ref())
    }

    /// What is stored for a link token (the `LINK#` key).
    pub fn token_hash(&self, token: &str) -> String {
        self.mac(&["link", token])
    }

    /// What is stored for a code: bound to the booking and to the one link issuance it belongs to.
    pub fn code_hash(&self, reference: &str, link_id: &str, code: &str) -> String {
        self.mac(&["code", reference, link_id, code])
    }

    /// An email address as the sign-in queue carries it (case-insensitive): the address itself never goes on
    /// the queue.
    pub fn email_hash(&self, email: &str) -> String {
        self.mac(&["email", &email.trim().to_ascii_lowercase()])
    }

    /// A rate-limit key: emails and client addresses are never stored in clear.
    pub fn rate_key(&self, scope: &str, value: &str) -> String {
        let mut h = self.mac(&["rate", scope, value]);
        h.truncate(32);
        h
    }
}

/// Constant-time equality of two stored hashes.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], RandomUnavailable> {
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new().fill(&mut b).map_err(|_| RandomUnavailable)?;
    Ok(b)
}

/// A fresh link token: 256 bits, base64url.
pub fn new_token() -> Result<String, RandomUnavailable> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_BYTES>()?))
}

/// A fresh id (link id, session id): 128 bits, hex.
pub fn new_id() -> Result<String, RandomUnavailable> {
    Ok(hex::encode(random_bytes::<16>()?))
}

/// A fresh code of [`CODE_DIGITS`] digits, uniform (rejection sampling, no modulo bias).
pub fn new_code() -> Result<String, RandomUnavailable> {
    const RANGE: u32 = 100_000_000; // 10^CODE_DIGITS
    const LIMIT: u32 = u32::MAX - (u32::MAX % RANGE);
    loop {
        let n = u32::from_be_bytes(random_bytes::<4>()?);
        if n < LIMIT {
            return Ok(format!("{:0width$}", n % RANGE, width = CODE_DIGITS));
        }
    }
}

/// Does `s` look like a token we issue? (Checked before hashing so garbage never reaches DynamoDB.)
pub fn is_token_shaped(s: &str) -> bool {
    s.len() == TOKEN_CHARS && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn is_code_shaped(s: &str) -> bool {
    s.len() == CODE_DIGITS && s.bytes().all(|b| b.is_ascii_digit())
}

/// `ada@example.com` → `a***@example.com`, for logs (`portal_mail`'s, shared with the other emails).
pub use portal_mail::mask_email;

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(&[42u8; 32]).unwrap()
    }

    #[test]
    fn tokens_are_256_bit_base64url_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(is_token_shaped(&a), "{a}");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&a).unwrap();
        assert_eq!(raw.len() * 8, 256);
    }

    #[test]
    fn codes_are_eight_digits() {
        for _ in 0..200 {
            let c = new_code().unwrap();
            assert!(is_code_shaped(&c), "{c}");
        }
        assert_eq!(10u64.pow(CODE_DIGITS as u32), 100_000_000, "RANGE is 10^CODE_DIGITS");
        assert!(!is_code_shaped("123456"), "six digits are too few");
        assert!(!is_code_shaped("1234567a"));
        assert!(!is_code_shaped("１２３４５６７８"));
    }

    #[test]
    fn hashes_are_keyed_and_domain_separated() {
        let k = key();
        let t = "A".repeat(43);
        assert_eq!(k.token_hash(&t), k.token_hash(&t));
        assert_eq!(k.token_hash(&t).len(), 64);
        assert_ne!(k.token_hash(&t), TokenKey::new(&[43u8; 32]).unwrap().token_hash(&t), "keyed");
        assert_ne!(k.token_hash(&t), k.mac(&["code", &t]), "domain separated");
        assert_ne!(k.code_hash("AB-1", "L1", "123456"), k.code_hash("AB-2", "L1", "123456"), "bound to the booking");
        assert_ne!(k.code_hash("AB-1", "L1", "123456"), k.code_hash("AB-1", "L2", "123456"), "bound to the issuance");
        assert_ne!(k.mac(&["ab", "c"]), k.mac(&["a", "bc"]));
        assert!(!k.token_hash(&t).contains(&t));
        assert!(TokenKey::new(&[1u8; 31]).is_none());
        assert!(same_hash(&k.token_hash(&t), &k.token_hash(&t)));
        assert!(!same_hash(&k.token_hash(&t), &k.token_hash("x")));
    }

    #[test]
    fn shapes_and_masks() {
        assert!(!is_token_shaped(&"A".repeat(42)));
        assert!(!is_token_shaped(&format!("{}=", "A".repeat(42))));
        assert!(!is_token_shaped(&format!("{}/", "A".repeat(42))));
        assert_eq!(mask_email("ada@example.com"), "a***@example.com");
        assert_eq!(mask_email("nope"), "***");
        assert_eq!(format!("{:?}", key()), "TokenKey(<redacted>)");
    }
}
