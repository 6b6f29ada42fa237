//! Stripe over HTTPS: a small typed client for the calls the portal makes (create a customer, create a
//! PaymentIntent). Form-encoded requests, `Authorization: Bearer <secret key>`, our idempotency key as
//! Stripe's `Idempotency-Key`, a pinned `Stripe-Version`, a hard timeout.
//!
//! Why not `async-stripe`: its generated API surface takes minutes to build on a 2-core machine for two
//! endpoints; these ~200 lines are tested against a local HTTP double that checks the exact requests.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::{
    BoxFuture, CreatePayment, CreateSetup, CreatedPayment, CreatedSetup, GatewayError, Method, PaymentGateway,
    gateway_minor,
};

pub const STRIPE_API: &str = "https://api.stripe.com";
/// The API version every request pins (and the version the webhook endpoint must be created with, so event
/// payloads have the same shapes): Endive, the current major release. Since it, intents take
/// `allowed_payment_method_types[]` (added 2026-07-29.dahlia) and refuse `payment_method_types[]`; since Basil
/// (2025-03-31) cancelling an intent creates no refund; since Clover (2025-09-30) Elements refuses the client
/// secret of a `succeeded`, `canceled` or `processing` intent, which is why checkout only gives back open ones.
pub const STRIPE_VERSION: &str = "2026-09-30.endive";

pub struct StripeGateway {
    api_base: String,
    secret_key: String,
    http: reqwest::Client,
}

