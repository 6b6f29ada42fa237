//! The customer web app on the local gateway, as CloudFront serves it in AWS (`infra/web.tf`): the built files
//! of `web/dist`, `index.html` for every app route (the app routes itself), `/config.json` with the brands'
//! public settings, and the same security headers. Only app paths are claimed; everything else falls through
//! to the API routes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;

use crate::gateway::Page;

/// The app's Content-Security-Policy: the one `infra/web.tf` sets, plus `frame-src 'self'` for the local
/// sandbox's checkout and card pages, which stand in for Stripe's frames.
pub const LOCAL_CSP: &str = "default-src 'none'; script-src 'self' https://js.stripe.com; style-src 'self'; \
img-src 'self' data: https:; font-src 'self'; connect-src 'self' https://api.stripe.com; \
frame-src 'self' https://js.stripe.com https://hooks.stripe.com; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'";

/// Where the built app lives (`npm --prefix web run build`).
pub fn dist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist")
}

/// Is `path` one the app answers (rather than the API)?
pub fn is_app_path(path: &str) -> bool {
    path == "/"
        || path == "/sign-in"
        || path == "/trips"
        || path.starts_with("/trips/")
        || path == "/config.json"
        || path.starts_with("/assets/")
        || path.starts_with("/brand-assets/")
}

/// The page handler: `config` is the body of `/config.json`; `logos` maps `/brand-assets/<file>` to PNG bytes.
pub fn app(dist: PathBuf, config: String, logos: Vec<(String, &'static [u8])>) -> Page {
    let config = Bytes::from(config);
    let logos = Arc::new(logos);
    Arc::new(move |method: &http::Method, path: &str, _query: &str| {
        if !is_app_path(path) {
            return None;
        }
        let head = method == http::Method::HEAD;
        if !(head || method == http::Method::GET) {
            return Some(plain(405, "method not allowed"));
        }
        let (status, body, content_type, cache) = if path == "/config.json" {
            (200, config.clone(), "application/json", "no-cache")
        } else if let Some(name) = path.strip_prefix("/brand-assets/") {
            match logos.iter().find(|(n, _)| n == name) {
                Some((_, bytes)) => (200, Bytes::from_static(bytes), "image/png", "public, max-age=3600"),
                None => return Some(plain(404, "no such file")),
            }
        } else if let Some(name) = path.strip_prefix("/assets/") {
            let safe = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            let Some(bytes) = safe.then(|| std::fs::read(dist.join("assets").join(name)).ok()).flatten() else {
                return Some(plain(404, "no such file"));
            };
            let ct = if name.ends_with(".js") {
                "text/javascript; charset=utf-8"
            } else if name.ends_with(".css") {
                "text/css; charset=utf-8"
            } else {
                "application/octet-stream"
            };
            (200, Bytes::from(bytes), ct, "public, max-age=31536000, immutable")
        } else {
            match std::fs::read(dist.join("index.html")) {
                Ok(b) => (200, Bytes::from(b), "text/html; charset=utf-8", "no-cache"),
                Err(_) => {
                    return Some(plain(
                        503,
                        "the web app is not built: run `npm --prefix web ci && npm --prefix web run build` (./scripts/dev does)",
                    ));
                }
            }
        };
        let mut r = hyper::Response::new(Full::new(if head { Bytes::new() } else { body }));
        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        let h = r.headers_mut();
        h.insert("content-type", hyper::header::HeaderValue::from_static(content_type));
        h.insert("cache-control", hyper::header::HeaderValue::from_static(cache));
        security_headers(h);
        Some(r)
    })
}

fn security_headers(h: &mut hyper::HeaderMap) {
    use hyper::header::HeaderValue;
    h.insert("content-security-policy", HeaderValue::from_static(LOCAL_CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("strict-origin-when-cross-origin"));
}

fn plain(status: u16, text: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::NOT_FOUND);
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    security_headers(r.headers_mut());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_paths_never_shadow_api_routes() {
        for r in crate::gateway::routes_from_openapi(crate::gateway::OPENAPI_JSON) {
            let concrete = r.template.replace(['{', '}'], "");
            assert!(!is_app_path(&concrete), "{} {} would be served by the app", r.method, r.template);
        }
        assert!(is_app_path("/trips/AE-10001/pay") && is_app_path("/sign-in") && is_app_path("/"));
    }
}
