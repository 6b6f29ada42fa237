//! From the form to stored details, or to errors that each name the field (`travel_document.expiry_date`,
//! `emergency_contact.phone`, `address.lines[1]`), so the page can put every message next to its input.
//!
//! Every value that is present is checked strictly; nothing is required to save (a party's forms fill up
//! over several visits). What is still missing is [`crate::progress`]'s business, from the operator's
//! [`Requirements`].

use crate::consent::{self, Channel};
use crate::model::*;
use crate::requirements::{Requirements, ValidityEnforcement};
use chrono::{DateTime, Months, NaiveDate, Utc};
use portal_domain::locale::Locale;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

fn err(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), detail: detail.into() }
}

/// What the checks need to know besides the form.
pub struct Context<'a> {
    pub requirements: &'a Requirements,
    /// The booking's last day of travel (the document must be valid until then, plus the rule's months).
    pub travel_end: NaiveDate,
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
    /// The page's locale: the consent wording recorded for a new opt-in.
    pub locale: Locale,
    /// The details as stored before this change (a document number left out is kept from here; consents
    /// already given keep their time and wording).
    pub existing: Option<&'a TravellerDetails>,
}

#[derive(Debug)]
pub struct Validated {
    pub details: TravellerDetails,
    /// Accepted, but the customer should know (a document expiring too early where the rule only warns).
    pub warnings: Vec<FieldError>,
}

/// Longest free-text answers, in characters.
pub const NAME_MAX: usize = 100;
pub const SHORT_MAX: usize = 100;
pub const NOTES_MAX: usize = 2_000;
pub const ADDRESS_LINE_MAX: usize = 200;
pub const ADDRESS_LINES_MAX: usize = 3;
/// Travel document numbers: ICAO 9303 machine-readable documents hold up to 9 characters in the MRZ's
/// number field and longer national numbers in the optional field; 5 to 20 letters and digits covers both.
pub const DOCUMENT_NUMBER_LEN: std::ops::RangeInclusive<usize> = 5..=20;
/// Nobody travelling is older than this.
pub const MAX_AGE_YEARS: u32 = 130;

