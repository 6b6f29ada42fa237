//! Demo bookings, relative to a given day so the schedule always has a paid deposit and future instalments.
//! Used by the local portal's seed and by the integration tests.

use chrono::{Days, NaiveDate};
use serde_json::{Value, json};

fn d(today: NaiveDate, days: i64) -> String {
    let date = if days >= 0 { today + Days::new(days as u64) } else { today - Days::new((-days) as u64) };
    date.to_string()
}

/// GBP, two travellers, deposit paid by bank transfer, two instalments scheduled.
pub fn gbp_booking(today: NaiveDate) -> Value {
    json!({
        "brand": "alpine-escapes",
        "status": "confirmed",
        "currency": "GBP",
        "locale": "en-GB",
        "lead_traveller_id": "T1",
        "travellers": [
            {"id": "T1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "date_of_birth": "1985-12-10"},
            {"id": "T2", "first_name": "Charles", "last_name": "Babbage", "email": "charles@example.com"}
        ],
        "travel_start": d(today, 120),
        "travel_end": d(today, 127),
        "itinerary": [
            {"date": d(today, 120), "title": "Arrive in Zermatt", "description": "Train from Geneva airport; transfer to the hotel.",
             "accommodation": "Hotel Alpina (4*)",
             "services": [
                {"id": "S-TRF", "kind": "transfer", "name": "Geneva airport to Zermatt rail transfer", "supplier_name": "SBB Rail", "supplier_reference": "SBB-77812"},
                {"id": "S-HTL", "kind": "hotel", "name": "Hotel Alpina, 7 nights, twin room", "supplier_name": "Hotel Alpina Zermatt", "supplier_reference": "HA-2291"}
             ]},
            {"date": d(today, 121), "title": "Gornergrat railway", "description": "Cog railway to 3,089 m with views of the Matterhorn.",
             "services": [{"id": "S-GGB", "kind": "excursion", "name": "Gornergrat return ticket", "supplier_name": "Gornergrat Bahn", "supplier_reference": "GGB-0042"}]},
            {"date": d(today, 122), "title": "Five Lakes walk"},
            {"date": d(today, 127), "title": "Departure", "services": [{"id": "S-TRF2", "kind": "transfer", "name": "Zermatt to Geneva airport", "supplier_name": "SBB Rail", "supplier_reference": "SBB-77813"}]}
        ],
        "price_lines": [
            {"description": "Zermatt Explorer, 7 nights, per person", "amount": "1450.00", "traveller_id": "T1"},
            {"description": "Zermatt Explorer, 7 nights, per person", "amount": "1450.00", "traveller_id": "T2"},
            {"description": "Gornergrat excursion", "amount": "180.50"}
        ],
        "schedule": [
            {"id": "DEP", "kind": "deposit", "due_date": d(today, -10), "amount": "500.00"},
            {"id": "INS1", "kind": "instalment", "due_date": d(today, 30), "amount": "1000.00"},
            {"id": "BAL", "kind": "balance", "due_date": d(today, 60), "amount": "1580.50"}
        ],
        "payments_received": [
            {"external_reference": "BT-20261115-001", "amount": "500.00", "channel": "bank_transfer", "received_at": format!("{}T10:15:00Z", d(today, -10))}
        ]
    })
}

/// EUR, German-speaking customer, nothing paid yet.
pub fn eur_booking(today: NaiveDate) -> Value {
    json!({
        "brand": "alpine-escapes",
        "status": "provisional",
        "currency": "EUR",
        "locale": "de-DE",
        "lead_traveller_id": "L",
        "travellers": [{"id": "L", "first_name": "Jürgen", "last_name": "Müller", "email": "juergen@example.de"}],
        "travel_start": d(today, 200),
        "travel_end": d(today, 204),
        "itinerary": [{"date": d(today, 200), "title": "Ankunft in Wien", "accommodation": "Hotel Sacher",
                       "services": [{"id": "S-SAC", "kind": "hotel", "name": "Hotel Sacher, 4 Nächte", "supplier_name": "Hotel Sacher Wien", "supplier_reference": "SACH-11"}]}],
        "price_lines": [{"description": "Wien Kultur, 4 Nächte", "amount": "1234.50"}],
        "schedule": [
            {"id": "DEP", "kind": "deposit", "due_date": d(today, 7), "amount": "234.50"},
            {"id": "BAL", "kind": "balance", "due_date": d(today, 140), "amount": "1000.00"}
        ]
    })
}

/// JPY (no minor units).
pub fn jpy_booking(today: NaiveDate) -> Value {
    json!({
        "brand": "sakura-tours",
        "status": "confirmed",
        "currency": "JPY",
        "locale": "ja-JP",
        "lead_traveller_id": "K",
        "travellers": [{"id": "K", "first_name": "Kenji", "last_name": "Sato", "email": "kenji@example.jp"}],
        "travel_start": d(today, 90),
        "travel_end": d(today, 95),
        "itinerary": [{"date": d(today, 90), "title": "京都到着", "services": [{"id": "S-RYO", "kind": "hotel", "name": "旅館 5泊", "supplier_name": "Ryokan Hiiragiya", "supplier_reference": "HY-5"}]}],
        "price_lines": [{"description": "Kyoto Autumn, 5 nights", "amount": "248000"}],
        "schedule": [
            {"id": "DEP", "kind": "deposit", "due_date": d(today, 5), "amount": "50000"},
            {"id": "BAL", "kind": "balance", "due_date": d(today, 60), "amount": "198000"}
        ]
    })
}

/// BHD (three decimals).
pub fn bhd_booking(today: NaiveDate) -> Value {
    json!({
        "brand": "gulf-journeys",
        "status": "confirmed",
        "currency": "BHD",
        "locale": "en-GB",
        "lead_traveller_id": "A",
        "travellers": [{"id": "A", "first_name": "Amal", "last_name": "Haddad", "email": "amal@example.bh"}],
        "travel_start": d(today, 45),
        "travel_end": d(today, 48),
        "price_lines": [{"description": "Desert retreat", "amount": "1234.567"}],
        "schedule": [
            {"id": "DEP", "kind": "deposit", "due_date": d(today, -1), "amount": "234.567"},
            {"id": "BAL", "kind": "balance", "due_date": d(today, 20), "amount": "1000.000"}
        ]
    })
}

/// A group of four, lead pays for some, each traveller has their own email.
pub fn group_booking(today: NaiveDate) -> Value {
    json!({
        "brand": "alpine-escapes",
        "status": "confirmed",
        "currency": "GBP",
        "locale": "en-GB",
        "lead_traveller_id": "G1",
        "travellers": [
            {"id": "G1", "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "date_of_birth": "1980-01-02"},
            {"id": "G2", "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com"},
            {"id": "G3", "first_name": "Katherine", "last_name": "Johnson", "email": "katherine@example.com"},
            {"id": "G4", "first_name": "Edsger", "last_name": "Dijkstra"}
        ],
        "travel_start": d(today, 150),
        "travel_end": d(today, 160),
        "itinerary": [
            {"date": d(today, 150), "title": "Reykjavik arrival", "services": [{"id": "S-BL", "kind": "excursion", "name": "Blue Lagoon entry", "supplier_name": "Blue Lagoon hf", "supplier_reference": "BL-8812", "traveller_ids": ["G1", "G2"]}]},
            {"date": d(today, 151), "title": "Golden Circle"}
        ],
        "price_lines": [{"description": "Iceland Northern Lights, per person x4", "amount": "7200.00"}],
        "schedule": [
            {"id": "DEP", "kind": "deposit", "due_date": d(today, -20), "amount": "800.00"},
            {"id": "INS1", "kind": "instalment", "due_date": d(today, 20), "amount": "3200.00"},
            {"id": "BAL", "kind": "balance", "due_date": d(today, 90), "amount": "3200.00"}
        ],
        "payments_received": [
            {"external_reference": "BT-GRP-1", "amount": "800.00", "channel": "bank_transfer", "received_at": format!("{}T09:00:00Z", d(today, -20))}
        ]
    })
}

/// All demo bookings with their references.
pub fn demo_bookings(today: NaiveDate) -> Vec<(&'static str, Value)> {
    vec![
        ("AE-10001", gbp_booking(today)),
        ("AE-20002", eur_booking(today)),
        ("ST-30003", jpy_booking(today)),
        ("GJ-40004", bhd_booking(today)),
        ("AE-50005", group_booking(today)),
    ]
}
