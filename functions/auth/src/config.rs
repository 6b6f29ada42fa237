//! Configuration of the sign-in function, read and validated once at cold start.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `TABLE_NAME` | the portal table |
//! | `TOKEN_HASH_KEY` | base64url secret (≥ 32 bytes) for the keyed hashes of tokens, codes and rate keys |
//! | `SESSION_KEYS`, `SESSION_*` | session signing keys and lifetimes (see `portal_http::session`) |
//! | `PORTAL_URL` | where customers open the portal (`https://…`, or `http://127.0.0.1…`/`http://localhost…` locally) |
//! | `MAGIC_LINK_TTL_SECONDS` | link and code lifetime, 60..=900, default 600 |
//! | `MAGIC_LINK_MIN_RESPONSE_MS` | timing floor of `POST /auth/magic-links`, 0..=5000, default 600 |
//! | `EMAIL_SENDER` | verified SES sender used by brands that name none |
//! | `BRANDS_JSON` | `{"<brand id>": {"name", "primary_colour": "#rrggbb", "sender"?, "logo_url"?, "logo_key"?}}`; key `default` for the rest (`logo_key` is the document worker's) |
//! | `RATE_WINDOW_SECONDS`, `RATE_PER_CLIENT`, `RATE_PER_REFERENCE_EMAIL`, `RATE_REFERENCE_MISSES`, `RATE_SIGN_IN_PER_CLIENT`, `RATE_CODE_FAILURES_PER_DAY` | rate limits ([`RateLimits`]); the mailer's `RATE_EMAIL_PER_DAY` |
//! | `SIGN_IN_QUEUE_URL` | the queue the `sign-in-mailer` consumes |
//! | `OPERATOR_PRINCIPALS` | IAM principals allowed on operator routes (IAM mode) |
//! | `OPERATOR_AUTH`, `OPERATOR_KEY` | operator authentication (see `portal_http::operator`) |

use std::time::Duration;

use base64::Engine;
use portal_http::config::{self, ConfigError};

use crate::tokens::TokenKey;

/// Brands (`BRANDS_JSON`) are `portal_mail`'s: the receipt and instalment emails read the same configuration.
pub use portal_mail::{Brand, Brands};

/// Fixed-window rate limits (hits per window unless said otherwise). Each is documented in `docs/auth.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub window_seconds: i64,
    /// Link requests from one client address (`RATE_PER_CLIENT`, 20).
    pub per_client: u32,
    /// Link requests naming one (booking reference, email) pair (`RATE_PER_REFERENCE_EMAIL`, 5): a stranger
    /// using other emails never spends the customer's budget.
    pub per_reference_email: u32,
    /// Link requests for one booking that named no traveller's email (`RATE_REFERENCE_MISSES`, 10): past it an
    /// alarm is logged; the answer does not change (it must not tell a match from a miss).
    pub reference_misses: u32,
    /// Sign-in attempts (token or code) from one client address (`RATE_SIGN_IN_PER_CLIENT`, 30).
    pub sign_in_per_client: u32,
    /// Code attempts for one booking per UTC day (`RATE_CODE_FAILURES_PER_DAY`, 20).
    pub code_attempts_per_day: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            window_seconds: 900,
            per_client: 20,
            per_reference_email: 5,
            reference_misses: 10,
            sign_in_per_client: 30,
            code_attempts_per_day: 20,
        }
    }
}

/// Everything the function needs besides its clients.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub token_key: TokenKey,
    /// No trailing slash.
    pub portal_url: String,
    pub link_ttl_seconds: i64,
    pub min_response: Duration,
    pub brands: Brands,
    pub limits: RateLimits,
}

pub const MAX_LINK_TTL_SECONDS: u64 = 900;
/// 10 minutes (ASVS 5.0 V6.5: one-time out-of-band codes live at most 10 minutes by default).
pub const DEFAULT_LINK_TTL_SECONDS: u64 = 600;

