//! The brands' traveller-details rules, from `BRANDS_JSON`'s `details` key (the same variable that names and
//! colours the brands), checked once at start-up. A booking's own rule wins over its brand's
//! ([`DetailsPolicy::resolve`]).

use std::collections::HashMap;

use portal_domain::booking::Booking;
use portal_domain::details_policy::{DetailsPolicy, EffectivePolicy};
use serde::Deserialize;

#[derive(Debug, Clone, Default)]
pub struct BrandPolicies {
    by_id: HashMap<String, DetailsPolicy>,
}

impl BrandPolicies {
    /// `BRANDS_JSON`: `{"<brand>": {..., "details"?: DetailsPolicy}}`; `default` covers the other brands.
    /// Other keys of a brand are the mail and document crates' business.
    pub fn parse(json: Option<&str>) -> Result<BrandPolicies, String> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            details: Option<DetailsPolicy>,
        }
        let Some(json) = json else { return Ok(BrandPolicies::default()) };
        let raw: HashMap<String, Raw> =
            serde_json::from_str(json).map_err(|e| format!("BRANDS_JSON: not a map of brands: {e}"))?;
        let mut by_id = HashMap::new();
        for (id, r) in raw {
            if let Some(p) = r.details {
                p.check().map_err(|(f, d)| format!("BRANDS_JSON: brand {id}: {f}: {d}"))?;
                by_id.insert(id, p);
            }
        }
        Ok(BrandPolicies { by_id })
    }

    pub fn brand(&self, id: &str) -> Option<&DetailsPolicy> {
        self.by_id.get(id).or_else(|| self.by_id.get("default"))
    }

    /// The rule in force for `booking`.
    pub fn for_booking(&self, booking: &Booking) -> EffectivePolicy {
        DetailsPolicy::resolve(booking.traveller_details.as_ref(), self.brand(&booking.brand))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Field;

    #[test]
    fn brand_rules_come_from_brands_json_and_nonsense_stops_start_up() {
        let p = BrandPolicies::parse(Some(
            r##"{"ocean": {"name": "Ocean", "primary_colour": "#000000", "details": {"required": ["travel_document", "nationality"], "retention_days_after_travel": 30}},
                "default": {"name": "X", "primary_colour": "#000000"}}"##,
        ))
        .unwrap();
        assert!(p.brand("ocean").unwrap().required.as_ref().unwrap().contains(&Field::TravelDocument));
        assert!(p.brand("walks").is_none(), "a default brand without details: the built-in rule");
        assert!(
            BrandPolicies::parse(Some(r#"{"x": {"details": {"retention_days_after_travel": 99999}}}"#))
                .unwrap_err()
                .contains("retention_days_after_travel")
        );
        assert!(BrandPolicies::parse(Some(r#"{"x": {"details": {"required": ["shoe_size"]}}}"#)).is_err());
    }
}
