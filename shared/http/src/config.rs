//! Configuration read and validated once at cold start. A missing or invalid variable stops the function
//! before it serves anything, with a message naming the variable.

use std::fmt;

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
    match std::env::var(variable) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) => Err(ConfigError { variable, problem: "is empty".into() }),
        Err(_) => Err(ConfigError { variable, problem: "is not set".into() }),
    }
}

pub fn optional(variable: &'static str) -> Option<String> {
    std::env::var(variable).ok().filter(|v| !v.trim().is_empty())
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
