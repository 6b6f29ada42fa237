//! API Gateway (HTTP API, payload 2.0) requests, built the way Lambda receives them: as event JSON decoded by
//! `lambda_http::request::from_str`. Tests and the local gateway both use this, so handlers see exactly what
//! they will see in AWS (path parameters, source IP, base64 body, cookies).

use base64::Engine;
use lambda_http::Request;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct ApiRequest {
    method: String,
    path: String,
    route_key: String,
    path_params: Map<String, Value>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    source_ip: String,
    iam_user_arn: Option<String>,
}

impl ApiRequest {
    pub fn new(method: &str, path: &str) -> ApiRequest {
        ApiRequest {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            route_key: format!("{} {}", method.to_ascii_uppercase(), path),
            path_params: Map::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            source_ip: "203.0.113.10".into(),
            iam_user_arn: None,
        }
    }

    pub fn route(mut self, template: &str) -> Self {
        self.route_key = format!("{} {}", self.method, template);
        self
    }

    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        self.path_params.insert(name.into(), Value::String(value.into()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(serde_json::to_vec(body).unwrap_or_default());
        self.header("content-type", "application/json")
    }

    pub fn raw_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.into();
        self
    }

    pub fn iam(mut self, arn: &str) -> Self {
        self.iam_user_arn = Some(arn.into());
        self
    }

    /// The API Gateway v2 event JSON.
    pub fn event(&self) -> Value {
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (k, v) in &self.headers {
            if k == "cookie" {
                cookies.extend(v.split(';').map(|c| Value::String(c.trim().to_string())));
                continue;
            }
            match headers.get_mut(k) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(v);
                }
                _ => {
                    headers.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
        let raw_query =
            self.query.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        let mut qs = Map::new();
        for (k, v) in &self.query {
            qs.insert(k.clone(), Value::String(v.clone()));
        }
        let mut ctx = json!({
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": self.method,
                "path": self.path,
                "protocol": "HTTP/1.1",
                "sourceIp": self.source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String("portal-tests".into())),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": self.route_key,
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_795_608_000_000u64,
        });
        if let Some(arn) = &self.iam_user_arn {
            ctx["authorizer"] = json!({"iam": {
                "accessKey": "AKIDLOCAL", "accountId": "000000000000", "callerId": "AIDLOCAL",
                "principalOrgId": null, "userArn": arn, "userId": "AIDLOCAL"
            }});
        }
        let mut ev = json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": ctx,
            "isBase64Encoded": false,
        });
        if !cookies.is_empty() {
            ev["cookies"] = Value::Array(cookies);
        }
        if !qs.is_empty() {
            ev["queryStringParameters"] = Value::Object(qs);
        }
        if !self.path_params.is_empty() {
            ev["pathParameters"] = Value::Object(self.path_params.clone());
        }
        if let Some(b) = &self.body {
            ev["body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(b));
            ev["isBase64Encoded"] = Value::Bool(true);
        }
        ev
    }

    pub fn build(&self) -> Request {
        lambda_http::request::from_str(&self.event().to_string()).expect("a valid API Gateway v2 event")
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The body of a handler's response as bytes.
pub fn body_bytes(r: &lambda_http::Response<lambda_http::Body>) -> Vec<u8> {
    match r.body() {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.as_bytes().to_vec(),
        lambda_http::Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    }
}

pub fn body_json(r: &lambda_http::Response<lambda_http::Body>) -> Value {
    serde_json::from_slice(&body_bytes(r)).unwrap_or(Value::Null)
}
