//! Customer notifications on the emulator: the mail queue (SQS on moto), the `notifications` state the relay
//! and the mailer share, and `flush`, which does what AWS does between a writer's commit and the email: the
//! relay's run moves pending notices to the queue, and each queued message is handed to the mailer as an SQS
//! event (deleted when the mailer reports it handled, left for redelivery when it reports it failed).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use notifications::{MailQueue, State};

use crate::TestEnv;
use crate::details::BRANDS_JSON;

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
    let relayed = Box::pin(notifications::relay::relay(state, now)).await.expect("relay");
    let mut out = Flushed { relayed: relayed.relayed, ..Flushed::default() };
    let queue = state.queue.as_ref().expect("a mail queue");
    loop {
        let received = queue
            .client
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive from the mail queue");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            let event = sqs_event(m.message_id.as_deref(), m.body.as_deref().unwrap_or_default());
            let resp = Box::pin(notifications::mailer::consume(state, event, now)).await;
            if resp.batch_item_failures.is_empty() {
                out.handled += 1;
                if let Some(h) = m.receipt_handle {
                    queue.client.delete_message().queue_url(&queue.url).receipt_handle(h).send().await.expect("delete");
                }
            } else {
                out.failed += 1;
                // Back on the queue at once (as the visibility timeout would, later): the next flush retries it.
                if let Some(h) = m.receipt_handle {
                    queue
                        .client
                        .change_message_visibility()
                        .queue_url(&queue.url)
                        .receipt_handle(h)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .expect("release");
                }
                return out;
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
            let f = flush_quietly(&state, now).await;
            if f.failed > 0 {
                eprintln!(
                    "notifications: {} message(s) failed; retried after the queue's visibility timeout",
                    f.failed
                );
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}

/// [`flush`] that logs instead of panicking (the local portal keeps running through an emulator hiccup).
async fn flush_quietly(state: &State, now: DateTime<Utc>) -> Flushed {
    let mut out = Flushed::default();
    match notifications::relay::relay(state, now).await {
        Ok(r) => out.relayed = r.relayed,
        Err(e) => {
            eprintln!("notifications: relay failed: {e}");
            return out;
        }
    }
    let Some(queue) = state.queue.as_ref() else { return out };
    let Ok(received) = queue.client.receive_message().queue_url(&queue.url).max_number_of_messages(10).send().await
    else {
        return out;
    };
    for m in received.messages.unwrap_or_default() {
        let event = sqs_event(m.message_id.as_deref(), m.body.as_deref().unwrap_or_default());
        let resp = Box::pin(notifications::mailer::consume(state, event, now)).await;
        if resp.batch_item_failures.is_empty() {
            out.handled += 1;
            if let Some(h) = m.receipt_handle {
                let _ = queue.client.delete_message().queue_url(&queue.url).receipt_handle(h).send().await;
            }
        } else {
            out.failed += 1;
        }
    }
    out
}
