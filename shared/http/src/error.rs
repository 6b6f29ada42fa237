//! One error type for every handler, rendered as RFC 9457 `application/problem+json`.
//!
//! `type` values are stable relative URIs (`/problems/<slug>`), documented in `docs/problems.md`. Caller
//! mistakes say precisely what is wrong in `detail`; internal failures say nothing about internals.

use lambda_http::{Body, Response};
use portal_domain::DomainError;
use portal_domain::money::MoneyError;
use portal_store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every invalid field of a form, when there are several (`field` names the first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One invalid field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    Client {
        status: u16,
        slug: &'static str,
        title: &'static str,
        detail: String,
        field: Option<String>,
        retry_after: Option<u64>,
        www_authenticate: bool,
        /// Every invalid field of a form (boxed: rarely there, and the error stays small).
        errors: Option<Box<Vec<FieldProblem>>>,
    },
    /// Our bug or an unexpected state: logged with its cause, answered with no detail.
    #[error("internal error: {0}")]
    Internal(String),
    /// A dependency (DynamoDB, S3, SES, the gateway) failed or timed out: safe to retry.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
}

impl ApiError {
    /// A caller's mistake with its own stable problem type (`/problems/<slug>`).
    pub fn client(status: u16, slug: &'static str, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::Client {
            status,
            slug,
            title,
            detail: detail.into(),
            field: None,
            retry_after: None,
            www_authenticate: false,
            errors: None,
        }
    }

    /// A 422 naming every invalid field (the first also as `field`), so a form can mark each input.
    pub fn validation_errors(errors: Vec<FieldProblem>) -> ApiError {
        let first = errors.first().cloned().unwrap_or(FieldProblem { field: String::new(), detail: String::new() });
        let detail = match errors.len() {
            0 | 1 => first.detail.clone(),
            n => format!("{} (and {} more: see errors)", first.detail, n - 1),
        };
        let mut e = Self::validation(first.field, detail);
        if let ApiError::Client { errors: list, .. } = &mut e {
            *list = Some(Box::new(errors));
        }
        e
    }

    /// `If-Match` names a version that is no longer current (RFC 9110 §13.1.1).
    pub fn precondition_failed(detail: impl Into<String>) -> ApiError {
        Self::client(412, "precondition-failed", "Precondition failed", detail)
    }

    /// A change that must name the version it was made against came without `If-Match` (RFC 6585 §3).
    pub fn precondition_required(detail: impl Into<String>) -> ApiError {
        Self::client(428, "precondition-required", "Precondition required", detail)
    }

    /// `Retry-After: <seconds>` on a client problem.
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        if let ApiError::Client { retry_after, .. } = &mut self {
            *retry_after = Some(seconds);
        }
        self
    }

    pub fn with_field(mut self, f: impl Into<String>) -> ApiError {
        if let ApiError::Client { field, .. } = &mut self {
            *field = Some(f.into());
        }
        self
    }

    pub fn malformed_json(detail: impl Into<String>) -> ApiError {
        Self::client(400, "malformed-json", "Malformed JSON", detail)
    }
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        Self::client(400, "bad-request", "Bad request", detail)
    }
    pub fn malformed_reference() -> ApiError {
        Self::client(
            400,
            "malformed-reference",
            "Malformed booking reference",
            "a booking reference is 4-20 characters of A-Z, 0-9 and '-'",
        )
    }
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        Self::client(422, "validation-error", "Invalid request", detail).with_field(field)
    }
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        let mut e = Self::client(401, "unauthorized", "Unauthorized", detail);
        if let ApiError::Client { www_authenticate, .. } = &mut e {
            *www_authenticate = true;
        }
        e
    }
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        Self::client(403, "forbidden", "Forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        Self::client(404, "not-found", "Not found", detail)
    }
    pub fn method_not_allowed() -> ApiError {
        Self::client(405, "method-not-allowed", "Method not allowed", "this route does not accept that method")
    }
    pub fn stale_version(detail: impl Into<String>) -> ApiError {
        Self::client(409, "stale-version", "Stale version", detail)
    }
    pub fn conflict(detail: impl Into<String>) -> ApiError {
        Self::client(409, "conflict", "Conflict", detail)
    }
    pub fn payload_too_large(limit: usize) -> ApiError {
        Self::client(413, "payload-too-large", "Payload too large", format!("the request body is over {limit} bytes"))
    }
    pub fn unsupported_media_type() -> ApiError {
        Self::client(415, "unsupported-media-type", "Unsupported media type", "send the body as application/json")
    }
    pub fn rate_limited(retry_after: u64) -> ApiError {
        Self::client(429, "rate-limited", "Too many requests", format!("try again in {retry_after} seconds"))
            .with_retry_after(retry_after)
    }
    pub fn internal(cause: impl Into<String>) -> ApiError {
        ApiError::Internal(cause.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
        }
    }

    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Client { status, slug, title, detail, field, errors, .. } => Problem {
                type_: format!("/problems/{slug}"),
                title,
                status: *status,
                detail: detail.clone(),
                field: field.clone(),
                errors: errors.as_deref().cloned().unwrap_or_default(),
            },
            ApiError::Internal(_) => Problem {
                type_: "/problems/internal".into(),
                title: "Internal error",
                status: 500,
                detail: "something went wrong on our side; nothing was changed, please retry".into(),
                field: None,
                errors: Vec::new(),
            },
            ApiError::Unavailable(_) => Problem {
                type_: "/problems/unavailable".into(),
                title: "Service unavailable",
                status: 503,
                detail: "a service we depend on did not answer; nothing was changed, please retry".into(),
                field: None,
                errors: Vec::new(),
            },
        }
    }

    pub fn render(&self) -> Response<Body> {
        let p = self.problem();
        let body = serde_json::to_vec(&p).unwrap_or_default();
        let mut b = Response::builder()
            .status(p.status)
            .header("content-type", "application/problem+json")
            .header("cache-control", "no-store");
        if let ApiError::Client { retry_after: Some(s), .. } = self {
            b = b.header("retry-after", s.to_string());
        }
        if let ApiError::Client { www_authenticate: true, .. } = self {
            b = b.header("www-authenticate", "Bearer realm=\"portal\"");
        }
        if matches!(self, ApiError::Unavailable(_)) {
            b = b.header("retry-after", "1");
        }
        b.body(Body::Binary(body)).unwrap_or_else(|_| Response::new(Body::Empty))
    }

    pub fn log_and_render(self) -> Response<Body> {
        match &self {
            ApiError::Client { status, slug, .. } => tracing::info!(status, problem = slug, "request rejected"),
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "internal error"),
            ApiError::Unavailable(cause) => tracing::warn!(cause = %cause, "dependency unavailable"),
        }
        self.render()
    }
}

