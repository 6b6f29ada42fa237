//! Configuration of the sign-in function, read and validated once at cold start.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `TABLE_NAME` | the portal table |
//! | `TOKEN_HASH_KEY` | base64url secret (≥ 32 bytes) for the keyed hashes of tokens, codes and rate keys |
//! | `SESSION_KEYS`, `SESSION_*` | session signing keys and lifetimes (see `portal_http::session`) |
//! | `PORTAL_URL` | where customers open the portal (`https://…`, or `http://127.0.0.1…`/`http://localhost…` locally) |
//! | `MAGIC_LINK_TTL_SECONDS` | link and code lifetime, 60..=900, default 900 |
//! | `MAGIC_LINK_MIN_RESPONSE_MS` | timing floor of `POST /auth/magic-links`, 0..=5000, default 600 |
//! | `EMAIL_SENDER` | verified SES sender used by brands that name none |
//! | `BRANDS_JSON` | `{"<brand id>": {"name", "primary_colour": "#rrggbb", "sender"?, "logo_url"?, "logo_key"?}}`; key `default` for the rest (`logo_key` is the document worker's) |
//! | `RATE_WINDOW_SECONDS`, `RATE_PER_REFERENCE`, `RATE_PER_EMAIL`, `RATE_PER_CLIENT`, `RATE_SIGN_IN_PER_CLIENT` | rate limits |
//! | `OPERATOR_AUTH`, `OPERATOR_KEY` | operator authentication (see `portal_http::operator`) |

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use portal_http::config::{self, ConfigError};
use serde::Deserialize;

use crate::tokens::TokenKey;

/// How a brand's emails and pages look and who sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    /// `#rrggbb`, checked: it goes into CSS.
    pub primary_colour: String,
    pub sender: String,
    /// `https://…`, checked: it goes into an attribute.
    pub logo_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Brands {
    pub default: Brand,
    pub by_id: HashMap<String, Brand>,
}

impl Brands {
    pub fn get(&self, id: &str) -> &Brand {
        self.by_id.get(id).unwrap_or(&self.default)
    }

    /// A single default brand.
    pub fn single(name: &str, primary_colour: &str, sender: &str) -> Result<Brands, ConfigError> {
        let b =
            Brand { name: name.into(), primary_colour: primary_colour.into(), sender: sender.into(), logo_url: None };
        check_brand("default", &b)?;
        Ok(Brands { default: b, by_id: HashMap::new() })
    }

    /// `BRANDS_JSON` as described in the module docs; `default_sender` fills brands that name no sender.
    pub fn parse(json: Option<&str>, default_sender: &str) -> Result<Brands, ConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            name: String,
            primary_colour: String,
            #[serde(default)]
            sender: Option<String>,
            #[serde(default)]
            logo_url: Option<String>,
            /// The document worker's (an S3 key of the PDF logo); accepted here so one `BRANDS_JSON` serves both.
            #[serde(default, rename = "logo_key")]
            _logo_key: Option<String>,
        }
        let err = |problem: String| ConfigError { variable: "BRANDS_JSON", problem };
        let raw: HashMap<String, Raw> = match json {
            None => HashMap::new(),
            Some(j) => serde_json::from_str(j).map_err(|e| err(format!("not a map of brands: {e}")))?,
        };
        let mut by_id = HashMap::new();
        let mut default = Brand {
            name: "Your tour portal".into(),
            primary_colour: "#1f4e79".into(),
            sender: default_sender.into(),
            logo_url: None,
        };
        for (id, r) in raw {
            let b = Brand {
                name: r.name.trim().to_string(),
                primary_colour: r.primary_colour,
                sender: r.sender.unwrap_or_else(|| default_sender.to_string()),
                logo_url: r.logo_url,
            };
            check_brand(&id, &b)?;
            if id == "default" {
                default = b;
            } else {
                by_id.insert(id, b);
            }
        }
        check_brand("default", &default)?;
        Ok(Brands { default, by_id })
    }
}

