//! Branded, localized customer email, shared by the functions that send it (sign-in link, payment receipt,
//! collection failed).
//!
//! - [`Brand`] / [`Brands`]: `BRANDS_JSON`, parsed and checked once at start-up;
//! - [`Email`]: ONE branded layout (colour band, optional logo, brand name, max-width 560px) built from blocks
//!   (paragraph, button, code, table, small print) and rendered as HTML and plain text. Every piece of data is
//!   HTML-escaped in the HTML part, the subject is made header-safe; an email module only supplies its
//!   localized strings, filled with [`fill`] (one pass: a customer's name containing `{amount}` stays as is);
//! - [`send_email`]: the one SES v2 `SendEmail` call.
//!
//! Pure except for [`send_email`] (not named `send`: infra/tests/consistency.py resolves calls by name, and a
//! `send` would reach every other `send` of the shared crates).

mod brand;
mod layout;

pub use brand::{Brand, Brands, BrandsError, check_brand};
pub use layout::{Block, Email, Rendered};

use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader};

/// Escape text for HTML element content and quoted attribute values (control characters but `\n` are dropped).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// One line of header-safe text: control characters (CR, LF...) become spaces.
pub fn header_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Replace `{key}` placeholders in one pass (a value containing `{name}` is not expanded again); unknown
/// `{...}` stay as they are.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match vars.iter().find(|(k, _)| after.starts_with(k) && after[k.len()..].starts_with('}')) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &after[k.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `From:` for a brand: `"Name" <sender>` when the name is plain printable ASCII without quotes, else the
/// bare address (config is checked at start-up, this is belt and braces).
pub fn from_address(brand: &Brand) -> String {
    let plain = brand.name.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain { format!("\"{}\" <{}>", brand.name, brand.sender) } else { brand.sender.clone() }
}

/// `ada@example.com` → `a***@example.com`, for logs.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// Send `email` from `brand` to one recipient through SES v2 (HTML and text parts, UTF-8). No configuration set
/// by default: the portal's is the default of every brand identity (infra/ses.tf). The error is for logs: it
/// never holds the recipient's full address (SES names rejected recipients; they are masked).
pub async fn send_email(
    ses: &aws_sdk_sesv2::Client,
    brand: &Brand,
    to: &str,
    email: &Email<'_>,
    configuration_set: Option<&str>,
) -> Result<(), String> {
    send_rendered(ses, brand, to, &email.render(), configuration_set, &[]).await.map(|_| ()).map_err(|f| f.message)
}

/// Why a send failed, and whether the email surely did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// For logs (the recipient masked).
    pub message: String,
    /// `true`: SES answered with a refusal, or the request never left (it can be sent again without risking
    /// a second copy). `false`: no answer came (a timeout, an unreadable response): it may have been sent.
    pub definite: bool,
}

/// [`send_email`] for a rendered email with extra headers (e.g. `List-Unsubscribe`); answers SES's message id.
pub async fn send_rendered(
    ses: &aws_sdk_sesv2::Client,
    brand: &Brand,
    to: &str,
    rendered: &Rendered,
    configuration_set: Option<&str>,
    headers: &[(&str, String)],
) -> Result<Option<String>, SendFailure> {
    let definite = |message: String| SendFailure { message, definite: true };
    let content = |s: &str| {
        Content::builder().data(s).charset("UTF-8").build().map_err(|e| definite(format!("email content: {e}")))
    };
    let mut message = Message::builder()
        .subject(content(&rendered.subject)?)
        .body(Body::builder().html(content(&rendered.html)?).text(content(&rendered.text)?).build());
    for (name, value) in headers {
        let h = MessageHeader::builder()
            .name(*name)
            .value(header_safe(value))
            .build()
            .map_err(|e| definite(format!("email header: {e}")))?;
        message = message.headers(h);
    }
    let out = ses
        .send_email()
        .from_email_address(from_address(brand))
        .destination(Destination::builder().to_addresses(to).build())
        .content(EmailContent::builder().simple(message.build()).build())
        .set_configuration_set_name(configuration_set.map(str::to_string))
        .send()
        .await
        .map_err(|e| {
            let sure = matches!(
                e,
                SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_)
            );
            let m = format!("SES SendEmail: {}", aws_sdk_sesv2::error::DisplayErrorContext(e));
            SendFailure { message: if to.is_empty() { m } else { m.replace(to, &mask_email(to)) }, definite: sure }
        })?;
    Ok(out.message_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Brand {
        Brand {
            name: "Alpine Escapes".into(),
            primary_colour: "#0a7c59".into(),
            sender: "portal@tours.example".into(),
            logo_url: None,
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_html("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
        assert_eq!(escape_html("a\u{0}b\r\nc"), "ab\nc", "control characters dropped, newlines kept");
        assert_eq!(escape_html("Zoë 様"), "Zoë 様");
    }

    #[test]
    fn headers_are_one_line() {
        assert_eq!(header_safe("a\r\nBcc: x@y.z\tb"), "a  Bcc: x@y.z b");
        assert_eq!(from_address(&brand()), "\"Alpine Escapes\" <portal@tours.example>");
        let mut evil = brand();
        evil.name = "Ev\"il".into();
        assert_eq!(from_address(&evil), "portal@tours.example");
        evil.name = "Évasion".into();
        assert_eq!(from_address(&evil), "portal@tours.example", "non-ASCII names would need encoding");
    }

    #[test]
    fn fill_is_one_pass() {
        assert_eq!(fill("{a} {b} {c", &[("a", "{b}"), ("b", "x")]), "{b} x {c");
        assert_eq!(
            fill("Hello {name}, you owe {amount}.", &[("name", "{amount}"), ("amount", "£5.00")]),
            "Hello {amount}, you owe £5.00."
        );
        assert_eq!(fill("{unknown} {name}", &[("name", "Ada")]), "{unknown} Ada");
    }

    #[test]
    fn masked() {
        assert_eq!(mask_email("ada@example.com"), "a***@example.com");
        assert_eq!(mask_email("nope"), "***");
    }
}
