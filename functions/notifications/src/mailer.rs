//! The mailer: an SQS consumer of the mail queue (relayed notices) and of the SES events queue (bounces and
//! complaints, [`crate::ses_events`]).
//!
//! Per notice and recipient, in this order:
//! 1. optional ones (updates, reminders) are skipped, and recorded so, when the traveller turned them off or
//!    the address bounced or complained; a reminder whose instalments were paid or approved meanwhile too;
//! 2. the send record is claimed (a conditional put): one that exists already (`sent`, `skipped`,
//!    `unknown`) means this is a redelivery and nothing is sent; one `sending` for longer than
//!    [`SEND_LEASE_SECONDS`] belonged to a worker that stopped mid-send and becomes `unknown` (never resent);
//! 3. SES is called once for the recipient (a digest: once for all its claimed notices);
//! 4. the record becomes `sent`, or `failed` when SES refused (the message is reported failed: SQS
//!    delivers it again, and the retry claims the `failed` record again), or `unknown` when no answer came.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use portal_domain::locale::Locale;
use portal_domain::schedule::InstalmentStatus;
use portal_mail::Email;
use portal_notify::emails::{self, Ctx};
use portal_notify::unsubscribe::Unsubscribe;
use portal_notify::{Content, DueLine, NoticeKind, Recipient};
use portal_store::notices::{NoticeItem, SendClaim, SendItem, SendStatus};
use portal_store::requests::preferences_item;
use portal_store::{BookingCollection, StoreError};
use serde::{Deserialize, Serialize};

use crate::State;

/// A send claimed longer ago than this without an answer belongs to a worker that stopped.
pub const SEND_LEASE_SECONDS: i64 = 300;
/// Notices one message may name (a digest of a busy booking stays well under it).
pub const MAX_NOTICES_PER_MESSAGE: usize = 50;

/// What the relay puts on the mail queue: notices of one booking, sent together when they are digested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    pub reference: String,
    pub notices: Vec<String>,
}

/// What one message came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub skipped: usize,
    /// Already handled by an earlier delivery of the same notice.
    pub duplicate: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("SES refused or unreachable: {0}")]
    Ses(String),
    #[error("another worker is sending notice {0}")]
    InFlight(String),
}

/// The SQS batch: messages that failed (store or SES trouble) are reported for redelivery.
pub async fn consume(state: &State, event: SqsEvent, now: DateTime<Utc>) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        let result = if let Ok(msg) = serde_json::from_str::<MailMessage>(body) {
            deliver(state, &msg, now).await.map(|d| {
                tracing::info!(message_id = %id, reference = %msg.reference, sent = d.sent, skipped = d.skipped, duplicate = d.duplicate, "mail message handled");
            })
        } else if let Some(events) = crate::ses_events::parse(body) {
            crate::ses_events::record_events(state, &events).await.map_err(MailError::from)
        } else {
            tracing::warn!(message_id = %id, "neither a mail message nor an SES event; dropped");
            Ok(())
        };
        if let Err(e) = result {
            tracing::error!(message_id = %id, error = %e, "mail message failed; will retry");
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            failures.push(f);
        }
    }
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    resp
}

