//! Customer notifications, pure (no AWS types): the mail outbox's vocabulary.
//!
//! Every customer email but the sign-in link is a [`Notice`]: written in the same DynamoDB transaction as the
//! change it tells about (a payment, a push, a decision), relayed to the mail queue, and sent at most once per
//! recipient by the mailer (`functions/notifications`). This crate decides what a notice holds and says:
//!
//! - [`kind`]: the kinds, their [`kind::Category`] (transactional ones always go out; updates and reminders
//!   honour the traveller's preferences, bounces and complaints, and carry a one-click unsubscribe);
//! - [`content`]: what a notice carries (an email the writer prepared, or data the mailer words at send time);
//! - [`changes`]: an operator push's customer-visible changes, in words;
//! - [`plan`]: which instalment reminders and pre-charge notices are due on a day;
//! - [`digest`]: several pending updates of a booking merged into one email;
//! - [`unsubscribe`]: RFC 8058 one-click tokens;
//! - [`emails`]: the localized emails the mailer words itself.

pub mod booking;
pub mod changes;
pub mod content;
pub mod digest;
pub mod emails;
pub mod kind;
pub mod plan;
pub mod unsubscribe;

pub use content::{Content, DueLine, Notice, Recipient};
pub use kind::{Category, NoticeKind};
