//! The relay (the `notification-relay` Lambda): `{"task": "relay"}` every minute, `{"task": "plan"}` daily.
//!
//! - **relay**: pending notices (the `MAILQ` partition of the `open_payments` index, oldest first) go to the
//!   mail queue, then off the index. A booking's updates (changes, new documents) wait until the booking has
//!   been quiet for `DIGEST_QUIET_SECONDS` (or the oldest has waited `DIGEST_MAX_HOLD_SECONDS`) and then go as
//!   one message: one digest email. A crash between the queue and the index only sends a message twice, which
//!   the mailer's send records absorb.
//! - **plan**: instalments falling due within the longest reminder offset (`OWED`: not approved) or the
//!   brands' pre-charge notice (`DUE`: approved) are read from the `due_instalments` index, per booking
//!   [`portal_notify::plan::plan`] decides which reminders are due, and each becomes a notice with a derived
//!   id (a second plan writes nothing). Then it relays.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use portal_domain::booking::BookingStatus;
use portal_domain::schedule::InstalmentStatus;
use portal_notify::{Content, Notice, NoticeKind, Recipient};
use portal_store::StoreError;
use portal_store::keys::{DUE_GSI2PK, OWED_GSI2PK};
use portal_store::notices::Pending;
use serde_json::{Value, json};

use crate::State;
use crate::mailer::{MAX_NOTICES_PER_MESSAGE, MailMessage};

/// Pending notices one run relays at most (the next run takes the rest).
pub const RELAY_BATCH: usize = 500;
/// Instalments one plan reads at most per partition.
pub const PLAN_BATCH: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("mail queue: {0}")]
    Queue(String),
    #[error("{0}")]
    Config(String),
}