pub fn validate(input: DetailsInput, ctx: &Context<'_>) -> Result<Validated, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let existing = ctx.existing;

    let legal_name = input.legal_name.and_then(|n| {
        let given = text(&mut errors, "legal_name.given_names", &n.given_names, NAME_MAX, true);
        let surname = text(&mut errors, "legal_name.surname", &n.surname, NAME_MAX, true);
        Some(LegalName { given_names: given?, surname: surname? })
    });

    let date_of_birth = input.date_of_birth.filter(|d| {
        let oldest = ctx.today.checked_sub_months(Months::new(12 * MAX_AGE_YEARS)).unwrap_or(NaiveDate::MIN);
        if *d > ctx.today {
            errors.push(err("date_of_birth", "date_of_birth: cannot be in the future"));
            false
        } else if *d < oldest {
            errors.push(err("date_of_birth", format!("date_of_birth: more than {MAX_AGE_YEARS} years ago")));
            false
        } else {
            true
        }
    });

    let nationality = input.nationality.and_then(|c| country(&mut errors, "nationality", &c));

    let travel_document = input.travel_document.and_then(|d| {
        let kept = existing.and_then(|e| e.travel_document.as_ref()).map(|e| e.number.clone());
        let number = match d.number {
            Some(n) => document_number(&mut errors, &n),
            None if kept.is_some() => kept,
            None => {
                errors.push(err("travel_document.number", "travel_document.number: required for a new document"));
                None
            }
        };
        let issuing = country(&mut errors, "travel_document.issuing_country", &d.issuing_country);
        let rule = ctx.requirements.document_validity;
        let needed = ctx
            .travel_end
            .checked_add_months(Months::new(u32::from(rule.months_after_travel)))
            .unwrap_or(NaiveDate::MAX);
        let mut expiry_ok = true;
        if d.expiry_date <= ctx.today {
            errors.push(err("travel_document.expiry_date", "travel_document.expiry_date: this document has expired"));
            expiry_ok = false;
        } else if d.expiry_date < needed {
            let detail = if rule.months_after_travel == 0 {
                format!("travel_document.expiry_date: the document must be valid until the end of travel ({needed})")
            } else {
                format!(
                    "travel_document.expiry_date: the document must be valid until {needed}, {} months after travel",
                    rule.months_after_travel
                )
            };
            match rule.enforcement {
                ValidityEnforcement::Refuse => {
                    errors.push(err("travel_document.expiry_date", detail));
                    expiry_ok = false;
                }
                ValidityEnforcement::Warn => warnings.push(err("travel_document.expiry_date", detail)),
            }
        }
        match (number, issuing, expiry_ok) {
            (Some(number), Some(issuing_country), true) => {
                Some(TravelDocument { kind: d.kind, number, issuing_country, expiry_date: d.expiry_date })
            }
            _ => None,
        }
    });

    let dietary_requirements =
        input.dietary_requirements.and_then(|t| text(&mut errors, "dietary_requirements", &t, NOTES_MAX, false));
    let allergies = input.allergies.and_then(|t| text(&mut errors, "allergies", &t, NOTES_MAX, false));
    let mobility_notes = input.mobility_notes.and_then(|t| text(&mut errors, "mobility_notes", &t, NOTES_MAX, false));
    let medical_notes = input.medical_notes.and_then(|t| text(&mut errors, "medical_notes", &t, NOTES_MAX, false));

    // A number written without its country code is read in the traveller's own country (address, else
    // nationality); stored as E.164 either way.
    let home = input.address.as_ref().map(|a| a.country.clone()).or_else(|| nationality.clone());

    let emergency_contact = input.emergency_contact.and_then(|c| {
        let name = text(&mut errors, "emergency_contact.name", &c.name, NAME_MAX, true);
        let relation = text(&mut errors, "emergency_contact.relation", &c.relation, SHORT_MAX, true);
        let phone = phone(&mut errors, "emergency_contact.phone", &c.phone, home.as_deref());
        Some(EmergencyContact { name: name?, relation: relation?, phone: phone? })
    });

    let phone_number = input.phone.and_then(|p| phone(&mut errors, "phone", &p, home.as_deref()));

    let address = input.address.and_then(|a| {
        if a.lines.is_empty() || a.lines.len() > ADDRESS_LINES_MAX {
            errors.push(err("address.lines", format!("address.lines: one to {ADDRESS_LINES_MAX} lines")));
            return None;
        }
        let mut lines = Vec::new();
        for (i, l) in a.lines.iter().enumerate() {
            lines.push(text(&mut errors, format!("address.lines[{i}]"), l, ADDRESS_LINE_MAX, true));
        }
        let city = text(&mut errors, "address.city", &a.city, SHORT_MAX, true);
        let postcode = match a.postcode {
            Some(p) => text(&mut errors, "address.postcode", &p, 20, false).map(|p| (!p.is_empty()).then_some(p)),
            None => Some(None),
        };
        let region = match a.region {
            Some(r) => text(&mut errors, "address.region", &r, SHORT_MAX, false).map(|r| (!r.is_empty()).then_some(r)),
            None => Some(None),
        };
        let country = country(&mut errors, "address.country", &a.country);
        let lines: Option<Vec<String>> = lines.into_iter().collect();
        Some(Address { lines: lines?, city: city?, postcode: postcode?, region: region?, country: country? })
    });

    let before = existing.map(|e| &e.preferences);
    let preferences = Preferences {
        marketing_email: consent::update(
            before.and_then(|p| p.marketing_email.as_ref()),
            input.preferences.marketing_email,
            Channel::MarketingEmail,
            ctx.locale,
            ctx.now,
        ),
        sms: consent::update(
            before.and_then(|p| p.sms.as_ref()),
            input.preferences.sms,
            Channel::Sms,
            ctx.locale,
            ctx.now,
        ),
    };
    if preferences.sms.is_some() && phone_number.is_none() && !errors.iter().any(|e| e.field == "phone") {
        errors.push(err("preferences.sms", "preferences.sms: text messages need a phone number"));
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Validated {
        details: TravellerDetails {
            legal_name,
            date_of_birth,
            nationality,
            travel_document,
            dietary_requirements,
            allergies,
            mobility_notes,
            medical_notes,
            emergency_contact,
            phone: phone_number,
            address,
            preferences,
        },
        warnings,
    })
}

/// Trimmed text of at most `max` characters, without control characters (a line break is allowed only in
/// notes, which are the long ones). `required`: empty is an error, else empty is kept as the answer "none".
fn text(
    errors: &mut Vec<FieldError>,
    field: impl Into<String>,
    value: &str,
    max: usize,
    required: bool,
) -> Option<String> {
    let field = field.into();
    let v = value.trim();
    let multiline = max == NOTES_MAX;
    if required && v.is_empty() {
        errors.push(err(&field, format!("{field}: required")));
        return None;
    }
    if v.chars().count() > max {
        errors.push(err(&field, format!("{field}: at most {max} characters")));
        return None;
    }
    if v.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t'))) {
        errors.push(err(&field, format!("{field}: contains control characters")));
        return None;
    }
    Some(v.to_string())
}

/// An ISO 3166-1 alpha-2 code, upper-cased.
fn country(errors: &mut Vec<FieldError>, field: &str, value: &str) -> Option<String> {
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 2 && isocountry::CountryCode::for_alpha2(&code).is_ok() {
        Some(code)
    } else {
        errors.push(err(field, format!("{field}: not an ISO 3166-1 alpha-2 country code (e.g. GB, DE, JP)")));
        None
    }
}

