//! What changed between two versions of a traveller's details, named by field. The history listing shows
//! these names and, for fields that are not sensitive, the old and new values; a sensitive field (document
//! number, date of birth, medical notes) is listed as changed without its values (they stay encrypted in the
//! stored versions, and a restore copies them back without ever showing them).

use crate::model::TravellerDetails;
use crate::requirements::Field;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: &'static str,
    pub sensitive: bool,
    /// The values as JSON, `None` for sensitive fields.
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Fields whose values are never shown in a history listing.
pub fn is_sensitive(field: &str) -> bool {
    matches!(field, "date_of_birth" | "medical_notes" | "travel_document.number")
}

/// The changes from `before` (`None`: nothing saved yet) to `after`, in the form's order.
pub fn changes(before: Option<&TravellerDetails>, after: &TravellerDetails) -> Vec<Change> {
    let empty = TravellerDetails::default();
    let before = before.unwrap_or(&empty);
    let mut out = Vec::new();
    for f in Field::ALL {
        if f == Field::TravelDocument {
            // The number apart from the rest of the document, so a new expiry date can be shown.
            let strip = |d: &TravellerDetails| {
                d.travel_document.as_ref().map(|t| {
                    let mut t = t.clone();
                    t.number.clear();
                    t
                })
            };
            let (b, a) = (strip(before), strip(after));
            if b != a {
                let mut c = plain("travel_document", &b, &a);
                for v in [c.before.as_mut(), c.after.as_mut()].into_iter().flatten() {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("number");
                    }
                }
                out.push(c);
            }
            let num = |d: &TravellerDetails| d.travel_document.as_ref().map(|t| t.number.clone());
            if num(before) != num(after) {
                out.push(Change { field: "travel_document.number", sensitive: true, before: None, after: None });
            }
            continue;
        }
        let (b, a) = (value(before, f), value(after, f));
        if b != a {
            if is_sensitive(f.as_str()) {
                out.push(Change { field: f.as_str(), sensitive: true, before: None, after: None });
            } else {
                out.push(Change { field: f.as_str(), sensitive: false, before: non_null(b), after: non_null(a) });
            }
        }
    }
    let prefs = |d: &TravellerDetails| serde_json::to_value(&d.preferences).unwrap_or_default();
    if prefs(before) != prefs(after) {
        out.push(plain("preferences", &before.preferences, &after.preferences));
    }
    out
}

fn plain<T: Serialize>(field: &'static str, b: &T, a: &T) -> Change {
    Change {
        field,
        sensitive: false,
        before: non_null(serde_json::to_value(b).unwrap_or_default()),
        after: non_null(serde_json::to_value(a).unwrap_or_default()),
    }
}

fn non_null(v: serde_json::Value) -> Option<serde_json::Value> {
    (!v.is_null()).then_some(v)
}

fn value(d: &TravellerDetails, f: Field) -> serde_json::Value {
    let v = serde_json::to_value(d).unwrap_or_default();
    v.get(f.as_str()).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DocumentKind, TravelDocument};
    use chrono::NaiveDate;

    fn doc(number: &str, expiry: (i32, u32, u32)) -> Option<TravelDocument> {
        Some(TravelDocument {
            kind: DocumentKind::Passport,
            number: number.into(),
            issuing_country: "GB".into(),
            expiry_date: NaiveDate::from_ymd_opt(expiry.0, expiry.1, expiry.2).unwrap(),
        })
    }

    #[test]
    fn changes_name_each_field_and_never_show_a_sensitive_value() {
        let v1 = TravellerDetails {
            date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 1),
            travel_document: doc("X1234567", (2030, 1, 1)),
            phone: Some("+442079460958".into()),
            ..TravellerDetails::default()
        };
        let v2 = TravellerDetails {
            date_of_birth: NaiveDate::from_ymd_opt(1981, 1, 1),
            travel_document: doc("Y7654321", (2031, 1, 1)),
            phone: None,
            ..TravellerDetails::default()
        };
        let c = changes(Some(&v1), &v2);
        let names: Vec<_> = c.iter().map(|c| c.field).collect();
        assert_eq!(names, ["date_of_birth", "travel_document", "travel_document.number", "phone"]);
        let text = serde_json::to_string(&c).unwrap();
        for secret in ["1980", "1981", "X1234567", "Y7654321"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("2031-01-01"), "the new expiry date is not sensitive");
        assert!(!text.contains(r#""number""#), "the document's number key is left out, not shown empty: {text}");
        assert_eq!(c[3].after, None, "phone removed");
        assert!(changes(Some(&v2), &v2).is_empty());
        assert_eq!(changes(None, &v2).len(), 3);
    }
}