pub async fn run(state: &State, payload: Value, now: DateTime<Utc>) -> Result<Value, RelayError> {
    match payload.get("task").and_then(Value::as_str).unwrap_or("relay") {
        "relay" => {
            let r = relay(state, now).await?;
            Ok(json!({"relayed": r.relayed, "messages": r.messages, "held": r.held}))
        }
        "plan" => {
            let planned = plan(state, now).await?;
            let r = relay(state, now).await?;
            Ok(json!({"planned": planned, "relayed": r.relayed, "messages": r.messages, "held": r.held}))
        }
        other => Err(RelayError::Config(format!("unknown task {other:?}: relay or plan"))),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relayed {
    /// Notices put on the queue.
    pub relayed: usize,
    pub messages: usize,
    /// Updates held back for a digest.
    pub held: usize,
}

/// The messages the pending notices make now: each notice alone, a booking's digested ones together once
/// the booking is quiet. Pure.
pub fn batch(
    pending: &[Pending],
    now: DateTime<Utc>,
    quiet: chrono::Duration,
    max_hold: chrono::Duration,
) -> (Vec<MailMessage>, usize) {
    let mut out = Vec::new();
    let mut digests: BTreeMap<&str, Vec<&Pending>> = BTreeMap::new();
    for p in pending {
        if p.kind.digested() {
            digests.entry(p.reference.as_str()).or_default().push(p);
        } else {
            out.push(MailMessage { reference: p.reference.clone(), notices: vec![p.notice_id.clone()] });
        }
    }
    let mut held = 0;
    for (reference, ps) in digests {
        let newest = ps.iter().map(|p| p.created_at).max().unwrap_or(now);
        let oldest = ps.iter().map(|p| p.created_at).min().unwrap_or(now);
        if now - newest >= quiet || now - oldest >= max_hold {
            for chunk in ps.chunks(MAX_NOTICES_PER_MESSAGE) {
                out.push(MailMessage {
                    reference: reference.to_string(),
                    notices: chunk.iter().map(|p| p.notice_id.clone()).collect(),
                });
            }
        } else {
            held += ps.len();
        }
    }
    (out, held)
}

pub async fn relay(state: &State, now: DateTime<Utc>) -> Result<Relayed, RelayError> {
    let queue = state.queue.as_ref().ok_or_else(|| RelayError::Config("MAIL_QUEUE_URL is not set".into()))?;
    let pending = state.store.pending_notices(RELAY_BATCH).await?;
    let (messages, held) = batch(&pending, now, state.digest_quiet, state.digest_max_hold);
    let mut r = Relayed { held, ..Relayed::default() };
    for m in &messages {
        let body = serde_json::to_string(m).map_err(|e| RelayError::Queue(e.to_string()))?;
        queue
            .client
            .send_message()
            .queue_url(&queue.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| RelayError::Queue(format!("SendMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(e))))?;
        for id in &m.notices {
            state.store.mark_relayed(&m.reference, id, now).await?;
        }
        r.relayed += m.notices.len();
        r.messages += 1;
    }
    if r.messages > 0 || held > 0 {
        tracing::info!(relayed = r.relayed, messages = r.messages, held, "notices relayed");
    }
    Ok(r)
}

/// Plan today's reminders and pre-charge notices; answers how many new notices were written.
pub async fn plan(state: &State, now: DateTime<Utc>) -> Result<usize, RelayError> {
    let today = now.date_naive();
    let longest = state.reminder_days.iter().copied().max().unwrap_or(0).max(14);
    let until = (today + chrono::Duration::days(i64::from(longest) + 1)).and_time(chrono::NaiveTime::MIN).and_utc();
    let mut references: Vec<String> = Vec::new();
    for partition in [OWED_GSI2PK, DUE_GSI2PK] {
        for e in state.store.instalments_until(partition, until, PLAN_BATCH).await? {
            if !references.contains(&e.reference) {
                references.push(e.reference);
            }
        }
    }
    let mut written = 0;
    for reference in references {
        let Some(c) = state.store.load_booking(&reference).await? else { continue };
        let b = &c.booking;
        if matches!(b.status, BookingStatus::Cancelled | BookingStatus::Completed) {
            continue;
        }
        let planned = portal_notify::plan::plan(
            &reference,
            &c.instalments,
            today,
            &state.reminder_days,
            state.brands.before_charge_days(&b.brand),
        );
        for p in planned {
            // Reminders go to the lead (who pays); a pre-charge notice to whoever approved the charge.
            let approver = p.lines.iter().find_map(|l| {
                c.instalments
                    .iter()
                    .find(|i| i.id == l.instalment_id && i.status == InstalmentStatus::Approved)
                    .and_then(|i| i.approval.as_ref())
                    .map(|a| a.approved_by.clone())
            });
            let who = match p.kind {
                NoticeKind::InstalmentDueSoon => approver.as_deref().and_then(|t| b.traveller(t)).or_else(|| b.lead()),
                _ => b.lead(),
            };
            let Some(t) = who.filter(|t| t.email.is_some()) else { continue };
            let content = match p.kind {
                NoticeKind::InstalmentDueSoon => Content::DueSoon { instalments: p.lines },
                _ => Content::Reminder { instalments: p.lines },
            };
            let notice = Notice {
                id: p.id,
                kind: p.kind,
                reference: reference.clone(),
                brand: b.brand.clone(),
                locale: b.locale.clone(),
                recipients: vec![Recipient {
                    traveller_id: t.id.clone(),
                    first_name: t.first_name.clone(),
                    email: t.email.clone().unwrap_or_default(),
                }],
                content,
                created_at: now,
            };
            if state.store.put_notice(notice).await? {
                written += 1;
            }
        }
    }
    if written > 0 {
        tracing::info!(written, "reminders planned");
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(reference: &str, id: &str, kind: NoticeKind, at: DateTime<Utc>) -> Pending {
        Pending { reference: reference.into(), notice_id: id.into(), kind, created_at: at }
    }

    #[test]
    fn updates_wait_for_a_quiet_booking() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z").unwrap().with_timezone(&Utc);
        let m = chrono::Duration::minutes;
        let pending = [
            p("A", "r1", NoticeKind::PaymentReceived, now - m(1)),
            p("A", "c1", NoticeKind::BookingChanged, now - m(30)),
            p("A", "d1", NoticeKind::DocumentsUpdated, now - m(2)),
            p("B", "c2", NoticeKind::BookingChanged, now - m(20)),
            p("C", "c3", NoticeKind::BookingChanged, now - m(70)),
            p("C", "c4", NoticeKind::BookingChanged, now - m(1)),
        ];
        let (msgs, held) = batch(&pending, now, m(10), m(60));
        assert_eq!(held, 2, "A's updates: the last one is 2 minutes old");
        assert_eq!(msgs[0], MailMessage { reference: "A".into(), notices: vec!["r1".into()] }, "receipts never wait");
        assert!(msgs.contains(&MailMessage { reference: "B".into(), notices: vec!["c2".into()] }));
        assert!(
            msgs.contains(&MailMessage { reference: "C".into(), notices: vec!["c3".into(), "c4".into()] }),
            "held an hour: sent although the operator is still pushing"
        );
        assert_eq!(msgs.len(), 3);
    }
}
