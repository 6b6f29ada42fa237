//! Which traveller details the operator requires, the passport-validity rule and how long the details are
//! kept after travel.
//!
//! Set per booking in the operator's push (`traveller_details`), else per brand (`BRANDS_JSON`'s `details`),
//! else [`Requirements::default`] (legal name, date of birth, emergency contact: what every tour needs). A cruise
//! adds `travel_document` and `nationality`; a walking tour may ask for `dietary_requirements` and nothing
//! else. The set drives the overview's "missing passenger details" action and the progress shown per
//! traveller ([`crate::progress`]); the form may be saved part-filled at any time.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A question of the form, as the operator names it in its requirements. Order is the form's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    LegalName,
    DateOfBirth,
    Nationality,
    TravelDocument,
    DietaryRequirements,
    Allergies,
    MobilityNotes,
    MedicalNotes,
    EmergencyContact,
    Phone,
    Address,
}

impl Field {
    pub const ALL: [Field; 11] = [
        Field::LegalName,
        Field::DateOfBirth,
        Field::Nationality,
        Field::TravelDocument,
        Field::DietaryRequirements,
        Field::Allergies,
        Field::MobilityNotes,
        Field::MedicalNotes,
        Field::EmergencyContact,
        Field::Phone,
        Field::Address,
    ];

    /// The field's name on the wire (the form's field and the problem's `field`).
    pub fn as_str(self) -> &'static str {
        match self {
            Field::LegalName => "legal_name",
            Field::DateOfBirth => "date_of_birth",
            Field::Nationality => "nationality",
            Field::TravelDocument => "travel_document",
            Field::DietaryRequirements => "dietary_requirements",
            Field::Allergies => "allergies",
            Field::MobilityNotes => "mobility_notes",
            Field::MedicalNotes => "medical_notes",
            Field::EmergencyContact => "emergency_contact",
            Field::Phone => "phone",
            Field::Address => "address",
        }
    }
}

/// What happens when the travel document expires too early for the trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidityEnforcement {
    /// A 422 naming `travel_document.expiry_date`: the form cannot be saved with it.
    Refuse,
    /// Saved, with a warning in the answer and on the page.
    Warn,
}

/// The document must be valid until the last day of travel plus `months_after_travel` (e.g. 6 for the
/// destinations that ask for six months' validity on arrival).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentValidity {
    #[serde(default)]
    pub months_after_travel: u8,
    pub enforcement: ValidityEnforcement,
}

impl Default for DocumentValidity {
    fn default() -> Self {
        DocumentValidity { months_after_travel: 0, enforcement: ValidityEnforcement::Refuse }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    pub required: BTreeSet<Field>,
    #[serde(default)]
    pub document_validity: DocumentValidity,
}

impl Default for Requirements {
    fn default() -> Self {
        Requirements {
            required: [Field::LegalName, Field::DateOfBirth, Field::EmergencyContact].into_iter().collect(),
            document_validity: DocumentValidity::default(),
        }
    }
}

impl Requirements {
    /// The most validity any rule may ask for: beyond a year it is a typo, not a rule.
    pub const MAX_MONTHS_AFTER_TRAVEL: u8 = 12;

    /// Checks an operator's requirements before they are stored.
    pub fn check(&self) -> Result<(), String> {
        if self.document_validity.months_after_travel > Self::MAX_MONTHS_AFTER_TRAVEL {
            return Err(format!(
                "document_validity.months_after_travel: at most {} months",
                Self::MAX_MONTHS_AFTER_TRAVEL
            ));
        }
        Ok(())
    }

    pub fn requires(&self, f: Field) -> bool {
        self.required.contains(&f)
    }
}

/// The operator's rule for a booking or a brand, as pushed: every part optional, a booking's part wins over its
/// brand's, a brand's over the defaults ([`DetailsPolicy::resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailsPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<BTreeSet<Field>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_validity: Option<DocumentValidity>,
    /// Days after the last day of travel the details are kept; then the retention job erases them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days_after_travel: Option<u32>,
}

/// The rule in force for one booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectivePolicy {
    #[serde(flatten)]
    pub requirements: Requirements,
    pub retention_days_after_travel: u32,
}

