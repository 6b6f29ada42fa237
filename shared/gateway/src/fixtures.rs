//! Stripe's own published example objects (`fixtures/stripe-objects.json`: charge, refund, dispute,
//! payment_intent, setup_intent, payment_method, customer, event, balance_transaction, taken from
//! `openapi/fixtures3.json` of the public stripe/openapi repository, MIT licence beside it). The sandbox and the
//! test doubles build every payload they send from these, overlaying only our ids, amounts and states, so the
//! shapes are the real API's and not a copy from memory: a field Stripe removed is not there, one it added is.

use std::sync::OnceLock;

use serde_json::{Map, Value};

static OBJECTS: OnceLock<Map<String, Value>> = OnceLock::new();

fn objects() -> &'static Map<String, Value> {
    OBJECTS.get_or_init(|| {
        serde_json::from_str(include_str!("../fixtures/stripe-objects.json")).expect("the Stripe fixtures are JSON")
    })
}

/// Stripe's fixture for `resource` (`"charge"`, `"refund"`...) with `patch`'s top-level fields put over it.
/// Panics on an unknown resource name: a programming error caught by the unit test below.
pub fn object(resource: &str, patch: Value) -> Value {
    let mut base = objects().get(resource).cloned().unwrap_or_else(|| panic!("no Stripe fixture for {resource}"));
    if let (Value::Object(b), Value::Object(p)) = (&mut base, patch) {
        for (k, v) in p {
            b.insert(k, v);
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_the_sandbox_uses_is_there_with_the_current_shape() {
        for r in ["charge", "refund", "dispute", "payment_intent", "setup_intent", "payment_method", "event"] {
            assert_eq!(object(r, Value::Null)["object"], r, "{r}");
        }
        // Since API version 2022-11-15 a charge carries `amount_refunded`; webhooks do not expand `refunds`.
        let c = object("charge", serde_json::json!({"id": "ch_1"}));
        assert_eq!(c["id"], "ch_1");
        assert!(c["amount_refunded"].is_i64());
        // A refund names its payment intent and charge, and has a status.
        let r = object("refund", Value::Null);
        assert!(r.get("payment_intent").is_some() && r.get("status").is_some() && r.get("charge").is_some());
        assert!(object("dispute", Value::Null)["balance_transactions"].is_array());
    }
}
