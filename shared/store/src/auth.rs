//! Sign-in storage: magic-link tokens, their one-time codes, customer sessions and rate-limit counters.
//!
//! Key schema (all in the one table, see `docs/auth.md`):
//!
//! | item | pk | sk | TTL `expires_at` |
//! | --- | --- | --- | --- |
//! | link token | `LINK#<hmac-hex of the token>` | `LINK` | issue + link TTL |
//! | link index + code | `B#<REF>` | `LINKREF#<link id>` | issue + link TTL |
//! | session | `B#<REF>` | `SESSION#<sid>` | sign-in + absolute lifetime |
//! | rate counter | `RATE#<scope>#<key>#<window>` | `RATE` | end of window + 1 h |
//!
//! Only keyed hashes of tokens and codes are stored: reading the table yields no working link or code. The
//! `LINKREF#` item sits in the booking's collection, so the overview `Query` that revocation already makes
//! finds every unused link of the booking without a scan or an index. A link is consumed by a conditional
//! claim and one `TransactWriteItems` that deletes both of its items and puts the session item (see
//! [`Store::consume_link`]): two concurrent exchanges of one token produce exactly one session.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use crate::store::{Item, Store, StoreError, Tx, from_item, to_item};
use crate::{BookingCollection, keys};

pub const ENTITY_MAGIC_LINK: &str = "magic_link";
pub const ENTITY_LINK_REF: &str = "magic_link_ref";
pub const ENTITY_RATE_COUNTER: &str = "rate_counter";
pub const SK_LINK: &str = "LINK";
pub const SK_RATE: &str = "RATE";
pub const PREFIX_LINK_REF: &str = "LINKREF#";

pub fn link_pk(token_hash_hex: &str) -> String {
    format!("LINK#{token_hash_hex}")
}

pub fn link_ref_sk(link_id: &str) -> String {
    format!("{PREFIX_LINK_REF}{link_id}")
}

/// `RATE#<scope>#<key>#<window index>`; `key` is already a keyed hash (no emails or addresses in clear).
pub fn rate_pk(scope: &str, key: &str, window: i64) -> String {
    format!("RATE#{scope}#{key}#{window}")
}

/// The token half of an issued link, found by the keyed hash of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub link_id: String,
    pub reference: String,
    pub traveller_id: String,
    /// The traveller's email when the link was issued ("" if the operator issued it for a traveller without one).
    pub email: String,
    pub is_lead: bool,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set by the one exchange that claimed the link (then deleted with the session write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
}

/// The booking-side half of an issued link: lets revocation find it, carries the code hash and its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRefItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub link_id: String,
    pub link_pk: String,
    pub traveller_id: String,
    pub code_hash: String,
    pub attempts: u32,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live customer session. Deleting it ends the session whatever its JWT says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionItem {
    pub pk: String,
    pub sk: String,
    pub entity: String,
    pub sid: String,
    pub reference: String,
    pub traveller_id: String,
    pub email: String,
    pub is_lead: bool,
    /// `link` or `code`.
    pub via: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// An issued link before it is written.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub link_id: String,
    pub token_hash: String,
    pub code_hash: String,
    pub reference: String,
    pub traveller_id: String,
    pub email: String,
    pub is_lead: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

impl NewLink {
    pub fn items(&self) -> (LinkItem, LinkRefItem) {
        let link_pk = link_pk(&self.token_hash);
        (
            LinkItem {
                pk: link_pk.clone(),
                sk: SK_LINK.into(),
                entity: ENTITY_MAGIC_LINK.into(),
                link_id: self.link_id.clone(),
                reference: self.reference.clone(),
                traveller_id: self.traveller_id.clone(),
                email: self.email.clone(),
                is_lead: self.is_lead,
                created_at: self.created_at,
                expires_at: self.expires_at,
                used_by: None,
            },
            LinkRefItem {
                pk: keys::booking_pk(&self.reference),
                sk: link_ref_sk(&self.link_id),
                entity: ENTITY_LINK_REF.into(),
                link_id: self.link_id.clone(),
                link_pk,
                traveller_id: self.traveller_id.clone(),
                code_hash: self.code_hash.clone(),
                attempts: 0,
                created_at: self.created_at,
                expires_at: self.expires_at,
            },
        )
    }
}

impl SessionItem {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sid: &str,
        reference: &str,
        traveller_id: &str,
        email: &str,
        is_lead: bool,
        via: &str,
        auth_time: i64,
        expires_at: i64,
    ) -> SessionItem {
        SessionItem {
            pk: keys::booking_pk(reference),
            sk: keys::session_sk(sid),
            entity: crate::items::ENTITY_SESSION.into(),
            sid: sid.into(),
            reference: reference.into(),
            traveller_id: traveller_id.into(),
            email: email.into(),
            is_lead,
            via: via.into(),
            auth_time,
            expires_at,
        }
    }
}

