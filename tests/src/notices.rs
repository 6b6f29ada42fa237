//! Customer notifications on the emulator: the mail queue (SQS on moto), the `notifications` state the relay
//! and the mailer share, and `flush`, which does what AWS does between a writer's commit and the email: the
//! relay's run moves pending notices to the queue, and each queued message is handed to the mailer as an SQS
//! event (deleted when the mailer reports it handled, left for redelivery when it reports it failed).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::Bytes;
use notifications::{MailQueue, State};

use crate::TestEnv;
use crate::details::BRANDS_JSON;
use crate::gateway::Page;

/// The unsubscribe MAC key tests and the local portal use (production's is a secret of 32 bytes or more).
pub const UNSUBSCRIBE_KEY: &[u8] = b"local-unsubscribe-key-0123456789abcdef";

/// A fresh mail queue on moto.
pub async fn mail_queue(env: &TestEnv) -> MailQueue {
    let client = aws_sdk_sqs::Client::new(&env.sdk);
    let name = format!("mail-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let out = client.create_queue().queue_name(name).send().await.expect("create the mail queue");
    MailQueue { client, url: out.queue_url.expect("a queue url") }
}

/// The notifications state on `env` (its table, SES and sender; the test brands) with a mail queue of its own
/// and no digest wait (tests that exercise the digest set `digest_quiet` / `digest_max_hold`).
pub async fn state(env: &TestEnv, portal_url: &str) -> State {
    with_brands(env, portal_url, portal_mail::Brands::parse(Some(BRANDS_JSON), &env.sender).expect("brands")).await
}

/// [`state`] with the fixture's own brands (fixtures tell their emails apart in moto's shared mailbox by a
/// brand name of their own).
pub async fn with_brands(env: &TestEnv, portal_url: &str, brands: portal_mail::Brands) -> State {
    State {
        store: env.store(),
        ses: env.ses.clone(),
        queue: Some(mail_queue(env).await),
        brands,
        portal_url: portal_url.trim_end_matches('/').to_string(),
        unsubscribe_key: UNSUBSCRIBE_KEY.to_vec(),
        configuration_set: None,
        reminder_days: vec![14, 3],
        digest_quiet: chrono::Duration::zero(),
        digest_max_hold: chrono::Duration::zero(),
        auth: None,
        clock: Arc::new(Utc::now),
    }
}

/// What one [`flush`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Flushed {
    /// Notices the relay moved to the queue.
    pub relayed: usize,
    /// Queue messages the mailer handled.
    pub handled: usize,
    /// Queue messages the mailer reported failed (left on the queue).
    pub failed: usize,
}

/// One relay run at `now`, then every queued message through the mailer at `now`. A message the mailer reports
/// failed is made visible again at once (as its visibility timeout would, later) and the flush stops there: the
/// next flush is its retry.
pub async fn flush(state: &State, now: DateTime<Utc>) -> Flushed {
    Box::pin(try_flush(state, now)).await.expect("flush the mail outbox")
}

/// [`flush`], with an emulator error as the answer instead of a panic (the local portal keeps running).
pub async fn try_flush(state: &State, now: DateTime<Utc>) -> Result<Flushed, String> {
    let relayed = Box::pin(notifications::relay::relay(state, now)).await.map_err(|e| format!("relay: {e}"))?;
    let mut out = Flushed { relayed: relayed.relayed, ..Flushed::default() };
    let Some(queue) = state.queue.as_ref() else { return Ok(out) };
    loop {
        let received = queue
            .client
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| format!("receive from the mail queue: {e}"))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(out);
        }
        for m in messages {
            let event = sqs_event(m.message_id.as_deref(), m.body.as_deref().unwrap_or_default());
            let resp = Box::pin(notifications::mailer::consume(state, event, now)).await;
            let Some(h) = m.receipt_handle else { continue };
            if resp.batch_item_failures.is_empty() {
                out.handled += 1;
                queue
                    .client
                    .delete_message()
                    .queue_url(&queue.url)
                    .receipt_handle(h)
                    .send()
                    .await
                    .map_err(|e| format!("delete: {e}"))?;
            } else {
                out.failed += 1;
                queue
                    .client
                    .change_message_visibility()
                    .queue_url(&queue.url)
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .map_err(|e| format!("release: {e}"))?;
                return Ok(out);
            }
        }
    }
}

