//! Each request type's fields, checked against the booking, and who may ask for what.
//!
//! The lead may ask anything about the booking; another traveller only about their own part (a service they
//! are on, themself), never for a booking-wide type ([`RequestType::lead_only`]). A refusal of that kind is
//! [`Refusal::Forbidden`] (403); bad or missing values are [`Refusal::Invalid`] with every bad field (422).

use chrono::{Datelike, NaiveDate};
use portal_domain::booking::{Booking, BookingStatus};
use serde_json::{Map, Value, json};

use crate::kind::RequestType;
use crate::text;
use crate::{FieldError, err};

pub const NAME_MAX: usize = 100;
/// A date change may ask for a trip of at most this many days.
pub const MAX_TRIP_DAYS: i64 = 366;
pub const MAX_AGE_YEARS: i32 = 130;

/// Who is asking: the session's traveller.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub traveller_id: &'a str,
    pub is_lead: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub kind: RequestType,
    /// The fields as checked (names trimmed, only the type's keys), to store and show.
    pub fields: Value,
    /// The travellers the request is about.
    pub about: Vec<String>,
    pub service_id: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(Vec<FieldError>),
    Forbidden(String),
    /// The booking is cancelled: only `other` may still be asked.
    BookingCancelled,
}

/// A service the booking has, as a customer may name it (the first day it appears on).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceChoice {
    pub service_id: String,
    pub name: String,
    pub date: NaiveDate,
    #[serde(skip)]
    pub traveller_ids: Vec<String>,
}

pub fn services(booking: &Booking) -> Vec<ServiceChoice> {
    let mut out: Vec<ServiceChoice> = Vec::new();
    for day in &booking.itinerary {
        for s in &day.services {
            if !out.iter().any(|c| c.service_id == s.id) {
                out.push(ServiceChoice {
                    service_id: s.id.clone(),
                    name: s.name.clone(),
                    date: day.date,
                    traveller_ids: s.traveller_ids.clone(),
                });
            }
        }
    }
    out
}

impl ServiceChoice {
    /// A service without named travellers is the whole party's.
    pub fn is_on(&self, traveller_id: &str) -> bool {
        self.traveller_ids.is_empty() || self.traveller_ids.iter().any(|t| t == traveller_id)
    }
}

/// What this session may ask for, for the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    pub types: Vec<(RequestType, bool)>,
    pub travellers: Vec<String>,
    pub services: Vec<ServiceChoice>,
}

pub fn choices(booking: &Booking, asker: Asker<'_>) -> Choices {
    let services: Vec<ServiceChoice> =
        services(booking).into_iter().filter(|s| asker.is_lead || s.is_on(asker.traveller_id)).collect();
    let travellers: Vec<String> = booking
        .travellers
        .iter()
        .filter(|t| asker.is_lead || t.id == asker.traveller_id)
        .map(|t| t.id.clone())
        .collect();
    let cancelled = booking.status == BookingStatus::Cancelled;
    let removable = booking.travellers.iter().any(|t| t.id != booking.lead_traveller_id)
        && (asker.is_lead || asker.traveller_id != booking.lead_traveller_id);
    let types = RequestType::ALL
        .into_iter()
        .map(|t| {
            let allowed = match t {
                RequestType::Other => true,
                _ if cancelled => false,
                t if t.lead_only() => asker.is_lead,
                RequestType::ServiceChange => !services.is_empty(),
                RequestType::RemoveTraveller => removable,
                _ => true,
            };
            (t, allowed)
        })
        .collect();
    Choices { types, travellers, services }
}