/// Which half of a link a sign-in presents, and so which extra condition guards its consumption.
#[derive(Debug, Clone)]
pub enum Proof {
    /// The token: its hash found the link item.
    Token,
    /// The code: the attempt was counted (attempts ≤ max) and matched this hash.
    Code { code_hash: String, max_attempts: u32 },
}

fn entity(item: &Item) -> Option<&str> {
    item.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The unused links of a booking, from its collection (the `LINKREF#` items the overview query returned).
pub fn link_refs(c: &BookingCollection) -> Vec<LinkRefItem> {
    c.other
        .iter()
        .filter(|i| entity(i) == Some(ENTITY_LINK_REF))
        .filter_map(|i| from_item::<LinkRefItem>(i.clone()).ok())
        .collect()
}

fn is_condition_failure<R>(e: &SdkError<UpdateItemError, R>) -> bool {
    matches!(e, SdkError::ServiceError(s) if matches!(s.err(), UpdateItemError::ConditionalCheckFailedException(_)))
}

impl Store {
    /// Write both halves of a new link (neither may exist yet) and, in the same transaction, delete both halves
    /// of every link in `retire` (the traveller's older links: only the newest link and code work).
    pub async fn put_link(&self, link: &NewLink, retire: &[LinkRefItem]) -> Result<(), StoreError> {
        let (l, r) = link.items();
        for chunk in retire.chunks((crate::store::MAX_TRANSACTION_ACTIONS - 2) / 2).skip(1) {
            // More than ~49 older links (only possible if TTL lags): the surplus goes first, on its own.
            let mut tx = Tx::default();
            for old in chunk {
                tx.delete(self.table(), old.pk.clone(), old.sk.clone())?;
                tx.delete(self.table(), old.link_pk.clone(), SK_LINK.into())?;
            }
            self.commit(tx).await?;
        }
        let mut tx = Tx::default();
        tx.put_new(self.table(), &l)?;
        tx.put_new(self.table(), &r)?;
        for old in retire.iter().take((crate::store::MAX_TRANSACTION_ACTIONS - 2) / 2) {
            tx.delete(self.table(), old.pk.clone(), old.sk.clone())?;
            tx.delete(self.table(), old.link_pk.clone(), SK_LINK.into())?;
        }
        self.commit(tx).await
    }

    /// The link a token hash names, if it is still stored (strongly consistent).
    pub async fn get_link(&self, token_hash: &str) -> Result<Option<LinkItem>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(link_pk(token_hash)))
            .key("sk", AttributeValue::S(SK_LINK.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::aws)?;
        match out.item {
            Some(i) if entity(&i) == Some(ENTITY_MAGIC_LINK) => Ok(Some(from_item(i)?)),
            _ => Ok(None),
        }
    }

    /// Consume a link and create the session. `Err(Conflict)` when the link is gone (used, revoked), expired
    /// at `now`, or (code proof) out of attempts or no longer carrying that code.
    ///
    /// Two conditional writes: (1) the claim, one `UpdateItem` that sets `used_by` on the link only if it
    /// exists, is unclaimed and unexpired: of any number of concurrent exchanges exactly one gets past it;
    /// (2) one `TransactWriteItems` that deletes the link (only if this exchange claimed it), deletes its
    /// booking-side item (only if it is still there: not revoked, and for a code still carrying that code
    /// within its attempts) and puts the session item. A claim whose transaction fails leaves the link
    /// claimed, i.e. unusable (fail closed) until TTL removes it.
    ///
    /// Why not only the transaction: losers would then be failing transactions, and moto (the emulator the
    /// tests run on) rolls a failed transaction back by restoring a copy of the whole table taken before it
    /// began, erasing a winner that committed meanwhile. DynamoDB itself does not do that; the claim keeps
    /// the behaviour identical on both.
    pub async fn consume_link(
        &self,
        link_pk: &str,
        reference: &str,
        link_id: &str,
        proof: &Proof,
        session: &SessionItem,
        now: i64,
    ) -> Result<(), StoreError> {
        let table = self.table();
        let claim = self
            .client()
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S(link_pk.into()))
            .key("sk", AttributeValue::S(SK_LINK.into()))
            .update_expression("SET #u = :sid")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#u) AND #x > :now")
            .expression_attribute_names("#u", "used_by")
            .expression_attribute_names("#x", "expires_at")
            .expression_attribute_values(":sid", AttributeValue::S(session.sid.clone()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match claim {
            Ok(_) => {}
            Err(e) if is_condition_failure(&e) => return Err(StoreError::Conflict("link already claimed".into())),
            Err(e) => return Err(StoreError::aws(e)),
        }
        let del_link = Delete::builder()
            .table_name(table)
            .key("pk", AttributeValue::S(link_pk.into()))
            .key("sk", AttributeValue::S(SK_LINK.into()))
            .condition_expression("used_by = :sid")
            .expression_attribute_values(":sid", AttributeValue::S(session.sid.clone()))
            .build()
            .map_err(StoreError::aws)?;
        let mut del_ref = Delete::builder()
            .table_name(table)
            .key("pk", AttributeValue::S(keys::booking_pk(reference)))
            .key("sk", AttributeValue::S(link_ref_sk(link_id)))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        del_ref = match proof {
            Proof::Token => del_ref.condition_expression("attribute_exists(pk) AND expires_at > :now"),
            Proof::Code { code_hash, max_attempts } => del_ref
                .condition_expression(
                    "attribute_exists(pk) AND expires_at > :now AND attempts <= :max AND code_hash = :h",
                )
                .expression_attribute_values(":max", AttributeValue::N(max_attempts.to_string()))
                .expression_attribute_values(":h", AttributeValue::S(code_hash.clone())),
        };
        let put_session = Put::builder()
            .table_name(table)
            .set_item(Some(to_item(session)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::aws)?;
        let mut tx = Tx::default();
        tx.push(TransactWriteItem::builder().delete(del_link).build());
        tx.push(TransactWriteItem::builder().delete(del_ref.build().map_err(StoreError::aws)?).build());
        tx.push(TransactWriteItem::builder().put(put_session).build());
        self.commit(tx).await
    }

    /// Count one code attempt against a link before comparing the code: `Ok(true)` if the attempt was
    /// counted (the link is live and had fewer than `max` attempts), `Ok(false)` otherwise. Counting first
    /// means concurrent guesses cannot exceed `max` comparisons.
    pub async fn count_code_attempt(
        &self,
        reference: &str,
        link_id: &str,
        max: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(keys::booking_pk(reference)))
            .key("sk", AttributeValue::S(link_ref_sk(link_id)))
            .update_expression("SET #a = #a + :one")
            .condition_expression("attribute_exists(pk) AND #a < :max AND #x > :now")
            .expression_attribute_names("#a", "attempts")
            .expression_attribute_names("#x", "expires_at")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Add one hit to a fixed-window counter. `Ok(true)` if it was under `limit` (and is now counted),
    /// `Ok(false)` if the window is already full (nothing written).
    pub async fn rate_hit(&self, pk: &str, limit: u32, expires_at: i64) -> Result<bool, StoreError> {
        let r = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(SK_RATE.into()))
            .update_expression("SET #h = if_not_exists(#h, :zero) + :one, #x = :exp, #e = :entity")
            .condition_expression("attribute_not_exists(#h) OR #h < :limit")
            .expression_attribute_names("#h", "hits")
            .expression_attribute_names("#x", "expires_at")
            .expression_attribute_names("#e", "entity")
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(":entity", AttributeValue::S(ENTITY_RATE_COUNTER.into()))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Delete one session item. `Ok(false)` if it was already gone (logged out or revoked).
    pub async fn delete_session(&self, reference: &str, sid: &str) -> Result<bool, StoreError> {
        let r = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(keys::booking_pk(reference)))
            .key("sk", AttributeValue::S(keys::session_sk(sid)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(s))
                if matches!(
                    s.err(),
                    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(StoreError::aws(e)),
        }
    }

    /// Delete every session and every unused link of a booking (from its collection as just read).
    /// Returns (sessions, links) deleted. Deletes are unconditional (deleting a missing item is a no-op) and
    /// sent in transactions of at most 100 actions.
    pub async fn revoke_all(&self, c: &BookingCollection) -> Result<(usize, usize), StoreError> {
        self.revoke(c, &AccessEnd::everyone(c)).await
    }

    /// Delete the sessions and unused links `end` names. Returns (sessions, links) deleted.
    pub async fn revoke(&self, c: &BookingCollection, end: &AccessEnd) -> Result<(usize, usize), StoreError> {
        let deletes = end.deletes(c);
        for chunk in deletes.chunks(crate::store::MAX_TRANSACTION_ACTIONS) {
            let mut tx = Tx::default();
            for (pk, sk) in chunk {
                tx.delete(self.table(), pk.clone(), sk.clone())?;
            }
            self.commit(tx).await?;
        }
        Ok(end.counts(c))
    }

    /// Add the deletes of `end` to a transaction being built (the operator upsert: the booking change and the
    /// end of the access it takes away commit together).
    pub fn stage_revoke(&self, tx: &mut Tx, c: &BookingCollection, end: &AccessEnd) -> Result<(), StoreError> {
        for (pk, sk) in end.deletes(c) {
            tx.delete(self.table(), pk, sk)?;
        }
        Ok(())
    }
}

/// Whose access ends: sessions and unused links of some travellers of a booking (or all of them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessEnd {
    /// Travellers whose every session and unused link ends.
    pub travellers: Vec<String>,
    /// Sessions that end whoever they belong to (the travellers' own are included anyway).
    pub sessions: Vec<String>,
}

impl AccessEnd {
    pub fn everyone(c: &BookingCollection) -> AccessEnd {
        let mut t: Vec<String> = c.sessions.iter().map(|s| s.traveller_id.clone()).collect();
        t.extend(link_refs(c).into_iter().map(|r| r.traveller_id));
        t.extend(c.booking.travellers.iter().map(|x| x.id.clone()));
        t.sort();
        t.dedup();
        AccessEnd { travellers: t, sessions: c.sessions.iter().map(|s| s.sid.clone()).collect() }
    }

    pub fn travellers(ids: impl IntoIterator<Item = String>) -> AccessEnd {
        AccessEnd { travellers: ids.into_iter().collect(), sessions: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.travellers.is_empty() && self.sessions.is_empty()
    }

    fn ends_session(&self, s: &crate::store::LiveSession) -> bool {
        self.sessions.contains(&s.sid) || self.travellers.contains(&s.traveller_id)
    }

    /// The (pk, sk) of every item to delete, from the collection as read.
    pub fn deletes(&self, c: &BookingCollection) -> Vec<(String, String)> {
        let reference = c.booking.reference.as_str();
        let mut out = Vec::new();
        for s in c.sessions.iter().filter(|s| self.ends_session(s)) {
            out.push((keys::booking_pk(reference), keys::session_sk(&s.sid)));
        }
        for r in link_refs(c).into_iter().filter(|r| self.travellers.contains(&r.traveller_id)) {
            out.push((r.pk.clone(), r.sk.clone()));
            out.push((r.link_pk, SK_LINK.into()));
        }
        out
    }

    /// (sessions, links) the deletes end.
    pub fn counts(&self, c: &BookingCollection) -> (usize, usize) {
        (
            c.sessions.iter().filter(|s| self.ends_session(s)).count(),
            link_refs(c).iter().filter(|r| self.travellers.contains(&r.traveller_id)).count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_link_items_share_the_id_and_hash() {
        let l = NewLink {
            link_id: "L1".into(),
            token_hash: "ab".repeat(32),
            code_hash: "cd".repeat(32),
            reference: "AE-10001".into(),
            traveller_id: "T1".into(),
            email: "ada@example.com".into(),
            is_lead: true,
            created_at: 100,
            expires_at: 1000,
        };
        let (link, r) = l.items();
        assert_eq!(link.pk, format!("LINK#{}", "ab".repeat(32)));
        assert_eq!(r.pk, "B#AE-10001");
        assert_eq!(r.sk, "LINKREF#L1");
        assert_eq!(r.link_pk, link.pk);
        assert_eq!(r.attempts, 0);
        let item = to_item(&r).unwrap();
        assert!(matches!(item.get("expires_at"), Some(AttributeValue::N(n)) if n == "1000"), "TTL is a number");
        assert_eq!(rate_pk("ml-ref", "x", 7), "RATE#ml-ref#x#7");
    }
}
