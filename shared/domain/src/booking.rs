//! Bookings as the operator's reservation system pushes them, and their validation.
//!
//! [`BookingInput`] is the wire shape of `PUT /operator/bookings/{reference}`; [`Booking::from_input`] turns it
//! into a [`Booking`] or says precisely what is wrong. A `Booking` always has a known currency, exact amounts,
//! a lead passenger among its travellers, ordered dates and a schedule that sums to its price.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::details_policy::DetailsPolicy;
use crate::error::DomainError;
use crate::ids::{BookingReference, check_local_id};
use crate::locale::Locale;
use crate::money::{Currency, Money};
use crate::schedule::{InstalmentKind, ScheduledInstalment};

pub const MAX_TRAVELLERS: usize = 60;
pub const MAX_DAYS: usize = 120;
pub const MAX_SERVICES_PER_DAY: usize = 30;
pub const MAX_PRICE_LINES: usize = 100;
/// Every instalment is one item in the upsert transaction (DynamoDB allows 100 actions per transaction).
pub const MAX_INSTALMENTS: usize = 24;
pub const MAX_PAYMENTS_RECEIVED: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Provisional,
    Confirmed,
    Waitlisted,
    Cancelled,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentChannel {
    Card,
    OpenBanking,
    BankTransfer,
    Cash,
    Voucher,
}

