//! The "we could not collect your instalment" email: branded, localized (English and German; other locales
//! fall back to English), the amount, what happens next (another attempt on a date, or nothing more
//! automatically) and a link to pay by hand in the portal. Never card numbers: brand and last four at most.

use auth::Brand;
use auth::email::{escape_html, from_address};
use chrono::{DateTime, Utc};
use portal_domain::locale::{Locale, format_date, format_money};
use portal_domain::money::Money;

#[derive(Debug, Clone)]
pub struct CollectionFailed<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
    pub first_name: &'a str,
    pub reference: &'a str,
    pub amount: Money,
    pub card: Option<(&'a str, &'a str)>,
    /// `Some`: we try again then; `None`: no more automatic attempts.
    pub next_attempt: Option<DateTime<Utc>>,
    pub pay_url: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub from: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

struct Strings {
    subject: &'static str,
    greeting: &'static str,
    intro: &'static str,
    retry: &'static str,
    final_: &'static str,
    button: &'static str,
}

fn strings(locale: Locale) -> Strings {
    match locale {
        Locale::DeDe => Strings {
            subject: "{brand}: Ratenzahlung für die Buchung {reference} fehlgeschlagen",
            greeting: "Hallo {name},",
            intro: "wir konnten die fällige Rate von {amount} für die Buchung {reference} nicht von {card} einziehen.",
            retry: "Wir versuchen es am {date} erneut. Sie können auch jetzt selbst bezahlen:",
            final_: "Wir versuchen es nicht mehr automatisch. Bitte bezahlen Sie die Rate im Portal:",
            button: "Jetzt bezahlen",
        },
        _ => Strings {
            subject: "{brand}: we could not collect your instalment for booking {reference}",
            greeting: "Hello {name},",
            intro: "we could not collect the instalment of {amount} due on booking {reference} from {card}.",
            retry: "We will try again on {date}. You can also pay it yourself now:",
            final_: "We will not try again automatically. Please pay it in the portal:",
            button: "Pay now",
        },
    }
}

pub fn render(m: &CollectionFailed<'_>) -> Rendered {
    let s = strings(m.locale);
    let brand = m.brand.name.as_str();
    let card = match m.card {
        Some((b, last4)) => format!("{b} •••• {last4}"),
        None => "your saved card".into(),
    };
    let fill = |t: &str| {
        t.replace("{brand}", brand)
            .replace("{reference}", m.reference)
            .replace("{name}", m.first_name)
            .replace("{amount}", &format_money(m.amount, m.locale))
            .replace("{card}", &card)
            .replace("{date}", &m.next_attempt.map(|d| format_date(d.date_naive(), m.locale)).unwrap_or_default())
    };
    let subject: String = fill(s.subject).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let greeting = fill(s.greeting);
    let intro = fill(s.intro);
    let next = fill(if m.next_attempt.is_some() { s.retry } else { s.final_ });
    let text = format!("{greeting}\n\n{intro}\n\n{next}\n{}\n\n{brand}\n", m.pay_url);
    let colour = escape_html(&m.brand.primary_colour);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
<body style=\"margin:0;padding:24px;background:#f4f4f5;font-family:Arial,Helvetica,sans-serif;color:#18181b\">\
<div style=\"max-width:560px;margin:0 auto;background:#ffffff;border-top:6px solid {colour};padding:24px\">\
<p style=\"font-size:18px;font-weight:bold;color:{colour};margin:0 0 16px\">{brand}</p>\
<p>{greeting}</p><p>{intro}</p><p>{next}</p>\
<p><a href=\"{url}\" style=\"display:inline-block;background:{colour};color:#ffffff;padding:12px 20px;text-decoration:none\">{button}</a></p>\
<p style=\"font-size:13px;color:#52525b\">{url}</p></div></body></html>\n",
        lang = m.locale.tag(),
        title = escape_html(&subject),
        brand = escape_html(brand),
        greeting = escape_html(&greeting),
        intro = escape_html(&intro),
        next = escape_html(&next),
        url = escape_html(m.pay_url),
        button = escape_html(s.button),
    );
    Rendered { from: from_address(m.brand), subject, html, text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::money::Currency;

    #[test]
    fn retry_and_final_wording_escaped_and_linked() {
        let b = Brand {
            name: "Alpine Escapes".into(),
            primary_colour: "#0a7c59".into(),
            sender: "p@tours.example".into(),
            logo_url: None,
        };
        let mut m = CollectionFailed {
            brand: &b,
            locale: Locale::EnGb,
            first_name: "Ada <b>",
            reference: "AE-10001",
            amount: Money::from_minor(100_000, Currency::Gbp).unwrap(),
            card: Some(("visa", "4242")),
            next_attempt: Some("2027-01-17T00:00:00Z".parse().unwrap()),
            pay_url: "https://portal.example/bookings/AE-10001?pay=INS1",
        };
        let r = render(&m);
        assert!(r.subject.contains("AE-10001") && r.subject.contains("Alpine Escapes"));
        assert!(r.text.contains("£1,000.00") && r.text.contains("visa •••• 4242") && r.text.contains("try again"));
        assert!(r.html.contains("href=\"https://portal.example/bookings/AE-10001?pay=INS1\""));
        assert!(r.html.contains("Ada &lt;b&gt;") && !r.html.contains("<b>"));
        m.next_attempt = None;
        assert!(render(&m).text.contains("will not try again"));
        m.locale = Locale::DeDe;
        assert!(render(&m).subject.contains("fehlgeschlagen"));
    }
}
