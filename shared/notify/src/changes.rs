//! An operator push's customer-visible changes, in words: what the "your booking changed" email lists.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use portal_domain::booking::{Booking, ItineraryDay, Service, Traveller};
use portal_domain::money::Money;
use serde::{Deserialize, Serialize};

/// One change a customer would want to hear of. Names and titles are the operator's text (escaped when
/// rendered); nothing here is a secret or a traveller's personal detail beyond their name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The first or last day of travel moved.
    TravelDates {
        was_start: NaiveDate,
        was_end: NaiveDate,
        start: NaiveDate,
        end: NaiveDate,
    },
    /// A day on a date the itinerary did not have (its title).
    DayAdded {
        date: NaiveDate,
        title: String,
    },
    /// A date the itinerary no longer has (the day's old title).
    DayRemoved {
        date: NaiveDate,
        title: String,
    },
    /// Title, description or accommodation of a day changed (the new title).
    DayChanged {
        date: NaiveDate,
        title: String,
    },
    /// A service id the itinerary did not have (its day and name).
    ServiceAdded {
        date: NaiveDate,
        name: String,
    },
    /// A service id the itinerary no longer has (its old day and name).
    ServiceRemoved {
        date: NaiveDate,
        name: String,
    },
    /// Supplier, kind, name, day or who takes part changed (the new day and name).
    ServiceChanged {
        date: NaiveDate,
        name: String,
    },
    /// "First Last".
    TravellerAdded {
        name: String,
    },
    TravellerRemoved {
        name: String,
    },
    /// First or last name changed: "First Last" before and after.
    TravellerRenamed {
        was: String,
        name: String,
    },
    /// The sum of the price lines moved.
    PriceChanged {
        was: Money,
        now: Money,
    },
}

/// The changes from `old` to `new`, in itinerary order (dates, days, services, travellers, price). Status
/// changes are not here: confirmation and cancellation have their own notices. Empty: nothing a customer
/// would notice (e.g. a re-push of the same booking, a supplier reference or an email address edited).
///
/// - days are matched by date (changed: title, description or accommodation);
/// - services by id across the whole itinerary, so a service moved to another day is one change (changed:
///   kind, name, supplier, day or travellers; not the supplier's reference); on each date the day comes
///   first, then the services removed from it (old order), then those added or changed on it (new order);
/// - travellers by id (renamed: first or last name; not their email or date of birth), in the new order,
///   then those removed, in the old order;
/// - the price is the sum of the price lines; a sum that overflows or mixes currencies is not reported.
pub fn describe(old: &Booking, new: &Booking) -> Vec<Change> {
    let mut out = Vec::new();
    if old.travel_start != new.travel_start || old.travel_end != new.travel_end {
        out.push(Change::TravelDates {
            was_start: old.travel_start,
            was_end: old.travel_end,
            start: new.travel_start,
            end: new.travel_end,
        });
    }
    itinerary(old, new, &mut out);
    travellers(old, new, &mut out);
    if let (Ok(was), Ok(now)) = (price(old), price(new))
        && was.currency() == now.currency()
        && was != now
    {
        out.push(Change::PriceChanged { was, now });
    }
    out
}