impl AuthConfig {
    pub fn from_env() -> Result<AuthConfig, ConfigError> {
        let raw = config::required("TOKEN_HASH_KEY")?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim().trim_end_matches('='))
            .map_err(|_| ConfigError { variable: "TOKEN_HASH_KEY", problem: "is not base64url".into() })?;
        let token_key = TokenKey::new(&secret)
            .ok_or(ConfigError { variable: "TOKEN_HASH_KEY", problem: "is shorter than 32 bytes".into() })?;
        let sender = config::required("EMAIL_SENDER")?;
        let brands = Brands::parse(config::optional("BRANDS_JSON").as_deref(), sender.trim())
            .map_err(|e| ConfigError { variable: portal_mail::BrandsError::VARIABLE, problem: e.problem })?;
        let d = RateLimits::default();
        let limits = RateLimits {
            window_seconds: config::number("RATE_WINDOW_SECONDS", d.window_seconds as u64, 60, 86_400)? as i64,
            per_client: config::number("RATE_PER_CLIENT", d.per_client.into(), 1, 10_000)? as u32,
            per_reference_email: config::number("RATE_PER_REFERENCE_EMAIL", d.per_reference_email.into(), 1, 1000)?
                as u32,
            reference_misses: config::number("RATE_REFERENCE_MISSES", d.reference_misses.into(), 1, 10_000)? as u32,
            sign_in_per_client: config::number("RATE_SIGN_IN_PER_CLIENT", d.sign_in_per_client.into(), 1, 10_000)?
                as u32,
            code_attempts_per_day: config::number(
                "RATE_CODE_FAILURES_PER_DAY",
                d.code_attempts_per_day.into(),
                1,
                10_000,
            )? as u32,
        };
        AuthConfig::new(
            token_key,
            &config::required("PORTAL_URL")?,
            config::number("MAGIC_LINK_TTL_SECONDS", DEFAULT_LINK_TTL_SECONDS, 60, MAX_LINK_TTL_SECONDS)? as i64,
            Duration::from_millis(config::number("MAGIC_LINK_MIN_RESPONSE_MS", 600, 0, 5000)?),
            brands,
            limits,
        )
    }

    pub fn new(
        token_key: TokenKey,
        portal_url: &str,
        link_ttl_seconds: i64,
        min_response: Duration,
        brands: Brands,
        limits: RateLimits,
    ) -> Result<AuthConfig, ConfigError> {
        let url = portal_url.trim().trim_end_matches('/').to_string();
        let local = ["http://127.0.0.1", "http://localhost"].iter().any(|p| url.starts_with(p));
        if !(url.starts_with("https://") || local)
            || url.chars().any(|c| c.is_control() || c.is_whitespace() || "\"'<>\\`#?".contains(c))
        {
            return Err(ConfigError {
                variable: "PORTAL_URL",
                problem:
                    "must be an https:// origin (http:// only for 127.0.0.1 or localhost), without query or fragment"
                        .into(),
            });
        }
        if !(60..=MAX_LINK_TTL_SECONDS as i64).contains(&link_ttl_seconds) {
            return Err(ConfigError {
                variable: "MAGIC_LINK_TTL_SECONDS",
                problem: format!("must be 60..={MAX_LINK_TTL_SECONDS}"),
            });
        }
        Ok(AuthConfig { token_key, portal_url: url, link_ttl_seconds, min_response, brands, limits })
    }

    /// The link a customer receives: the portal's sign-in page with the token in the fragment (a fragment
    /// never reaches a server, a proxy log or a `Referer`).
    pub fn sign_in_link(&self, token: &str) -> String {
        format!("{}/sign-in#token={token}", self.portal_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_url_and_ttl() {
        let k = || TokenKey::new(&[1u8; 32]).unwrap();
        let brands = Brands::single("B", "#000000", "a@b.co").unwrap();
        let ok = |u: &str, ttl| AuthConfig::new(k(), u, ttl, Duration::ZERO, brands.clone(), RateLimits::default());
        assert_eq!(
            ok("https://portal.example/", 900).unwrap().sign_in_link("T"),
            "https://portal.example/sign-in#token=T"
        );
        assert!(ok("http://127.0.0.1:3000", 900).is_ok());
        assert!(ok("http://evil.example", 900).is_err());
        assert!(ok("https://p.example/\"><script>", 900).is_err());
        assert!(ok("https://p.example", 901).is_err(), "TTL is at most 15 minutes");
        assert!(ok("https://p.example", 59).is_err());
    }
}