/// One message: its notices, per recipient (digested ones merged into one email per recipient).
pub async fn deliver(state: &State, msg: &MailMessage, now: DateTime<Utc>) -> Result<Delivered, MailError> {
    let mut items: Vec<NoticeItem> = Vec::new();
    for id in msg.notices.iter().take(MAX_NOTICES_PER_MESSAGE) {
        if items.iter().any(|n| &n.notice_id == id) {
            continue;
        }
        match state.store.notice(&msg.reference, id).await? {
            Some(n) => items.push(n),
            None => tracing::warn!(reference = %msg.reference, notice = %id, "notice not found; dropped"),
        }
    }
    let mut out = Delivered::default();
    if items.is_empty() {
        return Ok(out);
    }
    items.sort_by_key(|a| a.created_at);
    let c = state.store.load_booking(&msg.reference).await?;
    let (digested, single): (Vec<&NoticeItem>, Vec<&NoticeItem>) = items.iter().partition(|n| n.kind.digested());
    let mut first_error: Option<MailError> = None;
    let mut note = |r: Result<Delivered, MailError>, out: &mut Delivered| match r {
        Ok(d) => {
            out.sent += d.sent;
            out.skipped += d.skipped;
            out.duplicate += d.duplicate;
        }
        Err(e) => {
            tracing::error!(reference = %msg.reference, error = %e, "notice email failed");
            first_error.get_or_insert(e);
        }
    };
    for n in &single {
        for r in &n.notice.recipients {
            note(send_one(state, c.as_ref(), std::slice::from_ref(n), r, now).await, &mut out);
        }
    }
    let mut recipients: Vec<&Recipient> = Vec::new();
    for n in &digested {
        for r in &n.notice.recipients {
            if !recipients.iter().any(|x| x.traveller_id == r.traveller_id) {
                recipients.push(r);
            }
        }
    }
    for r in recipients {
        let theirs: Vec<&NoticeItem> = digested
            .iter()
            .copied()
            .filter(|n| n.notice.recipients.iter().any(|x| x.traveller_id == r.traveller_id))
            .collect();
        note(send_one(state, c.as_ref(), &theirs, r, now).await, &mut out);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Which preference stops an optional kind.
fn preference_on(c: Option<&BookingCollection>, traveller_id: &str, kind: NoticeKind) -> bool {
    let Some(p) = c.and_then(|c| preferences_item(c, traveller_id)) else { return true };
    match kind {
        // Its own preference, and the booking-updates one its unsubscribe link turns off.
        NoticeKind::RequestOptionalUpdate => p.optional_updates_by_email && p.booking_updates,
        NoticeKind::InstalmentReminder => p.payment_reminders,
        _ => p.booking_updates,
    }
}

/// The lines of a reminder or pre-charge notice that still hold (paid, approved or cancelled meanwhile: gone).
fn still_due(c: Option<&BookingCollection>, lines: &[DueLine], want: InstalmentStatus) -> Vec<DueLine> {
    let Some(c) = c else { return Vec::new() };
    lines
        .iter()
        .filter(|l| {
            c.instalments.iter().any(|i| i.id == l.instalment_id && i.status == want && i.due_date == l.due_date)
        })
        .cloned()
        .collect()
}

async fn skip_all(
    state: &State,
    notices: &[&NoticeItem],
    r: &Recipient,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Delivered, MailError> {
    let to = portal_mail::mask_email(&r.email);
    for n in notices {
        state.store.skip_send(&n.notice.reference, &n.notice_id, &r.traveller_id, &to, reason, now).await?;
        tracing::info!(reference = %n.notice.reference, notice = %n.notice_id, kind = n.kind.as_str(), to = %to, reason, "notice email skipped");
    }
    Ok(Delivered { skipped: notices.len(), ..Delivered::default() })
}

/// One email to one recipient for `notices` (one, or a booking's digested ones).
async fn send_one(
    state: &State,
    c: Option<&BookingCollection>,
    notices: &[&NoticeItem],
    r: &Recipient,
    now: DateTime<Utc>,
) -> Result<Delivered, MailError> {
    let Some(first) = notices.first() else { return Ok(Delivered::default()) };
    let kind = first.kind;
    let category = kind.category();
    // The traveller's address now (a corrected address wins); a traveller no longer on the booking only still
    // hears what is transactional, at the address it was written for.
    let current = c.and_then(|c| c.booking.traveller(&r.traveller_id));
    let to = match current.and_then(|t| t.email.clone()) {
        Some(e) => e,
        None if current.is_none() && !category.optional() => r.email.clone(),
        None => return skip_all(state, notices, r, "no address on the booking", now).await,
    };
    if to.is_empty() {
        return skip_all(state, notices, r, "no address", now).await;
    }
    if category.optional() {
        if !preference_on(c, &r.traveller_id, kind) {
            return skip_all(state, notices, r, "turned off by the traveller", now).await;
        }
        if let Some(s) = state.store.suppression(&to).await? {
            let reason = format!("address suppressed after a {}", s.reason);
            return skip_all(state, notices, r, &reason, now).await;
        }
    }
    let lines = match &first.notice.content {
        Content::Reminder { instalments } => Some(still_due(c, instalments, InstalmentStatus::Scheduled)),
        Content::DueSoon { instalments } => Some(still_due(c, instalments, InstalmentStatus::Approved)),
        _ => None,
    };
    if lines.as_ref().is_some_and(Vec::is_empty) {
        return skip_all(state, notices, r, "no longer due", now).await;
    }

    let masked = portal_mail::mask_email(&to);
    let mut won: Vec<(&NoticeItem, SendItem)> = Vec::new();
    let mut out = Delivered::default();
    for n in notices {
        match state.store.claim_send(&n.notice.reference, &n.notice_id, &r.traveller_id, &masked, now).await? {
            SendClaim::Won(item) => won.push((n, item)),
            SendClaim::Taken(item) if item.status == SendStatus::Sending => {
                if (now - item.claimed_at).num_seconds() > SEND_LEASE_SECONDS {
                    state.store.abandon_send(&item, now).await?;
                    tracing::error!(reference = %n.notice.reference, notice = %n.notice_id, to = %masked, alarm = "notice_email_unknown", "notice email outcome unknown");
                    out.duplicate += 1;
                } else {
                    return Err(MailError::InFlight(n.notice_id.clone()));
                }
            }
            SendClaim::Taken(_) => out.duplicate += 1,
        }
    }
    if won.is_empty() {
        return Ok(out);
    }

    let brand = state.brands.get(&first.notice.brand);
    let locale = Locale::parse(&first.notice.locale).unwrap_or(Locale::EnGb);
    let reference = first.notice.reference.as_str();
    let link = state.booking_link(reference);
    let first_name = current.map_or(r.first_name.as_str(), |t| t.first_name.as_str());
    let ctx = Ctx { brand, locale, first_name, reference, link: &link };
    let mut email = if kind.digested() {
        let d = portal_notify::digest::digest(won.iter().map(|(n, _)| &n.notice.content));
        emails::digest(&ctx, &d.changes, &d.documents)
    } else {
        render(&ctx, &first.notice.content, lines.as_deref().unwrap_or_default())
    };
    let mut headers: Vec<(&str, String)> = Vec::new();
    if category.optional() {
        let url = state.unsubscribe_link(&Unsubscribe {
            reference: reference.to_string(),
            traveller_id: r.traveller_id.clone(),
            category,
        });
        email = email.block(emails::unsubscribe_footer(locale, category, &url));
        headers.push(("List-Unsubscribe", format!("<{url}>")));
        headers.push(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
    }
    let rendered = email.render();
    let sent =
        portal_mail::send_rendered(&state.ses, brand, &to, &rendered, state.configuration_set.as_deref(), &headers)
            .await;
    let ids = won.iter().map(|(n, _)| n.notice_id.as_str()).collect::<Vec<_>>().join(",");
    match sent {
        Ok(message_id) => {
            for (_, item) in &won {
                state.store.finish_send(item, SendStatus::Sent, None, message_id.as_deref(), now).await?;
            }
            tracing::info!(reference, notices = %ids, kind = kind.as_str(), category = category.as_str(), to = %masked, "notice email sent");
            out.sent += 1;
            Ok(out)
        }
        Err(f) if f.definite => {
            for (_, item) in &won {
                state.store.finish_send(item, SendStatus::Failed, Some(&f.message), None, now).await?;
            }
            Err(MailError::Ses(f.message))
        }
        Err(f) => {
            for (_, item) in &won {
                state.store.finish_send(item, SendStatus::Unknown, Some(&f.message), None, now).await?;
            }
            tracing::error!(reference, notices = %ids, to = %masked, error = %f.message, alarm = "notice_email_unknown", "notice email outcome unknown");
            Ok(out)
        }
    }
}

/// A notice's email (not a digest).
fn render<'a>(ctx: &Ctx<'a>, content: &Content, lines: &[DueLine]) -> Email<'a> {
    match content {
        Content::Prepared { subject, blocks } => {
            let mut e = Email::new(ctx.brand, ctx.locale, subject);
            for b in portal_notify::Notice::blocks_for(blocks, ctx.first_name) {
                e = e.block(b);
            }
            e
        }
        Content::Reminder { .. } => emails::reminder(ctx, lines),
        Content::DueSoon { .. } => emails::due_soon(ctx, lines),
        Content::ApprovalNeeded { instalments } => emails::approval_needed(ctx, instalments),
        Content::Confirmed { start, end } => emails::confirmed(ctx, *start, *end),
        Content::Cancelled => emails::cancelled(ctx),
        Content::Refunded { amount } => emails::refunded(ctx, *amount),
        Content::Changes { changes } => emails::digest(ctx, changes, &[]),
        Content::Documents { documents } => emails::digest(ctx, &[], documents),
    }
}
