//! Brands: how a brand's emails and pages look and who sends them, from `BRANDS_JSON`, checked once at start-up.
//!
//! `BRANDS_JSON` is `{"<brand id>": {"name", "primary_colour": "#rrggbb", "sender"?, "logo_url"?, "logo_key"?,
//! "overpayment"?: "refund" | "credit", "details"?: {"required"?, "document_validity"?, "retention_days_after_travel"?}}}`;
//! the key `default` covers every other brand id. `logo_key` is the document worker's (an S3 key of the PDF logo):
//! accepted and ignored here, so one `BRANDS_JSON` serves both.

use std::collections::HashMap;
use std::fmt;

use portal_domain::payment::OverpaymentPolicy;
use serde::Deserialize;

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
    /// `overpayment` per brand id (`refund`, the default, or `credit`); the `default` key's covers the rest.
    pub overpayment: HashMap<String, OverpaymentPolicy>,
    /// `notifications.before_charge_days` per brand id: days before an approved instalment is charged that the
    /// customer is told (absent or 0: not told); the `default` key's covers the rest.
    pub before_charge_days: HashMap<String, u32>,
}

/// A brand's `notifications` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifications {
    #[serde(default)]
    before_charge_days: Option<u32>,
}

/// A `BRANDS_JSON` problem. Callers report it as a configuration error of [`BrandsError::VARIABLE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandsError {
    pub problem: String,
}

impl BrandsError {
    pub const VARIABLE: &'static str = "BRANDS_JSON";
}

impl fmt::Display for BrandsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {}: {}", Self::VARIABLE, self.problem)
    }
}

impl std::error::Error for BrandsError {}

impl Brands {
    pub fn get(&self, id: &str) -> &Brand {
        self.by_id.get(id).unwrap_or(&self.default)
    }

    /// What brand `id` does with money received beyond a booking's price.
    pub fn overpayment(&self, id: &str) -> OverpaymentPolicy {
        self.overpayment.get(id).or_else(|| self.overpayment.get("default")).copied().unwrap_or_default()
    }

    /// A single default brand.
    pub fn single(name: &str, primary_colour: &str, sender: &str) -> Result<Brands, BrandsError> {
        let b =
            Brand { name: name.into(), primary_colour: primary_colour.into(), sender: sender.into(), logo_url: None };
        check_brand("default", &b)?;
        Ok(Brands {
            default: b,
            by_id: HashMap::new(),
            overpayment: HashMap::new(),
            before_charge_days: HashMap::new(),
        })
    }

    /// `BRANDS_JSON` as described in the module docs; `default_sender` fills brands that name no sender.
    pub fn parse(json: Option<&str>, default_sender: &str) -> Result<Brands, BrandsError> {
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
            /// `refund` (default) or `credit`: what happens to money received beyond the price.
            #[serde(default)]
            overpayment: Option<OverpaymentPolicy>,
            /// The brand's traveller-details rule (`portal_details::policy`): checked there, accepted here.
            #[serde(default, rename = "details")]
            _details: Option<portal_domain::details_policy::DetailsPolicy>,
            /// The brand's team roles for requests (`portal_requests::roles`): checked there, accepted here.
            #[serde(default, rename = "requests")]
            _requests: Option<serde_json::Value>,
            #[serde(default)]
            notifications: Option<RawNotifications>,
        }
        let raw: HashMap<String, Raw> = match json {
            None => HashMap::new(),
            Some(j) => {
                serde_json::from_str(j).map_err(|e| BrandsError { problem: format!("not a map of brands: {e}") })?
            }
        };
        let mut by_id = HashMap::new();
        let mut overpayment = HashMap::new();
        let mut before_charge_days = HashMap::new();
        let mut default = Brand {
            name: "Your tour portal".into(),
            primary_colour: "#1f4e79".into(),
            sender: default_sender.into(),
            logo_url: None,
        };
        for (id, r) in raw {
            if let Some(p) = r.overpayment {
                overpayment.insert(id.clone(), p);
            }
            if let Some(d) = r.notifications.and_then(|n| n.before_charge_days) {
                if d > 14 {
                    return Err(BrandsError { problem: format!("brand `{id}`: before_charge_days must be 0-14") });
                }
                before_charge_days.insert(id.clone(), d);
            }
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
        Ok(Brands { default, by_id, overpayment, before_charge_days })
    }

    /// Days before an approved instalment's charge that brand `id` tells the customer (`None`: it does not).
    pub fn before_charge_days(&self, id: &str) -> Option<u32> {
        self.before_charge_days.get(id).or_else(|| self.before_charge_days.get("default")).copied().filter(|d| *d > 0)
    }
}

/// A brand's name goes into headers and pages, its colour into CSS, its logo URL into an attribute: check them.
pub fn check_brand(id: &str, b: &Brand) -> Result<(), BrandsError> {
    let err = |problem: &str| BrandsError { problem: format!("brand `{id}`: {problem}") };
    let n = b.name.chars().count();
    if n == 0 || n > 80 || b.name.chars().any(char::is_control) {
        return Err(err("name must be 1-80 characters without control characters"));
    }
    let c = b.primary_colour.as_bytes();
    if c.len() != 7 || c[0] != b'#' || !c[1..].iter().all(u8::is_ascii_hexdigit) {
        return Err(err("primary_colour must be #rrggbb"));
    }
    portal_domain::booking::check_email("sender", &b.sender).map_err(|_| err("sender is not an email address"))?;
    if let Some(u) = &b.logo_url
        && (!u.starts_with("https://")
            || u.len() > 500
            || u.chars().any(|c| c.is_control() || c.is_whitespace() || "\"'<>\\`".contains(c)))
    {
        return Err(err("logo_url must be a plain https:// URL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn overpayment_policy_per_brand_default_refund() {
        let json = r##"{"alpine": {"name": "Alpine", "primary_colour": "#0a7c59", "overpayment": "credit"},
            "coast": {"name": "Coast", "primary_colour": "#0a7c59"}}"##;
        let b = Brands::parse(Some(json), "p@tours.example").unwrap();
        assert_eq!(b.overpayment("alpine"), OverpaymentPolicy::Credit);
        assert_eq!(b.overpayment("coast"), OverpaymentPolicy::Refund);
        assert_eq!(b.overpayment("unknown"), OverpaymentPolicy::Refund);
        let bad = r##"{"alpine": {"name": "Alpine", "primary_colour": "#0a7c59", "overpayment": "keep"}}"##;
        assert!(Brands::parse(Some(bad), "p@tours.example").is_err());
    }

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
            let e = Brands::parse(Some(bad), "portal@tours.example").unwrap_err();
            assert!(e.to_string().starts_with("configuration BRANDS_JSON: "), "{bad}: {e}");
        }
        assert!(Brands::single("B", "#000000", "a@b.co").is_ok());
        assert!(Brands::single("B", "#00000", "a@b.co").is_err());
    }
}
