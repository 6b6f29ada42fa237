//! The mail outbox (issue 21; see `docs/notifications.md` and `docs/data-model.md`).
//!
//! - `NOTE#<REF> / N#<notice id>` (`notice`): one customer email to send, put (must not exist) in the same
//!   transaction as the change it tells about. While it waits for the relay it is on the `open_payments`
//!   index under its own partition `MAILQ` (sort key `<created>#<REF>#<kind>#<id>`: the relay groups and
//!   digests from the keys alone); relaying removes it from the index.
//! - `NOTE#<REF> / SENT#<notice id>#<traveller>` (`notice_send`): the send record of one recipient, claimed
//!   (conditional put) before SES is called: a redelivered or duplicated message finds it and sends nothing.
//! - `SUPPRESS#<sha256(email)> / ADDRESS` (`email_suppression`): an address that bounced or complained.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use portal_notify::{Category, Notice, NoticeKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::items::json_string;
use crate::store::{Item, Tx, from_item, to_item};
use crate::{Store, StoreError};

pub const ENTITY_NOTICE: &str = "notice";
pub const ENTITY_NOTICE_SEND: &str = "notice_send";
pub const ENTITY_SUPPRESSION: &str = "email_suppression";
/// The relay's partition of the `open_payments` index (gsi4): notices not yet on the mail queue.
pub const MAILQ_GSI4PK: &str = "MAILQ";
const SUPPRESSION_SK: &str = "ADDRESS";

pub fn notice_pk(reference: &str) -> String {
    format!("NOTE#{reference}")
}

pub fn notice_sk(id: &str) -> String {
    format!("N#{id}")
}

pub fn notice_send_sk(notice_id: &str, traveller_id: &str) -> String {
    format!("SENT#{notice_id}#{traveller_id}")
}

pub fn mailq_gsi4sk(created_at: DateTime<Utc>, reference: &str, kind: NoticeKind, id: &str) -> String {
    format!("{}#{reference}#{}#{id}", created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), kind.as_str())
}

pub fn suppression_pk(email: &str) -> String {
    format!("SUPPRESS#{}", hex::encode(Sha256::digest(email.trim().to_ascii_lowercase().as_bytes())))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub notice_id: String,
    pub kind: NoticeKind,
    #[serde(with = "json_string")]
    pub notice: Notice,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi4sk: Option<String>,
}

impl NoticeItem {
    /// A new notice, waiting for the relay.
    pub fn new(notice: Notice) -> NoticeItem {
        NoticeItem {
            pk: notice_pk(&notice.reference),
            sk: notice_sk(&notice.id),
            entity: ENTITY_NOTICE.into(),
            notice_id: notice.id.clone(),
            kind: notice.kind,
            created_at: notice.created_at,
            relayed_at: None,
            gsi4pk: Some(MAILQ_GSI4PK.into()),
            gsi4sk: Some(mailq_gsi4sk(notice.created_at, &notice.reference, notice.kind, &notice.id)),
            notice,
        }
    }
}

/// Put a notice into a transaction being assembled (it must not exist: its id is derived from the change).
pub fn stage_notice(tx: &mut Tx, table: &str, notice: Notice) -> Result<(), StoreError> {
    tx.put_new(table, &NoticeItem::new(notice))
}

/// What became of one recipient's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// Claimed: SES is being (or was, by a worker that stopped) asked to send it.
    Sending,
    Sent,
    /// Not sent on purpose (preference, suppression, no address): `reason` says which.
    Skipped,
    /// SES refused or could not be reached: the message is retried.
    Failed,
    /// A worker stopped between claiming and recording the answer: it may have gone out. Never resent.
    Unknown,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Sending => "sending",
            SendStatus::Sent => "sent",
            SendStatus::Skipped => "skipped",
            SendStatus::Failed => "failed",
            SendStatus::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub notice_id: String,
    pub traveller_id: String,
    /// `a***@example.com`: the operator view needs no more.
    pub to: String,
    pub status: SendStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ses_message_id: Option<String>,
    pub claimed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The outcome of claiming a recipient's send.
#[derive(Debug, Clone)]
pub enum SendClaim {
    /// Ours: send, then [`Store::finish_send`].
    Won(SendItem),
    /// Someone has it, or it is done: the current record.
    Taken(SendItem),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuppressionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    /// Lower-cased address (the operator's own data: it is on the booking).
    pub email: String,
    /// `bounce` or `complaint`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub events: u32,
}

/// A pending notice as the relay sees it (from the index keys alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub reference: String,
    pub notice_id: String,
    pub kind: NoticeKind,
    pub created_at: DateTime<Utc>,
}

