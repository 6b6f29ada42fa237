//! The minimal sign-in page the emailed link opens, until the customer web app exists.
//!
//! Opening it (GET, HEAD) consumes nothing: the token is in the URL fragment, which browsers never send to a
//! server and mail scanners cannot use. The page's script reads the fragment, removes it from the address
//! bar and history, and only a click on the button POSTs it to `/auth/sessions`. A second form takes the
//! booking reference and the 8-digit code instead. The inline script and style are allowed by their SHA-256
//! in the `Content-Security-Policy`; nothing else runs.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::Brand;
use crate::email::escape_html;

const SCRIPT: &str = r#"(function () {
  var m = /(?:^|&)token=([A-Za-z0-9_-]{43})(?:&|$)/.exec(location.hash.slice(1));
  var token = m ? m[1] : null;
  if (location.hash) { history.replaceState(null, "", location.pathname); }
  var out = document.getElementById("out");
  var btn = document.getElementById("go");
  var linkBox = document.getElementById("link");
  if (!token) { linkBox.hidden = true; }
  function show(resp) {
    return resp.json().then(function (b) {
      if (resp.ok) {
        out.textContent = "Signed in to booking " + b.session.booking_reference + ".";
        document.getElementById("forms").hidden = true;
      } else {
        out.textContent = (b && b.detail) || "Sign-in failed.";
        btn.disabled = false;
      }
    });
  }
  function post(body) {
    out.textContent = "…";
    return fetch("/auth/sessions", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "content-type": "application/json" }, body: JSON.stringify(body)
    }).then(show).catch(function () { out.textContent = "Network error; please try again."; btn.disabled = false; });
  }
  btn.addEventListener("click", function () { btn.disabled = true; post({ token: token }); });
  document.getElementById("code-form").addEventListener("submit", function (e) {
    e.preventDefault();
    post({ booking_reference: document.getElementById("ref").value.trim(), code: document.getElementById("code").value.trim() });
  });
})();"#;

fn style(colour: &str) -> String {
    format!(
        "body{{margin:0;font-family:Arial,Helvetica,sans-serif;background:#f4f4f5;color:#18181b}}\
main{{max-width:420px;margin:48px auto;background:#fff;border-top:6px solid {colour};padding:24px}}\
h1{{font-size:20px;color:{colour}}}button{{background:{colour};color:#fff;border:0;padding:12px 20px;border-radius:4px;font-size:16px;cursor:pointer}}\
input{{display:block;margin:4px 0 12px;padding:8px;font-size:16px;width:90%}}#out{{min-height:1.5em;font-weight:bold}}"
    )
}

fn sha256_b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
}

/// The page and the headers to serve it with.
#[derive(Debug, Clone)]
pub struct SignInPage {
    pub html: String,
    pub headers: Vec<(&'static str, String)>,
}

pub fn sign_in_page(brand: &Brand) -> SignInPage {
    let css = style(&brand.primary_colour);
    let name = escape_html(&brand.name);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<meta name=\"robots\" content=\"noindex\"><title>Sign in · {name}</title><style>{css}</style></head>\
<body><main><h1>{name}</h1><div id=\"forms\">\
<div id=\"link\"><p>Press the button to sign in to your booking. The link works once.</p>\
<p><button id=\"go\" type=\"button\">Sign in</button></p></div>\
<form id=\"code-form\"><p>Or use the code from the email:</p>\
<label>Booking reference<input id=\"ref\" autocomplete=\"off\" required maxlength=\"20\"></label>\
<label>Code<input id=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required pattern=\"[0-9]{{8}}\" maxlength=\"8\"></label>\
<button type=\"submit\">Sign in with code</button></form></div>\
<p id=\"out\" role=\"status\"></p></main><script>{SCRIPT}</script></body></html>\n"
    );
    let csp = format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; img-src https:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        sha256_b64(SCRIPT),
        sha256_b64(&css)
    );
    SignInPage {
        html,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
            ("content-security-policy", csp),
            ("referrer-policy", "no-referrer".into()),
            ("x-content-type-options", "nosniff".into()),
            ("x-frame-options", "DENY".into()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_posts_the_fragment_token_and_is_locked_down() {
        let b = Brand {
            name: "Alpine <Escapes>".into(),
            primary_colour: "#0a7c59".into(),
            sender: "a@b.co".into(),
            logo_url: None,
        };
        let p = sign_in_page(&b);
        assert!(p.html.contains("Alpine &lt;Escapes&gt;"));
        assert!(p.html.contains("location.hash"));
        assert!(p.html.contains("\"/auth/sessions\""));
        assert!(p.html.contains("method: \"POST\""));
        assert!(p.html.contains("#0a7c59"));
        let csp = &p.headers.iter().find(|(k, _)| *k == "content-security-policy").unwrap().1;
        assert!(csp.contains(&sha256_b64(SCRIPT)));
        assert!(csp.contains(&sha256_b64(&style("#0a7c59"))));
        assert!(p.html.contains(&format!("<script>{SCRIPT}</script>")), "the hashed script is the served one");
        assert!(p.html.contains(&format!("<style>{}</style>", style("#0a7c59"))));
    }
}