// ---------------------------------------------------------------------------------------------------------
// Wire input

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingInput {
    pub brand: String,
    pub status: BookingStatus,
    #[serde(default)]
    pub waitlist_position: Option<u32>,
    pub currency: String,
    pub locale: String,
    pub lead_traveller_id: String,
    pub travellers: Vec<TravellerInput>,
    pub travel_start: NaiveDate,
    pub travel_end: NaiveDate,
    #[serde(default)]
    pub itinerary: Vec<DayInput>,
    pub price_lines: Vec<PriceLineInput>,
    pub schedule: Vec<InstalmentInput>,
    #[serde(default)]
    pub payments_received: Vec<PaymentReceivedInput>,
    /// Which traveller details this booking needs and how long they are kept (over the brand's rule).
    #[serde(default)]
    pub traveller_details: Option<DetailsPolicy>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravellerInput {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayInput {
    pub date: NaiveDate,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub accommodation: Option<String>,
    #[serde(default)]
    pub services: Vec<ServiceInput>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub supplier_name: String,
    #[serde(default)]
    pub supplier_reference: Option<String>,
    /// Travellers this service is for; empty means the whole party.
    #[serde(default)]
    pub traveller_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceLineInput {
    pub description: String,
    /// Decimal string in the booking currency, e.g. `"1234.50"`.
    pub amount: String,
    /// The traveller this line is for; absent means shared by the party.
    #[serde(default)]
    pub traveller_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalmentInput {
    pub id: String,
    pub kind: InstalmentKind,
    pub due_date: NaiveDate,
    pub amount: String,
}

/// A payment the operator received outside the portal (bank transfer to the back office, say). Recorded once
/// per `external_reference` as a ledger movement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentReceivedInput {
    pub external_reference: String,
    pub amount: String,
    pub channel: PaymentChannel,
    pub received_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub traveller_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Validated booking

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traveller {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub supplier_name: String,
    pub supplier_reference: Option<String>,
    pub traveller_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItineraryDay {
    pub date: NaiveDate,
    pub title: String,
    pub description: Option<String>,
    pub accommodation: Option<String>,
    pub services: Vec<Service>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLine {
    pub description: String,
    pub amount: Money,
    pub traveller_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceived {
    pub external_reference: String,
    pub amount: Money,
    pub channel: PaymentChannel,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub traveller_id: Option<String>,
}

/// A booking as the operator describes it (no ledger state: money owed and paid lives in the ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    pub reference: BookingReference,
    pub brand: String,
    pub status: BookingStatus,
    pub waitlist_position: Option<u32>,
    pub currency: Currency,
    pub locale: String,
    pub lead_traveller_id: String,
    pub travellers: Vec<Traveller>,
    pub travel_start: NaiveDate,
    pub travel_end: NaiveDate,
    pub itinerary: Vec<ItineraryDay>,
    pub price_lines: Vec<PriceLine>,
    /// The operator's traveller-details rule for this booking, if it set one (else the brand's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traveller_details: Option<DetailsPolicy>,
}

/// The validated result of an operator push: the booking, its schedule and the payments received elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBooking {
    pub booking: Booking,
    pub schedule: Vec<ScheduledInstalment>,
    pub payments_received: Vec<PaymentReceived>,
}

impl Booking {
    pub fn total_price(&self) -> Money {
        // Validation proved the sum fits; the fold cannot fail for a validated booking.
        Money::sum(self.currency, self.price_lines.iter().map(|l| l.amount)).unwrap_or(Money::zero(self.currency))
    }

    pub fn traveller(&self, id: &str) -> Option<&Traveller> {
        self.travellers.iter().find(|t| t.id == id)
    }

    pub fn lead(&self) -> Option<&Traveller> {
        self.traveller(&self.lead_traveller_id)
    }

    /// Travellers whose email matches (case-insensitively).
    pub fn travellers_with_email<'a>(&'a self, email: &'a str) -> impl Iterator<Item = &'a Traveller> + 'a {
        self.travellers.iter().filter(move |t| t.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
    }

    /// Travellers of `self` (the booking as it was) whose access a change to `new` takes away or alters:
    /// removed from the booking, their email changed or removed, or the lead role moved away from or to them.
    /// Their sessions and unused sign-in links end with the change (a session proves an email on a booking
    /// in a role; after the change it proves neither).
    pub fn access_changed(&self, new: &Booking) -> Vec<String> {
        let lead_moved = self.lead_traveller_id != new.lead_traveller_id;
        let mut out: Vec<String> = self
            .travellers
            .iter()
            .filter(|old| match new.traveller(&old.id) {
                None => true,
                Some(now) => {
                    let same_email = match (&old.email, &now.email) {
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        (None, None) => true,
                        _ => false,
                    };
                    !same_email || (lead_moved && (old.id == self.lead_traveller_id || old.id == new.lead_traveller_id))
                }
            })
            .map(|t| t.id.clone())
            .collect();
        out.sort();
        out
    }

    /// Distinct lower-cased traveller emails.
    pub fn emails(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for e in self.travellers.iter().filter_map(|t| t.email.as_deref()) {
            let e = e.to_ascii_lowercase();
            if !seen.contains(&e) {
                seen.push(e);
            }
        }
        seen
    }

    pub fn from_input(reference: BookingReference, input: BookingInput) -> Result<ValidatedBooking, DomainError> {
        let currency = Currency::parse(input.currency.trim()).map_err(|e| DomainError::money("currency", e))?;
        let locale = Locale::parse(&input.locale)
            .ok_or_else(|| DomainError::invalid("locale", "unsupported locale; use a BCP 47 tag such as en-GB"))?;
        text("brand", &input.brand, 1, 64)?;
        if !input.brand.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(DomainError::invalid("brand", "must be a brand id of A-Z, a-z, 0-9, '-' or '_'"));
        }

        match (input.status, input.waitlist_position) {
            (BookingStatus::Waitlisted, None | Some(0)) => {
                return Err(DomainError::invalid("waitlist_position", "a waitlisted booking needs a position ≥ 1"));
            }
            (s, Some(_)) if s != BookingStatus::Waitlisted => {
                return Err(DomainError::invalid("waitlist_position", "only a waitlisted booking has a position"));
            }
            _ => {}
        }

        if let Some(p) = &input.traveller_details {
            p.check().map_err(|(field, detail)| DomainError::invalid(field, detail))?;
        }

        if input.travel_end < input.travel_start {
            return Err(DomainError::invalid("travel_end", "travel_end is before travel_start"));
        }

        // Travellers
        if input.travellers.is_empty() {
            return Err(DomainError::invalid("travellers", "a booking needs at least one traveller"));
        }
        if input.travellers.len() > MAX_TRAVELLERS {
            return Err(DomainError::invalid("travellers", format!("at most {MAX_TRAVELLERS} travellers")));
        }
        let mut ids = HashSet::new();
        let mut travellers = Vec::with_capacity(input.travellers.len());
        for (i, t) in input.travellers.into_iter().enumerate() {
            let f = |name: &str| format!("travellers[{i}].{name}");
            check_local_id(&f("id"), &t.id)?;
            if !ids.insert(t.id.clone()) {
                return Err(DomainError::invalid(f("id"), "duplicate traveller id"));
            }
            text(&f("first_name"), &t.first_name, 1, 100)?;
            text(&f("last_name"), &t.last_name, 1, 100)?;
            let email = t.email.map(|e| e.trim().to_string());
            if let Some(e) = &email {
                check_email(&f("email"), e)?;
            }
            if let Some(dob) = t.date_of_birth
                && dob > input.travel_start
            {
                return Err(DomainError::invalid(f("date_of_birth"), "date of birth is after the travel start"));
            }
            travellers.push(Traveller {
                id: t.id,
                first_name: t.first_name.trim().to_string(),
                last_name: t.last_name.trim().to_string(),
                email,
                date_of_birth: t.date_of_birth,
            });
        }
        let lead = travellers.iter().find(|t| t.id == input.lead_traveller_id).ok_or_else(|| {
            DomainError::invalid("lead_traveller_id", "the lead passenger must be one of the travellers")
        })?;
        if lead.email.is_none() {
            return Err(DomainError::invalid("lead_traveller_id", "the lead passenger needs an email address"));
        }

        // Itinerary
        if input.itinerary.len() > MAX_DAYS {
            return Err(DomainError::invalid("itinerary", format!("at most {MAX_DAYS} days")));
        }
        let mut itinerary = Vec::with_capacity(input.itinerary.len());
        let mut service_ids = HashSet::new();
        let mut last_date: Option<NaiveDate> = None;
        for (i, d) in input.itinerary.into_iter().enumerate() {
            let f = |name: &str| format!("itinerary[{i}].{name}");
            if d.date < input.travel_start || d.date > input.travel_end {
                return Err(DomainError::invalid(f("date"), "itinerary day outside the travel dates"));
            }
            if last_date.is_some_and(|l| d.date <= l) {
                return Err(DomainError::invalid(f("date"), "itinerary days must be in date order, one per date"));
            }
            last_date = Some(d.date);
            text(&f("title"), &d.title, 1, 200)?;
            opt_text(&f("description"), d.description.as_deref(), 4000)?;
            opt_text(&f("accommodation"), d.accommodation.as_deref(), 200)?;
            if d.services.len() > MAX_SERVICES_PER_DAY {
                return Err(DomainError::invalid(
                    f("services"),
                    format!("at most {MAX_SERVICES_PER_DAY} services a day"),
                ));
            }
            let mut services = Vec::with_capacity(d.services.len());
            for (j, s) in d.services.into_iter().enumerate() {
                let g = |name: &str| format!("itinerary[{i}].services[{j}].{name}");
                check_local_id(&g("id"), &s.id)?;
                if !service_ids.insert(s.id.clone()) {
                    return Err(DomainError::invalid(g("id"), "duplicate service id"));
                }
                text(&g("kind"), &s.kind, 1, 40)?;
                text(&g("name"), &s.name, 1, 200)?;
                text(&g("supplier_name"), &s.supplier_name, 1, 200)?;
                opt_text(&g("supplier_reference"), s.supplier_reference.as_deref(), 100)?;
                for t in &s.traveller_ids {
                    if !ids.contains(t) {
                        return Err(DomainError::invalid(
                            g("traveller_ids"),
                            format!("unknown traveller `{}`", clip(t)),
                        ));
                    }
                }
                services.push(Service {
                    id: s.id,
                    kind: s.kind,
                    name: s.name,
                    supplier_name: s.supplier_name,
                    supplier_reference: s.supplier_reference,
                    traveller_ids: s.traveller_ids,
                });
            }
            itinerary.push(ItineraryDay {
                date: d.date,
                title: d.title,
                description: d.description,
                accommodation: d.accommodation,
                services,
            });
        }

        // Price
        if input.price_lines.is_empty() {
            return Err(DomainError::invalid("price_lines", "a booking needs at least one price line"));
        }
        if input.price_lines.len() > MAX_PRICE_LINES {
            return Err(DomainError::invalid("price_lines", format!("at most {MAX_PRICE_LINES} price lines")));
        }
        let mut price_lines = Vec::with_capacity(input.price_lines.len());
        for (i, l) in input.price_lines.into_iter().enumerate() {
            let f = |name: &str| format!("price_lines[{i}].{name}");
            text(&f("description"), &l.description, 1, 200)?;
            let amount = Money::parse(&l.amount, currency).map_err(|e| DomainError::money(f("amount"), e))?;
            if amount.is_negative() {
                return Err(DomainError::invalid(f("amount"), "prices cannot be negative"));
            }
            if let Some(t) = &l.traveller_id
                && !ids.contains(t)
            {
                return Err(DomainError::invalid(f("traveller_id"), format!("unknown traveller `{}`", clip(t))));
            }
            price_lines.push(PriceLine { description: l.description, amount, traveller_id: l.traveller_id });
        }
        let total = Money::sum(currency, price_lines.iter().map(|l| l.amount))
            .map_err(|e| DomainError::money("price_lines", e))?;

        // Schedule
        if input.schedule.is_empty() {
            return Err(DomainError::invalid(
                "schedule",
                "a booking needs a payment schedule (at least one instalment)",
            ));
        }
        if input.schedule.len() > MAX_INSTALMENTS {
            return Err(DomainError::invalid("schedule", format!("at most {MAX_INSTALMENTS} instalments")));
        }
        let mut inst_ids = HashSet::new();
        let mut schedule = Vec::with_capacity(input.schedule.len());
        for (i, s) in input.schedule.into_iter().enumerate() {
            let f = |name: &str| format!("schedule[{i}].{name}");
            check_local_id(&f("id"), &s.id)?;
            if !inst_ids.insert(s.id.clone()) {
                return Err(DomainError::invalid(f("id"), "duplicate instalment id"));
            }
            let amount = Money::parse(&s.amount, currency).map_err(|e| DomainError::money(f("amount"), e))?;
            if !amount.is_positive() {
                return Err(DomainError::invalid(f("amount"), "instalment amounts must be positive"));
            }
            schedule.push(ScheduledInstalment { id: s.id, kind: s.kind, due_date: s.due_date, amount });
        }
        schedule.sort_by(|a, b| a.due_date.cmp(&b.due_date).then_with(|| a.id.cmp(&b.id)));
        let scheduled =
            Money::sum(currency, schedule.iter().map(|s| s.amount)).map_err(|e| DomainError::money("schedule", e))?;
        if scheduled != total {
            return Err(DomainError::ScheduleMismatch {
                schedule: scheduled.to_decimal_string(),
                price: total.to_decimal_string(),
            });
        }

        // Payments received elsewhere
        if input.payments_received.len() > MAX_PAYMENTS_RECEIVED {
            return Err(DomainError::invalid(
                "payments_received",
                format!("at most {MAX_PAYMENTS_RECEIVED} payments per push"),
            ));
        }
        let mut ext_refs = HashSet::new();
        let mut payments_received = Vec::new();
        for (i, p) in input.payments_received.into_iter().enumerate() {
            let f = |name: &str| format!("payments_received[{i}].{name}");
            text(&f("external_reference"), &p.external_reference, 1, 100)?;
            if !ext_refs.insert(p.external_reference.clone()) {
                return Err(DomainError::invalid(f("external_reference"), "duplicate external reference"));
            }
            let amount = Money::parse(&p.amount, currency).map_err(|e| DomainError::money(f("amount"), e))?;
            if !amount.is_positive() {
                return Err(DomainError::invalid(f("amount"), "payments must be positive"));
            }
            if let Some(t) = &p.traveller_id
                && !ids.contains(t)
            {
                return Err(DomainError::invalid(f("traveller_id"), format!("unknown traveller `{}`", clip(t))));
            }
            payments_received.push(PaymentReceived {
                external_reference: p.external_reference,
                amount,
                channel: p.channel,
                received_at: p.received_at,
                traveller_id: p.traveller_id,
            });
        }

        Ok(ValidatedBooking {
            booking: Booking {
                reference,
                brand: input.brand,
                status: input.status,
                waitlist_position: input.waitlist_position,
                currency,
                locale: locale.tag().to_string(),
                lead_traveller_id: input.lead_traveller_id,
                travellers,
                travel_start: input.travel_start,
                travel_end: input.travel_end,
                itinerary,
                price_lines,
                traveller_details: input.traveller_details,
            },
            schedule,
            payments_received,
        })
    }
}

fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// Free text: trimmed length within bounds, no control characters (CR/LF would let a name inject email headers).
fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), DomainError> {
    let len = value.trim().chars().count();
    if len < min {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if len > max {
        return Err(DomainError::invalid(field, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(DomainError::invalid(field, "control characters (such as line breaks) are not allowed"));
    }
    Ok(())
}

fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<(), DomainError> {
    match value {
        None => Ok(()),
        Some(v) => {
            if v.chars().count() > max {
                return Err(DomainError::invalid(field, format!("at most {max} characters")));
            }
            // Descriptions may contain line breaks, but no other control characters.
            if v.chars().any(|c| c.is_control() && c != '\n') {
                return Err(DomainError::invalid(field, "control characters are not allowed"));
            }
            Ok(())
        }
    }
}

/// A deliberately conservative email check: one `@`, a dotted domain, no spaces or control characters, at most
/// 254 characters. Deliverability is proven by the magic link itself.
pub fn check_email(field: &str, email: &str) -> Result<(), DomainError> {
    let bad = || DomainError::invalid(field, "not a valid email address");
    if email.len() > 254
        || email.chars().any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>' || c == ',' || c == ';')
    {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.contains('@') || local.len() > 64 {
        return Err(bad());
    }
    if domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample_input() -> serde_json::Value {
        serde_json::json!({
            "brand": "alpine",
            "status": "confirmed",
            "currency": "GBP",
            "locale": "en-GB",
            "lead_traveller_id": "T1",
            "travellers": [
                {"id": "T1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "date_of_birth": "1990-12-10"},
                {"id": "T2", "first_name": "Charles", "last_name": "Babbage"}
            ],
            "travel_start": "2027-06-01",
            "travel_end": "2027-06-03",
            "itinerary": [
                {"date": "2027-06-01", "title": "Arrive Zermatt", "accommodation": "Hotel Alpina",
                 "services": [{"id": "S1", "kind": "transfer", "name": "Station transfer", "supplier_name": "Taxi Z", "supplier_reference": "TZ-9"}]},
                {"date": "2027-06-02", "title": "Gornergrat"}
            ],
            "price_lines": [
                {"description": "Tour", "amount": "2000.00"},
                {"description": "Single supplement", "amount": "250.50", "traveller_id": "T1"}
            ],
            "schedule": [
                {"id": "DEP", "kind": "deposit", "due_date": "2026-11-01", "amount": "450.50"},
                {"id": "I1", "kind": "instalment", "due_date": "2027-01-15", "amount": "900.00"},
                {"id": "BAL", "kind": "balance", "due_date": "2027-04-01", "amount": "900.00"}
            ]
        })
    }

    fn validate(v: serde_json::Value) -> Result<ValidatedBooking, DomainError> {
        let input: BookingInput = serde_json::from_value(v).expect("shape");
        Booking::from_input(BookingReference::parse("AB-1234").unwrap(), input)
    }

    #[test]
    fn a_push_carries_its_traveller_details_rule_and_nonsense_names_the_field() {
        let mut v = sample_input();
        v["traveller_details"] = serde_json::json!({"required": ["travel_document", "nationality"],
            "document_validity": {"months_after_travel": 6, "enforcement": "refuse"}});
        let b = validate(v.clone()).unwrap().booking;
        let rule = b.traveller_details.as_ref().unwrap();
        assert_eq!(rule.required.as_ref().unwrap().len(), 2);
        let stored: Booking = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(stored, b, "stored and read back unchanged");
        let old: Booking = serde_json::from_value({
            let mut j = serde_json::to_value(&b).unwrap();
            j.as_object_mut().unwrap().remove("traveller_details");
            j
        })
        .unwrap();
        assert!(old.traveller_details.is_none(), "bookings stored before the rule existed still read");

        v["traveller_details"] = serde_json::json!({"retention_days_after_travel": 5000});
        match validate(v) {
            Err(DomainError::Invalid { field, .. }) => {
                assert_eq!(field, "traveller_details.retention_days_after_travel")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn access_changes_when_a_traveller_goes_their_email_changes_or_the_lead_moves() {
        let old = validate(sample_input()).unwrap().booking;
        assert!(old.access_changed(&old).is_empty(), "no change, nobody affected");
        let mut renamed = sample_input();
        renamed["travellers"][0]["last_name"] = "Byron".into();
        renamed["travellers"][0]["email"] = "ADA@example.com".into();
        assert!(old.access_changed(&validate(renamed).unwrap().booking).is_empty(), "case of the email is no change");
        let mut moved = sample_input();
        moved["travellers"][0]["email"] = "ada@elsewhere.example".into();
        assert_eq!(old.access_changed(&validate(moved).unwrap().booking), vec!["T1"]);
        let mut lead = sample_input();
        lead["lead_traveller_id"] = "T2".into();
        lead["travellers"][1]["email"] = "charles@example.com".into();
        assert_eq!(old.access_changed(&validate(lead).unwrap().booking), vec!["T1", "T2"]);
        let mut removed = sample_input();
        removed["travellers"].as_array_mut().unwrap().pop();
        let removed = validate(removed).expect("a booking without T2");
        assert_eq!(old.access_changed(&removed.booking), vec!["T2"]);
    }

    #[test]
    fn accepts_a_good_booking() {
        let v = validate(sample_input()).unwrap();
        assert_eq!(v.booking.total_price().to_decimal_string(), "2250.50");
        assert_eq!(v.schedule[0].id, "DEP");
        assert_eq!(v.booking.emails(), vec!["ada@example.com".to_string()]);
    }

    #[test]
    fn rejects_bad_bookings_precisely() {
        type Mutate = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Mutate)> = vec![
            ("currency", Box::new(|v| v["currency"] = "XYZ".into())),
            ("price_lines[0].amount", Box::new(|v| v["price_lines"][0]["amount"] = "10.005".into())),
            ("price_lines[0].amount", Box::new(|v| v["price_lines"][0]["amount"] = "-5.00".into())),
            ("schedule", Box::new(|v| v["schedule"][2]["amount"] = "899.99".into())),
            ("lead_traveller_id", Box::new(|v| v["lead_traveller_id"] = "T9".into())),
            ("lead_traveller_id", Box::new(|v| v["lead_traveller_id"] = "T2".into())),
            ("travel_end", Box::new(|v| v["travel_end"] = "2027-05-01".into())),
            ("travellers[1].last_name", Box::new(|v| v["travellers"][1]["last_name"] = "Bab\r\nBcc: x@y.z".into())),
            ("travellers[0].email", Box::new(|v| v["travellers"][0]["email"] = "not-an-email".into())),
            ("itinerary[1].date", Box::new(|v| v["itinerary"][1]["date"] = "2027-07-01".into())),
            ("waitlist_position", Box::new(|v| v["status"] = "waitlisted".into())),
            ("schedule[1].id", Box::new(|v| v["schedule"][1]["id"] = "DEP".into())),
            ("travellers[0].id", Box::new(|v| v["travellers"][0]["id"] = "../x".into())),
        ];
        for (field, mutate) in cases {
            let mut v = sample_input();
            mutate(&mut v);
            let err = validate(v).unwrap_err();
            let msg = err.to_string();
            match (&err, field) {
                (DomainError::ScheduleMismatch { .. }, "schedule") => {}
                _ => assert!(msg.starts_with(field), "expected {field}, got {msg}"),
            }
        }
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(check_email("e", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.de", "a@b.co\r\nBcc:x", "a<b@c.de", "a@b..co"] {
            assert!(check_email("e", bad).is_err(), "{bad:?}");
        }
    }
}