/// A valid number by libphonenumber's metadata, as E.164. Without a leading `+` it is read as a national
/// number of `home` (when known).
fn phone(errors: &mut Vec<FieldError>, field: &str, value: &str, home: Option<&str>) -> Option<String> {
    let v = value.trim();
    if v.is_empty() || v.len() > 40 {
        errors.push(err(field, format!("{field}: a phone number with its country code, e.g. +44 20 7946 0958")));
        return None;
    }
    let region = if v.starts_with('+') { None } else { home.and_then(|h| h.parse::<phonenumber::country::Id>().ok()) };
    match phonenumber::parse(region, v) {
        Ok(n) if phonenumber::is_valid(&n) => Some(n.format().mode(phonenumber::Mode::E164).to_string()),
        _ => {
            errors.push(err(
                field,
                format!("{field}: not a valid phone number; include the country code, e.g. +44 20 7946 0958"),
            ));
            None
        }
    }
}

/// Letters and digits only (spaces and dashes as printed are removed), upper-cased.
fn document_number(errors: &mut Vec<FieldError>, value: &str) -> Option<String> {
    let n: String = value.chars().filter(|c| !matches!(c, ' ' | '-')).collect::<String>().to_ascii_uppercase();
    if !n.chars().all(|c| c.is_ascii_alphanumeric()) || !DOCUMENT_NUMBER_LEN.contains(&n.len()) {
        errors.push(err(
            "travel_document.number",
            format!(
                "travel_document.number: {} to {} letters and digits, as printed in the document",
                DOCUMENT_NUMBER_LEN.start(),
                DOCUMENT_NUMBER_LEN.end()
            ),
        ));
        return None;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::DocumentValidity;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn ctx<'a>(req: &'a Requirements, existing: Option<&'a TravellerDetails>) -> Context<'a> {
        Context {
            requirements: req,
            travel_end: day(2027, 6, 20),
            today: day(2026, 12, 7),
            now: Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap(),
            locale: Locale::EnGb,
            existing,
        }
    }

    fn form(json: serde_json::Value) -> DetailsInput {
        serde_json::from_value(json).unwrap()
    }

    fn fields(e: &[FieldError]) -> Vec<&str> {
        e.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_complete_form_is_normalised() {
        let req = Requirements::default();
        let v = validate(
            form(serde_json::json!({
                "legal_name": {"given_names": " Anna Maria ", "surname": "Keller"},
                "date_of_birth": "1984-03-09",
                "nationality": "ch",
                "travel_document": {"kind": "passport", "number": "x12 345-67", "issuing_country": "CH", "expiry_date": "2031-01-01"},
                "dietary_requirements": "",
                "emergency_contact": {"name": "Jonas Keller", "relation": "partner", "phone": "+41 44 668 18 00"},
                "phone": "020 7946 0958",
                "address": {"lines": ["1 High Street"], "city": "London", "postcode": "SW1A 1AA", "country": "GB"},
                "preferences": {"marketing_email": true}
            })),
            &ctx(&req, None),
        )
        .unwrap();
        let d = v.details;
        assert_eq!(d.legal_name.unwrap().given_names, "Anna Maria");
        assert_eq!(d.nationality.as_deref(), Some("CH"));
        assert_eq!(d.travel_document.unwrap().number, "X1234567");
        assert_eq!(d.dietary_requirements.as_deref(), Some(""), "empty is the answer 'none'");
        assert_eq!(d.emergency_contact.unwrap().phone, "+41446681800");
        assert_eq!(d.phone.as_deref(), Some("+442079460958"), "national number read in the address's country");
        assert_eq!(d.preferences.marketing_email.unwrap().wording_id, consent::MARKETING_EMAIL_V1);
        assert!(d.preferences.sms.is_none());
        assert!(v.warnings.is_empty());
    }

    #[test]
    fn every_bad_value_is_named_by_its_field() {
        let req = Requirements::default();
        let e = validate(
            form(serde_json::json!({
                "legal_name": {"given_names": "", "surname": "K"},
                "date_of_birth": "2027-01-01",
                "nationality": "XX",
                "emergency_contact": {"name": "J", "relation": "partner", "phone": "+44 12"},
                "phone": "call me",
                "address": {"lines": ["a", "b", "c", "d"], "city": "x", "country": "GB"},
                "mobility_notes": "wheel\u{0007}chair",
            })),
            &ctx(&req, None),
        )
        .unwrap_err();
        assert_eq!(
            fields(&e),
            [
                "legal_name.given_names",
                "date_of_birth",
                "nationality",
                "mobility_notes",
                "emergency_contact.phone",
                "phone",
                "address.lines"
            ]
        );
        assert!(e.iter().all(|x| x.detail.starts_with(&x.field)), "{e:?}");
    }

    #[test]
    fn a_document_expiring_before_the_end_of_travel_is_refused_or_warned_as_the_rule_says() {
        let doc = |expiry: &str| {
            form(
                serde_json::json!({"travel_document": {"kind": "passport", "number": "X1234567", "issuing_country": "GB", "expiry_date": expiry}}),
            )
        };
        let refuse = Requirements {
            document_validity: DocumentValidity { months_after_travel: 6, enforcement: ValidityEnforcement::Refuse },
            ..Requirements::default()
        };
        // valid until 2027-12-20 is needed (travel ends 2027-06-20, plus six months)
        let e = validate(doc("2027-09-01"), &ctx(&refuse, None)).unwrap_err();
        assert_eq!(fields(&e), ["travel_document.expiry_date"]);
        assert!(e[0].detail.contains("2027-12-20"), "{e:?}");
        assert!(validate(doc("2027-12-20"), &ctx(&refuse, None)).is_ok());

        let warn = Requirements {
            document_validity: DocumentValidity { months_after_travel: 6, enforcement: ValidityEnforcement::Warn },
            ..Requirements::default()
        };
        let v = validate(doc("2027-09-01"), &ctx(&warn, None)).unwrap();
        assert!(v.details.travel_document.is_some());
        assert_eq!(fields(&v.warnings), ["travel_document.expiry_date"]);

        // an expired document is refused whatever the rule
        let e = validate(doc("2026-12-01"), &ctx(&warn, None)).unwrap_err();
        assert!(e[0].detail.contains("expired"));
    }

    #[test]
    fn a_number_left_out_keeps_the_stored_one_and_a_new_document_needs_one() {
        let req = Requirements::default();
        let f = || {
            form(
                serde_json::json!({"travel_document": {"kind": "passport", "issuing_country": "GB", "expiry_date": "2030-01-01"}}),
            )
        };
        let e = validate(f(), &ctx(&req, None)).unwrap_err();
        assert_eq!(fields(&e), ["travel_document.number"]);
        let stored = TravellerDetails {
            travel_document: Some(TravelDocument {
                kind: DocumentKind::Passport,
                number: "X1234567".into(),
                issuing_country: "GB".into(),
                expiry_date: day(2029, 1, 1),
            }),
            ..TravellerDetails::default()
        };
        let v = validate(f(), &ctx(&req, Some(&stored))).unwrap();
        let d = v.details.travel_document.unwrap();
        assert_eq!((d.number.as_str(), d.expiry_date), ("X1234567", day(2030, 1, 1)));
    }

    #[test]
    fn document_numbers_are_letters_and_digits_of_a_plausible_length() {
        let req = Requirements::default();
        for bad in ["1234", "X123456789012345678901", "X12_3456", "X1234567\u{0301}"] {
            let e = validate(
                form(serde_json::json!({"travel_document": {"kind": "national_id", "number": bad, "issuing_country": "DE", "expiry_date": "2030-01-01"}})),
                &ctx(&req, None),
            )
            .unwrap_err();
            assert_eq!(fields(&e), ["travel_document.number"], "{bad}");
        }
    }

    #[test]
    fn sms_needs_a_phone_and_a_consent_keeps_its_first_time() {
        let req = Requirements::default();
        let e = validate(form(serde_json::json!({"preferences": {"sms": true}})), &ctx(&req, None)).unwrap_err();
        assert_eq!(fields(&e), ["preferences.sms"]);
        let first = validate(
            form(serde_json::json!({"phone": "+44 20 7946 0958", "preferences": {"sms": true}})),
            &ctx(&req, None),
        )
        .unwrap()
        .details;
        let mut later = ctx(&req, Some(&first));
        later.now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let again =
            validate(form(serde_json::json!({"phone": "+44 20 7946 0958", "preferences": {"sms": true}})), &later)
                .unwrap()
                .details;
        assert_eq!(again.preferences.sms, first.preferences.sms);
    }

    #[test]
    fn free_text_has_limits_but_notes_may_span_lines() {
        let req = Requirements::default();
        let long = "x".repeat(NOTES_MAX + 1);
        let e = validate(form(serde_json::json!({"medical_notes": long})), &ctx(&req, None)).unwrap_err();
        assert_eq!(fields(&e), ["medical_notes"]);
        let v = validate(form(serde_json::json!({"medical_notes": "asthma\ninhaler"})), &ctx(&req, None)).unwrap();
        assert_eq!(v.details.medical_notes.as_deref(), Some("asthma\ninhaler"));
        let e = validate(
            form(serde_json::json!({"legal_name": {"given_names": "A\nB", "surname": "C"}})),
            &ctx(&req, None),
        )
        .unwrap_err();
        assert_eq!(fields(&e), ["legal_name.given_names"]);
    }
}
