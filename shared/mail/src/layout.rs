//! The one branded layout: a colour band in the brand's colour, the logo when the brand has one, the brand
//! name, then the blocks, at most 560px wide; and the same blocks as plain text.

use portal_domain::locale::Locale;

use crate::{Brand, escape_html, header_safe};

/// One piece of an email's body. Text is plain: [`Email::render`] escapes it for HTML.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "block", content = "value", rename_all = "snake_case")]
pub enum Block {
    Paragraph(String),
    /// A call to action: a button in HTML, the label then the URL in text.
    Button {
        label: String,
        url: String,
    },
    /// A short code to type (big, monospaced), after its label.
    Code {
        label: String,
        code: String,
    },
    /// Label / value rows.
    Table(Vec<(String, String)>),
    /// Grey, smaller text.
    SmallPrint(String),
}

/// A branded email: subject and blocks, rendered by [`Email::render`] and sent by [`crate::send_email`].
#[derive(Debug, Clone)]
pub struct Email<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
    subject: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl<'a> Email<'a> {
    /// `subject` is made header-safe here (control characters become spaces).
    pub fn new(brand: &'a Brand, locale: Locale, subject: &str) -> Email<'a> {
        Email { brand, locale, subject: header_safe(subject), blocks: Vec::new() }
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn block(mut self, block: Block) -> Self {
        self.blocks.push(block);
        self
    }

    pub fn paragraph(self, text: impl Into<String>) -> Self {
        self.block(Block::Paragraph(text.into()))
    }

    pub fn button(self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.block(Block::Button { label: label.into(), url: url.into() })
    }

    pub fn code(self, label: impl Into<String>, code: impl Into<String>) -> Self {
        self.block(Block::Code { label: label.into(), code: code.into() })
    }

    pub fn table<K: Into<String>, V: Into<String>>(self, rows: impl IntoIterator<Item = (K, V)>) -> Self {
        self.block(Block::Table(rows.into_iter().map(|(k, v)| (k.into(), v.into())).collect()))
    }

    pub fn small_print(self, text: impl Into<String>) -> Self {
        self.block(Block::SmallPrint(text.into()))
    }

    pub fn render(&self) -> Rendered {
        let brand = self.brand;
        let colour = escape_html(&brand.primary_colour);
        let mut text = String::new();
        let mut body = String::new();
        for b in &self.blocks {
            match b {
                Block::Paragraph(p) => {
                    text.push_str(p);
                    body.push_str(&format!("<p>{}</p>", escape_html(p)));
                }
                Block::Button { label, url } => {
                    text.push_str(&format!("{label}\n{url}"));
                    body.push_str(&format!(
                        "<p style=\"margin:24px 0\"><a href=\"{}\" style=\"background:{colour};color:#ffffff;padding:12px 20px;text-decoration:none;border-radius:4px;display:inline-block\">{}</a></p>",
                        escape_html(url),
                        escape_html(label)
                    ));
                }
                Block::Code { label, code } => {
                    text.push_str(&format!("{label}\n{code}"));
                    body.push_str(&format!(
                        "<p>{}</p><p style=\"font-size:28px;letter-spacing:6px;font-family:monospace;margin:8px 0 24px\">{}</p>",
                        escape_html(label),
                        escape_html(code)
                    ));
                }
                Block::Table(rows) => {
                    let lines: Vec<String> = rows.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    text.push_str(&lines.join("\n"));
                    body.push_str("<table style=\"border-collapse:collapse;margin:16px 0\">");
                    for (k, v) in rows {
                        body.push_str(&format!(
                            "<tr><td style=\"padding:6px 12px 6px 0;color:#52525b\">{}</td><td style=\"padding:6px 0;font-weight:bold\">{}</td></tr>",
                            escape_html(k),
                            escape_html(v)
                        ));
                    }
                    body.push_str("</table>");
                }
                Block::SmallPrint(p) => {
                    text.push_str(p);
                    body.push_str(&format!("<p style=\"color:#52525b;font-size:13px\">{}</p>", escape_html(p)));
                }
            }
            text.push_str("\n\n");
        }
        text.push_str(&brand.name);
        text.push('\n');
        let logo = brand
            .logo_url
            .as_deref()
            .map(|u| {
                format!(
                    "<img src=\"{}\" alt=\"{}\" height=\"40\" style=\"display:block;margin-bottom:16px\">",
                    escape_html(u),
                    escape_html(&brand.name)
                )
            })
            .unwrap_or_default();
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
<body style=\"margin:0;padding:24px;background:#f4f4f5;font-family:Arial,Helvetica,sans-serif;color:#18181b\">\
<div style=\"max-width:560px;margin:0 auto;background:#ffffff;border-top:6px solid {colour};padding:24px\">{logo}\
<p style=\"font-size:18px;font-weight:bold;color:{colour};margin:0 0 16px\">{name}</p>{body}</div></body></html>\n",
            lang = self.locale.tag(),
            title = escape_html(&self.subject),
            name = escape_html(&brand.name),
        );
        Rendered { subject: self.subject.clone(), html, text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Brand {
        Brand {
            name: "Alpine <Escapes>".into(),
            primary_colour: "#0a7c59".into(),
            sender: "portal@tours.example".into(),
            logo_url: None,
        }
    }

    #[test]
    fn every_block_is_escaped_in_html_and_plain_in_text() {
        let b = brand();
        let evil = "<script>alert('x')</script> & \"q\"";
        let r = Email::new(&b, Locale::DeDe, "Subject\r\nBcc: evil@x.y <b>")
            .paragraph(evil)
            .button(evil, "https://p.example/?a=1&b=\"><script>")
            .code(evil, "<042137>")
            .table([(evil, evil)])
            .small_print(evil)
            .render();
        assert!(!r.html.contains("<script>") && !r.html.contains("\"><script"), "{}", r.html);
        assert_eq!(r.html.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;").count(), 6);
        assert!(r.html.contains("href=\"https://p.example/?a=1&amp;b=&quot;&gt;&lt;script&gt;\""));
        assert!(r.html.contains(
            "<p style=\"font-size:18px;font-weight:bold;color:#0a7c59;margin:0 0 16px\">Alpine &lt;Escapes&gt;</p>"
        ));
        assert!(r.html.contains("<html lang=\"de-DE\">") && r.html.contains("max-width:560px"));
        assert!(r.html.contains("border-top:6px solid #0a7c59"));
        assert_eq!(r.subject, "Subject  Bcc: evil@x.y <b>");
        assert!(r.html.contains("<title>Subject  Bcc: evil@x.y &lt;b&gt;</title>"));
        assert_eq!(r.text.matches(evil).count(), 6, "text is plain: {}", r.text);
        assert!(r.text.contains("<042137>") && r.text.ends_with("\n\nAlpine <Escapes>\n"));
        assert!(!r.html.contains("<img"), "no logo without logo_url");
    }

    #[test]
    fn logo_when_the_brand_has_one() {
        let mut b = brand();
        b.logo_url = Some("https://cdn.example/logo.png?a=1&b=2".into());
        let r = Email::new(&b, Locale::EnGb, "S").paragraph("p").render();
        assert!(
            r.html.contains("<img src=\"https://cdn.example/logo.png?a=1&amp;b=2\" alt=\"Alpine &lt;Escapes&gt;\""),
            "{}",
            r.html
        );
    }

    #[test]
    fn the_code_is_the_first_monospaced_block() {
        let b = brand();
        let html = Email::new(&b, Locale::EnGb, "S").paragraph("x").code("Code:", "042137").render().html;
        let i = html.find("font-family:monospace").unwrap();
        let start = i + html[i..].find('>').unwrap() + 1;
        assert_eq!(&html[start..start + 6], "042137");
    }
}