impl DetailsPolicy {
    /// Kept this long after travel when neither the booking nor its brand says otherwise.
    pub const DEFAULT_RETENTION_DAYS: u32 = 90;
    /// Ten years: the longest any travel-law record keeping asks for; more is a typo.
    pub const MAX_RETENTION_DAYS: u32 = 3_650;

    pub fn check(&self) -> Result<(), (String, String)> {
        if let Some(v) = &self.document_validity
            && v.months_after_travel > Requirements::MAX_MONTHS_AFTER_TRAVEL
        {
            return Err((
                "traveller_details.document_validity.months_after_travel".into(),
                format!("at most {} months", Requirements::MAX_MONTHS_AFTER_TRAVEL),
            ));
        }
        if let Some(d) = self.retention_days_after_travel
            && d > Self::MAX_RETENTION_DAYS
        {
            return Err((
                "traveller_details.retention_days_after_travel".into(),
                format!("at most {} days", Self::MAX_RETENTION_DAYS),
            ));
        }
        Ok(())
    }

    /// The booking's rule over the brand's over the defaults, part by part.
    pub fn resolve(booking: Option<&DetailsPolicy>, brand: Option<&DetailsPolicy>) -> EffectivePolicy {
        let d = Requirements::default();
        EffectivePolicy {
            requirements: Requirements {
                required: booking
                    .and_then(|p| p.required.clone())
                    .or_else(|| brand.and_then(|p| p.required.clone()))
                    .unwrap_or(d.required),
                document_validity: booking
                    .and_then(|p| p.document_validity)
                    .or_else(|| brand.and_then(|p| p.document_validity))
                    .unwrap_or(d.document_validity),
            },
            retention_days_after_travel: booking
                .and_then(|p| p.retention_days_after_travel)
                .or_else(|| brand.and_then(|p| p.retention_days_after_travel))
                .unwrap_or(Self::DEFAULT_RETENTION_DAYS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operators_requirements_read_from_json_and_reject_nonsense() {
        let r: Requirements = serde_json::from_str(
            r#"{"required":["travel_document","legal_name"],"document_validity":{"months_after_travel":6,"enforcement":"warn"}}"#,
        )
        .unwrap();
        assert!(r.requires(Field::TravelDocument) && !r.requires(Field::Phone));
        assert_eq!(r.required.iter().next(), Some(&Field::LegalName), "the form's order, not the operator's");
        assert!(r.check().is_ok());
        let bad = Requirements {
            document_validity: DocumentValidity { months_after_travel: 13, ..DocumentValidity::default() },
            ..r
        };
        assert!(bad.check().is_err());
        assert!(serde_json::from_str::<Requirements>(r#"{"required":["shoe_size"]}"#).is_err());
    }

    #[test]
    fn a_bookings_rule_wins_over_its_brands_part_by_part() {
        let brand = DetailsPolicy {
            required: Some([Field::TravelDocument].into_iter().collect()),
            retention_days_after_travel: Some(30),
            ..DetailsPolicy::default()
        };
        let booking = DetailsPolicy {
            document_validity: Some(DocumentValidity {
                months_after_travel: 6,
                enforcement: ValidityEnforcement::Warn,
            }),
            retention_days_after_travel: Some(365),
            ..DetailsPolicy::default()
        };
        let e = DetailsPolicy::resolve(Some(&booking), Some(&brand));
        assert_eq!(e.requirements.required, [Field::TravelDocument].into_iter().collect());
        assert_eq!(e.requirements.document_validity.months_after_travel, 6);
        assert_eq!(e.retention_days_after_travel, 365);
        let none = DetailsPolicy::resolve(None, None);
        assert_eq!(none.requirements, Requirements::default());
        assert_eq!(none.retention_days_after_travel, DetailsPolicy::DEFAULT_RETENTION_DAYS);
        let long = DetailsPolicy { retention_days_after_travel: Some(4_000), ..DetailsPolicy::default() };
        assert_eq!(long.check().unwrap_err().0, "traveller_details.retention_days_after_travel");
    }

    #[test]
    fn names_on_the_wire_match_serde() {
        for f in Field::ALL {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }
}
