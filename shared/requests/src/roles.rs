//! The brands' team roles (`BRANDS_JSON`, key `requests`; see `docs/requests.md`): the name a customer sees
//! (per locale), where a role's mail goes (its addresses, or a deputy's while the main one is away), which
//! role receives each request type, and a link into the operator's own system. Checked once at start-up.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use portal_domain::locale::Locale;
use serde::Deserialize;

use crate::kind::RequestType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    /// Locale tag → name; `en-GB` is the fallback.
    names: BTreeMap<String, String>,
    pub addresses: Vec<String>,
    pub deputy: Option<Deputy>,
    /// Whether the customer may write to this role in the general thread.
    pub general: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deputy {
    pub address: String,
    pub from: NaiveDate,
    pub until: NaiveDate,
}

impl Role {
    /// The name a customer sees, in `locale` (else `en-GB`, else any).
    pub fn name(&self, locale: Locale) -> String {
        self.names
            .get(locale.tag())
            .or_else(|| self.names.get("en-GB"))
            .or_else(|| self.names.values().next())
            .cloned()
            .unwrap_or_else(|| self.id.replace('_', " "))
    }

    /// Where this role's mail goes on `today`: the deputy while the main addresses are away, else them.
    pub fn delivery(&self, today: NaiveDate) -> Vec<String> {
        match &self.deputy {
            Some(d) if d.from <= today && today <= d.until => vec![d.address.clone()],
            _ => self.addresses.clone(),
        }
    }
}

/// One brand's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandRequests {
    /// In id order; never empty.
    roles: Vec<Role>,
    routing: HashMap<RequestType, String>,
    operator_link: Option<String>,
}

impl BrandRequests {
    /// The portal's own roles for a brand that configured none: nobody to email, the feed still has it all.
    pub fn built_in() -> BrandRequests {
        let names = |pairs: &[(&str, &str)]| pairs.iter().map(|(l, n)| (l.to_string(), n.to_string())).collect();
        BrandRequests {
            roles: vec![
                Role {
                    id: "accounts".into(),
                    names: names(&[
                        ("en-GB", "Accounts team"),
                        ("en-US", "Accounts team"),
                        ("de-DE", "Buchhaltung"),
                        ("fr-FR", "Service comptabilité"),
                        ("nl-NL", "Administratie"),
                        ("ja-JP", "経理担当"),
                    ]),
                    addresses: vec![],
                    deputy: None,
                    general: true,
                },
                Role {
                    id: "reservations".into(),
                    names: names(&[
                        ("en-GB", "Reservations team"),
                        ("en-US", "Reservations team"),
                        ("de-DE", "Reservierungsteam"),
                        ("fr-FR", "Service réservations"),
                        ("nl-NL", "Reserveringsteam"),
                        ("ja-JP", "予約担当"),
                    ]),
                    addresses: vec![],
                    deputy: None,
                    general: true,
                },
            ],
            routing: HashMap::new(),
            operator_link: None,
        }
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The roles a customer may pick in the general thread.
    pub fn general_roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.iter().filter(|r| r.general)
    }

    /// The role that receives requests of `kind`: the routing's, else `reservations`, else the first.
    pub fn role_for(&self, kind: RequestType) -> &Role {
        self.routing
            .get(&kind)
            .and_then(|id| self.role(id))
            .or_else(|| self.role("reservations"))
            .unwrap_or(&self.roles[0])
    }

    /// The operator's own page for a request, when the brand configured one.
    pub fn operator_link(&self, reference: &str, request_id: &str) -> Option<String> {
        self.operator_link.as_ref().map(|t| t.replace("{reference}", reference).replace("{request_id}", request_id))
    }
}

#[derive(Debug, Clone, Default)]
pub struct TeamRoles {
    by_brand: HashMap<String, BrandRequests>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawName {
    One(String),
    PerLocale(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: RawName,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    deputy: Option<Deputy>,
    #[serde(default)]
    general: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequests {
    roles: BTreeMap<String, RawRole>,
    #[serde(default)]
    routing: BTreeMap<String, String>,
    #[serde(default)]
    operator_link: Option<String>,
}

fn plausible_address(a: &str) -> bool {
    let Some((local, domain)) = a.split_once('@') else { return false };
    a.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && a.chars().all(|c| c.is_ascii_graphic() && c != '<' && c != '>' && c != ',' && c != '"')
        && !domain.contains('@')
}

impl TeamRoles {
    /// `BRANDS_JSON`: `{"<brand>": {..., "requests"?: {...}}}`; `default` covers the other brands.
    pub fn parse(json: Option<&str>) -> Result<TeamRoles, String> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            requests: Option<RawRequests>,
        }
        let Some(json) = json else { return Ok(TeamRoles::default()) };
        let raw: HashMap<String, Raw> =
            serde_json::from_str(json).map_err(|e| format!("BRANDS_JSON: not a map of brands: {e}"))?;
        let mut by_brand = HashMap::new();
        for (brand, r) in raw {
            if let Some(r) = r.requests {
                let b = check(r).map_err(|e| format!("BRANDS_JSON: brand {brand}: requests.{e}"))?;
                by_brand.insert(brand, b);
            }
        }
        Ok(TeamRoles { by_brand })
    }

    /// A brand's roles: its own, else `default`'s, else the built-in ones.
    pub fn brand(&self, id: &str) -> std::borrow::Cow<'_, BrandRequests> {
        match self.by_brand.get(id).or_else(|| self.by_brand.get("default")) {
            Some(b) => std::borrow::Cow::Borrowed(b),
            None => std::borrow::Cow::Owned(BrandRequests::built_in()),
        }
    }
}

