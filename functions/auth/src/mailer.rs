//! Sign-in emails, off the request path.
//!
//! `POST /auth/magic-links` only decides that a traveller matched and puts a [`SignInMessage`] on the sign-in
//! queue (one `SendMessage`); its answer never waits for SES. This consumer (the `sign-in-mailer` Lambda, an
//! SQS event source) then, per message:
//!
//! 1. drops it if it is older than a link lives (nobody is waiting for it any more);
//! 2. reads the booking and checks the traveller is still on it with the email that was asked for (the message
//!    carries only a keyed hash of that email, never the address or a token);
//! 3. counts one email in the address's daily cap (`RATE_EMAIL_PER_DAY`, default 10 per UTC day): past it,
//!    nothing is sent (logged `alarm=sign_in_email_cap`), so nobody can mail-bomb an address through us;
//! 4. issues the link, retiring that traveller's older links and codes in the same transaction, and sends the
//!    email. An SES failure reports the message as failed: SQS delivers it again (3 times, then the DLQ).
//!
//! Neither the token nor the code exists anywhere but in the email: the queue never sees them.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use portal_domain::booking::Booking;
use portal_http::config::{self, ConfigError};
use portal_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::AuthConfig;
use crate::tokens::mask_email;

/// What the request path tells the mailer: which traveller of which booking asked, and a keyed hash of the
/// email they typed (compared with the booking's when the email goes out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInMessage {
    pub reference: String,
    pub traveller_id: String,
    pub email_hash: String,
    /// Unix seconds.
    pub requested_at: i64,
}

/// The queue `POST /auth/magic-links` writes to (`SIGN_IN_QUEUE_URL`).
#[derive(Debug, Clone)]
pub struct SignInQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl SignInQueue {
    pub async fn send(&self, msg: &SignInMessage) -> Result<(), StoreError> {
        let body = serde_json::to_string(msg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.client.send_message().queue_url(&self.url).message_body(body).send().await.map_err(StoreError::aws)?;
        Ok(())
    }
}

/// Default of `RATE_EMAIL_PER_DAY`.
pub const EMAILS_PER_DAY: u32 = 10;

pub struct Mailer {
    pub store: Store,
    pub ses: aws_sdk_sesv2::Client,
    pub config: AuthConfig,
    /// Sign-in emails to one address per UTC day at most.
    pub emails_per_day: u32,
}

impl Mailer {
    pub async fn from_env() -> Result<Mailer, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let config = AuthConfig::from_env()?;
        let emails_per_day = config::number("RATE_EMAIL_PER_DAY", EMAILS_PER_DAY.into(), 1, 10_000)? as u32;
        let sdk = portal_store::aws::sdk_config().await;
        let store = Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
        Ok(Mailer { store, ses: aws_sdk_sesv2::Client::new(&sdk), config, emails_per_day })
    }
}

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Older than a link lives, booking or traveller gone, email changed, daily cap reached: nothing to do.
    Dropped(&'static str),
}

/// The SQS batch: messages that failed (store or SES trouble) are reported for redelivery.
pub async fn handle(mailer: &Mailer, event: SqsEvent, now: DateTime<Utc>) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let Some(msg) = record.body.as_deref().and_then(|b| serde_json::from_str::<SignInMessage>(b).ok()) else {
            tracing::warn!(message_id = %id, "not a sign-in message; dropped");
            continue;
        };
        match deliver(mailer, &msg, now).await {
            Ok(Outcome::Sent) => {}
            Ok(Outcome::Dropped(why)) => {
                tracing::info!(message_id = %id, reference = %msg.reference, why, "sign-in email not sent")
            }
            Err(e) => {
                tracing::error!(message_id = %id, reference = %msg.reference, error = %e, "sign-in email failed; will retry");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                failures.push(f);
            }
        }
    }
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    resp
}

/// One message: see the module documentation for the steps.
pub async fn deliver(mailer: &Mailer, msg: &SignInMessage, now: DateTime<Utc>) -> Result<Outcome, crate::ApiError> {
    if now.timestamp() - msg.requested_at > mailer.config.link_ttl_seconds {
        return Ok(Outcome::Dropped("asked for longer ago than a link lives"));
    }
    let Some(c) = mailer.store.load_booking(&msg.reference).await? else {
        return Ok(Outcome::Dropped("booking gone"));
    };
    let booking: &Booking = &c.booking;
    let Some(traveller) = booking.traveller(&msg.traveller_id) else {
        return Ok(Outcome::Dropped("traveller no longer on the booking"));
    };
    let key = &mailer.config.token_key;
    let Some(email) =
        traveller.email.as_deref().filter(|e| crate::tokens::same_hash(&key.email_hash(e), &msg.email_hash))
    else {
        return Ok(Outcome::Dropped("the traveller's email changed since the request"));
    };
    let day = now.timestamp().div_euclid(86_400);
    let pk = portal_store::auth::rate_pk(
        "mail-email-day",
        &key.rate_key("mail-email-day", &email.to_ascii_lowercase()),
        day,
    );
    if !mailer.store.rate_hit(&pk, mailer.emails_per_day, (day + 1) * 86_400 + 3600).await? {
        tracing::warn!(alarm = "sign_in_email_cap", reference = %booking.reference, to = %mask_email(email), "daily sign-in email cap reached for an address; nothing sent");
        return Ok(Outcome::Dropped("daily email cap reached"));
    }
    let issued = crate::issue_link(&mailer.store, &mailer.config, &c, traveller, now).await?;
    crate::send_link_email(&mailer.ses, &mailer.config, booking, traveller, email, &issued).await?;
    Ok(Outcome::Sent)
}
