//! The local HTTP gateway: one port, the routes API Gateway will have, read from `docs/openapi.json`
//! (`x-portal-function` names the Lambda that serves each operation). Each request becomes an API Gateway v2
//! event and goes to the function's handler in-process.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::apigw::{ApiRequest, percent_decode};

pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

pub type BoxFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture + Send + Sync>;

/// Extra non-API pages the local gateway serves (sign-in page, sandbox checkout...).
pub type Page = Arc<dyn Fn(&http::Method, &str, &str) -> Option<hyper::Response<Full<Bytes>>> + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    pub template: String,
    pub function: String,
}

/// Every (method, path template, function) in the OpenAPI document.
pub fn routes_from_openapi(doc: &str) -> Vec<Route> {
    let v: Value = serde_json::from_str(doc).expect("docs/openapi.json is valid JSON");
    let mut out = Vec::new();
    if let Some(paths) = v["paths"].as_object() {
        for (template, ops) in paths {
            if let Some(ops) = ops.as_object() {
                for (method, op) in ops {
                    if let Some(f) = op["x-portal-function"].as_str() {
                        out.push(Route {
                            method: method.to_ascii_uppercase(),
                            template: template.clone(),
                            function: f.into(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Match `path` against a template like `/bookings/{reference}`, returning decoded parameters.
pub fn match_template(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = Vec::new();
    for (ts, ps) in t.iter().zip(&p) {
        if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if ps.is_empty() {
                return None;
            }
            params.push((name.to_string(), percent_decode(ps)?));
        } else if ts != ps {
            return None;
        }
    }
    Some(params)
}

pub struct Gateway {
    routes: Vec<Route>,
    functions: HashMap<String, Handler>,
    pages: Vec<Page>,
}

impl Gateway {
    pub fn new() -> Gateway {
        Gateway { routes: routes_from_openapi(OPENAPI_JSON), functions: HashMap::new(), pages: Vec::new() }
    }

    pub fn function(mut self, name: &str, handler: Handler) -> Self {
        self.functions.insert(name.to_string(), handler);
        self
    }

    pub fn page(mut self, page: Page) -> Self {
        self.pages.push(page);
        self
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Routes whose function is not registered (a test asserts there are none in the local portal).
    pub fn unserved(&self) -> Vec<&Route> {
        self.routes.iter().filter(|r| !self.functions.contains_key(&r.function)).collect()
    }

    async fn dispatch(&self, req: hyper::Request<Incoming>, peer: SocketAddr) -> hyper::Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        for page in &self.pages {
            if let Some(r) = page(&method, &path, &query) {
                return r;
            }
        }
        let mut path_matched = false;
        let mut found = None;
        for r in &self.routes {
            if let Some(params) = match_template(&r.template, &path) {
                path_matched = true;
                if r.method == method.as_str() {
                    found = Some((r.clone(), params));
                    break;
                }
            }
        }
        let Some((route, params)) = found else {
            let (status, slug, detail) = if path_matched {
                (405, "method-not-allowed", "this route does not accept that method")
            } else {
                (404, "not-found", "no such route")
            };
            return problem(status, slug, detail);
        };
        let Some(handler) = self.functions.get(&route.function) else {
            return problem(501, "not-implemented", "this route's function is not running locally");
        };
        let mut api = ApiRequest::new(method.as_str(), &path).route(&route.template).source_ip(&peer.ip().to_string());
        for (k, v) in params {
            api = api.path_param(&k, &v);
        }
        for pair in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            api = api.query(
                &percent_decode(k).unwrap_or_default(),
                &percent_decode(&v.replace('+', " ")).unwrap_or_default(),
            );
        }
        for (k, v) in req.headers() {
            if let Ok(v) = v.to_str() {
                api = api.header(k.as_str(), v);
            }
        }
        // API Gateway caps payloads at 10 MB; the handlers enforce their own, smaller limits.
        let body = match Limited::new(req.into_body(), 10 * 1024 * 1024).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return problem(413, "payload-too-large", "the request body is over 10 MB"),
        };
        if !body.is_empty() {
            api = api.raw_body(body.to_vec());
        }
        let resp = handler(api.build()).await;
        to_hyper(resp)
    }

    /// Serve until the process ends.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else { continue };
            let gw = self.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(gw.dispatch(req, peer).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway::new()
    }
}

fn to_hyper(resp: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    let mut r = hyper::Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = parts.status;
    *r.headers_mut() = parts.headers;
    r
}

pub fn problem(status: u16, slug: &str, detail: &str) -> hyper::Response<Full<Bytes>> {
    let body =
        serde_json::json!({"type": format!("/problems/{slug}"), "title": slug, "status": status, "detail": detail});
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("content-type", "application/problem+json".parse().unwrap());
    r
}

/// Wrap a function's `handle(&State, Request)` as a gateway handler.
#[macro_export]
macro_rules! handler {
    ($state:expr, $handle:path) => {{
        let state = ::std::sync::Arc::new($state);
        let h: $crate::gateway::Handler = ::std::sync::Arc::new(move |req| {
            let state = state.clone();
            Box::pin(async move {
                match $handle(&state, req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                }
            })
        });
        h
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            match_template("/operator/bookings/{reference}", "/operator/bookings/AB%2D1"),
            Some(vec![("reference".into(), "AB-1".into())])
        );
        assert_eq!(match_template("/bookings/{reference}", "/bookings/"), None);
        assert_eq!(match_template("/bookings/{reference}", "/bookings/a/b"), None);
    }
}