/// Day and service changes, grouped by date in date order.
fn itinerary(old: &Booking, new: &Booking, out: &mut Vec<Change>) {
    let mut by_date: BTreeMap<NaiveDate, OnDate> = BTreeMap::new();

    let old_days: HashMap<NaiveDate, &ItineraryDay> = old.itinerary.iter().map(|d| (d.date, d)).collect();
    let new_days: HashMap<NaiveDate, &ItineraryDay> = new.itinerary.iter().map(|d| (d.date, d)).collect();
    for d in &new.itinerary {
        let change = match old_days.get(&d.date) {
            None => Some(Change::DayAdded { date: d.date, title: d.title.clone() }),
            Some(was) if day_differs(was, d) => Some(Change::DayChanged { date: d.date, title: d.title.clone() }),
            Some(_) => None,
        };
        by_date.entry(d.date).or_default().day = change;
    }
    for d in old.itinerary.iter().filter(|d| !new_days.contains_key(&d.date)) {
        by_date.entry(d.date).or_default().day = Some(Change::DayRemoved { date: d.date, title: d.title.clone() });
    }

    let services = |b: &Booking| -> Vec<(NaiveDate, Service)> {
        b.itinerary.iter().flat_map(|d| d.services.iter().map(move |s| (d.date, s.clone()))).collect()
    };
    let old_services = services(old);
    let new_services = services(new);
    let old_by_id: HashMap<&str, &(NaiveDate, Service)> = old_services.iter().map(|e| (e.1.id.as_str(), e)).collect();
    let new_by_id: HashMap<&str, &(NaiveDate, Service)> = new_services.iter().map(|e| (e.1.id.as_str(), e)).collect();
    for (date, s) in old_services.iter().filter(|(_, s)| !new_by_id.contains_key(s.id.as_str())) {
        by_date.entry(*date).or_default().removed.push(Change::ServiceRemoved { date: *date, name: s.name.clone() });
    }
    for (date, s) in &new_services {
        let change = match old_by_id.get(s.id.as_str()) {
            None => Some(Change::ServiceAdded { date: *date, name: s.name.clone() }),
            Some((was_date, was)) if was_date != date || service_differs(was, s) => {
                Some(Change::ServiceChanged { date: *date, name: s.name.clone() })
            }
            Some(_) => None,
        };
        by_date.entry(*date).or_default().added_or_changed.extend(change);
    }

    for on_date in by_date.into_values() {
        out.extend(on_date.day);
        out.extend(on_date.removed);
        out.extend(on_date.added_or_changed);
    }
}

/// The changes told on one date, in this order.
#[derive(Default)]
struct OnDate {
    day: Option<Change>,
    /// Services that were on this date (old order).
    removed: Vec<Change>,
    /// Services on this date now (new order).
    added_or_changed: Vec<Change>,
}

fn day_differs(a: &ItineraryDay, b: &ItineraryDay) -> bool {
    a.title != b.title || a.description != b.description || a.accommodation != b.accommodation
}

/// Not the supplier's reference (the operator's bookkeeping); travellers as a set (their order is not a change).
fn service_differs(a: &Service, b: &Service) -> bool {
    fn travellers(s: &Service) -> BTreeSet<&str> {
        s.traveller_ids.iter().map(String::as_str).collect()
    }
    a.kind != b.kind || a.name != b.name || a.supplier_name != b.supplier_name || travellers(a) != travellers(b)
}

fn travellers(old: &Booking, new: &Booking, out: &mut Vec<Change>) {
    for t in &new.travellers {
        match old.traveller(&t.id) {
            None => out.push(Change::TravellerAdded { name: full_name(t) }),
            Some(was) if was.first_name != t.first_name || was.last_name != t.last_name => {
                out.push(Change::TravellerRenamed { was: full_name(was), name: full_name(t) })
            }
            Some(_) => {}
        }
    }
    for t in old.travellers.iter().filter(|t| new.traveller(&t.id).is_none()) {
        out.push(Change::TravellerRemoved { name: full_name(t) });
    }
}

fn full_name(t: &Traveller) -> String {
    format!("{} {}", t.first_name, t.last_name)
}

fn price(b: &Booking) -> Result<Money, portal_domain::money::MoneyError> {
    Money::sum(b.currency, b.price_lines.iter().map(|l| l.amount))
}

