//! Bounces and complaints from the SES configuration set's event destination (SNS → the SES events queue,
//! raw delivery), recorded per address: a suppressed address gets no further optional email, and the
//! operator sees why in `GET /operator/bookings/{reference}/emails`. Transient bounces (a full mailbox) are
//! not suppressions. SES's own account-level suppression list stops repeat sends to hard-bounced addresses
//! as well; this record is what the portal and the operator can see.

use chrono::{DateTime, Utc};
use portal_store::StoreError;
use serde::Deserialize;

use crate::State;

/// One address to suppress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppress {
    pub email: String,
    /// `bounce` or `complaint`.
    pub reason: &'static str,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    /// Event publishing names it `eventType`; identity notifications `notificationType`.
    #[serde(alias = "notificationType")]
    event_type: String,
    #[serde(default)]
    bounce: Option<Bounce>,
    #[serde(default)]
    complaint: Option<Complaint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<BouncedRecipient>,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BouncedRecipient {
    email_address: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    diagnostic_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<ComplainedRecipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComplainedRecipient {
    email_address: String,
}

/// An SNS envelope (when the subscription is not raw).
#[derive(Deserialize)]
struct Sns {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

/// The suppressions an SQS body asks for: `Some(vec![])` for an SES event that suppresses nothing (a
/// delivery, a transient bounce), `None` for a body that is not an SES event at all.
pub fn parse(body: &str) -> Option<Vec<Suppress>> {
    if let Ok(sns) = serde_json::from_str::<Sns>(body)
        && sns.kind == "Notification"
    {
        return parse(&sns.message);
    }
    let ev: SesEvent = serde_json::from_str(body).ok()?;
    let now = Utc::now();
    let mut out = Vec::new();
    match (ev.event_type.as_str(), ev.bounce, ev.complaint) {
        ("Bounce", Some(b), _) if b.bounce_type == "Permanent" => {
            for r in b.bounced_recipients {
                let detail = [b.bounce_sub_type.clone(), r.status, r.diagnostic_code]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ");
                out.push(Suppress {
                    email: r.email_address,
                    reason: "bounce",
                    detail: Some(detail).filter(|d| !d.is_empty()),
                    at: b.timestamp.unwrap_or(now),
                });
            }
        }
        ("Complaint", _, Some(c)) => {
            for r in c.complained_recipients {
                out.push(Suppress {
                    email: r.email_address,
                    reason: "complaint",
                    detail: c.complaint_feedback_type.clone(),
                    at: c.timestamp.unwrap_or(now),
                });
            }
        }
        _ => {}
    }
    Some(out)
}

pub async fn record_events(state: &State, events: &[Suppress]) -> Result<(), StoreError> {
    for s in events {
        state.store.record_suppression(&s.email, s.reason, s.detail.as_deref(), s.at).await?;
        tracing::warn!(to = %portal_mail::mask_email(&s.email), reason = s.reason, "address suppressed for optional email");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounces_and_complaints() {
        let hard = r#"{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"ada@example.com","status":"5.1.1","diagnosticCode":"smtp; 550"}],"timestamp":"2026-12-07T10:00:00.000Z"},"mail":{}}"#;
        let out = parse(hard).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, "bounce");
        assert_eq!(out[0].detail.as_deref(), Some("General; 5.1.1; smtp; 550"));
        let soft = hard.replace("Permanent", "Transient");
        assert_eq!(parse(&soft).unwrap(), vec![], "a full mailbox is no suppression");
        let complaint = r#"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"b@example.com"}],"complaintFeedbackType":"abuse"}}"#;
        assert_eq!(parse(complaint).unwrap()[0].reason, "complaint");
        let wrapped = serde_json::json!({"Type": "Notification", "Message": complaint}).to_string();
        assert_eq!(parse(&wrapped).unwrap().len(), 1);
        assert!(parse(r#"{"reference":"AE-1","notices":[]}"#).is_none());
        assert_eq!(parse(r#"{"eventType":"Delivery","mail":{}}"#).unwrap(), vec![]);
    }
}
