//! Reading requests: JSON bodies with limits and precise errors, path parameters, headers, client address.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::{ApiError, MAX_BODY_BYTES};

/// The raw body bytes (API Gateway may deliver text or base64-decoded binary).
pub fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b.as_slice(),
        _ => &[],
    }
}

/// Parse a JSON body: `application/json` only, at most [`MAX_BODY_BYTES`], syntax errors as 400 and
/// shape/type/value errors as 422 naming the field path.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let ct = header(req, "content-type").unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::unsupported_media_type());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed_json("the request body is empty; a JSON object is required"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => Err(ApiError::malformed_json(format!(
                    "the body is not valid JSON (line {}, column {})",
                    inner.line(),
                    inner.column()
                ))),
                Category::Data => {
                    let msg = strip_position(&inner.to_string());
                    // A missing field is reported at the parent's path; name the field itself.
                    let missing = msg.strip_prefix("missing field `").and_then(|m| m.split('`').next());
                    let field = match (path.as_str(), missing) {
                        (".", Some(m)) => m.to_string(),
                        (".", None) => String::new(),
                        (p, Some(m)) => format!("{p}.{m}"),
                        (p, None) => p.to_string(),
                    };
                    let detail = if field.is_empty() { msg } else { format!("{field}: {msg}") };
                    Err(ApiError::validation(field, detail))
                }
            }
        }
    }
}

/// serde_json appends " at line L column C" to data errors; the field path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn path_param(req: &Request, name: &str) -> Result<String, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request(format!("missing path parameter `{name}`")))
}

/// The caller's address as API Gateway saw it (never a client-supplied header).
pub fn client_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Thing {
        name: String,
        count: u32,
    }

    fn req(ct: &str, body: &str) -> Request {
        let mut r = Request::new(Body::Text(body.to_string()));
        r.headers_mut().insert("content-type", ct.parse().unwrap());
        r
    }

    #[test]
    fn body_errors_are_precise() {
        let e = json_body::<Thing>(&req("application/json", "{\"name\": ")).unwrap_err();
        assert_eq!(e.problem().type_, "/problems/malformed-json");
        let e = json_body::<Thing>(&req("application/json", r#"{"name": "x", "count": "3"}"#)).unwrap_err();
        let p = e.problem();
        assert_eq!((p.status, p.field.as_deref()), (422, Some("count")));
        let e = json_body::<Thing>(&req("text/plain", "{}")).unwrap_err();
        assert_eq!(e.status(), 415);
        let big = format!("{{\"name\": \"{}\", \"count\": 1}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(json_body::<Thing>(&req("application/json", &big)).unwrap_err().status(), 413);
        assert!(json_body::<Thing>(&req("application/json; charset=utf-8", r#"{"name":"x","count":1}"#)).is_ok());
    }
}