/// The changes of several pushes as one list (a digest): in order of first appearance, exact duplicates
/// dropped, successive changes of the same thing collapsed:
///
/// - travel dates: the first `was_*`, the last `start`/`end` (dropped if they came back to where they were);
/// - price: the first `was`, the last `now` (dropped if equal);
/// - a day added then removed (same date), a service added then removed (same date and name), a traveller
///   added then removed (same name): neither is told; a change of a day or service added in between is
///   folded into the addition (a day keeps its last title);
/// - two changes of the same day: one, with the last title;
/// - renames chain (A → B, B → C: A → C; back to A: dropped); a traveller added then renamed is added under
///   the new name.
pub fn merge(changes: impl IntoIterator<Item = Change>) -> Vec<Change> {
    // `None`: cancelled by a later change (kept as a hole so positions stay put).
    let mut out: Vec<Option<Change>> = Vec::new();
    for change in changes {
        if out.iter().flatten().any(|c| *c == change) {
            continue;
        }
        match change {
            Change::TravelDates { start, end, .. } => match last(&out, &|c| matches!(c, Change::TravelDates { .. })) {
                Some(i) => {
                    if let Some(Change::TravelDates { start: s, end: e, .. }) = &mut out[i] {
                        (*s, *e) = (start, end);
                    }
                }
                None => out.push(Some(change)),
            },
            Change::PriceChanged { now, .. } => match last(&out, &|c| matches!(c, Change::PriceChanged { .. })) {
                Some(i) => {
                    if let Some(Change::PriceChanged { now: n, .. }) = &mut out[i] {
                        *n = now;
                    }
                }
                None => out.push(Some(change)),
            },
            Change::DayRemoved { date, .. } => {
                match last(&out, &|c| matches!(c, Change::DayAdded { date: d, .. } if *d == date)) {
                    Some(i) => out[i] = None,
                    None => out.push(Some(change)),
                }
            }
            Change::DayChanged { date, ref title } => {
                let same_day = |c: &Change| matches!(c, Change::DayAdded { date: d, .. } | Change::DayChanged { date: d, .. } if *d == date);
                match last(&out, &same_day) {
                    Some(i) => {
                        if let Some(Change::DayAdded { title: t, .. } | Change::DayChanged { title: t, .. }) =
                            &mut out[i]
                        {
                            t.clone_from(title);
                        }
                    }
                    None => out.push(Some(change)),
                }
            }
            Change::ServiceRemoved { date, ref name } => {
                let added =
                    |c: &Change| matches!(c, Change::ServiceAdded { date: d, name: n } if *d == date && n == name);
                match last(&out, &added) {
                    Some(i) => {
                        out[i] = None;
                        // A change of it after it was added was folded in: nothing of it is left to tell.
                        for c in &mut out[i..] {
                            if matches!(c, Some(Change::ServiceChanged { date: d, name: n }) if *d == date && n == name)
                            {
                                *c = None;
                            }
                        }
                    }
                    None => out.push(Some(change)),
                }
            }
            Change::ServiceChanged { date, ref name } => {
                let added =
                    |c: &Change| matches!(c, Change::ServiceAdded { date: d, name: n } if *d == date && n == name);
                if last(&out, &added).is_none() {
                    out.push(Some(change));
                }
            }
            Change::TravellerRemoved { ref name } => {
                match last(&out, &|c| matches!(c, Change::TravellerAdded { name: n } if n == name)) {
                    Some(i) => out[i] = None,
                    None => out.push(Some(change)),
                }
            }
            Change::TravellerRenamed { ref was, ref name } => {
                let earlier = |c: &Change| matches!(c, Change::TravellerRenamed { name: n, .. } | Change::TravellerAdded { name: n } if n == was);
                match last(&out, &earlier) {
                    Some(i) => {
                        if let Some(Change::TravellerRenamed { name: n, .. } | Change::TravellerAdded { name: n }) =
                            &mut out[i]
                        {
                            n.clone_from(name);
                        }
                    }
                    None => out.push(Some(change)),
                }
            }
            Change::DayAdded { .. } | Change::ServiceAdded { .. } | Change::TravellerAdded { .. } => {
                out.push(Some(change))
            }
        }
    }
    let mut merged: Vec<Change> = Vec::with_capacity(out.len());
    for change in out.into_iter().flatten() {
        let back_where_it_was = match &change {
            Change::TravelDates { was_start, was_end, start, end } => was_start == start && was_end == end,
            Change::PriceChanged { was, now } => was == now,
            Change::TravellerRenamed { was, name } => was == name,
            _ => false,
        };
        if !back_where_it_was && !merged.contains(&change) {
            merged.push(change);
        }
    }
    merged
}