/// Check a new request. `fields` is the body's `fields` object (absent: `{}`).
pub fn validate(
    kind: RequestType,
    fields: &Value,
    message: Option<&str>,
    booking: &Booking,
    asker: Asker<'_>,
    today: NaiveDate,
) -> Result<Validated, Refusal> {
    if booking.status == BookingStatus::Cancelled && kind != RequestType::Other {
        return Err(Refusal::BookingCancelled);
    }
    if kind.lead_only() && !asker.is_lead {
        return Err(Refusal::Forbidden(format!(
            "only the lead traveller may ask for a {} (it changes the whole booking)",
            kind.as_str().replace('_', " ")
        )));
    }
    let empty = Map::new();
    let obj = match fields {
        Value::Null => &empty,
        Value::Object(o) => o,
        _ => return Err(Refusal::Invalid(vec![err("fields", "fields: must be an object")])),
    };
    let mut errors = Vec::new();
    let mut f = Fields { obj, errors: &mut errors, allowed: allowed_keys(kind) };
    f.unknown_keys();
    let message = match message.map(|m| text::message("message", m)) {
        None if kind.message_required() => {
            f.errors.push(err("message", "message: say what you would like (this type needs a message)"));
            None
        }
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) if e.detail.contains("write a message") && !kind.message_required() => None,
        Some(Err(e)) => {
            f.errors.push(e);
            None
        }
    };
    let everyone: Vec<String> = booking.travellers.iter().map(|t| t.id.clone()).collect();
    let mine = vec![asker.traveller_id.to_string()];
    let mut service_id = None;
    let (out, about) = match kind {
        RequestType::ServiceChange => {
            let id = f.string("service_id", 64);
            let mut about = Vec::new();
            if let Some(id) = &id {
                match services(booking).into_iter().find(|s| &s.service_id == id) {
                    None => {
                        f.errors.push(err("fields.service_id", "fields.service_id: no such service on this booking"))
                    }
                    Some(s) => {
                        if !asker.is_lead && !s.is_on(asker.traveller_id) {
                            return Err(Refusal::Forbidden("you can only ask to change a service you are on".into()));
                        }
                        about = if asker.is_lead {
                            if s.traveller_ids.is_empty() { everyone.clone() } else { s.traveller_ids.clone() }
                        } else {
                            mine.clone()
                        };
                        service_id = Some(s.service_id);
                    }
                }
            }
            (json!({"service_id": id}), about)
        }
        RequestType::AddTraveller => {
            let first = f.name("first_name");
            let last = f.name("last_name");
            let dob = f.optional_date("date_of_birth");
            if let Some(d) = dob {
                if d >= today {
                    f.errors.push(err("fields.date_of_birth", "fields.date_of_birth: must be in the past"));
                } else if today.year() - d.year() > MAX_AGE_YEARS {
                    f.errors.push(err("fields.date_of_birth", "fields.date_of_birth: not a plausible date of birth"));
                }
            }
            let mut v = json!({"first_name": first, "last_name": last});
            if let Some(d) = dob {
                v["date_of_birth"] = json!(d);
            }
            (v, Vec::new())
        }
        RequestType::RemoveTraveller => {
            let id = f.traveller("traveller_id", booking);
            if let Some(id) = &id {
                if id == &booking.lead_traveller_id {
                    f.errors.push(err(
                        "fields.traveller_id",
                        "fields.traveller_id: the lead traveller cannot be removed (ask for a cancellation, or for another lead in an 'other' request)",
                    ));
                } else if !asker.is_lead && id != asker.traveller_id {
                    return Err(Refusal::Forbidden("you can only ask to remove yourself from the booking".into()));
                }
            }
            (json!({"traveller_id": id}), id.into_iter().collect())
        }
        RequestType::DateChange => {
            let start = f.date("new_start");
            let end = f.date("new_end");
            if start.is_some_and(|s| s < today) {
                f.errors.push(err("fields.new_start", "fields.new_start: must be today or later"));
            }
            if let (Some(s), Some(e)) = (start, end) {
                if e < s {
                    f.errors.push(err("fields.new_end", "fields.new_end: must be on or after the new start date"));
                } else if (e - s).num_days() + 1 > MAX_TRIP_DAYS {
                    f.errors
                        .push(err("fields.new_end", format!("fields.new_end: a trip of at most {MAX_TRIP_DAYS} days")));
                }
                if s == booking.travel_start && e == booking.travel_end {
                    f.errors.push(err("fields.new_start", "fields.new_start: these are the booking's dates already"));
                }
            }
            (json!({"new_start": start, "new_end": end}), everyone.clone())
        }
        RequestType::Cancellation => {
            let scope = f.one_of("scope", &["booking", "travellers"]);
            let ids = obj.get("traveller_ids");
            match scope.as_deref() {
                Some("booking") => {
                    if ids.is_some() {
                        f.errors.push(err("fields.traveller_ids", "fields.traveller_ids: only with scope travellers"));
                    }
                    if !asker.is_lead {
                        return Err(Refusal::Forbidden("only the lead traveller may cancel the whole booking".into()));
                    }
                    (json!({"scope": "booking"}), everyone.clone())
                }
                Some(_) => {
                    let ids = f.traveller_list("traveller_ids", booking);
                    if !asker.is_lead && ids.iter().any(|i| i != asker.traveller_id) {
                        return Err(Refusal::Forbidden("you can only cancel your own place on the booking".into()));
                    }
                    (json!({"scope": "travellers", "traveller_ids": ids}), ids)
                }
                None => (json!({"scope": null}), Vec::new()),
            }
        }
        RequestType::SpecialAssistance => {
            let id = f.traveller("traveller_id", booking);
            let kind = f.one_of("kind", &["mobility", "dietary", "medical", "other"]);
            if let Some(id) = &id
                && !asker.is_lead
                && id != asker.traveller_id
            {
                return Err(Refusal::Forbidden("you can only ask for assistance for yourself".into()));
            }
            (json!({"traveller_id": id, "kind": kind}), id.into_iter().collect())
        }
        RequestType::Other => (json!({}), if asker.is_lead { Vec::new() } else { mine.clone() }),
    };
    if !errors.is_empty() {
        return Err(Refusal::Invalid(errors));
    }
    Ok(Validated { kind, fields: out, about, service_id, message })
}

