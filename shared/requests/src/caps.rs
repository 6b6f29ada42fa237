//! Daily caps on what customers write: new requests and messages, per booking and per customer (verified
//! email, across bookings), per UTC day. Counted in the same transaction as the write.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub requests_per_booking: u32,
    pub requests_per_customer: u32,
    pub messages_per_booking: u32,
    pub messages_per_customer: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            requests_per_booking: 10,
            requests_per_customer: 15,
            messages_per_booking: 40,
            messages_per_customer: 60,
        }
    }
}

/// What is being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Requests,
    Messages,
}

impl Counted {
    pub fn as_str(self) -> &'static str {
        match self {
            Counted::Requests => "requests",
            Counted::Messages => "messages",
        }
    }
}

impl Limits {
    /// `REQUEST_LIMITS` (JSON; absent keys keep their default). Every cap must be at least 1.
    pub fn parse(json: Option<&str>) -> Result<Limits, String> {
        let Some(j) = json else { return Ok(Limits::default()) };
        let l: Limits = serde_json::from_str(j).map_err(|e| format!("REQUEST_LIMITS: {e}"))?;
        if [l.requests_per_booking, l.requests_per_customer, l.messages_per_booking, l.messages_per_customer]
            .contains(&0)
        {
            return Err("REQUEST_LIMITS: every cap must be at least 1".into());
        }
        Ok(l)
    }

    /// (per booking, per customer) for `what`.
    pub fn of(&self, what: Counted) -> (u32, u32) {
        match what {
            Counted::Requests => (self.requests_per_booking, self.requests_per_customer),
            Counted::Messages => (self.messages_per_booking, self.messages_per_customer),
        }
    }
}

/// The UTC day a write counts towards.
pub fn day(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}

/// Seconds until the caps reset (the next UTC midnight), at least 1.
pub fn retry_after(now: DateTime<Utc>) -> u64 {
    let midnight = (now.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0).map(|m| m.and_utc());
    midnight.map_or(86_400, |m| (m - now).num_seconds().max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_reset_at_utc_midnight() {
        let now: DateTime<Utc> = "2027-01-10T23:59:30Z".parse().unwrap();
        assert_eq!(retry_after(now), 30);
        assert_eq!(day(now).to_string(), "2027-01-10");
        assert_eq!(retry_after("2027-01-10T00:00:00Z".parse().unwrap()), 86_400);
        assert_eq!(Limits::parse(Some(r#"{"requests_per_booking": 2}"#)).unwrap().of(Counted::Requests), (2, 15));
        assert!(Limits::parse(Some(r#"{"messages_per_booking": 0}"#)).is_err());
        assert!(Limits::parse(Some(r#"{"per_day": 3}"#)).is_err());
    }
}
