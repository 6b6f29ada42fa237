//! Configuration read and validated once at cold start. A missing or invalid variable stops the function
//! before it serves anything, with a message naming the variable.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// Values read from a secret store at cold start (`portal_secrets::load_from_env`), seen by [`required`] and
/// [`optional`] like environment variables (the environment wins when both hold a name).
static SECRETS: OnceLock<BTreeMap<String, String>> = OnceLock::new();

/// Make secret values visible to the readers below. Once per process, before the function's config is read;
/// a second call is ignored.
pub fn install_secrets(values: BTreeMap<String, String>) {
    let _ = SECRETS.set(values);
}

fn lookup(variable: &str) -> Option<String> {
    std::env::var(variable).ok().or_else(|| SECRETS.get().and_then(|s| s.get(variable).cloned()))
}

#[derive(Debug)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration {}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// A required, non-empty variable.
pub fn required(variable: &'static str) -> Result<String, ConfigError> {
    match lookup(variable) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(ConfigError { variable, problem: "is empty".into() }),
        None => Err(ConfigError { variable, problem: "is not set".into() }),
    }
}

pub fn optional(variable: &'static str) -> Option<String> {
    lookup(variable).filter(|v| !v.trim().is_empty())
}

/// An optional number with a default and bounds.
pub fn number(variable: &'static str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    match optional(variable) {
        None => Ok(default),
        Some(v) => {
            let n: u64 =
                v.trim().parse().map_err(|_| ConfigError { variable, problem: format!("`{v}` is not a number") })?;
            if n < min || n > max {
                return Err(ConfigError { variable, problem: format!("{n} is outside {min}..={max}") });
            }
            Ok(n)
        }
    }
}
