//! The HTTP edge every function shares: one error type rendered as RFC 9457 problem+json, request-body
//! parsing with size and type limits, operator authentication, config and tracing set-up.
//!
//! Handlers stay thin: parse with these helpers, authorise, call the domain, map the result with
//! [`json`] or an [`ApiError`].

pub mod config;
pub mod customer;
pub mod error;
pub mod jwt;
pub mod operator;
pub mod request;
pub mod session;

pub use error::{ApiError, FieldProblem, Problem};
pub use request::{client_ip, header, json_body, path_param};

use lambda_http::{Body, Response};
use serde::Serialize;

/// Largest request body any route accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON response that is never cached (every response of this API is about one customer's money).
pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response<Body>, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(format!("serialising response: {e}")))?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::Binary(bytes))
        .map_err(|e| ApiError::internal(format!("building response: {e}")))
}

/// Run a handler's fallible body and turn its error into a problem+json response. Never fails: the Lambda
/// runtime sees an `Err` only for bugs outside our control.
pub async fn respond<F>(fut: F) -> Result<Response<Body>, std::convert::Infallible>
where
    F: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    Ok(match fut.await {
        Ok(r) => r,
        Err(e) => e.log_and_render(),
    })
}

/// JSON logs to stdout for CloudWatch. Log lines carry ids and outcomes, never tokens, bodies or card data.
///
/// `RUST_LOG` is a level (`debug`) or `target=level` list (`info,aws_smithy_runtime=debug`), parsed by
/// `filter::Targets` (no regex engine in the binary: `EnvFilter`'s span/field directives are unused here);
/// missing, empty or unparseable means `info`.
pub fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .without_time() // CloudWatch stamps every line
        .with_target(false)
        .finish()
        .with(filter)
        .try_init();
}
