//! What is collected per traveller.
//!
//! [`TravellerDetails`] is what is stored (validated, normalised: countries upper-case ISO 3166-1 alpha-2,
//! phones E.164, document numbers upper-case without spaces). [`DetailsInput`] is what the form sends: the
//! same shape, except that a travel document's number may be left out to keep the stored one (the page only
//! ever sees it masked) and marketing opt-ins are plain yes/no (the consent record is made here, not by the
//! browser).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Passport,
    NationalId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalName {
    /// Given names exactly as in the travel document.
    pub given_names: String,
    pub surname: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravelDocument {
    pub kind: DocumentKind,
    /// Sensitive: kept encrypted, shown back only masked ([`crate::mask`]).
    pub number: String,
    pub issuing_country: String,
    pub expiry_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyContact {
    pub name: String,
    /// "partner", "mother", "friend"...: free text, the operator reads it.
    pub relation: String,
    /// E.164.
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// One to three lines (street, building, flat).
    pub lines: Vec<String>,
    pub city: String,
    pub postcode: Option<String>,
    pub region: Option<String>,
    pub country: String,
}

/// A recorded opt-in: when it was given and the exact wording shown ([`crate::consent`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub given_at: DateTime<Utc>,
    pub wording_id: String,
    pub wording: String,
    pub locale: String,
}

/// Transactional email (confirmations, receipts, sign-in) is always sent and cannot be turned off here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    pub marketing_email: Option<Consent>,
    pub sms: Option<Consent>,
}

/// One traveller's details as stored. `None` is "not given yet"; an empty string in a free-text answer
/// (dietary requirements, allergies) is the answer "none".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravellerDetails {
    pub legal_name: Option<LegalName>,
    /// Sensitive.
    pub date_of_birth: Option<NaiveDate>,
    pub nationality: Option<String>,
    /// The number inside is sensitive.
    pub travel_document: Option<TravelDocument>,
    pub dietary_requirements: Option<String>,
    pub allergies: Option<String>,
    pub mobility_notes: Option<String>,
    /// Sensitive.
    pub medical_notes: Option<String>,
    pub emergency_contact: Option<EmergencyContact>,
    /// E.164.
    pub phone: Option<String>,
    pub address: Option<Address>,
    #[serde(default)]
    pub preferences: Preferences,
}

/// The values kept encrypted at rest: travel document number, date of birth, medical notes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sensitive {
    pub document_number: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub medical_notes: Option<String>,
}

impl Sensitive {
    pub fn is_empty(&self) -> bool {
        self.document_number.is_none() && self.date_of_birth.is_none() && self.medical_notes.is_none()
    }

    /// Which sensitive fields are set (stored beside the sealed part, so progress needs no decryption).
    pub fn present(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.date_of_birth.is_some() {
            v.push("date_of_birth".to_string());
        }
        if self.medical_notes.is_some() {
            v.push("medical_notes".to_string());
        }
        if self.document_number.is_some() {
            v.push("travel_document.number".to_string());
        }
        v
    }
}

impl TravellerDetails {
    /// Split into the part stored in plain text (with the document number, date of birth and medical notes
    /// removed) and the sensitive part, for the store to encrypt.
    pub fn split(&self) -> (TravellerDetails, Sensitive) {
        let mut plain = self.clone();
        let sensitive = Sensitive {
            document_number: plain.travel_document.as_mut().map(|d| std::mem::take(&mut d.number)),
            date_of_birth: plain.date_of_birth.take(),
            medical_notes: plain.medical_notes.take(),
        };
        (plain, sensitive)
    }

    /// The plain part with stand-ins for the sensitive fields `present` names: enough to count progress
    /// ([`crate::progress`]) without decrypting anything. Never shown.
    pub fn with_presence(mut plain: TravellerDetails, present: &[String]) -> TravellerDetails {
        let has = |f: &str| present.iter().any(|p| p == f);
        if has("date_of_birth") {
            plain.date_of_birth = Some(NaiveDate::MIN);
        }
        if has("medical_notes") {
            plain.medical_notes = Some(String::new());
        }
        plain
    }

    /// The inverse of [`TravellerDetails::split`].
    pub fn join(mut plain: TravellerDetails, sensitive: Sensitive) -> TravellerDetails {
        if let (Some(d), Some(n)) = (plain.travel_document.as_mut(), sensitive.document_number) {
            d.number = n;
        }
        plain.date_of_birth = sensitive.date_of_birth;
        plain.medical_notes = sensitive.medical_notes;
        plain
    }
}

// ---------------------------------------------------------------------------------------------------------
// What the form sends

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelDocumentInput {
    pub kind: DocumentKind,
    /// Left out: keep the stored number (the page only has it masked).
    #[serde(default)]
    pub number: Option<String>,
    pub issuing_country: String,
    pub expiry_date: NaiveDate,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContactInput {
    pub name: String,
    pub relation: String,
    pub phone: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub lines: Vec<String>,
    pub city: String,
    #[serde(default)]
    pub postcode: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub country: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesInput {
    #[serde(default)]
    pub marketing_email: bool,
    #[serde(default)]
    pub sms: bool,
}

/// The whole form for one traveller: a full replacement (a field left out is cleared), except a travel
/// document's number, which is kept when left out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailsInput {
    #[serde(default)]
    pub legal_name: Option<LegalName>,
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(default)]
    pub nationality: Option<String>,
    #[serde(default)]
    pub travel_document: Option<TravelDocumentInput>,
    #[serde(default)]
    pub dietary_requirements: Option<String>,
    #[serde(default)]
    pub allergies: Option<String>,
    #[serde(default)]
    pub mobility_notes: Option<String>,
    #[serde(default)]
    pub medical_notes: Option<String>,
    #[serde(default)]
    pub emergency_contact: Option<EmergencyContactInput>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address: Option<AddressInput>,
    #[serde(default)]
    pub preferences: PreferencesInput,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> TravellerDetails {
        TravellerDetails {
            legal_name: Some(LegalName { given_names: "Anna Maria".into(), surname: "Keller".into() }),
            date_of_birth: NaiveDate::from_ymd_opt(1984, 3, 9),
            nationality: Some("CH".into()),
            travel_document: Some(TravelDocument {
                kind: DocumentKind::Passport,
                number: "X1234567".into(),
                issuing_country: "CH".into(),
                expiry_date: NaiveDate::from_ymd_opt(2031, 1, 1).unwrap(),
            }),
            medical_notes: Some("asthma".into()),
            ..TravellerDetails::default()
        }
    }

    #[test]
    fn split_removes_every_sensitive_value_and_join_restores_them() {
        let d = full();
        let (plain, sensitive) = d.split();
        let text = serde_json::to_string(&plain).unwrap();
        assert!(!text.contains("X1234567") && !text.contains("1984") && !text.contains("asthma"), "{text}");
        assert_eq!(sensitive.document_number.as_deref(), Some("X1234567"));
        assert_eq!(TravellerDetails::join(plain, sensitive), d);
    }

    #[test]
    fn the_form_refuses_unknown_fields() {
        let err = serde_json::from_str::<DetailsInput>(r#"{"passport_number":"1"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
