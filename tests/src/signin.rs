//! The sign-in queue on moto and the `sign-in-mailer` that consumes it, for tests and the local portal: a link
//! request queues, the mailer issues the link and sends the email (as the SQS event source does in AWS).

use chrono::{DateTime, Utc};

use crate::TestEnv;

/// A fresh sign-in queue on moto.
pub async fn sign_in_queue(env: &TestEnv, name: &str) -> auth::mailer::SignInQueue {
    let client = aws_sdk_sqs::Client::new(&env.sdk);
    let out = client.create_queue().queue_name(name).send().await.expect("create the sign-in queue");
    auth::mailer::SignInQueue { client, url: out.queue_url.expect("a queue url") }
}

/// The mailer for `state`'s table, SES and configuration (the same token key: the links it writes are the
/// ones the auth function exchanges).
pub fn mailer(state: &auth::State, emails_per_day: u32) -> auth::mailer::Mailer {
    auth::mailer::Mailer {
        store: state.store.clone(),
        ses: state.ses.clone(),
        config: state.config.clone(),
        emails_per_day,
    }
}

/// Receive every message on the queue and hand each to the mailer as an SQS event at `now`; messages the
/// mailer reports as failed stay on the queue. Returns how many messages were handled.
pub async fn drain(queue: &auth::mailer::SignInQueue, mailer: &auth::mailer::Mailer, now: DateTime<Utc>) -> usize {
    let mut handled = 0;
    loop {
        let out = queue
            .client
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive from the sign-in queue");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return handled;
        }
        for m in messages {
            handled += 1;
            let record = serde_json::json!({"messageId": m.message_id, "body": m.body});
            let event = serde_json::from_value(serde_json::json!({"Records": [record]})).expect("an SQS event");
            let resp = auth::mailer::handle(mailer, event, now).await;
            if resp.batch_item_failures.is_empty()
                && let Some(h) = m.receipt_handle
            {
                queue.client.delete_message().queue_url(&queue.url).receipt_handle(h).send().await.expect("delete");
            }
        }
    }
}

/// The mailer polling the queue in the background (the local portal).
pub fn spawn(queue: auth::mailer::SignInQueue, mailer: auth::mailer::Mailer) {
    tokio::spawn(async move {
        loop {
            let received = queue
                .client
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await;
            let messages = match received {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(e) => {
                    eprintln!("sign-in mailer: receiving failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            for m in messages {
                let record = serde_json::json!({"messageId": m.message_id, "body": m.body});
                let Ok(event) = serde_json::from_value(serde_json::json!({"Records": [record]})) else {
                    continue;
                };
                let resp = auth::mailer::handle(&mailer, event, Utc::now()).await;
                if resp.batch_item_failures.is_empty()
                    && let Some(h) = m.receipt_handle
                {
                    let _ = queue.client.delete_message().queue_url(&queue.url).receipt_handle(h).send().await;
                }
            }
        }
    });
}