fn check(r: RawRequests) -> Result<BrandRequests, String> {
    if r.roles.is_empty() {
        return Err("roles: name at least one role".into());
    }
    let mut roles = Vec::new();
    for (id, raw) in r.roles {
        if id.is_empty()
            || id.len() > 40
            || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!("roles.{id}: a role id is 1-40 characters of a-z, 0-9, _"));
        }
        let names: BTreeMap<String, String> = match raw.name {
            RawName::One(n) => [("en-GB".to_string(), n)].into(),
            RawName::PerLocale(m) => m,
        };
        if names.is_empty() {
            return Err(format!("roles.{id}.name: give a name"));
        }
        for (tag, n) in &names {
            if Locale::parse(tag).map(Locale::tag) != Some(tag.as_str()) {
                return Err(format!("roles.{id}.name: {tag} is not one of the portal's locales"));
            }
            if n.trim().is_empty() || n.chars().count() > 60 || n.chars().any(char::is_control) {
                return Err(format!("roles.{id}.name.{tag}: 1-60 characters on one line"));
            }
        }
        if raw.addresses.len() > 5 {
            return Err(format!("roles.{id}.addresses: at most 5"));
        }
        if let Some(a) = raw.addresses.iter().find(|a| !plausible_address(a)) {
            return Err(format!("roles.{id}.addresses: {a:?} is not an email address"));
        }
        if let Some(d) = &raw.deputy {
            if !plausible_address(&d.address) {
                return Err(format!("roles.{id}.deputy.address: not an email address"));
            }
            if d.from > d.until {
                return Err(format!("roles.{id}.deputy: from must be on or before until"));
            }
        }
        roles.push(Role {
            id,
            names,
            addresses: raw.addresses,
            deputy: raw.deputy,
            general: raw.general.unwrap_or(true),
        });
    }
    let mut routing = HashMap::new();
    for (kind, role) in r.routing {
        let k = RequestType::parse(&kind).ok_or_else(|| format!("routing.{kind}: not a request type"))?;
        if !roles.iter().any(|r| r.id == role) {
            return Err(format!("routing.{kind}: no role {role}"));
        }
        routing.insert(k, role);
    }
    if let Some(link) = &r.operator_link
        && (!link.starts_with("https://") || link.chars().any(|c| c.is_whitespace() || c.is_control()))
    {
        return Err("operator_link: an https:// URL (with {reference} and {request_id} if wanted)".into());
    }
    Ok(BrandRequests { roles, routing, operator_link: r.operator_link })
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"alpine": {"name": "Alpine", "requests": {
        "roles": {
          "reservations": {"name": {"en-GB": "Reservations team", "de-DE": "Reservierungsteam"},
                           "addresses": ["res@alpine.example", "res2@alpine.example"],
                           "deputy": {"address": "cover@alpine.example", "from": "2026-12-20", "until": "2027-01-03"}},
          "accounts": {"name": "Accounts team", "addresses": ["acc@alpine.example"]},
          "tour_leader": {"name": "Your tour leader", "addresses": ["lead@alpine.example"], "general": false}},
        "routing": {"cancellation": "accounts"},
        "operator_link": "https://back.example/b/{reference}/r/{request_id}"}},
      "ocean": {"name": "Ocean"}}"#;

    #[test]
    fn roles_route_requests_and_hide_behind_their_names() {
        let t = TeamRoles::parse(Some(JSON)).unwrap();
        let a = t.brand("alpine");
        assert_eq!(a.role_for(RequestType::Cancellation).id, "accounts");
        assert_eq!(a.role_for(RequestType::DateChange).id, "reservations");
        let res = a.role("reservations").unwrap();
        assert_eq!(res.name(Locale::DeDe), "Reservierungsteam");
        assert_eq!(res.name(Locale::JaJp), "Reservations team", "falls back to en-GB");
        assert_eq!(res.delivery("2026-12-19".parse().unwrap()), vec!["res@alpine.example", "res2@alpine.example"]);
        assert_eq!(res.delivery("2026-12-20".parse().unwrap()), vec!["cover@alpine.example"]);
        assert_eq!(res.delivery("2027-01-03".parse().unwrap()), vec!["cover@alpine.example"]);
        assert_eq!(res.delivery("2027-01-04".parse().unwrap()).len(), 2);
        assert_eq!(a.general_roles().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["accounts", "reservations"]);
        assert_eq!(a.operator_link("AE-1", "rq_x").unwrap(), "https://back.example/b/AE-1/r/rq_x");
        let o = t.brand("ocean");
        assert_eq!(o.role_for(RequestType::Other).name(Locale::FrFr), "Service réservations", "built-in");
        assert!(o.roles().iter().all(|r| r.addresses.is_empty()));
    }

    #[test]
    fn nonsense_stops_start_up() {
        let bad = [
            r#"{"a": {"requests": {"roles": {}}}}"#,
            r#"{"a": {"requests": {"roles": {"Res": {"name": "R"}}}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": "R", "addresses": ["not-an-address"]}}}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": "R", "addresses": ["a@b.c>, x@y.z"]}}}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": {"xx-XX": "R"}}}}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": "R", "deputy": {"address": "d@e.fg", "from": "2027-01-02", "until": "2027-01-01"}}}}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": "R"}}, "routing": {"date_change": "accounts"}}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": "R"}}, "routing": {"refund": "res"}}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": "R"}}, "operator_link": "http://x.example"}}}"#,
            r#"{"a": {"requests": {"roles": {"res": {"name": "R", "email": "x@y.z"}}}}}"#,
        ];
        for b in bad {
            assert!(TeamRoles::parse(Some(b)).is_err(), "{b}");
        }
    }
}