/// The position of the last change still in `out` that `f` picks.
fn last(out: &[Option<Change>], f: &dyn Fn(&Change) -> bool) -> Option<usize> {
    out.iter().rposition(|c| c.as_ref().is_some_and(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::booking::{BookingInput, PriceLine};
    use portal_domain::ids::BookingReference;
    use portal_domain::money::Currency;

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "brand": "alpine",
            "status": "confirmed",
            "currency": "EUR",
            "locale": "en-GB",
            "lead_traveller_id": "T1",
            "travellers": [
                {"id": "T1", "first_name": "Ada", "last_name": "Byron", "email": "ada@example.com", "date_of_birth": "1990-12-10"},
                {"id": "T2", "first_name": "Charles", "last_name": "Babbage"}
            ],
            "travel_start": "2027-05-10",
            "travel_end": "2027-05-18",
            "itinerary": [
                {"date": "2027-05-10", "title": "Arrive Zermatt", "accommodation": "Hotel Alpina",
                 "services": [{"id": "S1", "kind": "transfer", "name": "Station transfer", "supplier_name": "Taxi Z",
                               "supplier_reference": "TZ-9", "traveller_ids": ["T1", "T2"]}]},
                {"date": "2027-05-11", "title": "Gornergrat", "description": "Cog railway to 3,089 m",
                 "services": [{"id": "S2", "kind": "excursion", "name": "Gornergrat railway", "supplier_name": "GGB"}]},
                {"date": "2027-05-15", "title": "Free day",
                 "services": [{"id": "S3", "kind": "hotel", "name": "Hotel Alpina", "supplier_name": "Alpina AG"}]}
            ],
            "price_lines": [
                {"description": "Tour", "amount": "1000.00"},
                {"description": "Single supplement", "amount": "200.00", "traveller_id": "T1"}
            ],
            "schedule": [
                {"id": "DEP", "kind": "deposit", "due_date": "2026-11-01", "amount": "200.00"},
                {"id": "BAL", "kind": "balance", "due_date": "2027-04-01", "amount": "1000.00"}
            ]
        })
    }

    fn booking(v: serde_json::Value) -> Booking {
        let input: BookingInput = serde_json::from_value(v).expect("shape");
        Booking::from_input(BookingReference::parse("AE-10001").unwrap(), input).expect("valid").booking
    }

    fn changed(f: impl FnOnce(&mut serde_json::Value)) -> Vec<Change> {
        let mut v = sample();
        f(&mut v);
        describe(&booking(sample()), &booking(v))
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Eur).unwrap()
    }

    #[test]
    fn an_identical_re_push_changes_nothing() {
        assert_eq!(describe(&booking(sample()), &booking(sample())), vec![]);
    }

    #[test]
    fn supplier_references_emails_dates_of_birth_and_orders_are_not_told() {
        let none = changed(|v| {
            v["itinerary"][0]["services"][0]["supplier_reference"] = "TZ-10".into();
            v["itinerary"][1]["services"][0]["supplier_reference"] = "GGB-1".into();
            v["travellers"][0]["email"] = "ada@elsewhere.example".into();
            v["travellers"][0]["date_of_birth"] = "1991-01-01".into();
            v["travellers"][1]["email"] = "charles@example.com".into();
            v["itinerary"][0]["services"][0]["traveller_ids"] = serde_json::json!(["T2", "T1"]);
            v["price_lines"] = serde_json::json!([
                {"description": "Single supplement", "amount": "200.00", "traveller_id": "T1"},
                {"description": "Tour (all in)", "amount": "1000.00"}
            ]);
        });
        assert_eq!(none, vec![]);
    }

    #[test]
    fn travel_dates() {
        let c = changed(|v| {
            v["travel_start"] = "2027-05-09".into();
            v["travel_end"] = "2027-05-20".into();
        });
        assert_eq!(
            c,
            vec![Change::TravelDates {
                was_start: date("2027-05-10"),
                was_end: date("2027-05-18"),
                start: date("2027-05-09"),
                end: date("2027-05-20"),
            }]
        );
    }

    #[test]
    fn days_added_removed_and_changed() {
        let c = changed(|v| {
            let days = v["itinerary"].as_array_mut().unwrap();
            days.insert(2, serde_json::json!({"date": "2027-05-14", "title": "Glacier walk"}));
            days.pop(); // 15 May, with its service S3
        });
        assert_eq!(
            c,
            vec![
                Change::DayAdded { date: date("2027-05-14"), title: "Glacier walk".into() },
                Change::DayRemoved { date: date("2027-05-15"), title: "Free day".into() },
                Change::ServiceRemoved { date: date("2027-05-15"), name: "Hotel Alpina".into() },
            ]
        );
        for (field, value) in
            [("title", "Gornergrat by train"), ("description", "Cog railway"), ("accommodation", "Hut")]
        {
            let c = changed(|v| v["itinerary"][1][field] = value.into());
            let title = if field == "title" { value } else { "Gornergrat" };
            assert_eq!(c, vec![Change::DayChanged { date: date("2027-05-11"), title: title.into() }], "{field}");
        }
        let c = changed(|v| {
            v["itinerary"][0].as_object_mut().unwrap().remove("accommodation");
        });
        assert_eq!(c, vec![Change::DayChanged { date: date("2027-05-10"), title: "Arrive Zermatt".into() }]);
    }

    #[test]
    fn services_added_removed_changed_and_moved() {
        let c = changed(|v| {
            v["itinerary"][1]["services"] = serde_json::json!([
                {"id": "S4", "kind": "meal", "name": "Fondue", "supplier_name": "Chez Vrony"}
            ]);
        });
        assert_eq!(
            c,
            vec![
                Change::ServiceRemoved { date: date("2027-05-11"), name: "Gornergrat railway".into() },
                Change::ServiceAdded { date: date("2027-05-11"), name: "Fondue".into() },
            ]
        );
        let s1 = |field: &str, value: serde_json::Value| changed(|v| v["itinerary"][0]["services"][0][field] = value);
        let station = vec![Change::ServiceChanged { date: date("2027-05-10"), name: "Station transfer".into() }];
        assert_eq!(s1("kind", "coach".into()), station);
        assert_eq!(s1("supplier_name", "Taxi Y".into()), station);
        assert_eq!(s1("traveller_ids", serde_json::json!(["T1"])), station);
        assert_eq!(
            s1("name", "Private transfer".into()),
            vec![Change::ServiceChanged { date: date("2027-05-10"), name: "Private transfer".into() }]
        );
        // S2 moves from 11 to 15 May: one change, told on its new day, after the days before it.
        let c = changed(|v| {
            let s2 = v["itinerary"][1]["services"].as_array_mut().unwrap().pop().unwrap();
            v["itinerary"][2]["services"].as_array_mut().unwrap().insert(0, s2);
            v["itinerary"][0]["title"] = "Arrive".into();
        });
        assert_eq!(
            c,
            vec![
                Change::DayChanged { date: date("2027-05-10"), title: "Arrive".into() },
                Change::ServiceChanged { date: date("2027-05-15"), name: "Gornergrat railway".into() },
            ]
        );
    }

    #[test]
    fn travellers_added_removed_and_renamed() {
        let c = changed(|v| {
            let t = v["travellers"].as_array_mut().unwrap();
            t[0]["last_name"] = "Lovelace".into();
            t.pop();
            t.push(serde_json::json!({"id": "T3", "first_name": "Grace", "last_name": "Hopper"}));
            v["itinerary"][0]["services"][0]["traveller_ids"] = serde_json::json!(["T1"]);
        });
        assert_eq!(
            c,
            vec![
                Change::ServiceChanged { date: date("2027-05-10"), name: "Station transfer".into() },
                Change::TravellerRenamed { was: "Ada Byron".into(), name: "Ada Lovelace".into() },
                Change::TravellerAdded { name: "Grace Hopper".into() },
                Change::TravellerRemoved { name: "Charles Babbage".into() },
            ]
        );
        let c = changed(|v| v["travellers"][1]["first_name"] = "Charlie".into());
        assert_eq!(c, vec![Change::TravellerRenamed { was: "Charles Babbage".into(), name: "Charlie Babbage".into() }]);
    }

    #[test]
    fn price_is_the_sum_of_the_lines() {
        let c = changed(|v| {
            v["price_lines"][1]["amount"] = "350.00".into();
            v["schedule"][0]["amount"] = "350.00".into();
        });
        assert_eq!(c, vec![Change::PriceChanged { was: eur(120_000), now: eur(135_000) }]);
        // Another split of the same total is no change.
        let c = changed(|v| {
            v["price_lines"][0]["amount"] = "1100.00".into();
            v["price_lines"][1]["amount"] = "100.00".into();
        });
        assert_eq!(c, vec![]);
    }

    #[test]
    fn a_price_that_cannot_be_summed_is_not_told() {
        let old = booking(sample());
        let mut huge = old.clone();
        let line = PriceLine {
            description: "Everything".into(),
            amount: Money::from_minor(portal_domain::money::MAX_ABS_MINOR, Currency::Eur).unwrap(),
            traveller_id: None,
        };
        huge.price_lines = vec![line; 10_000]; // 10^19 minor units: more than an i64 holds
        assert_eq!(describe(&old, &huge), vec![]);
        let mut mixed = old.clone();
        mixed.price_lines[1].amount = Money::from_minor(35_000, Currency::Gbp).unwrap();
        assert_eq!(describe(&old, &mixed), vec![]);
        let mut other_currency = old.clone();
        other_currency.currency = Currency::Gbp;
        for l in &mut other_currency.price_lines {
            l.amount = Money::from_minor(l.amount.minor(), Currency::Gbp).unwrap();
        }
        assert_eq!(describe(&old, &other_currency), vec![]);
    }

    #[test]
    fn everything_at_once_in_order() {
        let c = changed(|v| {
            v["travel_end"] = "2027-05-20".into();
            v["itinerary"].as_array_mut().unwrap().push(serde_json::json!({"date": "2027-05-19", "title": "Depart",
                "services": [{"id": "S9", "kind": "transfer", "name": "Airport transfer", "supplier_name": "Taxi Z"}]}));
            v["itinerary"][0]["title"] = "Arrive".into();
            v["travellers"][1]["last_name"] = "B.".into();
            v["price_lines"][0]["amount"] = "1150.00".into();
            v["schedule"][1]["amount"] = "1150.00".into();
        });
        assert_eq!(
            c,
            vec![
                Change::TravelDates {
                    was_start: date("2027-05-10"),
                    was_end: date("2027-05-18"),
                    start: date("2027-05-10"),
                    end: date("2027-05-20"),
                },
                Change::DayChanged { date: date("2027-05-10"), title: "Arrive".into() },
                Change::DayAdded { date: date("2027-05-19"), title: "Depart".into() },
                Change::ServiceAdded { date: date("2027-05-19"), name: "Airport transfer".into() },
                Change::TravellerRenamed { was: "Charles Babbage".into(), name: "Charles B.".into() },
                Change::PriceChanged { was: eur(120_000), now: eur(135_000) },
            ]
        );
    }

    #[test]
    fn merge_keeps_first_appearance_and_drops_duplicates() {
        let a = Change::DayChanged { date: date("2027-05-11"), title: "Gornergrat".into() };
        let b = Change::TravellerAdded { name: "Grace Hopper".into() };
        let c = Change::ServiceChanged { date: date("2027-05-10"), name: "Station transfer".into() };
        assert_eq!(merge([a.clone(), b.clone(), a.clone(), c.clone(), b.clone()]), vec![a, b, c]);
        assert_eq!(merge([]), vec![]);
    }

    #[test]
    fn merge_collapses_dates_and_price() {
        let dates = |ws: &str, we: &str, s: &str, e: &str| Change::TravelDates {
            was_start: date(ws),
            was_end: date(we),
            start: date(s),
            end: date(e),
        };
        let other = Change::TravellerAdded { name: "Grace Hopper".into() };
        assert_eq!(
            merge([
                dates("2027-05-10", "2027-05-18", "2027-05-11", "2027-05-19"),
                other.clone(),
                dates("2027-05-11", "2027-05-19", "2027-05-12", "2027-05-20"),
            ]),
            vec![dates("2027-05-10", "2027-05-18", "2027-05-12", "2027-05-20"), other.clone()]
        );
        assert_eq!(
            merge([
                dates("2027-05-10", "2027-05-18", "2027-05-11", "2027-05-19"),
                dates("2027-05-11", "2027-05-19", "2027-05-10", "2027-05-18"),
            ]),
            vec![],
            "back to the old dates"
        );
        let price = |was, now| Change::PriceChanged { was: eur(was), now: eur(now) };
        assert_eq!(
            merge([price(120_000, 130_000), other.clone(), price(130_000, 135_000)]),
            vec![price(120_000, 135_000), other.clone()]
        );
        assert_eq!(merge([price(120_000, 130_000), price(130_000, 120_000)]), vec![]);
        assert_eq!(merge([price(120_000, 130_000), other.clone(), price(130_000, 120_000)]), vec![other]);
    }

    #[test]
    fn merge_cancels_what_was_added_then_removed() {
        let d = date("2027-05-14");
        let kept = Change::DayChanged { date: date("2027-05-11"), title: "Gornergrat".into() };
        assert_eq!(
            merge([
                Change::DayAdded { date: d, title: "Glacier walk".into() },
                kept.clone(),
                Change::DayChanged { date: d, title: "Glacier walk (easy)".into() },
                Change::DayRemoved { date: d, title: "Glacier walk (easy)".into() },
            ]),
            vec![kept.clone()]
        );
        assert_eq!(
            merge([
                Change::DayAdded { date: d, title: "Glacier walk".into() },
                Change::DayChanged { date: d, title: "Glacier walk (easy)".into() },
            ]),
            vec![Change::DayAdded { date: d, title: "Glacier walk (easy)".into() }]
        );
        assert_eq!(
            merge([
                Change::DayChanged { date: d, title: "A".into() },
                kept.clone(),
                Change::DayChanged { date: d, title: "B".into() },
            ]),
            vec![Change::DayChanged { date: d, title: "B".into() }, kept.clone()]
        );
        // A day removed then added again is told (it may not be the same day).
        let again = [
            Change::DayRemoved { date: d, title: "Glacier walk".into() },
            Change::DayAdded { date: d, title: "Lake day".into() },
        ];
        assert_eq!(merge(again.clone()), again.to_vec());

        let added = Change::ServiceAdded { date: d, name: "Hotel Alpina".into() };
        assert_eq!(
            merge([
                added.clone(),
                Change::ServiceChanged { date: d, name: "Hotel Alpina".into() },
                Change::ServiceRemoved { date: d, name: "Hotel Alpina".into() },
                kept.clone(),
            ]),
            vec![kept.clone()]
        );
        let elsewhere = Change::ServiceRemoved { date: date("2027-05-15"), name: "Hotel Alpina".into() };
        assert_eq!(merge([added.clone(), elsewhere.clone()]), vec![added, elsewhere], "another day: both told");

        assert_eq!(
            merge([
                Change::TravellerAdded { name: "Grace Hopper".into() },
                Change::TravellerRemoved { name: "Grace Hopper".into() },
            ]),
            vec![]
        );
    }

    #[test]
    fn merge_chains_renames() {
        let r = |was: &str, name: &str| Change::TravellerRenamed { was: was.into(), name: name.into() };
        let other = Change::TravellerRemoved { name: "Charles Babbage".into() };
        assert_eq!(
            merge([r("Ada Byron", "Ada King"), other.clone(), r("Ada King", "Ada Lovelace")]),
            vec![r("Ada Byron", "Ada Lovelace"), other.clone()]
        );
        assert_eq!(merge([r("Ada Byron", "Ada King"), r("Ada King", "Ada Byron")]), vec![]);
        assert_eq!(
            merge([Change::TravellerAdded { name: "Grace Murray".into() }, r("Grace Murray", "Grace Hopper")]),
            vec![Change::TravellerAdded { name: "Grace Hopper".into() }]
        );
        assert_eq!(
            merge([r("Ada Byron", "Ada King"), r("Charles Babbage", "Charles B.")]),
            vec![r("Ada Byron", "Ada King"), r("Charles Babbage", "Charles B.")]
        );
    }

    #[test]
    fn changes_round_trip() {
        let c = Change::PriceChanged { was: eur(120_000), now: eur(135_000) };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"change\":\"price_changed\""), "{json}");
        assert_eq!(serde_json::from_str::<Change>(&json).unwrap(), c);
    }
}
