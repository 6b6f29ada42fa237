//! Every change as one conditional transaction: the request (or the general thread's head) at the revision
//! read, the new message, the operator's events, the idempotency record and the day's caps. A concurrent
//! writer makes the transaction fail as a whole; it is re-read and re-checked (a few times) before giving up.

use chrono::{DateTime, Duration, Utc};
use portal_http::ApiError;
use portal_requests::caps::{self, Counted, Limits};
use portal_requests::kind::{By, RequestStatus, illegal};
use portal_store::Store;
use portal_store::requests::*;
use serde_json::{Value, json};

use crate::{illegal_transition, request_closed};

/// Re-reads after a concurrent change before answering 409.
const ATTEMPTS: usize = 4;
/// The feed keeps 90 days; idempotency records 7.
const EVENT_DAYS: i64 = 90;
const IDEMPOTENCY_DAYS: i64 = 7;

/// Who writes.
#[derive(Debug, Clone)]
pub struct Author {
    pub by: By,
    /// A traveller id (customer), a role id (team).
    pub id: String,
    /// The operator's agent id (team only; never shown to customers).
    pub agent: Option<String>,
}

impl Author {
    fn kind(&self) -> &'static str {
        match self.by {
            By::Customer => "customer",
            By::Team => "team",
            By::System => "system",
        }
    }
}

pub fn by_str(by: By) -> &'static str {
    match by {
        By::Customer => "customer",
        By::Team => "team",
        By::System => "system",
    }
}

pub fn status_of(r: &RequestItem) -> RequestStatus {
    RequestStatus::parse(&r.status).unwrap_or(RequestStatus::Submitted)
}

/// The day's caps a customer's write counts against.
pub fn caps_for(limits: &Limits, what: Counted, reference: &str, email: &str, now: DateTime<Utc>) -> Vec<CapBump> {
    let (per_booking, per_customer) = limits.of(what);
    let day = caps::day(now);
    let sk = cap_sk(day, what.as_str());
    let expires_at = (now + Duration::days(2)).timestamp();
    let mut out = vec![CapBump { pk: booking_cap_pk(reference), sk: sk.clone(), cap: per_booking, expires_at }];
    if !email.trim().is_empty() {
        out.push(CapBump { pk: customer_cap_pk(email), sk, cap: per_customer, expires_at });
    }
    out
}

fn capped(now: DateTime<Utc>, which: usize, what: Counted) -> ApiError {
    let retry = caps::retry_after(now);
    let whose = if which == 0 { "this booking" } else { "you" };
    let what = match what {
        Counted::Requests => "new requests",
        Counted::Messages => "messages",
    };
    ApiError::client(
        429,
        "rate-limited",
        "Too many requests",
        format!("the day's limit of {what} for {whose} is reached; try again in {retry} seconds (after midnight UTC)"),
    )
    .with_retry_after(retry)
}

pub fn request_event(
    reference: &str,
    booking_version: u64,
    kind: &str,
    thread: &str,
    body: Value,
    now: DateTime<Utc>,
) -> RequestEventItem {
    let id = uuid::Uuid::now_v7().to_string();
    let mut e = json!({
        "schema_version": 1, "event_id": id, "type": kind, "occurred_at": now, "reference": reference,
        "booking_version": booking_version, "thread": thread,
    });
    if let (Some(e), Value::Object(extra)) = (e.as_object_mut(), body) {
        e.extend(extra);
    }
    RequestEventItem {
        pk: request_event_pk(reference),
        sk: format!("EVT#{id}"),
        entity: ENTITY_EVENT.into(),
        event: e.to_string(),
        recorded_at: now,
        gsi3pk: REQUEST_EVENTS_GSI3PK.into(),
        gsi3sk: portal_store::details::event_gsi3sk(now, &id),
        expires_at: (now + Duration::days(EVENT_DAYS)).timestamp(),
    }
}

fn message_event(m: &MessageItem) -> Value {
    json!({"message_id": m.message_id, "author": {"kind": m.author_kind, "id": m.author_id, "agent": m.agent},
           "role": m.role, "body": m.body})
}

pub fn message_item(
    reference: &str,
    thread: &str,
    seq: u32,
    author: &Author,
    role: Option<String>,
    body: String,
    now: DateTime<Utc>,
) -> MessageItem {
    MessageItem {
        pk: conversation_pk(reference),
        sk: message_sk(thread, seq),
        entity: ENTITY_MESSAGE.into(),
        message_id: format!("m_{}", &uuid::Uuid::new_v4().simple().to_string()[..20]),
        thread: thread.into(),
        seq,
        at: now,
        author_kind: author.kind().into(),
        author_id: author.id.clone(),
        role,
        agent: author.agent.clone(),
        body,
    }
}

