//! The "we could not collect your instalment" email: branded, localized (English and German; other locales
//! fall back to English), the amount, what happens next (another attempt on a date, or nothing more
//! automatically) and a link to pay by hand in the portal. Never card numbers: brand and last four at most.
//! The layout, escaping and sending are `portal_mail`'s: this module holds the localized strings and the blocks.

use chrono::{DateTime, Utc};
use portal_domain::locale::{Locale, format_date, format_money};
use portal_domain::money::Money;
use portal_mail::{Brand, Email, Rendered, fill};

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
    /// The bank asked for the cardholder to confirm the payment (3-D Secure): only they can, in the portal.
    pub needs_cardholder: bool,
    pub pay_url: &'a str,
}

struct Strings {
    subject: &'static str,
    greeting: &'static str,
    intro: &'static str,
    retry: &'static str,
    final_: &'static str,
    authenticate: &'static str,
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
            authenticate: "Ihre Bank möchte, dass Sie diese Zahlung selbst bestätigen; das können nur Sie. Bitte \
bestätigen und bezahlen Sie die Rate im Portal:",
            button: "Jetzt bezahlen",
        },
        _ => Strings {
            subject: "{brand}: we could not collect your instalment for booking {reference}",
            greeting: "Hello {name},",
            intro: "we could not collect the instalment of {amount} due on booking {reference} from {card}.",
            retry: "We will try again on {date}. You can also pay it yourself now:",
            final_: "We will not try again automatically. Please pay it in the portal:",
            authenticate: "Your bank wants you to confirm this payment yourself, which only you can do. We will \
not try again automatically: please confirm and pay it in the portal:",
            button: "Pay now",
        },
    }
}

/// The collection-failure email for [`portal_mail::send_email`].
pub fn email<'a>(m: &CollectionFailed<'a>) -> Email<'a> {
    let s = strings(m.locale);
    let card = match m.card {
        Some((b, last4)) => format!("{b} •••• {last4}"),
        None => "your saved card".into(),
    };
    let amount = format_money(m.amount, m.locale);
    let date = m.next_attempt.map(|d| format_date(d.date_naive(), m.locale)).unwrap_or_default();
    let vars = [
        ("brand", m.brand.name.as_str()),
        ("reference", m.reference),
        ("name", m.first_name),
        ("amount", &amount),
        ("card", &card),
        ("date", &date),
    ];
    let t = |template: &str| fill(template, &vars);
    // The subject's template names no `{name}`: customer data never reaches a header.
    Email::new(m.brand, m.locale, &t(s.subject))
        .paragraph(t(s.greeting))
        .paragraph(t(s.intro))
        .paragraph(t(match (m.needs_cardholder, m.next_attempt) {
            (true, _) => s.authenticate,
            (false, Some(_)) => s.retry,
            (false, None) => s.final_,
        }))
        .button(s.button, m.pay_url)
        .small_print(m.pay_url)
}

pub fn render(m: &CollectionFailed<'_>) -> Rendered {
    email(m).render()
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
            needs_cardholder: false,
            pay_url: "https://portal.example/trips/AE-10001/pay?instalment=INS1",
        };
        let r = render(&m);
        assert!(r.subject.contains("AE-10001") && r.subject.contains("Alpine Escapes"));
        assert!(r.text.contains("£1,000.00") && r.text.contains("visa •••• 4242") && r.text.contains("try again"));
        assert!(r.html.contains("href=\"https://portal.example/trips/AE-10001/pay?instalment=INS1\""));
        assert!(r.html.contains("Ada &lt;b&gt;") && !r.html.contains("<b>"));
        m.next_attempt = None;
        assert!(render(&m).text.contains("will not try again"));
        m.needs_cardholder = true;
        let r = render(&m);
        assert!(r.text.contains("confirm this payment yourself") && !r.text.contains("try again on"), "{}", r.text);
        m.locale = Locale::DeDe;
        assert!(render(&m).subject.contains("fehlgeschlagen"));
    }

    #[test]
    fn logo_and_placeholders_in_names() {
        let b = Brand {
            name: "Alpine Escapes".into(),
            primary_colour: "#0a7c59".into(),
            sender: "p@tours.example".into(),
            logo_url: Some("https://cdn.example/alpine.png".into()),
        };
        let r = render(&CollectionFailed {
            brand: &b,
            locale: Locale::EnGb,
            first_name: "{amount} {card} {date}",
            reference: "AE-10001",
            amount: Money::from_minor(100_000, Currency::Gbp).unwrap(),
            card: None,
            next_attempt: None,
            needs_cardholder: false,
            pay_url: "https://portal.example/trips/AE-10001/pay?instalment=INS1",
        });
        assert!(r.html.contains("<img src=\"https://cdn.example/alpine.png\""), "{}", r.html);
        assert!(r.text.contains("Hello {amount} {card} {date},"), "{}", r.text);
        assert!(r.html.contains("Hello {amount} {card} {date},"));
        assert!(r.text.contains("£1,000.00") && r.text.contains("your saved card"));
    }
}
