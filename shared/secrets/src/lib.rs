//! Secrets (session signing keys, the token hash key, the gateway's API key and webhook secret) are kept in
//! Secrets Manager and read once, at cold start.
//!
//! Terraform sets `<NAME>_SECRET_ARN` in a function's environment for every secret it needs; [`load_from_env`] reads
//! each named secret's current value and [`portal_http::config`]-style readers then see `<NAME>` as if it
//! were an environment variable (`portal_http::config::install_secrets`). Without any `*_SECRET_ARN`
//! variable (tests, the local portal, the benchmark) nothing is read and no client is built: the values come
//! from the environment as before. The values never enter the Lambda environment, the Terraform state or a
//! log line.

use std::collections::BTreeMap;

/// The suffix that marks a variable as the ARN of the secret holding the variable without it.
pub const SUFFIX: &str = "_SECRET_ARN";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("configuration {variable}: {problem}")]
    Config { variable: String, problem: String },
    #[error("configuration {variable}: secret {arn} could not be read: {why}")]
    Read { variable: String, arn: String, why: String },
}

/// `(NAME, ARN)` for every `NAME_SECRET_ARN` among `vars`, sorted by name. Pure: the caller passes
/// `std::env::vars()`.
pub fn wanted(vars: impl IntoIterator<Item = (String, String)>) -> Result<Vec<(String, String)>, SecretError> {
    let mut out = Vec::new();
    for (key, value) in vars {
        let Some(name) = key.strip_suffix(SUFFIX) else { continue };
        let arn = value.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            return Err(SecretError::Config { variable: key.clone(), problem: "is not NAME_SECRET_ARN".into() });
        }
        if !arn.starts_with("arn:") || !arn.contains(":secretsmanager:") {
            return Err(SecretError::Config { variable: key.clone(), problem: "is not a Secrets Manager ARN".into() });
        }
        out.push((name.to_string(), arn.to_string()));
    }
    out.sort();
    Ok(out)
}

/// Read the current value (`AWSCURRENT`) of each wanted secret: one `GetSecretValue` per secret.
pub async fn read(
    client: &aws_sdk_secretsmanager::Client,
    wanted: &[(String, String)],
) -> Result<BTreeMap<String, String>, SecretError> {
    let mut values = BTreeMap::new();
    for (name, arn) in wanted {
        let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| SecretError::Read {
            variable: format!("{name}{SUFFIX}"),
            arn: arn.clone(),
            why: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
        })?;
        let value = out.secret_string.filter(|v| !v.trim().is_empty()).ok_or_else(|| SecretError::Config {
            variable: format!("{name}{SUFFIX}"),
            problem: format!("secret {arn} has no string value"),
        })?;
        values.insert(name.clone(), value);
    }
    tracing::info!(secrets = ?values.keys().collect::<Vec<_>>(), "secrets read at cold start");
    Ok(values)
}

/// At cold start: the secrets this function's environment names, read from Secrets Manager (nothing, and no
/// client, when it names none).
pub async fn load_from_env() -> Result<BTreeMap<String, String>, SecretError> {
    let wanted = wanted(std::env::vars())?;
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sdk = portal_store::aws::sdk_config().await;
    read(&aws_sdk_secretsmanager::Client::new(&sdk), &wanted).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn only_secret_arn_variables_are_wanted() {
        let arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:portal/session-keys-AbCdEf";
        let got = wanted(v(&[("PATH", "/bin"), ("SESSION_KEYS_SECRET_ARN", arn), ("TABLE_NAME", "t")])).unwrap();
        assert_eq!(got, v(&[("SESSION_KEYS", arn)]));
        assert!(wanted(v(&[("PATH", "/bin")])).unwrap().is_empty());
    }

    #[test]
    fn malformed_names_and_arns_stop_the_cold_start() {
        assert!(wanted(v(&[("SESSION_KEYS_SECRET_ARN", "k1:abc")])).is_err());
        assert!(wanted(v(&[("SESSION_KEYS_SECRET_ARN", "arn:aws:ssm:eu-west-2:1:parameter/x")])).is_err());
        assert!(wanted(v(&[("_SECRET_ARN", "arn:aws:secretsmanager:x")])).is_err());
        assert!(wanted(v(&[("lower_SECRET_ARN", "arn:aws:secretsmanager:x")])).is_err());
    }
}
