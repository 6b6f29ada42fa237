//! Non-API pages the local gateway serves until the customer web app exists.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;

use crate::gateway::Page;

/// `GET`/`HEAD /sign-in`: the page the emailed link opens (see `auth::page`). Serving it reads and writes
/// nothing: the token stays in the URL fragment until the customer presses the button.
pub fn sign_in(brand: &auth::Brand) -> Page {
    let page = auth::sign_in_page(brand);
    Arc::new(move |method: &http::Method, path: &str, _query: &str| {
        if path != "/sign-in" || !(method == http::Method::GET || method == http::Method::HEAD) {
            return None;
        }
        let body = if method == http::Method::HEAD { Bytes::new() } else { Bytes::from(page.html.clone()) };
        let mut r = hyper::Response::new(Full::new(body));
        for (k, v) in &page.headers {
            if let Ok(v) = v.parse() {
                r.headers_mut().insert(*k, v);
            }
        }
        Some(r)
    })
}