fn check_brand(id: &str, b: &Brand) -> Result<(), ConfigError> {
    let err = |problem: String| ConfigError { variable: "BRANDS_JSON", problem: format!("brand `{id}`: {problem}") };
    let n = b.name.chars().count();
    if n == 0 || n > 80 || b.name.chars().any(char::is_control) {
        return Err(err("name must be 1-80 characters without control characters".into()));
    }
    let c = b.primary_colour.as_bytes();
    if c.len() != 7 || c[0] != b'#' || !c[1..].iter().all(u8::is_ascii_hexdigit) {
        return Err(err("primary_colour must be #rrggbb".into()));
    }
    portal_domain::booking::check_email("sender", &b.sender)
        .map_err(|_| err("sender is not an email address".into()))?;
    if let Some(u) = &b.logo_url
        && (!u.starts_with("https://")
            || u.len() > 500
            || u.chars().any(|c| c.is_control() || c.is_whitespace() || "\"'<>\\`".contains(c)))
    {
        return Err(err("logo_url must be a plain https:// URL".into()));
    }
    Ok(())
}

/// Fixed-window rate limits (hits per window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub window_seconds: i64,
    /// Link requests naming one booking reference.
    pub per_reference: u32,
    /// Link requests naming one email.
    pub per_email: u32,
    /// Link requests from one client address.
    pub per_client: u32,
    /// Sign-in attempts (token or code) from one client address.
    pub sign_in_per_client: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { window_seconds: 900, per_reference: 5, per_email: 5, per_client: 20, sign_in_per_client: 30 }
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

impl AuthConfig {
    pub fn from_env() -> Result<AuthConfig, ConfigError> {
        let raw = config::required("TOKEN_HASH_KEY")?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim().trim_end_matches('='))
            .map_err(|_| ConfigError { variable: "TOKEN_HASH_KEY", problem: "is not base64url".into() })?;
        let token_key = TokenKey::new(&secret)
            .ok_or(ConfigError { variable: "TOKEN_HASH_KEY", problem: "is shorter than 32 bytes".into() })?;
        let sender = config::required("EMAIL_SENDER")?;
        let brands = Brands::parse(config::optional("BRANDS_JSON").as_deref(), sender.trim())?;
        let d = RateLimits::default();
        let limits = RateLimits {
            window_seconds: config::number("RATE_WINDOW_SECONDS", d.window_seconds as u64, 60, 86_400)? as i64,
            per_reference: config::number("RATE_PER_REFERENCE", d.per_reference.into(), 1, 1000)? as u32,
            per_email: config::number("RATE_PER_EMAIL", d.per_email.into(), 1, 1000)? as u32,
            per_client: config::number("RATE_PER_CLIENT", d.per_client.into(), 1, 10_000)? as u32,
            sign_in_per_client: config::number("RATE_SIGN_IN_PER_CLIENT", d.sign_in_per_client.into(), 1, 10_000)?
                as u32,
        };
        AuthConfig::new(
            token_key,
            &config::required("PORTAL_URL")?,
            config::number("MAGIC_LINK_TTL_SECONDS", MAX_LINK_TTL_SECONDS, 60, MAX_LINK_TTL_SECONDS)? as i64,
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
    fn brands_are_checked() {
        let b = Brands::parse(
            Some(r##"{"alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0a7c59"}}"##),
            "portal@tours.example",
        )
        .unwrap();
        assert_eq!(b.get("alpine-escapes").name, "Alpine Escapes");
        assert_eq!(b.get("alpine-escapes").sender, "portal@tours.example");
        assert_eq!(b.get("unknown").name, "Your tour portal");
        let with_key = r##"{"x": {"name": "X", "primary_colour": "#000000", "logo_key": "brands/x/logo.png"}}"##;
        assert_eq!(Brands::parse(Some(with_key), "portal@tours.example").unwrap().get("x").name, "X");
        for bad in [
            r##"{"x": {"name": "X", "primary_colour": "red;}body{display:none"}}"##,
            r##"{"x": {"name": "X\r\nBcc: a@b.c", "primary_colour": "#000000"}}"##,
            r##"{"x": {"name": "X", "primary_colour": "#000000", "sender": "a@b.c\r\nBcc: evil@x.y"}}"##,
            r##"{"x": {"name": "X", "primary_colour": "#000000", "logo_url": "javascript:alert(1)"}}"##,
            r##"{"x": {"name": "X", "primary_colour": "#000000", "logo_url": "https://a.b/\"onload=x"}}"##,
            r##"{"x": {"name": "X", "primary_colour": "#000000", "extra": 1}}"##,
            "[]",
        ] {
            assert!(Brands::parse(Some(bad), "portal@tours.example").is_err(), "{bad}");
        }
    }

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