/// `application/x-www-form-urlencoded` with Stripe's bracket notation for nested keys.
pub fn form_encode(pairs: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The form fields of `POST /v1/payment_intents`.
pub fn payment_intent_form(
    req: &CreatePayment,
    customer_id: Option<&str>,
) -> Result<Vec<(String, String)>, GatewayError> {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    let mut f = vec![
        p("amount", &gateway_minor(req.amount)?.to_string()),
        p("currency", &req.amount.currency().code().to_ascii_lowercase()),
        p(
            "allowed_payment_method_types[0]",
            match req.method {
                Method::Card => "card",
                Method::OpenBanking => "pay_by_bank",
            },
        ),
        p("description", &req.description),
        p("metadata[booking_reference]", &req.metadata.booking_reference),
        p("metadata[checkout_id]", &req.metadata.checkout_id),
        p("metadata[movement_id]", &req.metadata.movement_id),
    ];
    if let Some(t) = &req.metadata.traveller_id {
        f.push(p("metadata[traveller_id]", t));
    }
    if let Some(c) = customer_id {
        f.push(p("customer", c));
    }
    match &req.off_session {
        Some(saved) => {
            f.push(p("payment_method", &saved.payment_method_id));
            f.push(p("off_session", "true"));
            f.push(p("confirm", "true"));
        }
        None if req.method == Method::Card && req.save_card => f.push(p("setup_future_usage", "off_session")),
        None => {}
    }
    Ok(f)
}

/// TLS for the gateway client: rustls on ring (the SDK's crypto) trusting the Mozilla roots compiled into
/// `webpki-roots`. reqwest's default (rustls-platform-verifier) parses the OS CA bundle when the client is
/// built, about half of a cold start (docs/performance.md); the compiled-in roots cost nothing to load.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// The form fields of `POST /v1/setup_intents`: a card saved for off-session use on `customer`.
pub fn setup_intent_form(req: &CreateSetup, customer_id: &str) -> Vec<(String, String)> {
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    vec![
        p("customer", customer_id),
        p("usage", "off_session"),
        p("allowed_payment_method_types[0]", "card"),
        p("metadata[booking_reference]", &req.booking_reference),
        p("metadata[setup_id]", &req.setup_id),
        p("metadata[traveller_id]", &req.traveller_id),
    ]
}

impl StripeGateway {
    /// The client every function that talks to Stripe builds once at cold start: `key` (the caller reads
    /// `STRIPE_SECRET_KEY`, required or optional as it needs), optional `STRIPE_API_BASE` (a local double) and
    /// `GATEWAY_TIMEOUT_MS` (500-25000, default `default_timeout_ms`).
    pub fn from_env(key: &str, default_timeout_ms: u64) -> Result<StripeGateway, portal_http::config::ConfigError> {
        use portal_http::config::{self, ConfigError};
        let base = config::optional("STRIPE_API_BASE").unwrap_or_else(|| STRIPE_API.into());
        let timeout = Duration::from_millis(config::number("GATEWAY_TIMEOUT_MS", default_timeout_ms, 500, 25_000)?);
        StripeGateway::new(&base, key, timeout)
            .map_err(|e| ConfigError { variable: "STRIPE_API_BASE", problem: e.to_string() })
    }

    pub fn new(api_base: &str, secret_key: &str, timeout: Duration) -> Result<StripeGateway, GatewayError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .build()
            .map_err(|e| GatewayError::Protocol(format!("building the HTTP client: {e}")))?;
        Ok(StripeGateway { api_base: api_base.trim_end_matches('/').to_string(), secret_key: secret_key.into(), http })
    }

    async fn post(&self, path: &str, idempotency_key: &str, form: &[(String, String)]) -> Result<Value, GatewayError> {
        let req = self
            .http
            .post(format!("{}{path}", self.api_base))
            .header("idempotency-key", idempotency_key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_encode(form));
        self.execute(req).await
    }

    /// `GET path` (with its query, e.g. `expand[]=...`): reads, safe to repeat, so no idempotency key.
    async fn get(&self, path_and_query: &str) -> Result<Value, GatewayError> {
        self.execute(self.http.get(format!("{}{path_and_query}", self.api_base))).await
    }

    async fn execute(&self, req: reqwest::RequestBuilder) -> Result<Value, GatewayError> {
        let resp = req
            .header("authorization", format!("Bearer {}", self.secret_key))
            .header("stripe-version", STRIPE_VERSION)
            .send()
            .await
            .map_err(
                |e| if e.is_timeout() { GatewayError::Timeout } else { GatewayError::Unavailable(e.to_string()) },
            )?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| {
            if e.is_timeout() { GatewayError::Timeout } else { GatewayError::Unavailable(e.to_string()) }
        })?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(body),
            429 | 500..=599 => Err(GatewayError::Unavailable(format!("Stripe answered {status}"))),
            _ => {
                let e = &body["error"];
                Err(GatewayError::Rejected {
                    status,
                    code: e["code"].as_str().or(e["type"].as_str()).unwrap_or("unknown").chars().take(64).collect(),
                    message: e["message"].as_str().unwrap_or("").chars().take(300).collect(),
                })
            }
        }
    }
}

/// A Stripe object id as it may appear in a URL path: `ch_...`, `pm_...` (letters, digits, `_`).
fn path_id(id: &str) -> Result<&str, GatewayError> {
    if !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(GatewayError::Protocol("not a Stripe object id".into()))
    }
}

fn field(v: &Value, name: &str) -> Result<String, GatewayError> {
    v[name].as_str().map(str::to_string).ok_or_else(|| GatewayError::Protocol(format!("no `{name}` in the answer")))
}

