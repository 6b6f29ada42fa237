//! What is complete and what is missing, per traveller and per booking, from the operator's requirements.
//! The overview's "missing passenger details" action lists a traveller's `missing` fields.

use crate::model::TravellerDetails;
use crate::requirements::{Field, Requirements};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Required fields that are answered, in the form's order.
    pub complete: Vec<Field>,
    /// Required fields still to answer, in the form's order.
    pub missing: Vec<Field>,
    /// Whole percent of the required fields answered (100 when nothing is required).
    pub percent: u8,
}

/// Whether `f` is answered in `d` (an empty free-text answer is the answer "none", so it counts).
pub fn answered(d: &TravellerDetails, f: Field) -> bool {
    match f {
        Field::LegalName => d.legal_name.is_some(),
        Field::DateOfBirth => d.date_of_birth.is_some(),
        Field::Nationality => d.nationality.is_some(),
        Field::TravelDocument => d.travel_document.is_some(),
        Field::DietaryRequirements => d.dietary_requirements.is_some(),
        Field::Allergies => d.allergies.is_some(),
        Field::MobilityNotes => d.mobility_notes.is_some(),
        Field::MedicalNotes => d.medical_notes.is_some(),
        Field::EmergencyContact => d.emergency_contact.is_some(),
        Field::Phone => d.phone.is_some(),
        Field::Address => d.address.is_some(),
    }
}

/// One traveller's progress (no details saved yet: pass `TravellerDetails::default()`).
pub fn of_traveller(d: &TravellerDetails, r: &Requirements) -> Progress {
    let (complete, missing): (Vec<Field>, Vec<Field>) = r.required.iter().copied().partition(|f| answered(d, *f));
    let percent = percent(complete.len(), r.required.len());
    Progress { complete, missing, percent }
}

/// The booking's progress: required answers over all travellers.
/// Progress of stored details without decrypting them: the plain part (absent: nothing saved yet), the
/// names of the sensitive fields it holds, and whether the operator's own push gave a date of birth (which
/// counts until the customer enters one).
pub fn of_stored(
    plain: Option<TravellerDetails>,
    present: &[String],
    operator_dob: bool,
    r: &Requirements,
) -> Progress {
    let mut d = TravellerDetails::with_presence(plain.unwrap_or_default(), present);
    if d.date_of_birth.is_none() && operator_dob {
        d.date_of_birth = Some(chrono::NaiveDate::MIN);
    }
    of_traveller(&d, r)
}

pub fn of_booking<'a>(travellers: impl IntoIterator<Item = &'a TravellerDetails>, r: &Requirements) -> u8 {
    let (mut done, mut all) = (0, 0);
    for d in travellers {
        let p = of_traveller(d, r);
        done += p.complete.len();
        all += p.complete.len() + p.missing.len();
    }
    percent(done, all)
}

fn percent(done: usize, all: usize) -> u8 {
    if all == 0 {
        return 100;
    }
    // Rounded down, so 100 means every answer is in.
    u8::try_from(done * 100 / all).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LegalName;

    #[test]
    fn progress_counts_only_what_the_operator_requires() {
        let r = Requirements::default(); // legal name, date of birth, emergency contact
        let empty = TravellerDetails::default();
        let p = of_traveller(&empty, &r);
        assert_eq!((p.complete.len(), p.percent), (0, 0));
        assert_eq!(p.missing, [Field::LegalName, Field::DateOfBirth, Field::EmergencyContact]);

        let named = TravellerDetails {
            legal_name: Some(LegalName { given_names: "A".into(), surname: "B".into() }),
            phone: Some("+442079460958".into()), // not required: does not count
            ..TravellerDetails::default()
        };
        let p = of_traveller(&named, &r);
        assert_eq!((p.complete, p.percent), (vec![Field::LegalName], 33));
        assert_eq!(of_booking([&empty, &named], &r), 16);

        let none = Requirements { required: Default::default(), ..Requirements::default() };
        assert_eq!(of_traveller(&empty, &none).percent, 100);
    }

    #[test]
    fn stored_progress_counts_sealed_fields_by_name_and_the_operators_date_of_birth() {
        let r = Requirements::default();
        let plain = TravellerDetails {
            legal_name: Some(LegalName { given_names: "A".into(), surname: "B".into() }),
            ..TravellerDetails::default()
        };
        assert_eq!(of_stored(Some(plain.clone()), &["date_of_birth".into()], false, &r).percent, 66);
        assert_eq!(of_stored(Some(plain), &[], true, &r).percent, 66);
        assert_eq!(of_stored(None, &[], false, &r).percent, 0);
    }

    #[test]
    fn an_empty_dietary_answer_is_an_answer() {
        let r =
            Requirements { required: [Field::DietaryRequirements].into_iter().collect(), ..Requirements::default() };
        let d = TravellerDetails { dietary_requirements: Some(String::new()), ..TravellerDetails::default() };
        assert_eq!(of_traveller(&d, &r).percent, 100);
    }
}