pub fn idempotency_marker(reference: &str, sk: String, made: String, now: DateTime<Utc>) -> IdempotencyItem {
    IdempotencyItem {
        pk: conversation_pk(reference),
        sk,
        entity: ENTITY_IDEMPOTENCY.into(),
        made,
        expires_at: (now + Duration::days(IDEMPOTENCY_DAYS)).timestamp(),
    }
}

/// A new request, ready to commit (see [`submit`]).
pub struct NewRequest {
    pub item: RequestItem,
    pub message: Option<MessageItem>,
    pub idempotency: Option<IdempotencyItem>,
    pub caps: Vec<CapBump>,
}

/// Commit a new request. `Ok(false)`: its `Idempotency-Key` (or the id derived from it) was used already.
pub async fn submit(
    store: &Store,
    n: &NewRequest,
    booking_version: u64,
    what: Counted,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let r = &n.item;
    let reference = r.pk.trim_start_matches(portal_store::keys::PREFIX_BOOKING_PK);
    let e = request_event(
        reference,
        booking_version,
        "request.submitted",
        &r.request_id,
        json!({
            "request_id": r.request_id, "request_type": r.kind, "status": r.status, "role": r.role,
            "fields": serde_json::from_str::<Value>(&r.fields).unwrap_or(Value::Null), "about": r.about,
            "by": {"kind": "customer", "id": r.submitted_by},
            "context": serde_json::from_str::<Value>(&r.context).unwrap_or(Value::Null),
            "message": n.message.as_ref().map(message_event),
        }),
        now,
    );
    let w = RequestWrite {
        head: Head::Request { item: Box::new(r.clone()), expected_revision: None },
        message: n.message.clone(),
        events: vec![e],
        idempotency: n.idempotency.clone(),
        caps: n.caps.clone(),
    };
    match store.write_request_change(&w).await? {
        Ok(()) => Ok(true),
        Err(Refused::Duplicate | Refused::Stale) if n.idempotency.is_some() => Ok(false),
        Err(Refused::Capped(i)) => Err(capped(now, i, what)),
        Err(_) => Err(ApiError::conflict("a request with this id exists already; send it again")),
    }
}

/// What to do to a request.
#[derive(Debug, Clone, Default)]
pub struct Action {
    pub message: Option<String>,
    /// The role a team message is from (default: the request's).
    pub role: Option<String>,
    pub status: Option<RequestStatus>,
    pub completed_by_version: Option<u64>,
}

/// The request after an action, and what changed.
#[derive(Debug, Clone)]
pub struct Acted {
    pub request: RequestItem,
    pub message: Option<MessageItem>,
    /// `(from, to)` when the status moved.
    pub moved: Option<(RequestStatus, RequestStatus)>,
    /// A replay of an `Idempotency-Key` (nothing written).
    pub replay: bool,
}

