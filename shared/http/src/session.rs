//! Customer sessions: HS256 JWTs we sign and verify ourselves, one shared check for every customer route.
//!
//! - The algorithm is pinned (HS256); `alg: none`, other algorithms, tokens naming a key id we do not have,
//!   and tokens carrying `jku`/`x5u`/`jwk` headers are refused before any signature work.
//! - `iss`, `aud`, `typ`, `exp` and `nbf` are checked against an injected clock (no leeway).
//! - Inactivity: a token lives `idle` seconds (30 min by default) and every authenticated response re-issues
//!   it (sliding), never past `auth_time + max_age` (absolute lifetime, 12 h by default).
//! - Revocation (logout, operator kill switch) is a session item in the booking's collection: routes confirm
//!   the session item is still there (the booking overview gets it from the same `Query`).
//! - Delivered as a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict, Path=/) and accepted as a bearer token.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::Request;
use portal_domain::ids::BookingReference;
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError};
use crate::{ApiError, header};

pub const COOKIE_NAME: &str = "__Host-portal_session";
pub const TOKEN_TYPE: &str = "portal-session";

#[derive(Clone)]
struct SigningKey {
    kid: String,
    secret: Vec<u8>,
}

/// Session signing keys and lifetimes, read once at cold start.
#[derive(Clone)]
pub struct SessionConfig {
    /// The first key signs; all verify (rotation: add the new key first, drop the old after `max_age`).
    keys: Vec<SigningKey>,
    pub issuer: String,
    pub audience: String,
    pub idle_seconds: i64,
    pub max_age_seconds: i64,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("kids", &self.keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// What a verified session says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: String,
    pub reference: BookingReference,
    pub traveller_id: String,
    pub email: String,
    pub is_lead: bool,
    /// When the customer signed in (unix seconds); bounds the absolute lifetime.
    pub auth_time: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    typ: String,
    sid: String,
    bref: String,
    email: String,
    lead: bool,
    iat: i64,
    nbf: i64,
    exp: i64,
    auth_time: i64,
}

impl SessionConfig {
    /// `SESSION_KEYS` = `kid:base64url-secret[,kid:secret...]` (each secret ≥ 32 bytes), `SESSION_ISSUER`,
    /// `SESSION_AUDIENCE`, `SESSION_IDLE_SECONDS` (default 1800), `SESSION_MAX_AGE_SECONDS` (default 43200).
    pub fn from_env() -> Result<SessionConfig, ConfigError> {
        let raw = config::required("SESSION_KEYS")?;
        let mut keys = Vec::new();
        for part in raw.split(',') {
            let (kid, secret) = part
                .trim()
                .split_once(':')
                .ok_or(ConfigError { variable: "SESSION_KEYS", problem: "each key is kid:base64url-secret".into() })?;
            let secret =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret.trim_end_matches('=')).map_err(
                    |_| ConfigError { variable: "SESSION_KEYS", problem: format!("key `{kid}` is not base64url") },
                )?;
            keys.push((kid.to_string(), secret));
        }
        SessionConfig::new(
            keys,
            &config::optional("SESSION_ISSUER").unwrap_or_else(|| "tour-portal".into()),
            &config::optional("SESSION_AUDIENCE").unwrap_or_else(|| "tour-portal-customer".into()),
            config::number("SESSION_IDLE_SECONDS", 1800, 60, 86_400)? as i64,
            config::number("SESSION_MAX_AGE_SECONDS", 43_200, 300, 30 * 86_400)? as i64,
        )
    }