/// An SQS event of one record, as Lambda's poller hands it to the mailer.
pub fn sqs_event(message_id: Option<&str>, body: &str) -> aws_lambda_events::event::sqs::SqsEvent {
    let record = serde_json::json!({"messageId": message_id.unwrap_or("m-1"), "body": body});
    serde_json::from_value(serde_json::json!({"Records": [record]})).expect("an SQS event")
}

/// Flush now (most tests: the action happened just before).
pub async fn flush_now(state: &State) -> Flushed {
    // Boxed: the relay and mailer futures are large, and the tests that await this are large already.
    Box::pin(flush(state, Utc::now())).await
}

/// The relay and the mailer in the background (the local portal): every two seconds a relay run and a drain of
/// the queue, with the daily plan once at start and then every hour.
pub fn spawn(state: Arc<State>) {
    tokio::spawn(async move {
        let mut last_plan: Option<DateTime<Utc>> = None;
        loop {
            let now = Utc::now();
            if last_plan.is_none_or(|t| now - t > chrono::Duration::hours(1)) {
                match notifications::relay::plan(&state, now).await {
                    Ok(n) if n > 0 => eprintln!("notifications: {n} reminder(s) planned"),
                    Ok(_) => {}
                    Err(e) => eprintln!("notifications: planning failed: {e}"),
                }
                last_plan = Some(now);
            }
            // The mailer's own JSON log says what it sent; only failures are worth a line of their own here.
            match try_flush(&state, now).await {
                Ok(f) if f.failed > 0 => eprintln!("notifications: a message failed; retried on the next round"),
                Ok(_) => {}
                Err(e) => eprintln!("notifications: {e}"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}

/// `POST /local/notifications?key=<operator key>&now=<RFC 3339>` (the local portal): the daily reminder plan and
/// a flush as if it were `now` (default: the real time), so a person sees a reminder's email without waiting for
/// the due date to come near. Operator-only, like `/local/instalment-runner`.
pub fn local_page(state: Arc<State>, operator_key: &str) -> Page {
    let key = operator_key.to_string();
    Arc::new(move |method: &http::Method, path: &str, query: &str| {
        if path != "/local/notifications" {
            return None;
        }
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.replace("%3A", ":"))
        };
        if method != http::Method::POST {
            return json_response(405, serde_json::json!({"error": "POST only"}));
        }
        if param("key").as_deref() != Some(key.as_str()) {
            return json_response(403, serde_json::json!({"error": "the operator key is required (?key=...)"}));
        }
        let now = match param("now").map(|s| s.parse::<DateTime<Utc>>()) {
            None => Utc::now(),
            Some(Ok(t)) => t,
            Some(Err(_)) => {
                return json_response(
                    400,
                    serde_json::json!({"error": "now: an RFC 3339 time, e.g. 2027-06-01T00:00:00Z"}),
                );
            }
        };
        let state = state.clone();
        let result = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                let planned = notifications::relay::plan(&state, now).await.map_err(|e| e.to_string())?;
                let f = try_flush(&state, now).await?;
                Ok::<_, String>(serde_json::json!({"planned": planned, "relayed": f.relayed, "mailed": f.handled, "failed": f.failed}))
            })
        });
        match result {
            Ok(v) => json_response(200, v),
            Err(e) => json_response(503, serde_json::json!({"error": e})),
        }
    })
}

fn json_response(status: u16, body: serde_json::Value) -> Option<hyper::Response<Full<Bytes>>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    r.headers_mut().insert("cache-control", hyper::header::HeaderValue::from_static("no-store"));
    Some(r)
}
