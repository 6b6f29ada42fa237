//! Operator authentication. In AWS, operator routes use API Gateway IAM authorization and the handler checks
//! that the request context carries an IAM principal **on the allow-list** `OPERATOR_PRINCIPALS` (comma
//! separated; Terraform's `operator_principal_arns`): any other SigV4 caller, even one the account lets invoke
//! the API, gets 403. An entry is a user ARN, an assumed-role session ARN, or a role ARN, which admits every
//! session of that role (`arn:aws:iam::<acct>:role/<path/>Name` ↔ `arn:aws:sts::<acct>:assumed-role/Name/<session>`). Locally (and in tests) there is no IAM: the operator
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
    /// API Gateway authorised the caller with SigV4; we read who it was and check it against the allow-list.
    Iam { allowed: Vec<String> },
    /// A shared key for local use; only its digest is kept in memory.
    Key { digest: [u8; 32] },
}

impl std::fmt::Debug for OperatorAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OperatorAuth::Iam { allowed } => write!(f, "OperatorAuth::Iam({} principals)", allowed.len()),
            OperatorAuth::Key { .. } => f.write_str("OperatorAuth::Key(<redacted>)"),
        }
    }
}

impl OperatorAuth {
    /// `OPERATOR_AUTH=iam` (default in AWS) or `OPERATOR_AUTH=key` with `OPERATOR_KEY` (≥ 32 characters).
    pub fn from_env() -> Result<OperatorAuth, ConfigError> {
        match config::optional("OPERATOR_AUTH").as_deref() {
            None | Some("iam") => {
                let raw = config::required("OPERATOR_PRINCIPALS")?;
                OperatorAuth::iam(raw.split(',').map(str::trim).filter(|p| !p.is_empty()))
                    .map_err(|problem| ConfigError { variable: "OPERATOR_PRINCIPALS", problem })
            }
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

    /// IAM mode admitting exactly `principals` (see the module documentation for the forms).
    pub fn iam<'a>(principals: impl IntoIterator<Item = &'a str>) -> Result<OperatorAuth, String> {
        let allowed: Vec<String> = principals.into_iter().map(str::to_string).collect();
        if allowed.is_empty() {
            return Err("must list at least one IAM principal ARN".into());
        }
        if let Some(bad) = allowed.iter().find(|p| !is_principal_arn(p)) {
            return Err(format!("`{bad}` is not an IAM user, role or assumed-role ARN"));
        }
        Ok(OperatorAuth::Iam { allowed })
    }

    pub fn key(key: &str) -> Option<OperatorAuth> {
        (key.len() >= 32).then(|| OperatorAuth::Key { digest: Sha256::digest(key.as_bytes()).into() })
    }

    /// Who the operator is, or 401. Customer sessions never pass: they carry no IAM principal and no key.
    pub fn authenticate(&self, req: &Request) -> Result<String, ApiError> {
        match self {
            OperatorAuth::Iam { allowed } => {
                let arn = match req.request_context_ref() {
                    Some(RequestContext::ApiGatewayV2(ctx)) => {
                        ctx.authorizer.as_ref().and_then(|a| a.iam.as_ref()).and_then(|iam| iam.user_arn.clone())
                    }
                    _ => None,
                }
                .ok_or_else(|| ApiError::unauthorized("operator routes need IAM (SigV4) authorization"))?;
                if allowed.iter().any(|entry| principal_matches(entry, &arn)) {
                    Ok(arn)
                } else {
                    tracing::warn!(principal = %arn, "operator route refused: IAM principal not on the allow-list");
                    Err(ApiError::forbidden("this IAM principal is not allowed to use operator routes"))
                }
            }
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

fn is_principal_arn(p: &str) -> bool {
    let parts: Vec<&str> = p.splitn(6, ':').collect();
    let [arn, aws, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    *arn == "arn"
        && aws.starts_with("aws")
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && match *service {
            "iam" => (resource.starts_with("role/") || resource.starts_with("user/")) && resource.len() > 5,
            "sts" => resource.strip_prefix("assumed-role/").is_some_and(|r| r.split('/').count() == 2),
            _ => false,
        }
        && !p.contains(['*', '?', ' '])
}

/// Does the allow-list entry admit the caller `arn`? Exact match, or a role entry and a session of that role
/// (the assumed-role ARN carries the role's name without its path).
pub fn principal_matches(entry: &str, arn: &str) -> bool {
    if entry == arn {
        return true;
    }
    let Some((prefix, role_path)) = entry.split_once(":role/") else {
        return false;
    };
    let Some(account_part) = prefix.strip_prefix("arn:") else {
        return false;
    };
    // account_part = "<partition>:iam::<account>"
    let Some((partition, account)) = account_part.split_once(":iam::") else {
        return false;
    };
    let role_name = role_path.rsplit('/').next().unwrap_or(role_path);
    let session_prefix = format!("arn:{partition}:sts::{account}:assumed-role/{role_name}/");
    arn.strip_prefix(&session_prefix).is_some_and(|session| !session.is_empty() && !session.contains('/'))
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
        let iam = OperatorAuth::iam(["arn:aws:iam::123456789012:role/ops"]).unwrap();
        assert_eq!(iam.authenticate(&Request::new(Body::Empty)).unwrap_err().status(), 401);
    }

    #[test]
    fn allow_list_entries_and_matching() {
        let role = "arn:aws:iam::123456789012:role/integrations/reservations";
        assert!(principal_matches(role, "arn:aws:sts::123456789012:assumed-role/reservations/lambda-1"));
        assert!(!principal_matches(role, "arn:aws:sts::123456789012:assumed-role/reservations-x/s"));
        assert!(!principal_matches(role, "arn:aws:sts::999999999999:assumed-role/reservations/s"), "other account");
        assert!(!principal_matches(role, "arn:aws:iam::123456789012:user/reservations"));
        let user = "arn:aws:iam::123456789012:user/reservations";
        assert!(principal_matches(user, user));
        assert!(!principal_matches(user, "arn:aws:iam::123456789012:user/reservations2"));
        assert!(OperatorAuth::iam(["arn:aws:iam::123456789012:user/a", role]).is_ok());
        assert!(OperatorAuth::iam(["arn:aws:sts::123456789012:assumed-role/ops/alice"]).is_ok());
        assert!(OperatorAuth::iam(std::iter::empty::<&str>()).is_err());
        assert!(OperatorAuth::iam(["arn:aws:iam::123456789012:role/*"]).is_err(), "no wildcards");
        assert!(OperatorAuth::iam(["arn:aws:iam::1234:user/a"]).is_err());
        assert!(OperatorAuth::iam(["AIDAEXAMPLE"]).is_err());
        assert!(OperatorAuth::iam(["arn:aws:s3:::bucket"]).is_err());
    }
}