    pub fn new(
        keys: Vec<(String, Vec<u8>)>,
        issuer: &str,
        audience: &str,
        idle_seconds: i64,
        max_age_seconds: i64,
    ) -> Result<SessionConfig, ConfigError> {
        // jsonwebtoken's crypto (ring HMAC), once per process: every token signed or verified goes through a config.
        crate::jwt::install();
        if keys.is_empty() {
            return Err(ConfigError { variable: "SESSION_KEYS", problem: "at least one key is needed".into() });
        }
        let mut out = Vec::new();
        for (kid, secret) in keys {
            if kid.is_empty()
                || kid.len() > 32
                || !kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ConfigError {
                    variable: "SESSION_KEYS",
                    problem: "key ids are 1-32 characters of A-Z, a-z, 0-9, '-', '_'".into(),
                });
            }
            if secret.len() < 32 {
                return Err(ConfigError {
                    variable: "SESSION_KEYS",
                    problem: format!("key `{kid}` is shorter than 32 bytes"),
                });
            }
            out.push(SigningKey { kid, secret });
        }
        Ok(SessionConfig { keys: out, issuer: issuer.into(), audience: audience.into(), idle_seconds, max_age_seconds })
    }

    /// A signed token for `s`, valid for the idle timeout but never past the absolute lifetime.
    pub fn issue(&self, s: &Session, now: i64) -> Result<String, ApiError> {
        let key = &self.keys[0];
        let exp = (now + self.idle_seconds).min(s.auth_time + self.max_age_seconds);
        if exp <= now {
            return Err(ApiError::unauthorized("the session has reached its maximum age; sign in again"));
        }
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: s.traveller_id.clone(),
            typ: TOKEN_TYPE.into(),
            sid: s.sid.clone(),
            bref: s.reference.to_string(),
            email: s.email.clone(),
            lead: s.is_lead,
            iat: now,
            nbf: now,
            exp,
            auth_time: s.auth_time,
        };
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&key.secret))
            .map_err(|e| ApiError::internal(format!("signing session: {e}")))
    }

    /// Verify a token at `now`. Every failure is the same 401 to the caller; the reason is logged.
    pub fn verify(&self, token: &str, now: i64) -> Result<Session, ApiError> {
        self.verify_inner(token, now).map_err(|reason| {
            tracing::info!(reason, "session rejected");
            ApiError::unauthorized("the session is missing, expired or invalid; sign in again")
        })
    }

    fn verify_inner(&self, token: &str, now: i64) -> Result<Session, &'static str> {
        if token.len() > 4096 {
            return Err("oversized token");
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| "undecodable header")?;
        if header.alg != Algorithm::HS256 {
            return Err("algorithm not allowed");
        }
        if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() || header.x5c.is_some() {
            return Err("foreign key reference in header");
        }
        let kid = header.kid.ok_or("no kid")?;
        let key = self.keys.iter().find(|k| k.kid == kid).ok_or("unknown kid")?;
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = vec![Algorithm::HS256];
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        v.leeway = 0;
        // Time is checked below against the injected clock.
        v.validate_exp = false;
        v.validate_nbf = false;
        let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&key.secret), &v)
            .map_err(|_| "bad signature or claims")?;
        let c = data.claims;
        if c.typ != TOKEN_TYPE {
            return Err("wrong typ");
        }
        if now >= c.exp {
            return Err("expired");
        }
        if now < c.nbf - 1 {
            return Err("not yet valid");
        }
        if now >= c.auth_time + self.max_age_seconds {
            return Err("past absolute lifetime");
        }
        let reference = BookingReference::parse(&c.bref).map_err(|_| "bad booking reference claim")?;
        Ok(Session {
            sid: c.sid,
            reference,
            traveller_id: c.sub,
            email: c.email,
            is_lead: c.lead,
            auth_time: c.auth_time,
        })
    }

    /// The session presented with a request: the `__Host-` cookie, else `Authorization: Bearer`.
    pub fn from_request(&self, req: &Request, now: i64) -> Result<Session, ApiError> {
        let token =
            session_token(req).ok_or_else(|| ApiError::unauthorized("sign in first: no session was presented"))?;
        self.verify(&token, now)
    }

    /// `Set-Cookie` value carrying a fresh token.
    pub fn cookie(&self, token: &str) -> String {
        format!("{COOKIE_NAME}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}", self.idle_seconds)
    }
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn session_token(req: &Request) -> Option<String> {
    for value in req.headers().get_all("cookie") {
        if let Ok(v) = value.to_str() {
            for c in v.split(';') {
                if let Some(t) = c.trim().strip_prefix(COOKIE_NAME).and_then(|r| r.strip_prefix('=')) {
                    return Some(t.to_string());
                }
            }
        }
    }
    header(req, "authorization").and_then(|h| h.strip_prefix("Bearer ")).map(|t| t.trim().to_string())
}

