//! What a notice holds.

use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::booking::{Booking, Traveller};
use portal_domain::money::Money;
use portal_mail::{Block, Email};
use serde::{Deserialize, Serialize};

use crate::changes::Change;
use crate::kind::NoticeKind;

/// One customer email to send, once per recipient: stored in the mail outbox in the same transaction as the
/// change it tells about. `id` is derived from that change (a movement id, a booking version, a request
/// revision, a reminder's week), so a retried or duplicated write cannot create a second notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: String,
    pub kind: NoticeKind,
    pub reference: String,
    /// The booking's brand key and locale when the notice was written.
    pub brand: String,
    pub locale: String,
    pub recipients: Vec<Recipient>,
    pub content: Content,
    pub created_at: DateTime<Utc>,
}

/// A traveller the notice goes to (their address when it was written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub traveller_id: String,
    pub first_name: String,
    pub email: String,
}

/// An instalment line of a reminder, pre-charge or approval notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueLine {
    pub instalment_id: String,
    pub due_date: NaiveDate,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Worded by the writer, which holds the facts (receipt, refund, declined payment, request update):
    /// the subject and blocks of a `portal_mail::Email`; `{first_name}` in a block is the recipient's.
    Prepared {
        subject: String,
        blocks: Vec<Block>,
    },
    /// What an operator push changed (digested).
    Changes {
        changes: Vec<Change>,
    },
    /// Documents with a new version, by type (`invoice`, `itinerary`, `voucher`, `receipt`; digested).
    Documents {
        documents: Vec<String>,
    },
    Reminder {
        instalments: Vec<DueLine>,
    },
    DueSoon {
        instalments: Vec<DueLine>,
    },
    ApprovalNeeded {
        instalments: Vec<DueLine>,
    },
    Confirmed {
        start: NaiveDate,
        end: NaiveDate,
    },
    Cancelled,
    /// A refund the gateway completed that the portal did not start (the operator's).
    Refunded {
        amount: portal_domain::money::Money,
    },
}

/// `ntc_` + 24 hex digits of SHA-256 of the seed (the same scheme as finance event ids).
pub fn notice_id(seed: &str) -> String {
    portal_domain::events::derived_id("ntc", seed)
}

/// The first name placeholder a prepared email uses for its recipient.
pub const FIRST_NAME: &str = "{first_name}";

impl Recipient {
    /// A traveller with an address (`None`: nobody to email).
    pub fn of(t: &Traveller) -> Option<Recipient> {
        let email = t.email.clone().filter(|e| !e.trim().is_empty())?;
        Some(Recipient { traveller_id: t.id.clone(), first_name: t.first_name.clone(), email })
    }

    /// Every traveller of the booking with an address, the lead first, each address once.
    pub fn party(b: &Booking) -> Vec<Recipient> {
        let mut out: Vec<Recipient> = Vec::new();
        for t in b.lead().into_iter().chain(b.travellers.iter()) {
            if let Some(r) = Recipient::of(t)
                && !out.iter().any(|x| x.email.eq_ignore_ascii_case(&r.email))
            {
                out.push(r);
            }
        }
        out
    }
}

impl Notice {
    /// A notice of `booking` to `recipients` (id derived from `seed`).
    pub fn new(
        seed: &str,
        kind: NoticeKind,
        booking: &Booking,
        recipients: Vec<Recipient>,
        content: Content,
        now: DateTime<Utc>,
    ) -> Option<Notice> {
        if recipients.is_empty() {
            return None;
        }
        Some(Notice {
            id: notice_id(seed),
            kind,
            reference: booking.reference.to_string(),
            brand: booking.brand.clone(),
            locale: booking.locale.clone(),
            recipients,
            content,
            created_at: now,
        })
    }

    /// A notice whose email the writer worded (`email` addressed to `to` already).
    pub fn prepared(
        seed: &str,
        kind: NoticeKind,
        booking: &Booking,
        to: &Traveller,
        email: &Email<'_>,
        now: DateTime<Utc>,
    ) -> Option<Notice> {
        let content = Content::Prepared { subject: email.subject().to_string(), blocks: email.blocks.clone() };
        Notice::new(seed, kind, booking, Recipient::of(to).into_iter().collect(), content, now)
    }

    /// The prepared blocks addressed to one recipient (`{first_name}` filled in once).
    pub fn blocks_for(blocks: &[Block], first_name: &str) -> Vec<Block> {
        let f = |s: &String| portal_mail::fill(s, &[("first_name", first_name)]);
        blocks
            .iter()
            .map(|b| match b {
                Block::Paragraph(p) => Block::Paragraph(f(p)),
                Block::SmallPrint(p) => Block::SmallPrint(f(p)),
                other => other.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips_and_names_are_filled_once() {
        let c = Content::Prepared {
            subject: "Receipt".into(),
            blocks: vec![Block::Paragraph("Hello {first_name},".into()), Block::Table(vec![("a".into(), "b".into())])],
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"type\":\"prepared\""), "{json}");
        assert_eq!(serde_json::from_str::<Content>(&json).unwrap(), c);
        let Content::Prepared { blocks, .. } = c else { unreachable!() };
        let out = Notice::blocks_for(&blocks, "{first_name}");
        assert_eq!(out[0], Block::Paragraph("Hello {first_name},".into()), "a name holding the placeholder stays");
        assert_eq!(Notice::blocks_for(&blocks, "Ada")[0], Block::Paragraph("Hello Ada,".into()));
        assert_eq!(notice_id("x"), notice_id("x"));
        assert!(notice_id("x").starts_with("ntc_"));
    }
}