/// Apply `action` by `author` to request `id`, re-reading and re-checking after a concurrent change.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    store: &Store,
    reference: &str,
    booking_version: u64,
    id: &str,
    author: &Author,
    action: &Action,
    caps: Vec<CapBump>,
    idem_sk: Option<String>,
    now: DateTime<Utc>,
) -> Result<Acted, ApiError> {
    for _ in 0..ATTEMPTS {
        let Some(current) = store.request_item(reference, id).await? else {
            return Err(ApiError::not_found("no such request on this booking"));
        };
        let from = status_of(&current);
        let mut next = current.clone();
        let mut events = Vec::new();
        let mut moved = None;
        let mut msg = None;
        if author.by == By::Customer && action.message.is_some() && from.is_closed() {
            return Err(request_closed());
        }
        if let Some(body) = &action.message {
            next.message_count += 1;
            let role = match author.by {
                By::Team => Some(action.role.clone().unwrap_or_else(|| current.role.clone())),
                _ => None,
            };
            let m = message_item(reference, id, next.message_count, author, role, body.clone(), now);
            events.push(request_event(
                reference,
                booking_version,
                "request.message_added",
                id,
                json!({"request_id": id, "request_type": current.kind, "status": current.status, "message": message_event(&m)}),
                now,
            ));
            msg = Some(m);
        }
        // The status asked for, or the one a customer's answer implies.
        let target = match (author.by, action.status) {
            (_, Some(to)) => Some((to, author.by)),
            (By::Customer, None) if from == RequestStatus::WaitingForCustomer && msg.is_some() => {
                Some((RequestStatus::InReview, By::System))
            }
            _ => None,
        };
        if let Some((to, by)) = target
            && to != from
        {
            if !from.may_become(to, by) {
                return Err(illegal_transition(illegal(from, to, by)));
            }
            if to == RequestStatus::Completed {
                next.completed_by_version = action.completed_by_version;
            }
            next.status = to.as_str().into();
            let by_id = match by {
                By::System => "portal".to_string(),
                By::Team => action.role.clone().unwrap_or_else(|| current.role.clone()),
                By::Customer => author.id.clone(),
            };
            next.history.push(Transition {
                status: to.as_str().into(),
                at: now,
                by: by_str(by).into(),
                by_id: by_id.clone(),
                agent: if by == By::Team { author.agent.clone() } else { None },
            });
            events.push(request_event(
                reference,
                booking_version,
                "request.status_changed",
                id,
                json!({"request_id": id, "request_type": current.kind, "from_status": from.as_str(), "status": to.as_str(),
                       "by": {"kind": by_str(by), "id": by_id, "agent": if by == By::Team { author.agent.clone() } else { None }},
                       "completed_by_version": next.completed_by_version}),
                now,
            ));
            moved = Some((from, to));
        }
        if events.is_empty() {
            // The status it has already (a retried call): nothing to write.
            return Ok(Acted { request: current, message: None, moved: None, replay: false });
        }
        next.updated_at = now;
        next.revision += 1;
        let idem = idem_sk.clone().map(|sk| {
            let made = msg.as_ref().map_or_else(|| id.to_string(), |m| format!("{id}#{}", m.message_id));
            idempotency_marker(reference, sk, made, now)
        });
        let w = RequestWrite {
            head: Head::Request { item: Box::new(next.clone()), expected_revision: Some(current.revision) },
            message: msg.clone(),
            events,
            idempotency: idem,
            caps: caps.clone(),
        };
        match store.write_request_change(&w).await? {
            Ok(()) => return Ok(Acted { request: next, message: msg, moved, replay: false }),
            Err(Refused::Stale) => continue,
            Err(Refused::Duplicate) => return Ok(Acted { request: current, message: None, moved: None, replay: true }),
            Err(Refused::Capped(i)) => return Err(capped(now, i, Counted::Messages)),
        }
    }
    Err(ApiError::conflict("the request changed while this was being written; read it again and retry"))
}

/// The general thread after a message.
#[derive(Debug, Clone)]
pub struct Written {
    pub thread: ThreadItem,
    pub message: Option<MessageItem>,
    /// The thread's head before (who wrote last, when).
    pub before: Option<ThreadItem>,
    pub replay: bool,
}

/// Add a message to the booking's general thread.
#[allow(clippy::too_many_arguments)]
pub async fn write_general(
    store: &Store,
    reference: &str,
    booking_version: u64,
    author: &Author,
    role: &str,
    body: &str,
    customer_email: Option<&str>,
    caps: Vec<CapBump>,
    idem_sk: Option<String>,
    now: DateTime<Utc>,
) -> Result<Written, ApiError> {
    for _ in 0..ATTEMPTS {
        let current = store.thread_head(reference).await?;
        let mut next = current.clone().unwrap_or(ThreadItem {
            pk: portal_store::keys::booking_pk(reference),
            sk: thread_sk(),
            entity: ENTITY_THREAD.into(),
            message_count: 0,
            last_customer_at: None,
            last_customer: None,
            last_customer_email: None,
            revision: 0,
        });
        next.message_count += 1;
        next.revision += 1;
        if author.by == By::Customer {
            next.last_customer_at = Some(now);
            next.last_customer = Some(author.id.clone());
            next.last_customer_email = customer_email.map(str::to_string);
        }
        let m =
            message_item(reference, GENERAL, next.message_count, author, Some(role.to_string()), body.to_string(), now);
        let e = request_event(
            reference,
            booking_version,
            "request.message_added",
            GENERAL,
            json!({"request_id": null, "message": message_event(&m)}),
            now,
        );
        let w = RequestWrite {
            head: Head::Thread { item: next.clone(), expected_revision: current.as_ref().map(|c| c.revision) },
            message: Some(m.clone()),
            events: vec![e],
            idempotency: idem_sk
                .clone()
                .map(|sk| idempotency_marker(reference, sk, format!("{GENERAL}#{}", m.message_id), now)),
            caps: caps.clone(),
        };
        match store.write_request_change(&w).await? {
            Ok(()) => return Ok(Written { thread: next, message: Some(m), before: current, replay: false }),
            Err(Refused::Stale) => continue,
            Err(Refused::Duplicate) => {
                let thread = current.clone().unwrap_or(next);
                return Ok(Written { thread, message: None, before: current, replay: true });
            }
            Err(Refused::Capped(i)) => return Err(capped(now, i, Counted::Messages)),
        }
    }
    Err(ApiError::conflict("the conversation changed while this was being written; retry"))
}
