//! Customer notifications (issue 21; the contract is `docs/notifications.md`).
//!
//! Every customer email but the sign-in link leaves through one path:
//!
//! 1. **The writer** (a payment webhook, the instalment runner, an operator push, the document worker, a
//!    request change) puts a [`portal_notify::Notice`] into the mail outbox in the same `TransactWriteItems`
//!    as the change it tells about, with an id derived from that change: no change without its email, no
//!    second email for a retried or duplicated change.
//! 2. **The relay** ([`relay`], the `notification-relay` Lambda, every minute) moves pending notices to the
//!    mail queue (SQS), holding a booking's updates while the operator is still pushing and then sending them
//!    as one digest; once a day it plans instalment reminders and pre-charge notices.
//! 3. **The mailer** ([`mailer`], the `notification-mailer` Lambda, an SQS consumer) claims a send record per
//!    notice and recipient before it calls SES, so a redelivered message or a retried Lambda sends nothing
//!    twice; SES refusals are retried by SQS (5 receives, then the dead-letter queue and an alarm). Optional
//!    emails honour the traveller's preferences and the address's bounces and complaints ([`ses_events`],
//!    from the SES configuration set's events on the same Lambda) and carry RFC 8058 one-click unsubscribe.
//! 4. **HTTP** ([`http`], the `notifications` Lambda): the unsubscribe page and POST, and the operator's view
//!    of a booking's emails and suppressed addresses.

pub mod http;
pub mod mailer;
pub mod relay;
pub mod ses_events;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portal_http::config::{self, ConfigError};
use portal_http::operator::OperatorAuth;
use portal_store::Store;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The mail queue the relay feeds (`MAIL_QUEUE_URL`).
#[derive(Debug, Clone)]
pub struct MailQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

/// Shared by the three Lambdas: each reads what it needs (a missing variable another one needs is no error).
pub struct State {
    pub store: Store,
    pub ses: aws_sdk_sesv2::Client,
    pub queue: Option<MailQueue>,
    pub brands: portal_mail::Brands,
    /// The web app's origin (`PORTAL_URL`): links into the app and the unsubscribe link.
    pub portal_url: String,
    /// `UNSUBSCRIBE_KEY`: the MAC key of one-click unsubscribe tokens.
    pub unsubscribe_key: Vec<u8>,
    /// `SES_CONFIGURATION_SET`, if the identities' default is not to be relied on.
    pub configuration_set: Option<String>,
    /// `REMINDER_DAYS` (default `14,3`).
    pub reminder_days: Vec<u32>,
    /// `DIGEST_QUIET_SECONDS` (default 600): updates wait until the booking has been quiet this long...
    pub digest_quiet: chrono::Duration,
    /// ...or `DIGEST_MAX_HOLD_SECONDS` (default 3600) since the oldest one.
    pub digest_max_hold: chrono::Duration,
    /// Operator routes (`OPERATOR_AUTH`...): set by the HTTP Lambda's main; `None` in the mailer and relay.
    pub auth: Option<OperatorAuth>,
    pub clock: Clock,
}

/// At least this many bytes of `UNSUBSCRIBE_KEY`.
pub const MIN_KEY_BYTES: usize = 32;

impl State {
    pub async fn from_env() -> Result<State, ConfigError> {
        let table = config::required("TABLE_NAME")?;
        let portal_url = config::required("PORTAL_URL")?.trim().trim_end_matches('/').to_string();
        let sender = config::optional("EMAIL_SENDER").unwrap_or_else(|| "no-reply@invalid.example".into());
        let brands = portal_mail::Brands::parse(config::optional("BRANDS_JSON").as_deref(), sender.trim())
            .map_err(|e| ConfigError { variable: portal_mail::BrandsError::VARIABLE, problem: e.problem })?;
        let key = config::required("UNSUBSCRIBE_KEY")?;
        if key.len() < MIN_KEY_BYTES {
            return Err(ConfigError {
                variable: "UNSUBSCRIBE_KEY",
                problem: format!("at least {MIN_KEY_BYTES} bytes"),
            });
        }
        let reminder_days =
            portal_notify::plan::parse_days(&config::optional("REMINDER_DAYS").unwrap_or("14,3".into()))
                .map_err(|problem| ConfigError { variable: "REMINDER_DAYS", problem })?;
        let quiet = config::number("DIGEST_QUIET_SECONDS", 600, 0, 86_400)?;
        let hold = config::number("DIGEST_MAX_HOLD_SECONDS", 3600, 0, 7 * 86_400)?;
        let sdk = portal_store::aws::sdk_config().await;
        let queue = config::optional("MAIL_QUEUE_URL")
            .filter(|u| !u.trim().is_empty())
            .map(|url| MailQueue { client: aws_sdk_sqs::Client::new(&sdk), url });
        Ok(State {
            store: Store::new(portal_store::aws::dynamodb_client(&sdk, None), table),
            ses: aws_sdk_sesv2::Client::new(&sdk),
            queue,
            brands,
            portal_url,
            unsubscribe_key: key.into_bytes(),
            configuration_set: config::optional("SES_CONFIGURATION_SET").filter(|s| !s.trim().is_empty()),
            reminder_days,
            digest_quiet: chrono::Duration::seconds(quiet as i64),
            digest_max_hold: chrono::Duration::seconds(hold.max(quiet) as i64),
            auth: None,
            clock: Arc::new(Utc::now),
        })
    }

    /// The booking's page in the web app.
    pub fn booking_link(&self, reference: &str) -> String {
        format!("{}/trips/{reference}", self.portal_url)
    }

    pub fn unsubscribe_link(&self, u: &portal_notify::unsubscribe::Unsubscribe) -> String {
        format!(
            "{}/notifications/unsubscribe?token={}",
            self.portal_url,
            portal_notify::unsubscribe::token(&self.unsubscribe_key, u)
        )
    }
}
