//! Operator authentication. In AWS, operator routes use API Gateway IAM authorization and the handler checks
//! that the request context carries an IAM principal. Locally (and in tests) there is no IAM: the operator
//! presents `Authorization: Bearer <key>`, compared in constant time against the SHA-256 of the configured key.

use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{self, ConfigError};
use crate::{ApiError, header};

#[derive(Clone)]
pub enum OperatorAuth {
    /// API Gateway authorised the caller with SigV4; we read who it was.
    Iam,
    /// A shared key for local use; only its digest is kept in memory.
    Key { digest: [u8; 32] },
}

impl std::fmt::Debug for OperatorAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OperatorAuth::Iam => f.write_str("OperatorAuth::Iam"),
            OperatorAuth::Key { .. } => f.write_str("OperatorAuth::Key(<redacted>)"),
        }
    }
}

impl OperatorAuth {
    /// `OPERATOR_AUTH=iam` (default in AWS) or `OPERATOR_AUTH=key` with `OPERATOR_KEY` (≥ 32 characters).
    pub fn from_env() -> Result<OperatorAuth, ConfigError> {
        match config::optional("OPERATOR_AUTH").as_deref() {
            None | Some("iam") => Ok(OperatorAuth::Iam),
            Some("key") => {
                let key = config::required("OPERATOR_KEY")?;
                OperatorAuth::key(&key)
                    .ok_or(ConfigError { variable: "OPERATOR_KEY", problem: "must be at least 32 characters".into() })
            }
            Some(other) => {
                Err(ConfigError { variable: "OPERATOR_AUTH", problem: format!("`{other}` is neither `iam` nor `key`") })
            }
        }
    }

    pub fn key(key: &str) -> Option<OperatorAuth> {
        (key.len() >= 32).then(|| OperatorAuth::Key { digest: Sha256::digest(key.as_bytes()).into() })
    }

    /// Who the operator is, or 401. Customer sessions never pass: they carry no IAM principal and no key.
    pub fn authenticate(&self, req: &Request) -> Result<String, ApiError> {
        match self {
            OperatorAuth::Iam => match req.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                    .authorizer
                    .as_ref()
                    .and_then(|a| a.iam.as_ref())
                    .and_then(|iam| iam.user_arn.clone().or_else(|| iam.caller_id.clone()))
                    .ok_or_else(|| ApiError::unauthorized("operator routes need IAM (SigV4) authorization")),
                _ => Err(ApiError::unauthorized("operator routes need IAM (SigV4) authorization")),
            },
            OperatorAuth::Key { digest } => {
                let presented =
                    header(req, "authorization").and_then(|h| h.strip_prefix("Bearer ")).ok_or_else(|| {
                        ApiError::unauthorized("operator routes need `Authorization: Bearer <operator key>`")
                    })?;
                let d: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
                if bool::from(d.ct_eq(digest)) {
                    Ok("operator-key".into())
                } else {
                    Err(ApiError::unauthorized("the operator key is not valid"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    #[test]
    fn key_auth() {
        let auth = OperatorAuth::key("k".repeat(40).as_str()).unwrap();
        let mut r = Request::new(Body::Empty);
        assert_eq!(auth.authenticate(&r).unwrap_err().status(), 401);
        r.headers_mut().insert("authorization", format!("Bearer {}", "k".repeat(40)).parse().unwrap());
        assert!(auth.authenticate(&r).is_ok());
        r.headers_mut().insert("authorization", "Bearer nope".parse().unwrap());
        assert_eq!(auth.authenticate(&r).unwrap_err().status(), 401);
        assert!(OperatorAuth::key("short").is_none());
        assert!(OperatorAuth::Iam.authenticate(&Request::new(Body::Empty)).is_err());
    }
}