impl From<MoneyError> for ApiError {
    fn from(e: MoneyError) -> ApiError {
        money_error(None, e)
    }
}

fn money_error(field: Option<String>, e: MoneyError) -> ApiError {
    let err = match &e {
        MoneyError::UnknownCurrency(_) => ApiError::client(422, "unknown-currency", "Unknown currency", e.to_string()),
        MoneyError::CurrencyMismatch { .. } => {
            ApiError::client(422, "currency-mismatch", "Currency mismatch", e.to_string())
        }
        _ => ApiError::client(422, "invalid-amount", "Invalid amount", e.to_string()),
    };
    match field {
        Some(f) => err.with_field(f),
        None => err,
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        match e {
            DomainError::MalformedReference => ApiError::malformed_reference(),
            DomainError::Invalid { field, detail } => ApiError::validation(field.clone(), format!("{field}: {detail}")),
            DomainError::Money { field, source } => {
                let detail = format!("{field}: {source}");
                match money_error(Some(field), source) {
                    ApiError::Client { status, slug, title, field, .. } => ApiError::Client {
                        status,
                        slug,
                        title,
                        detail,
                        field,
                        retry_after: None,
                        www_authenticate: false,
                        errors: None,
                    },
                    other => other,
                }
            }
            e @ DomainError::ScheduleMismatch { .. } => {
                ApiError::client(422, "schedule-mismatch", "Schedule does not match price", e.to_string())
                    .with_field("schedule")
            }
            DomainError::Conflict(d) => ApiError::conflict(d),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(_) => {
                ApiError::conflict("the booking changed while this request was processed; reload and retry")
            }
            StoreError::TooLarge(n) => ApiError::client(
                422,
                "too-many-changes",
                "Too many changes at once",
                format!(
                    "this request would write {n} items in one transaction (limit 100); send the change in smaller steps"
                ),
            ),
            StoreError::Corrupt(m) => ApiError::Internal(format!("corrupt item: {m}")),
            StoreError::Aws(m) => ApiError::Unavailable(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_leak_nothing() {
        let e = ApiError::internal("table portal-xyz: ResourceNotFound arn:aws:dynamodb:secret");
        let body = String::from_utf8(match e.render().into_body() {
            Body::Binary(b) => b,
            _ => unreachable!(),
        })
        .unwrap();
        assert!(!body.contains("portal-xyz"));
        assert!(body.contains("/problems/internal"));
    }

    #[test]
    fn rate_limit_sets_retry_after() {
        let r = ApiError::rate_limited(30).render();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "30");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
}
