//! Items and writes of the payment flows (checkout and gateway webhooks). See `docs/payments.md`.
//!
//! | entity | pk | sk | what |
//! |---|---|---|---|
//! | `idempotency` | `IDEM#<scope>#<key>` | `IDEM` | a checkout request: `pending` while one caller talks to the gateway (lease), then `done` with the stored answer; TTL 24 h |
//! | `webhook_event` | `WHEVT#<event id>` | `WHEVT` | a gateway event: `pending` (lease) while one delivery records it, `done` in the same transaction as the ledger change; TTL 30 days |
//! | `checkout_intent` | `B#<REF>` | `CHECKOUT#<checkout id>` | what a checkout is for (amount, instalments, traveller, payer, method, gateway payment id, status) |
//! | `gateway_payment` | `GWPAY#<payment id>` | `GWPAY` | gateway payment id → booking, for events that carry no metadata (disputes) |
//! | `payment_method` | `B#<REF>` | `PAYMETHOD#<id>` | a card saved with `setup_future_usage` (gateway customer + payment method, brand, last four) |
//! | `excess_refund` | `B#<REF>` | `EXCESS#<payment or failed refund id>` | money a payment brought beyond what is owed: `due` (indexed in `open_payments`), then `requested` with the gateway's refund id |
//! | `payment_lock` | `PAYLOCK#<REF>` | `PAYLOCK` | held (30 s lease) while one checkout of the booking looks for open payments and creates its own |

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use portal_domain::ledger::Movement;
use portal_domain::money::Money;
use portal_domain::payment::{Debt, ExcessReason, Purpose};
use serde::{Deserialize, Serialize};

use crate::items::{Aggregate, MovementItem, OutboxItem};
use crate::store::{StoreError, Tx, from_item, to_item};
use crate::{Store, keys};

pub const ENTITY_IDEMPOTENCY: &str = "idempotency";
pub const ENTITY_WEBHOOK_EVENT: &str = "webhook_event";
pub const ENTITY_CHECKOUT_INTENT: &str = "checkout_intent";
pub const ENTITY_GATEWAY_PAYMENT: &str = "gateway_payment";
pub const ENTITY_PAYMENT_METHOD: &str = "payment_method";
pub const ENTITY_PAYMENT_LOCK: &str = "payment_lock";
pub const ENTITY_EXCESS_REFUND: &str = "excess_refund";
pub const PREFIX_EXCESS: &str = "EXCESS#";

pub const SK_IDEM: &str = "IDEM";
pub const SK_WHEVT: &str = "WHEVT";
pub const SK_GWPAY: &str = "GWPAY";
pub const SK_PAYLOCK: &str = "PAYLOCK";
pub const PREFIX_CHECKOUT: &str = "CHECKOUT#";
pub const PREFIX_PAYMENT_METHOD: &str = "PAYMETHOD#";

pub const STATE_PENDING: &str = "pending";
pub const STATE_DONE: &str = "done";

pub fn webhook_event_pk(event_id: &str) -> String {
    format!("WHEVT#{event_id}")
}

pub fn gateway_payment_pk(payment_id: &str) -> String {
    format!("GWPAY#{payment_id}")
}

pub fn checkout_sk(checkout_id: &str) -> String {
    format!("{PREFIX_CHECKOUT}{checkout_id}")
}

pub fn payment_method_sk(id: &str) -> String {
    format!("{PREFIX_PAYMENT_METHOD}{id}")
}

/// A claimed unit of work: an idempotent request or a gateway event. Whoever writes it first (or takes over
/// a lease that ran out: the holder crashed) does the work; everyone else replays or waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub state: String,
    pub claim: String,
    pub claimed_epoch: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    pub expires_at: i64,
}

impl ClaimItem {
    pub fn idempotency(scope: &str, key: &str, request_hash: &str, now: DateTime<Utc>) -> ClaimItem {
        ClaimItem {
            pk: keys::idempotency_pk(scope, key),
            sk: SK_IDEM.into(),
            entity: ENTITY_IDEMPOTENCY.into(),
            state: STATE_PENDING.into(),
            claim: uuid::Uuid::new_v4().simple().to_string(),
            claimed_epoch: now.timestamp(),
            request_hash: Some(request_hash.into()),
            reference: None,
            event_type: None,
            response_status: None,
            response_body: None,
            expires_at: now.timestamp() + 24 * 3600,
        }
    }

