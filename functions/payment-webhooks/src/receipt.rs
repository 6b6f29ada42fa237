//! The payment receipt email: branded, localized, amount and method (card brand and last four at most),
//! what remains and the next due date. The layout, escaping and sending are `portal_mail`'s: this module holds
//! the localized strings and the blocks.

use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::locale::{Locale, format_date, format_datetime_utc, format_money};
use portal_domain::money::Money;
use portal_mail::{Brand, Email, Rendered, fill};

#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
    pub first_name: &'a str,
    pub reference: &'a str,
    pub amount: Money,
    /// `None` for Pay by Bank; `Some((brand, last4))` for a card.
    pub card: Option<(&'a str, &'a str)>,
    pub paid_at: DateTime<Utc>,
    pub remaining: Money,
    pub next_due: Option<(NaiveDate, Money)>,
}

struct Strings {
    subject: &'static str,
    greeting: &'static str,
    intro: &'static str,
    amount: &'static str,
    method: &'static str,
    date: &'static str,
    remaining: &'static str,
    next_due: &'static str,
    paid_in_full: &'static str,
    bank: &'static str,
    thanks: &'static str,
}

fn strings(locale: Locale) -> Strings {
    match locale {
        Locale::EnGb | Locale::EnUs => Strings {
            subject: "{brand}: payment received for booking {reference}",
            greeting: "Hello {name},",
            intro: "Thank you: we have received your payment for booking {reference}.",
            amount: "Amount paid",
            method: "Paid with",
            date: "Date",
            remaining: "Still to pay",
            next_due: "Next payment due",
            paid_in_full: "Your booking is paid in full.",
            bank: "Pay by Bank",
            thanks: "We look forward to travelling with you.",
        },
        Locale::DeDe => Strings {
            subject: "{brand}: Zahlung für die Buchung {reference} erhalten",
            greeting: "Hallo {name},",
            intro: "Vielen Dank: Wir haben Ihre Zahlung für die Buchung {reference} erhalten.",
            amount: "Bezahlter Betrag",
            method: "Bezahlt mit",
            date: "Datum",
            remaining: "Noch zu zahlen",
            next_due: "Nächste Zahlung fällig",
            paid_in_full: "Ihre Buchung ist vollständig bezahlt.",
            bank: "Zahlung per Bank",
            thanks: "Wir freuen uns auf Ihre Reise mit uns.",
        },
        Locale::FrFr => Strings {
            subject: "{brand} : paiement reçu pour la réservation {reference}",
            greeting: "Bonjour {name},",
            intro: "Merci : nous avons bien reçu votre paiement pour la réservation {reference}.",
            amount: "Montant payé",
            method: "Payé par",
            date: "Date",
            remaining: "Reste à payer",
            next_due: "Prochaine échéance",
            paid_in_full: "Votre réservation est entièrement payée.",
            bank: "Paiement par banque",
            thanks: "Nous nous réjouissons de voyager avec vous.",
        },
        Locale::NlNl => Strings {
            subject: "{brand}: betaling ontvangen voor boeking {reference}",
            greeting: "Beste {name},",
            intro: "Dank u wel: we hebben uw betaling voor boeking {reference} ontvangen.",
            amount: "Betaald bedrag",
            method: "Betaald met",
            date: "Datum",
            remaining: "Nog te betalen",
            next_due: "Volgende betaling",
            paid_in_full: "Uw boeking is volledig betaald.",
            bank: "Betalen via bank",
            thanks: "We kijken ernaar uit met u op reis te gaan.",
        },
        Locale::JaJp => Strings {
            subject: "{brand}：ご予約 {reference} のお支払いを受け付けました",
            greeting: "{name} 様",
            intro: "ご予約 {reference} のお支払いを確認いたしました。ありがとうございます。",
            amount: "お支払い金額",
            method: "お支払い方法",
            date: "日付",
            remaining: "残りのお支払い",
            next_due: "次回のお支払い期日",
            paid_in_full: "ご予約のお支払いはすべて完了しています。",
            bank: "銀行払い",
            thanks: "ご旅行を楽しみにお待ちしております。",
        },
    }
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The receipt for [`portal_mail::send_email`].
pub fn email<'a>(r: &Receipt<'a>) -> Email<'a> {
    let s = strings(r.locale);
    let vars = [("brand", r.brand.name.as_str()), ("reference", r.reference), ("name", r.first_name)];
    let t = |template: &str| fill(template, &vars);
    let method = match r.card {
        Some((b, last4)) => format!("{} •••• {last4}", title_case(b)),
        None => s.bank.to_string(),
    };
    let mut rows = vec![
        (s.amount, format_money(r.amount, r.locale)),
        (s.method, method),
        (s.date, format_datetime_utc(r.paid_at, r.locale)),
    ];
    let closing = if r.remaining.is_positive() {
        rows.push((s.remaining, format_money(r.remaining, r.locale)));
        if let Some((date, amount)) = r.next_due {
            rows.push((s.next_due, format!("{} ({})", format_date(date, r.locale), format_money(amount, r.locale))));
        }
        s.thanks.to_string()
    } else {
        format!("{} {}", s.paid_in_full, s.thanks)
    };
    // The subject's template names no `{name}`: customer data never reaches a header.
    Email::new(r.brand, r.locale, &t(s.subject))
        .paragraph(t(s.greeting))
        .paragraph(t(s.intro))
        .table(rows)
        .paragraph(closing)
}

pub fn render(r: &Receipt<'_>) -> Rendered {
    email(r).render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::money::Currency;

    fn brand() -> Brand {
        Brand {
            name: "Alpine Escapes".into(),
            primary_colour: "#0a7c59".into(),
            sender: "p@tours.example".into(),
            logo_url: None,
        }
    }

    #[test]
    fn receipt_in_every_locale() {
        let b = brand();
        for locale in Locale::ALL {
            let r = render(&Receipt {
                brand: &b,
                locale,
                first_name: "Ada <script>",
                reference: "AE-10001",
                amount: Money::from_minor(100000, Currency::Gbp).unwrap(),
                card: Some(("visa", "4242")),
                paid_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
                remaining: Money::from_minor(158050, Currency::Gbp).unwrap(),
                next_due: Some((
                    NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
                    Money::from_minor(158050, Currency::Gbp).unwrap(),
                )),
            });
            assert!(r.subject.contains("AE-10001"));
            assert!(r.text.contains("Visa •••• 4242"), "{locale:?}: {}", r.text);
            assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"));
            assert!(r.text.contains("580"), "{}", r.text);
        }
    }

    #[test]
    fn logo_and_placeholders_in_names() {
        let mut b = brand();
        b.logo_url = Some("https://cdn.example/alpine.png".into());
        let r = render(&Receipt {
            brand: &b,
            locale: Locale::EnGb,
            first_name: "{reference} {brand}",
            reference: "AE-10001",
            amount: Money::from_minor(100000, Currency::Gbp).unwrap(),
            card: None,
            paid_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            remaining: Money::from_minor(0, Currency::Gbp).unwrap(),
            next_due: None,
        });
        assert!(r.html.contains("<img src=\"https://cdn.example/alpine.png\""), "{}", r.html);
        assert!(r.text.contains("Hello {reference} {brand},") && r.html.contains("Hello {reference} {brand},"));
        assert!(r.text.contains("Pay by Bank") && r.text.contains("paid in full"), "{}", r.text);
    }
}