impl PaymentGateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn create_payment<'a>(&'a self, req: &'a CreatePayment) -> BoxFuture<'a, Result<CreatedPayment, GatewayError>> {
        Box::pin(async move {
            let mut customer =
                req.customer_id.clone().or_else(|| req.off_session.as_ref().map(|s| s.customer_id.clone()));
            if customer.is_none() && req.save_card && req.method == Method::Card {
                let mut form =
                    vec![("metadata[booking_reference]".to_string(), req.metadata.booking_reference.clone())];
                if let Some(e) = &req.customer_email {
                    form.push(("email".into(), e.clone()));
                }
                let c = self.post("/v1/customers", &format!("{}-customer", req.idempotency_key), &form).await?;
                customer = Some(field(&c, "id")?);
            }
            let form = payment_intent_form(req, customer.as_deref())?;
            let pi = self.post("/v1/payment_intents", &req.idempotency_key, &form).await?;
            // `allowed_payment_method_types` drops a method that does not apply instead of failing: an intent
            // without ours cannot be paid the way the customer chose.
            let wanted = match req.method {
                Method::Card => "card",
                Method::OpenBanking => "pay_by_bank",
            };
            let types = pi["payment_method_types"].as_array();
            if types.is_some_and(|t| !t.iter().any(|x| x.as_str() == Some(wanted))) {
                return Err(GatewayError::Rejected {
                    status: 400,
                    code: "payment_method_unavailable".into(),
                    message: format!("{wanted} is not available for this payment"),
                });
            }
            Ok(CreatedPayment {
                payment_id: field(&pi, "id")?,
                client_secret: field(&pi, "client_secret")?,
                checkout_url: None,
                customer_id: pi["customer"].as_str().map(str::to_string).or(customer),
                status: field(&pi, "status")?,
            })
        })
    }

    fn create_setup<'a>(&'a self, req: &'a CreateSetup) -> BoxFuture<'a, Result<CreatedSetup, GatewayError>> {
        Box::pin(async move {
            let customer = match &req.customer_id {
                Some(c) => c.clone(),
                None => {
                    let mut form = vec![("metadata[booking_reference]".to_string(), req.booking_reference.clone())];
                    if let Some(e) = &req.customer_email {
                        form.push(("email".into(), e.clone()));
                    }
                    let c = self.post("/v1/customers", &format!("{}-customer", req.idempotency_key), &form).await?;
                    field(&c, "id")?
                }
            };
            let si = self.post("/v1/setup_intents", &req.idempotency_key, &setup_intent_form(req, &customer)).await?;
            Ok(CreatedSetup {
                setup_intent_id: field(&si, "id")?,
                client_secret: field(&si, "client_secret")?,
                setup_url: None,
                customer_id: customer,
            })
        })
    }

    fn cancel_payment<'a>(&'a self, payment_id: &'a str) -> BoxFuture<'a, Result<crate::Cancelled, GatewayError>> {
        Box::pin(async move {
            let id = path_id(payment_id)?;
            let form = [("cancellation_reason".to_string(), "abandoned".to_string())];
            match self.post(&format!("/v1/payment_intents/{id}/cancel"), &format!("cancel-{id}"), &form).await {
                Ok(_) => Ok(crate::Cancelled::Cancelled),
                // Stripe answers 400 `payment_intent_unexpected_state` for one that is succeeded, processing or
                // already canceled: read it to tell which.
                Err(GatewayError::Rejected { code, .. }) if code == "payment_intent_unexpected_state" => {
                    let pi = self.get(&format!("/v1/payment_intents/{id}")).await?;
                    match pi["status"].as_str() {
                        Some("canceled") => Ok(crate::Cancelled::Cancelled),
                        Some(other) => Ok(crate::Cancelled::TooLate(other.to_string())),
                        None => Err(GatewayError::Protocol("no `status` in the payment intent".into())),
                    }
                }
                Err(e) => Err(e),
            }
        })
    }

    fn create_refund<'a>(
        &'a self,
        req: &'a crate::CreateRefund,
    ) -> BoxFuture<'a, Result<crate::event::RefundInfo, GatewayError>> {
        Box::pin(async move {
            let p = |k: &str, v: &str| (k.to_string(), v.to_string());
            let form = vec![
                p("payment_intent", &req.payment_id),
                p("amount", &gateway_minor(req.amount)?.to_string()),
                p("reason", req.reason),
                p("metadata[booking_reference]", &req.booking_reference),
            ];
            let r = self.post("/v1/refunds", &req.idempotency_key, &form).await?;
            crate::event::refund_of(&r)
                .ok_or_else(|| GatewayError::Protocol("the refund answer is not a refund".into()))
        })
    }

    fn read_payment<'a>(&'a self, payment_id: &'a str) -> BoxFuture<'a, Result<Value, GatewayError>> {
        Box::pin(async move {
            let id = path_id(payment_id)?;
            self.get(&format!("/v1/payment_intents/{id}?expand%5B%5D=latest_charge.balance_transaction")).await
        })
    }

    fn refunds_of<'a>(
        &'a self,
        payment_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<crate::event::RefundInfo>, GatewayError>> {
        Box::pin(async move {
            let id = path_id(payment_id)?;
            let mut out = Vec::new();
            let mut after: Option<String> = None;
            // Paged (100 a page); a payment has a handful of refunds, the bound only stops a runaway.
            for _ in 0..20 {
                let mut q = format!("/v1/refunds?payment_intent={id}&limit=100");
                if let Some(a) = &after {
                    q.push_str(&format!("&starting_after={a}"));
                }
                let page = self.get(&q).await?;
                let data = page["data"].as_array().cloned().unwrap_or_default();
                out.extend(data.iter().filter_map(crate::event::refund_of));
                after = data.last().and_then(|r| r["id"].as_str()).map(str::to_string);
                if page["has_more"].as_bool() != Some(true) || after.is_none() {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn charge_details<'a>(
        &'a self,
        charge_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::event::ChargeDetails>, GatewayError>> {
        Box::pin(async move {
            let id = path_id(charge_id)?;
            let charge = self.get(&format!("/v1/charges/{id}?expand%5B%5D=balance_transaction")).await?;
            Ok(Some(crate::event::charge_details(&charge)))
        })
    }

    fn card_details<'a>(
        &'a self,
        payment_method_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::event::CardInfo>, GatewayError>> {
        Box::pin(async move {
            let id = path_id(payment_method_id)?;
            let pm = self.get(&format!("/v1/payment_methods/{id}")).await?;
            Ok(pm.get("card").and_then(crate::event::card_of))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PaymentMetadata, SavedCard};
    use portal_domain::money::{Currency, Money};

    #[test]
    fn off_session_charge_confirms_a_saved_card_on_its_customer() {
        let req = CreatePayment {
            amount: Money::from_minor(90_000, Currency::Gbp).unwrap(),
            method: Method::Card,
            idempotency_key: "ichg_1".into(),
            description: "Booking AE-1, instalment I1".into(),
            metadata: PaymentMetadata {
                booking_reference: "AE-1".into(),
                checkout_id: "ichg_1".into(),
                movement_id: "mov_1".into(),
                traveller_id: None,
            },
            customer_email: None,
            save_card: false,
            customer_id: None,
            off_session: Some(SavedCard { customer_id: "cus_1".into(), payment_method_id: "pm_1".into() }),
        };
        let f = payment_intent_form(&req, Some("cus_1")).unwrap();
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("amount"), Some("90000"));
        assert_eq!(get("customer"), Some("cus_1"));
        assert_eq!(get("payment_method"), Some("pm_1"));
        assert_eq!(get("off_session"), Some("true"));
        assert_eq!(get("confirm"), Some("true"));
        assert_eq!(get("setup_future_usage"), None, "an off-session charge does not set the card up again");
        assert_eq!(get("metadata[checkout_id]"), Some("ichg_1"));
    }

    #[test]
    fn setup_intent_is_off_session_card_with_our_metadata() {
        let req = CreateSetup {
            idempotency_key: "set_1".into(),
            booking_reference: "AE-1".into(),
            setup_id: "set_1".into(),
            traveller_id: "T1".into(),
            customer_id: None,
            customer_email: Some("ada@example.com".into()),
        };
        assert_eq!(
            form_encode(&setup_intent_form(&req, "cus_1")),
            "customer=cus_1&usage=off_session&allowed_payment_method_types%5B0%5D=card&metadata%5Bbooking_reference%5D=AE-1\
&metadata%5Bsetup_id%5D=set_1&metadata%5Btraveller_id%5D=T1"
        );
    }

    #[test]
    fn form_encoding_is_stripe_bracket_notation() {
        let f = vec![("metadata[booking_reference]".to_string(), "AE-1 & co".to_string())];
        assert_eq!(form_encode(&f), "metadata%5Bbooking_reference%5D=AE-1+%26+co");
    }
}
