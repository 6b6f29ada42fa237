//! How stored details are shown: to the customer (the travel document number only masked, opt-ins as
//! yes/no) and to the operator (everything, consents with their time and wording).

use crate::mask;
use crate::model::{DocumentKind, TravellerDetails};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentView {
    pub kind: DocumentKind,
    pub number_masked: String,
    pub issuing_country: String,
    pub expiry_date: NaiveDate,
}

/// The customer's view: the same shape as the form, the document number replaced by `number_masked`.
pub fn customer(d: &TravellerDetails) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or_else(|_| json!({}));
    if let Some(doc) = &d.travel_document {
        v["travel_document"] = serde_json::to_value(DocumentView {
            kind: doc.kind,
            number_masked: mask::document_number(&doc.number),
            issuing_country: doc.issuing_country.clone(),
            expiry_date: doc.expiry_date,
        })
        .unwrap_or(Value::Null);
    }
    v["preferences"] = json!({
        "marketing_email": d.preferences.marketing_email.is_some(),
        "sms": d.preferences.sms.is_some(),
    });
    v
}

/// The operator's view: every value, consents with time, wording and locale.
pub fn operator(d: &TravellerDetails) -> Value {
    serde_json::to_value(d).unwrap_or_else(|_| json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TravelDocument;

    #[test]
    fn the_customer_sees_the_number_masked_and_the_operator_in_full() {
        let d = TravellerDetails {
            travel_document: Some(TravelDocument {
                kind: DocumentKind::Passport,
                number: "X1234567".into(),
                issuing_country: "CH".into(),
                expiry_date: NaiveDate::from_ymd_opt(2031, 1, 1).unwrap(),
            }),
            ..TravellerDetails::default()
        };
        let c = customer(&d).to_string();
        assert!(!c.contains("X1234567") && c.contains("•••••567"), "{c}");
        assert!(c.contains(r#""marketing_email":false"#), "{c}");
        assert!(operator(&d).to_string().contains("X1234567"));
    }
}