    pub fn webhook_event(event_id: &str, event_type: &str, now: DateTime<Utc>) -> ClaimItem {
        ClaimItem {
            pk: webhook_event_pk(event_id),
            sk: SK_WHEVT.into(),
            entity: ENTITY_WEBHOOK_EVENT.into(),
            state: STATE_PENDING.into(),
            claim: uuid::Uuid::new_v4().simple().to_string(),
            claimed_epoch: now.timestamp(),
            request_hash: None,
            reference: None,
            event_type: Some(event_type.chars().take(64).collect()),
            response_status: None,
            response_body: None,
            expires_at: now.timestamp() + 30 * 24 * 3600,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == STATE_DONE
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// We hold the claim (a new one, or a takeover of a lapsed lease).
    Won(ClaimItem),
    /// Someone else's claim, pending or done.
    Taken(ClaimItem),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutIntentItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub checkout_id: String,
    pub amount: Money,
    pub method: String,
    #[serde(default)]
    pub instalment_ids: Vec<String>,
    #[serde(default)]
    pub traveller_id: Option<String>,
    pub payer_traveller_id: String,
    pub gateway: String,
    pub gateway_payment_id: String,
    pub movement_id: String,
    pub save_card: bool,
    /// `created`, `processing`, `failed` (declined; the customer may try again on it), `succeeded`, or
    /// `cancelled` (superseded, expired, or its debt changed: cancelled at the gateway).
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What it is for (`None`: written before purposes were kept; treated as overlapping everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// The answer a second, identical checkout gets while this one is open (the same client secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// `open_payments` index (sparse): present while the payment can still take money (`created`, `failed`,
    /// `processing`), so the reconciler finds the ones whose webhook never came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4sk: Option<String>,
}

/// Statuses of a checkout intent that can still take money.
pub const OPEN_STATUSES: [&str; 3] = ["created", "failed", "processing"];

impl CheckoutIntentItem {
    /// Can still take money: open at the gateway.
    pub fn is_open(&self) -> bool {
        OPEN_STATUSES.contains(&self.status.as_str())
    }

    /// Open and not yet moving money, so it can be cancelled (Stripe cancels `requires_payment_method`; a
    /// `processing` payment is on its way and cannot be).
    pub fn is_cancellable(&self) -> bool {
        matches!(self.status.as_str(), "created" | "failed")
    }

    pub fn debt(&self) -> Debt<'_> {
        Debt { purpose: self.purpose, instalment_ids: &self.instalment_ids, traveller_id: self.traveller_id.as_deref() }
    }

    /// The same intent in `status`, its `open_payments` index entry kept in step.
    pub fn with_status(&self, status: &str, now: DateTime<Utc>) -> CheckoutIntentItem {
        let mut next = self.clone();
        next.status = status.into();
        next.updated_at = now;
        next.index_open();
        next
    }

    /// Set (open) or clear (closed) the `open_payments` index entry from the status.
    pub fn index_open(&mut self) {
        let reference = self.pk.strip_prefix(keys::PREFIX_BOOKING_PK).unwrap_or(&self.pk).to_string();
        if self.is_open() {
            self.gsi4pk = Some(keys::OPEN_GSI4PK.into());
            self.gsi4sk = Some(keys::open_gsi4sk(self.created_at, &reference, &self.checkout_id));
        } else {
            self.gsi4pk = None;
            self.gsi4sk = None;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayPaymentItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub reference: String,
    pub checkout_id: String,
}

impl GatewayPaymentItem {
    pub fn new(payment_id: &str, reference: &str, checkout_id: &str) -> GatewayPaymentItem {
        GatewayPaymentItem {
            pk: gateway_payment_pk(payment_id),
            sk: SK_GWPAY.into(),
            entity: ENTITY_GATEWAY_PAYMENT.into(),
            reference: reference.into(),
            checkout_id: checkout_id.into(),
        }
    }
}

/// A card saved for off-session charges. Only the brand and last four digits: never a card number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethodItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub gateway: String,
    pub customer_id: String,
    pub payment_method_id: String,
    pub brand: String,
    pub last4: String,
    #[serde(default)]
    pub traveller_id: Option<String>,
    pub checkout_id: String,
    pub saved_at: DateTime<Utc>,
}

pub fn excess_sk(payment_id: &str) -> String {
    format!("{PREFIX_EXCESS}{payment_id}")
}

/// Money a payment brought beyond what the booking costs (or after it was cancelled), to give back: written
/// `due` in the same transaction as the payment, `requested` once the gateway accepted the refund (its id then
/// links the ledger's refund movements). Indexed in `open_payments` while `due`, so the reconciler retries a
/// refund the webhook function could not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcessRefundItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub payment_id: String,
    pub amount: Money,
    pub reason: ExcessReason,
    /// `due` or `requested`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// Who paid: the one the refund email goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_traveller_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4sk: Option<String>,
}

impl ExcessRefundItem {
    /// `source`: what made the money excess, naming the item: the payment that overpaid (its id), or a refund
    /// that failed and so put money back (the refund's id). `payment_id`: the payment refunded from.
    #[allow(clippy::too_many_arguments)]
    pub fn due(
        reference: &str,
        source: &str,
        payment_id: &str,
        amount: Money,
        reason: ExcessReason,
        payer_traveller_id: Option<String>,
        now: DateTime<Utc>,
    ) -> ExcessRefundItem {
        ExcessRefundItem {
            pk: keys::booking_pk(reference),
            sk: excess_sk(source),
            entity: ENTITY_EXCESS_REFUND.into(),
            payment_id: payment_id.into(),
            amount,
            reason,
            status: "due".into(),
            refund_id: None,
            payer_traveller_id,
            created_at: now,
            updated_at: now,
            gsi4pk: Some(keys::OPEN_GSI4PK.into()),
            gsi4sk: Some(keys::open_gsi4sk(now, reference, &excess_sk(source))),
        }
    }

    /// The gateway accepted refund `refund_id`: no longer waiting.
    pub fn requested(&self, refund_id: &str, now: DateTime<Utc>) -> ExcessRefundItem {
        ExcessRefundItem {
            status: "requested".into(),
            refund_id: Some(refund_id.into()),
            updated_at: now,
            gsi4pk: None,
            gsi4sk: None,
            ..self.clone()
        }
    }

    /// The refund's idempotency key at the gateway: one per source (the overpaying payment, or the failed
    /// refund), however often it is asked.
    pub fn idempotency_key(&self) -> String {
        format!("excess-refund-{}", self.sk.strip_prefix(PREFIX_EXCESS).unwrap_or(&self.sk))
    }
}

/// Everything one gateway event changes, written in one conditional `TransactWriteItems`.
#[derive(Debug, Clone)]
pub struct Recording {
    pub reference: String,
    /// The event's claim, written `done` (condition: still our claim).
    pub done: ClaimItem,
    /// `Some((read version, new aggregate))` when the ledger changes: the booking's version is bumped
    /// conditionally on the version the change was computed from.
    pub booking: Option<(u64, Aggregate)>,
    pub movements: Vec<Movement>,
    pub events: Vec<portal_domain::events::LedgerEvent>,
    /// The checkout intent's new state, conditional on the status it was read with.
    pub intent: Option<(CheckoutIntentItem, String)>,
    pub saved_method: Option<PaymentMethodItem>,
    /// Instalments whose collection state the event moves (an off-session instalment charge paid or declined);
    /// serialised by the booking's version condition, so `booking` is `Some` whenever this is not empty.
    pub instalments: Vec<portal_domain::schedule::Instalment>,
    /// Money this payment brought beyond what is owed, to refund (written once: condition not exists).
    pub excess: Option<ExcessRefundItem>,
    /// Customer emails this event causes (the receipt, a decline, a refund), put into the mail outbox.
    pub notices: Vec<portal_notify::Notice>,
    pub now: DateTime<Utc>,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn attr<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    async fn get_claim(&self, pk: &str, sk: &str) -> Result<Option<ClaimItem>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item.map(from_item).transpose()
    }

    pub async fn get_idempotency(&self, scope: &str, key: &str) -> Result<Option<ClaimItem>, StoreError> {
        self.get_claim(&keys::idempotency_pk(scope, key), SK_IDEM).await
    }

    pub async fn get_webhook_event(&self, event_id: &str) -> Result<Option<ClaimItem>, StoreError> {
        self.get_claim(&webhook_event_pk(event_id), SK_WHEVT).await
    }

    /// Write `item` unless someone holds a live claim on it: one conditional `PutItem`. A pending claim older
    /// than `lease_seconds` is taken over (its holder crashed); a done one never is.
    pub async fn claim(&self, item: &ClaimItem, lease_seconds: i64) -> Result<Claim, StoreError> {
        for _ in 0..3 {
            let res = self
                .client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(to_item(item)?))
                .condition_expression("attribute_not_exists(pk) OR (#state = :pending AND claimed_epoch < :stale)")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":pending", s(STATE_PENDING))
                .expression_attribute_values(":stale", n(item.claimed_epoch - lease_seconds))
                .send()
                .await;
            match res {
                Ok(_) => return Ok(Claim::Won(item.clone())),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
                {
                    if let Some(existing) = self.get_claim(&item.pk, &item.sk).await? {
                        return Ok(Claim::Taken(existing));
                    }
                    // It expired between the two calls: try again.
                }
                Err(e) => return Err(StoreError::aws(e)),
            }
        }
        Err(StoreError::Conflict("claim keeps changing".into()))
    }

    /// Give a claim back (the work failed and nothing was written), so a retry can take it at once.
    pub async fn release(&self, item: &ClaimItem) -> Result<(), StoreError> {
        let res = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key("pk", s(&item.pk))
            .key("sk", s(&item.sk))
            .condition_expression("claim = :claim AND #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claim", s(&item.claim))
            .expression_attribute_values(":pending", s(STATE_PENDING))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(()),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Stage `done` (our claim, now finished) with the condition that we still hold it.
    pub fn stage_claim_done(&self, tx: &mut Tx, done: &ClaimItem) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(to_item(done)?))
            .condition_expression("claim = :claim AND #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":claim", s(&done.claim))
            .expression_attribute_values(":pending", s(STATE_PENDING))
            .build()
            .map_err(StoreError::aws)?;
        tx.push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    pub async fn gateway_payment(&self, payment_id: &str) -> Result<Option<GatewayPaymentItem>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", s(&gateway_payment_pk(payment_id)))
            .key("sk", s(SK_GWPAY))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item.map(from_item).transpose()
    }

    /// The checkout's answer: the idempotency record `done` with the response, the intent, the pointer from
    /// the gateway payment to the booking, and the intents it superseded (now `cancelled`, each conditional on
    /// the status it was read with, so a payment that succeeded meanwhile is never overwritten), in one
    /// transaction. `intent` is `None` when the answer is an open intent given again.
    pub async fn complete_checkout(
        &self,
        done: &ClaimItem,
        intent: Option<(&CheckoutIntentItem, &GatewayPaymentItem)>,
        superseded: &[(CheckoutIntentItem, String)],
    ) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        self.stage_claim_done(&mut tx, done)?;
        if let Some((intent, pointer)) = intent {
            tx.put_any(self.table(), intent)?;
            tx.put_any(self.table(), pointer)?;
        }
        for (item, read_status) in superseded {
            self.stage_intent(&mut tx, item, read_status)?;
        }
        self.commit(tx).await
    }

    fn stage_intent(&self, tx: &mut Tx, intent: &CheckoutIntentItem, read_status: &str) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(to_item(intent)?))
            .condition_expression("#status = :read")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":read", s(read_status))
            .build()
            .map_err(StoreError::aws)?;
        tx.push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }

    /// Write an intent's new status, conditional on the one it was read with (`Conflict` if it moved).
    pub async fn update_intent(&self, intent: &CheckoutIntentItem, read_status: &str) -> Result<(), StoreError> {
        let mut tx = Tx::default();
        self.stage_intent(&mut tx, intent, read_status)?;
        self.commit(tx).await
    }

    /// Take the booking's payment lock (serialises checkout creation, so two checkouts never both find no
    /// open payment and both create one). `None`: someone else holds it. A holder that crashed loses it after
    /// `lease_seconds`. Give it back with [`Store::release`].
    pub async fn lock_payments(
        &self,
        reference: &str,
        now: DateTime<Utc>,
        lease_seconds: i64,
    ) -> Result<Option<ClaimItem>, StoreError> {
        let item = ClaimItem {
            pk: keys::payment_lock_pk(reference),
            sk: SK_PAYLOCK.into(),
            entity: ENTITY_PAYMENT_LOCK.into(),
            state: STATE_PENDING.into(),
            claim: uuid::Uuid::new_v4().simple().to_string(),
            claimed_epoch: now.timestamp(),
            request_hash: None,
            reference: Some(reference.into()),
            event_type: None,
            response_status: None,
            response_body: None,
            expires_at: now.timestamp() + 3600,
        };
        match self.claim(&item, lease_seconds).await? {
            Claim::Won(c) => Ok(Some(c)),
            Claim::Taken(_) => Ok(None),
        }
    }

    /// Open checkout intents and due excess refunds created before `before`, oldest first: `(reference, sort
    /// key)` (`CHECKOUT#<checkout id>` or `EXCESS#<payment id>`).
    pub async fn open_payments(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let bound = before.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(crate::tables::INDEX_OPEN_PAYMENTS)
                .key_condition_expression("gsi4pk = :open AND gsi4sk < :bound")
                .expression_attribute_values(":open", s(keys::OPEN_GSI4PK))
                .expression_attribute_values(":bound", s(&bound))
                .set_exclusive_start_key(start.take())
                .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                .send()
                .await
                .map_err(StoreError::aws)?;
            for item in page.items.unwrap_or_default() {
                let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                let (Some(pk), Some(sk)) = (get("pk"), get("sk")) else { continue };
                if let Some(r) = pk.strip_prefix(keys::PREFIX_BOOKING_PK)
                    && (sk.starts_with(PREFIX_CHECKOUT) || sk.starts_with(PREFIX_EXCESS))
                {
                    out.push((r.to_string(), sk));
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() && out.len() < limit => start = Some(k),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// Record one gateway event: movements, outbox events, the booking's version and aggregate, the intent,
    /// a saved card and the event's `done` marker, all or nothing.
    pub async fn record(&self, r: &Recording) -> Result<(), StoreError> {
        let table = self.table();
        let mut tx = Tx::default();
        self.stage_claim_done(&mut tx, &r.done)?;
        if let Some((version, aggregate)) = &r.booking {
            let update = Update::builder()
                .table_name(table)
                .key("pk", s(&keys::booking_pk(&r.reference)))
                .key("sk", s(keys::SK_BOOKING))
                .update_expression("SET #version = :new, #aggregate = :aggregate, #updated_at = :now")
                .condition_expression("#version = :old")
                .expression_attribute_names("#version", "version")
                .expression_attribute_names("#aggregate", "aggregate")
                .expression_attribute_names("#updated_at", "updated_at")
                .expression_attribute_values(":old", n(*version as i64))
                .expression_attribute_values(":new", n(*version as i64 + 1))
                .expression_attribute_values(":aggregate", attr(aggregate)?)
                .expression_attribute_values(":now", attr(&r.now)?)
                .build()
                .map_err(StoreError::aws)?;
            tx.push(TransactWriteItem::builder().update(update).build());
        }
        for m in &r.movements {
            tx.put_new(table, &MovementItem::new(&r.reference, m.clone()))?;
        }
        for e in &r.events {
            tx.put_new(table, &OutboxItem::new(e.clone()))?;
        }
        if let Some((intent, read_status)) = &r.intent {
            self.stage_intent(&mut tx, intent, read_status)?;
        }
        if let Some(pm) = &r.saved_method {
            tx.put_any(table, pm)?;
        }
        for i in &r.instalments {
            tx.put_any(table, &crate::items::InstalmentItem::new(&r.reference, i.clone()))?;
        }
        if let Some(x) = &r.excess {
            tx.put_new(table, x)?;
        }
        for n in &r.notices {
            crate::notices::stage_notice(&mut tx, table, n.clone())?;
        }
        self.commit(tx).await
    }

    /// Mark an excess refund `requested` (condition: still `due`). `Ok(false)`: someone else did first.
    /// Mark an excess refund `requested` (condition: still `due`) and put the customer's refund email into
    /// the mail outbox with it. `Ok(false)`: someone else did first (and told the customer).
    pub async fn excess_requested(
        &self,
        item: &ExcessRefundItem,
        notice: Option<portal_notify::Notice>,
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::default();
        tx.put_if(self.table(), to_item(item)?, "#status = :due", &[("#status", "status")], &[(":due", s("due"))])?;
        if let Some(n) = notice {
            crate::notices::stage_notice(&mut tx, self.table(), n)?;
        }
        match self.commit_naming_failures(tx).await? {
            Ok(()) => Ok(true),
            Err(failed) if failed.contains(&0) => Ok(false),
            Err(_) => Err(StoreError::Conflict("excess refund: a concurrent writer".into())),
        }
    }
}

/// The checkout intents and saved cards among a booking collection's other items.
pub fn intents(c: &crate::BookingCollection) -> Vec<CheckoutIntentItem> {
    of_entity(c, ENTITY_CHECKOUT_INTENT)
}

pub fn excess_refunds(c: &crate::BookingCollection) -> Vec<ExcessRefundItem> {
    of_entity(c, ENTITY_EXCESS_REFUND)
}

pub fn saved_methods(c: &crate::BookingCollection) -> Vec<PaymentMethodItem> {
    of_entity(c, ENTITY_PAYMENT_METHOD)
}

fn of_entity<T: serde::de::DeserializeOwned>(c: &crate::BookingCollection, entity: &str) -> Vec<T> {
    c.other
        .iter()
        .filter(|i| i.get("entity").and_then(|v| v.as_s().ok()).is_some_and(|e| e == entity))
        .filter_map(|i| from_item(i.clone()).ok())
        .collect()
}