fn allowed_keys(kind: RequestType) -> &'static [&'static str] {
    match kind {
        RequestType::ServiceChange => &["service_id"],
        RequestType::AddTraveller => &["first_name", "last_name", "date_of_birth"],
        RequestType::RemoveTraveller => &["traveller_id"],
        RequestType::DateChange => &["new_start", "new_end"],
        RequestType::Cancellation => &["scope", "traveller_ids"],
        RequestType::SpecialAssistance => &["traveller_id", "kind"],
        RequestType::Other => &[],
    }
}

struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: &'a mut Vec<FieldError>,
    allowed: &'static [&'static str],
}

impl Fields<'_> {
    fn unknown_keys(&mut self) {
        let mut keys: Vec<&String> = self.obj.keys().filter(|k| !self.allowed.contains(&k.as_str())).collect();
        keys.sort();
        for k in keys {
            let allowed = if self.allowed.is_empty() { "none".to_string() } else { self.allowed.join(", ") };
            self.errors
                .push(err(format!("fields.{k}"), format!("fields.{k}: not a field of this type (allowed: {allowed})")));
        }
    }

    fn raw_string(&mut self, key: &str) -> Option<&str> {
        match self.obj.get(key) {
            None | Some(Value::Null) => {
                self.errors.push(err(format!("fields.{key}"), format!("fields.{key}: required")));
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.errors.push(err(format!("fields.{key}"), format!("fields.{key}: must be a string")));
                None
            }
        }
    }

    fn string(&mut self, key: &str, max: usize) -> Option<String> {
        let s = self.raw_string(key)?.to_string();
        match text::short(&format!("fields.{key}"), &s, max) {
            Ok(s) => Some(s),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    fn name(&mut self, key: &str) -> Option<String> {
        self.string(key, NAME_MAX)
    }

    fn one_of(&mut self, key: &str, options: &[&str]) -> Option<String> {
        let s = self.raw_string(key)?.to_string();
        if options.contains(&s.as_str()) {
            Some(s)
        } else {
            self.errors.push(err(format!("fields.{key}"), format!("fields.{key}: one of {}", options.join(", "))));
            None
        }
    }

    fn date(&mut self, key: &str) -> Option<NaiveDate> {
        let s = self.raw_string(key)?.to_string();
        self.parse_date(key, &s)
    }

    fn optional_date(&mut self, key: &str) -> Option<NaiveDate> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => self.parse_date(key, &s.clone()),
            Some(_) => {
                self.errors.push(err(format!("fields.{key}"), format!("fields.{key}: must be a date (YYYY-MM-DD)")));
                None
            }
        }
    }

    fn parse_date(&mut self, key: &str, s: &str) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if s.len() == 10 => Some(d),
            _ => {
                self.errors.push(err(format!("fields.{key}"), format!("fields.{key}: must be a date (YYYY-MM-DD)")));
                None
            }
        }
    }

    fn traveller(&mut self, key: &str, booking: &Booking) -> Option<String> {
        let id = self.raw_string(key)?.to_string();
        if booking.traveller(&id).is_none() {
            self.errors.push(err(format!("fields.{key}"), format!("fields.{key}: no such traveller on this booking")));
            return None;
        }
        Some(id)
    }

    fn traveller_list(&mut self, key: &str, booking: &Booking) -> Vec<String> {
        let field = format!("fields.{key}");
        let Some(Value::Array(listed)) = self.obj.get(key) else {
            self.errors.push(err(&field, format!("{field}: a list of the travellers concerned")));
            return Vec::new();
        };
        if listed.is_empty() {
            self.errors.push(err(&field, format!("{field}: name at least one traveller")));
        }
        let mut out: Vec<String> = Vec::new();
        for (i, v) in listed.iter().enumerate() {
            match v.as_str() {
                Some(id) if booking.traveller(id).is_some() => {
                    if out.iter().any(|o| o == id) {
                        self.errors.push(err(format!("{field}[{i}]"), format!("{field}[{i}]: named twice")));
                    } else {
                        out.push(id.to_string());
                    }
                }
                _ => self
                    .errors
                    .push(err(format!("{field}[{i}]"), format!("{field}[{i}]: no such traveller on this booking"))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::booking::{ItineraryDay, Service, Traveller};
    use portal_domain::ids::BookingReference;
    use portal_domain::money::Currency;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn t(id: &str) -> Traveller {
        Traveller { id: id.into(), first_name: "A".into(), last_name: id.into(), email: None, date_of_birth: None }
    }

    fn booking() -> Booking {
        Booking {
            reference: BookingReference::parse("AE-1").unwrap(),
            brand: "alpine".into(),
            status: BookingStatus::Confirmed,
            waitlist_position: None,
            currency: Currency::parse("GBP").unwrap(),
            locale: "en-GB".into(),
            lead_traveller_id: "t1".into(),
            travellers: vec![t("t1"), t("t2"), t("t3")],
            travel_start: d("2027-05-01"),
            travel_end: d("2027-05-08"),
            itinerary: vec![ItineraryDay {
                date: d("2027-05-01"),
                title: "Arrival".into(),
                description: None,
                accommodation: None,
                services: vec![
                    Service {
                        id: "hotel".into(),
                        kind: "hotel".into(),
                        name: "Hotel Alpina".into(),
                        supplier_name: "Alpina".into(),
                        supplier_reference: None,
                        traveller_ids: vec!["t1".into(), "t2".into()],
                    },
                    Service {
                        id: "bus".into(),
                        kind: "transfer".into(),
                        name: "Transfer".into(),
                        supplier_name: "Bus".into(),
                        supplier_reference: None,
                        traveller_ids: vec![],
                    },
                ],
            }],
            price_lines: vec![],
            traveller_details: None,
        }
    }

    const LEAD: Asker<'static> = Asker { traveller_id: "t1", is_lead: true };
    const T3: Asker<'static> = Asker { traveller_id: "t3", is_lead: false };
    const TODAY: &str = "2027-01-10";

    fn check(kind: RequestType, fields: Value, message: Option<&str>, asker: Asker<'_>) -> Result<Validated, Refusal> {
        validate(kind, &fields, message, &booking(), asker, d(TODAY))
    }

    fn fields_of(r: Result<Validated, Refusal>) -> Vec<String> {
        match r {
            Err(Refusal::Invalid(e)) => e.into_iter().map(|e| e.field).collect(),
            other => panic!("expected errors, got {other:?}"),
        }
    }

    #[test]
    fn a_date_change_needs_two_sane_dates() {
        let ok =
            check(RequestType::DateChange, json!({"new_start": "2027-06-01", "new_end": "2027-06-08"}), None, LEAD)
                .unwrap();
        assert_eq!(ok.fields, json!({"new_start": "2027-06-01", "new_end": "2027-06-08"}));
        assert_eq!(ok.about, vec!["t1", "t2", "t3"]);
        assert_eq!(
            fields_of(check(
                RequestType::DateChange,
                json!({"new_start": "2027-06-09", "new_end": "2027-06-08"}),
                None,
                LEAD
            )),
            vec!["fields.new_end"]
        );
        assert_eq!(
            fields_of(check(
                RequestType::DateChange,
                json!({"new_start": "2027-01-01", "new_end": "1 June"}),
                None,
                LEAD
            )),
            vec!["fields.new_end", "fields.new_start"]
        );
        assert_eq!(
            fields_of(check(
                RequestType::DateChange,
                json!({"new_start": "2027-05-01", "new_end": "2027-05-08"}),
                None,
                LEAD
            )),
            vec!["fields.new_start"],
            "the same dates again"
        );
        assert_eq!(
            fields_of(check(
                RequestType::DateChange,
                json!({"new_start": "2027-06-01", "new_end": "2028-06-08", "x": 1}),
                None,
                LEAD
            )),
            vec!["fields.x", "fields.new_end"]
        );
        assert_eq!(
            check(RequestType::DateChange, json!({"new_start": "2027-06-01", "new_end": "2027-06-08"}), None, T3),
            Err(Refusal::Forbidden(
                "only the lead traveller may ask for a date change (it changes the whole booking)".into()
            ))
        );
    }

    #[test]
    fn a_traveller_asks_only_about_their_own_part() {
        assert!(matches!(
            check(RequestType::ServiceChange, json!({"service_id": "hotel"}), Some("sea view"), T3),
            Err(Refusal::Forbidden(_))
        ));
        let own = check(RequestType::ServiceChange, json!({"service_id": "bus"}), Some("later pick-up"), T3).unwrap();
        assert_eq!(own.about, vec!["t3"]);
        assert!(matches!(
            check(RequestType::RemoveTraveller, json!({"traveller_id": "t2"}), None, T3),
            Err(Refusal::Forbidden(_))
        ));
        assert!(check(RequestType::RemoveTraveller, json!({"traveller_id": "t3"}), None, T3).is_ok());
        assert!(matches!(
            check(RequestType::Cancellation, json!({"scope": "travellers", "traveller_ids": ["t3", "t2"]}), None, T3),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check(RequestType::Cancellation, json!({"scope": "booking"}), None, T3),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(
            check(
                RequestType::SpecialAssistance,
                json!({"traveller_id": "t1", "kind": "mobility"}),
                Some("wheelchair"),
                T3
            ),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(check(RequestType::AddTraveller, json!({}), None, T3), Err(Refusal::Forbidden(_))));
        let c = choices(&booking(), T3);
        assert_eq!(c.travellers, vec!["t3"]);
        assert_eq!(c.services.iter().map(|s| s.service_id.as_str()).collect::<Vec<_>>(), vec!["bus"]);
        assert!(c.types.contains(&(RequestType::DateChange, false)));
        assert!(c.types.contains(&(RequestType::Other, true)));
    }

    #[test]
    fn every_type_checks_its_own_fields() {
        assert_eq!(
            fields_of(check(RequestType::ServiceChange, json!({"service_id": "spa"}), None, LEAD)),
            vec!["message", "fields.service_id"]
        );
        let add = check(
            RequestType::AddTraveller,
            json!({"first_name": " Grace ", "last_name": "Hopper", "date_of_birth": "1990-02-03"}),
            None,
            LEAD,
        )
        .unwrap();
        assert_eq!(add.fields["first_name"], "Grace");
        assert_eq!(
            fields_of(check(
                RequestType::AddTraveller,
                json!({"first_name": "", "date_of_birth": "2030-01-01"}),
                None,
                LEAD
            )),
            vec!["fields.first_name", "fields.last_name", "fields.date_of_birth"]
        );
        assert_eq!(
            fields_of(check(RequestType::RemoveTraveller, json!({"traveller_id": "t1"}), None, LEAD)),
            vec!["fields.traveller_id"]
        );
        assert_eq!(
            fields_of(check(RequestType::RemoveTraveller, json!({"traveller_id": "t9"}), None, LEAD)),
            vec!["fields.traveller_id"]
        );
        assert_eq!(
            fields_of(check(
                RequestType::Cancellation,
                json!({"scope": "travellers", "traveller_ids": ["t2", "t2", "zz"]}),
                None,
                LEAD
            )),
            vec!["fields.traveller_ids[1]", "fields.traveller_ids[2]"]
        );
        assert_eq!(
            fields_of(check(RequestType::Cancellation, json!({"scope": "all"}), None, LEAD)),
            vec!["fields.scope"]
        );
        assert!(check(RequestType::Cancellation, json!({"scope": "booking"}), None, LEAD).is_ok());
        assert_eq!(
            fields_of(check(
                RequestType::SpecialAssistance,
                json!({"traveller_id": "t2", "kind": "shoes"}),
                Some("x"),
                LEAD
            )),
            vec!["fields.kind"]
        );
        assert_eq!(fields_of(check(RequestType::Other, json!({"a": 1}), Some("hello"), LEAD)), vec!["fields.a"]);
        assert_eq!(fields_of(check(RequestType::Other, Value::Null, Some("  "), LEAD)), vec!["message"]);
        assert_eq!(check(RequestType::Other, Value::Null, Some(" hi "), LEAD).unwrap().message.as_deref(), Some("hi"));
        assert_eq!(fields_of(check(RequestType::Other, json!([]), Some("hi"), LEAD)), vec!["fields"]);
    }

    #[test]
    fn a_cancelled_booking_takes_only_questions() {
        let mut b = booking();
        b.status = BookingStatus::Cancelled;
        let r = validate(RequestType::DateChange, &json!({}), None, &b, LEAD, d(TODAY));
        assert_eq!(r, Err(Refusal::BookingCancelled));
        assert!(validate(RequestType::Other, &json!({}), Some("refund?"), &b, LEAD, d(TODAY)).is_ok());
        assert!(choices(&b, LEAD).types.iter().all(|(t, ok)| *ok == (*t == RequestType::Other)));
    }
}