/// The one scope check every customer route makes: a session may only touch its own booking. Another
/// booking answers exactly like a missing one.
pub fn authorise_booking(session: &Session, reference: &BookingReference) -> Result<(), ApiError> {
    if &session.reference == reference { Ok(()) } else { Err(not_found_booking()) }
}

/// The 404 for a booking that does not exist or is outside the session's scope (identical on purpose).
pub fn not_found_booking() -> ApiError {
    ApiError::not_found("no booking with that reference is available to this session")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SessionConfig {
        SessionConfig::new(vec![("k1".into(), vec![7u8; 32])], "iss", "aud", 1800, 43_200).unwrap()
    }

    fn session() -> Session {
        Session {
            sid: "s1".into(),
            reference: BookingReference::parse("AB-1234").unwrap(),
            traveller_id: "T1".into(),
            email: "ada@example.com".into(),
            is_lead: true,
            auth_time: 1_000_000,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn round_trip_and_expiry() {
        let c = cfg();
        let t = c.issue(&session(), 1_000_000).unwrap();
        assert_eq!(c.verify(&t, 1_000_100).unwrap(), session());
        assert!(c.verify(&t, 1_000_000 + 1800).is_err(), "idle timeout");
        // Sliding refresh cannot pass the absolute lifetime.
        let late = c.issue(&session(), 1_000_000 + 43_000).unwrap();
        assert!(c.verify(&late, 1_000_000 + 43_200).is_err());
        assert!(c.issue(&session(), 1_000_000 + 43_200).is_err());
    }

    #[test]
    fn attacks_are_refused() {
        let c = cfg();
        let t = c.issue(&session(), 1_000_000).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        // alg none
        let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": "k1"})), parts[1]);
        assert!(c.verify(&none, 1_000_001).is_err());
        // switched algorithm (HS512 with the same secret)
        let mut h = Header::new(Algorithm::HS512);
        h.kid = Some("k1".into());
        let claims: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
                .unwrap();
        let hs512 = jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&[7u8; 32])).unwrap();
        assert!(c.verify(&hs512, 1_000_001).is_err());
        // foreign kid / jku
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("other".into());
        assert!(
            c.verify(&jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&[7u8; 32])).unwrap(), 1_000_001)
                .is_err()
        );
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        h.jku = Some("https://evil.example/jwks".into());
        assert!(
            c.verify(&jsonwebtoken::encode(&h, &claims, &EncodingKey::from_secret(&[7u8; 32])).unwrap(), 1_000_001)
                .is_err()
        );
        // tampered payload
        let mut evil = claims.clone();
        evil["bref"] = "ZZ-9999".into();
        let tampered = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
        assert!(c.verify(&tampered, 1_000_001).is_err());
        // wrong audience / issuer
        let other = SessionConfig::new(vec![("k1".into(), vec![7u8; 32])], "iss", "other-aud", 1800, 43_200).unwrap();
        assert!(other.verify(&t, 1_000_001).is_err());
        let other = SessionConfig::new(vec![("k1".into(), vec![7u8; 32])], "other-iss", "aud", 1800, 43_200).unwrap();
        assert!(other.verify(&t, 1_000_001).is_err());
        // garbage
        for g in ["", "a.b.c", "....", &"x".repeat(5000)] {
            assert!(c.verify(g, 1_000_001).is_err());
        }
    }

    #[test]
    fn rotation() {
        let old = cfg();
        let t = old.issue(&session(), 1_000_000).unwrap();
        let rotated = SessionConfig::new(
            vec![("k2".into(), vec![9u8; 32]), ("k1".into(), vec![7u8; 32])],
            "iss",
            "aud",
            1800,
            43_200,
        )
        .unwrap();
        assert!(rotated.verify(&t, 1_000_001).is_ok());
        let t2 = rotated.issue(&session(), 1_000_000).unwrap();
        assert!(old.verify(&t2, 1_000_001).is_err());
    }

    #[test]
    fn scope() {
        let s = session();
        assert!(authorise_booking(&s, &BookingReference::parse("AB-1234").unwrap()).is_ok());
        assert_eq!(authorise_booking(&s, &BookingReference::parse("AB-9999").unwrap()).unwrap_err().status(), 404);
    }
}