/// Parse a `MAILQ` sort key back (`None`: not one of ours).
pub fn parse_mailq(gsi4sk: &str) -> Option<Pending> {
    let mut parts = gsi4sk.splitn(4, '#');
    let at = DateTime::parse_from_rfc3339(parts.next()?).ok()?.with_timezone(&Utc);
    let reference = parts.next()?.to_string();
    let kind: NoticeKind = serde_json::from_value(serde_json::Value::String(parts.next()?.to_string())).ok()?;
    let notice_id = parts.next()?.to_string();
    Some(Pending { reference, notice_id, kind, created_at: at })
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn when(t: DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Tries of [`Store::claim_send`] before it gives up on a record that keeps changing under it.
const MAX_CLAIM_ATTEMPTS: usize = 4;

fn conditional_failed<E: std::fmt::Debug>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool {
    format!("{e:?}").contains("ConditionalCheckFailed")
}

impl Store {
    /// Notices waiting for the relay, oldest first (at most `limit`).
    pub async fn pending_notices(&self, limit: usize) -> Result<Vec<Pending>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(crate::tables::INDEX_OPEN_PAYMENTS)
                .key_condition_expression("gsi4pk = :q")
                .expression_attribute_values(":q", s(MAILQ_GSI4PK))
                .set_exclusive_start_key(start.take())
                .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
                .send()
                .await
                .map_err(StoreError::aws)?;
            for item in page.items.unwrap_or_default() {
                if let Some(p) = item.get("gsi4sk").and_then(|v| v.as_s().ok()).and_then(|k| parse_mailq(k)) {
                    out.push(p);
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

    /// Take a notice off the relay's index (it is on the mail queue). `Ok(false)`: already taken.
    pub async fn mark_relayed(&self, reference: &str, notice_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(&notice_pk(reference)))
            .key("sk", s(&notice_sk(notice_id)))
            .update_expression("REMOVE gsi4pk, gsi4sk SET relayed_at = :now")
            .condition_expression("attribute_exists(gsi4pk)")
            .expression_attribute_values(":now", when(now))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    pub async fn notice(&self, reference: &str, notice_id: &str) -> Result<Option<NoticeItem>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", s(&notice_pk(reference)))
            .key("sk", s(&notice_sk(notice_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item.filter(|i| !i.is_empty()).map(from_item).transpose()
    }

    /// Put a notice on its own (the daily planner's reminders). `Ok(false)`: it exists already.
    pub async fn put_notice(&self, notice: Notice) -> Result<bool, StoreError> {
        let res = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&NoticeItem::new(notice))?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Every notice of a booking and every send record, newest notice first.
    pub async fn notices_of(&self, reference: &str) -> Result<(Vec<NoticeItem>, Vec<SendItem>), StoreError> {
        let mut notices = Vec::new();
        let mut sends = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(&notice_pk(reference)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::aws)?;
            for item in page.items.unwrap_or_default() {
                match item.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) {
                    Some(ENTITY_NOTICE) => notices.push(from_item::<NoticeItem>(item)?),
                    Some(ENTITY_NOTICE_SEND) => sends.push(from_item::<SendItem>(item)?),
                    _ => {}
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        notices.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.notice_id.cmp(&b.notice_id)));
        Ok((notices, sends))
    }

    /// Claim one recipient's send: new, or a `failed` one (retried). Anything else is [`SendClaim::Taken`].
    pub async fn claim_send(
        &self,
        reference: &str,
        notice_id: &str,
        traveller_id: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<SendClaim, StoreError> {
        let sk = notice_send_sk(notice_id, traveller_id);
        // One conditional put in the usual cases (a first send; a duplicate, whose record the refusal returns):
        // expect no record; when the refusal shows a failed one, expect it with its attempt count, so two
        // workers racing for a retry cannot both win.
        let mut expect_failed: Option<u32> = None;
        for _ in 0..MAX_CLAIM_ATTEMPTS {
            let item = SendItem {
                pk: notice_pk(reference),
                sk: sk.clone(),
                entity: ENTITY_NOTICE_SEND.into(),
                notice_id: notice_id.into(),
                traveller_id: traveller_id.into(),
                to: to.into(),
                status: SendStatus::Sending,
                reason: None,
                attempts: expect_failed.unwrap_or(0) + 1,
                ses_message_id: None,
                claimed_at: now,
                updated_at: now,
            };
            let put = self
                .client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(to_item(&item)?))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
            let put = match expect_failed {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(attempts) => put
                    .condition_expression("#status = :failed AND attempts = :attempts")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":failed", s(SendStatus::Failed.as_str()))
                    .expression_attribute_values(":attempts", AttributeValue::N(attempts.to_string())),
            };
            let err = match put.send().await {
                Ok(_) => return Ok(SendClaim::Won(item)),
                Err(e) => e,
            };
            let refused = match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => c.item.clone(),
                _ => return Err(StoreError::aws(err)),
            };
            match refused.filter(|i| !i.is_empty()).map(from_item::<SendItem>).transpose()? {
                Some(there) if there.status == SendStatus::Failed => expect_failed = Some(there.attempts),
                Some(there) => return Ok(SendClaim::Taken(there)),
                // Expected a failed record that is gone (never deleted by the portal): start again as new.
                None => expect_failed = None,
            }
        }
        Err(StoreError::Conflict("the send record kept changing".into()))
    }

    /// Record a claimed send's end (only from `sending`: a record marked otherwise meanwhile stays as it is).
    pub async fn finish_send(
        &self,
        claimed: &SendItem,
        status: SendStatus,
        reason: Option<&str>,
        ses_message_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut item = claimed.clone();
        item.status = status;
        item.reason = reason.map(str::to_string);
        item.ses_message_id = ses_message_id.map(str::to_string);
        item.updated_at = now;
        let res = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&item)?))
            .condition_expression("#status = :sending AND claimed_at = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sending", s(SendStatus::Sending.as_str()))
            .expression_attribute_values(":claimed", to_attr(&claimed.claimed_at)?)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Record a skipped recipient (preference, suppression): only when nothing is recorded yet.
    pub async fn skip_send(
        &self,
        reference: &str,
        notice_id: &str,
        traveller_id: &str,
        to: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let item = SendItem {
            pk: notice_pk(reference),
            sk: notice_send_sk(notice_id, traveller_id),
            entity: ENTITY_NOTICE_SEND.into(),
            notice_id: notice_id.into(),
            traveller_id: traveller_id.into(),
            to: to.into(),
            status: SendStatus::Skipped,
            reason: Some(reason.into()),
            attempts: 0,
            ses_message_id: None,
            claimed_at: now,
            updated_at: now,
        };
        let res = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Ok(()),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Mark a `sending` record whose worker stopped as `unknown` (it may have gone out: never resent).
    pub async fn abandon_send(&self, stale: &SendItem, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.finish_send(stale, SendStatus::Unknown, Some("worker stopped before SES answered"), None, now).await
    }

    pub async fn suppression(&self, email: &str) -> Result<Option<SuppressionItem>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", s(&suppression_pk(email)))
            .key("sk", s(SUPPRESSION_SK))
            .send()
            .await
            .map_err(StoreError::aws)?;
        out.item.filter(|i| !i.is_empty()).map(from_item).transpose()
    }

    /// Record a bounce or complaint of an address (a complaint is never downgraded to a bounce).
    pub async fn record_suppression(
        &self,
        email: &str,
        reason: &str,
        detail: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let email = email.trim().to_ascii_lowercase();
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":entity".into(), s(ENTITY_SUPPRESSION)),
            (":email".into(), s(&email)),
            (":reason".into(), s(reason)),
            (":at".into(), when(at)),
            (":one".into(), AttributeValue::N("1".into())),
            (":complaint".into(), s("complaint")),
        ]);
        let mut expr = "SET entity = :entity, email = :email, #at = :at, \
                        #reason = if_not_exists(#reason, :reason)"
            .to_string();
        if reason == "complaint" {
            expr = "SET entity = :entity, email = :email, #at = :at, #reason = :complaint".into();
        }
        if let Some(d) = detail {
            expr.push_str(", detail = :detail");
            values.insert(":detail".into(), s(&d.chars().take(300).collect::<String>()));
        }
        expr.push_str(" ADD events :one");
        if reason != "complaint" {
            values.remove(":complaint");
        }
        self.client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(&suppression_pk(&email)))
            .key("sk", s(SUPPRESSION_SK))
            .update_expression(expr)
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#reason", "reason")
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(StoreError::aws)?;
        Ok(())
    }
}

fn to_attr<T: Serialize>(v: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The category a notice's recipients are judged by.
pub fn category_of(item: &NoticeItem) -> Category {
    item.kind.category()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailq_keys_round_trip() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T10:00:00.123456Z").unwrap().with_timezone(&Utc);
        let k = mailq_gsi4sk(at, "AE-10001", NoticeKind::BookingChanged, "ntc_abc");
        assert_eq!(k, "2026-12-07T10:00:00.123456Z#AE-10001#booking_changed#ntc_abc");
        let p = parse_mailq(&k).unwrap();
        assert_eq!(p.reference, "AE-10001");
        assert_eq!(p.kind, NoticeKind::BookingChanged);
        assert_eq!(p.notice_id, "ntc_abc");
        assert_eq!(p.created_at, at);
        assert!(parse_mailq("nonsense").is_none());
        assert_eq!(suppression_pk(" Ada@Example.com"), suppression_pk("ada@example.com"));
    }
}
