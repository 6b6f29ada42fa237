//! The email telling a customer we are giving money back on our own initiative: a payment that took their
//! booking over its price (two checkouts paid, a price cut meanwhile) or arrived after it was cancelled.
//! Branded and localized; the layout, escaping and sending are `portal_mail`'s.

use portal_domain::locale::{Locale, format_money};
use portal_domain::money::Money;
use portal_domain::payment::ExcessReason;
use portal_mail::{Brand, Email, Rendered, fill};

#[derive(Debug, Clone)]
pub struct RefundNotice<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
    pub first_name: &'a str,
    pub reference: &'a str,
    pub amount: Money,
    pub reason: ExcessReason,
}

struct Strings {
    subject: &'static str,
    greeting: &'static str,
    overpaid: &'static str,
    cancelled: &'static str,
    timing: &'static str,
    nothing_to_do: &'static str,
}

fn strings(locale: Locale) -> Strings {
    match locale {
        Locale::DeDe => Strings {
            subject: "{brand}: Wir erstatten {amount} für die Buchung {reference}",
            greeting: "Hallo {name},",
            overpaid: "Sie haben für die Buchung {reference} mehr bezahlt als sie kostet. Wir erstatten Ihnen {amount} \
auf die Karte oder das Konto, mit dem Sie bezahlt haben.",
            cancelled: "Ihre Zahlung für die Buchung {reference} ist eingegangen, nachdem die Buchung storniert wurde. \
Wir erstatten Ihnen {amount} auf die Karte oder das Konto, mit dem Sie bezahlt haben.",
            timing: "Erstattungen erreichen Sie in der Regel innerhalb von 5 bis 10 Werktagen.",
            nothing_to_do: "Sie müssen nichts weiter tun.",
        },
        Locale::FrFr => Strings {
            subject: "{brand} : nous vous remboursons {amount} sur la réservation {reference}",
            greeting: "Bonjour {name},",
            overpaid: "Vous avez payé plus que le prix de la réservation {reference}. Nous vous remboursons {amount} \
sur la carte ou le compte avec lequel vous avez payé.",
            cancelled: "Votre paiement pour la réservation {reference} nous est parvenu après son annulation. Nous vous \
remboursons {amount} sur la carte ou le compte avec lequel vous avez payé.",
            timing: "Un remboursement arrive généralement sous 5 à 10 jours ouvrés.",
            nothing_to_do: "Vous n’avez rien à faire.",
        },
        Locale::NlNl => Strings {
            subject: "{brand}: we betalen {amount} terug op boeking {reference}",
            greeting: "Hallo {name},",
            overpaid: "U hebt meer betaald dan boeking {reference} kost. We betalen {amount} terug op de kaart of \
rekening waarmee u betaalde.",
            cancelled: "Uw betaling voor boeking {reference} kwam binnen nadat de boeking was geannuleerd. We betalen \
{amount} terug op de kaart of rekening waarmee u betaalde.",
            timing: "Een terugbetaling komt meestal binnen 5 tot 10 werkdagen aan.",
            nothing_to_do: "U hoeft niets te doen.",
        },
        Locale::JaJp => Strings {
            subject: "{brand}：ご予約 {reference} の {amount} を返金いたします",
            greeting: "{name} 様",
            overpaid: "ご予約 {reference} の代金を超えるお支払いがありました。お支払いに使われたカードまたは口座に \
{amount} を返金いたします。",
            cancelled: "ご予約 {reference} のお支払いが、ご予約のキャンセル後に届きました。お支払いに使われたカードまたは\
口座に {amount} を返金いたします。",
            timing: "返金は通常 5〜10 営業日でお手元に届きます。",
            nothing_to_do: "お客様のお手続きは不要です。",
        },
        _ => Strings {
            subject: "{brand}: we are refunding {amount} on booking {reference}",
            greeting: "Hello {name},",
            overpaid: "You paid more than booking {reference} costs. We are refunding {amount} to the card or account \
you paid with.",
            cancelled: "Your payment for booking {reference} reached us after the booking was cancelled. We are \
refunding {amount} to the card or account you paid with.",
            timing: "Refunds usually reach you within 5 to 10 working days.",
            nothing_to_do: "You do not need to do anything.",
        },
    }
}

pub fn email<'a>(n: &RefundNotice<'a>) -> Email<'a> {
    let s = strings(n.locale);
    let amount = format_money(n.amount, n.locale);
    let vars =
        [("brand", n.brand.name.as_str()), ("reference", n.reference), ("name", n.first_name), ("amount", &amount)];
    let t = |template: &str| fill(template, &vars);
    // The subject's template names no `{name}`: customer data never reaches a header.
    Email::new(n.brand, n.locale, &t(s.subject))
        .paragraph(t(s.greeting))
        .paragraph(t(match n.reason {
            ExcessReason::Overpaid => s.overpaid,
            ExcessReason::Cancelled => s.cancelled,
        }))
        .paragraph(t(s.timing))
        .paragraph(t(s.nothing_to_do))
}

pub fn render(n: &RefundNotice<'_>) -> Rendered {
    email(n).render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::money::Currency;

    #[test]
    fn says_how_much_why_and_when_escaped() {
        let b = Brand {
            name: "Alpine Escapes".into(),
            primary_colour: "#0a7c59".into(),
            sender: "p@tours.example".into(),
            logo_url: None,
        };
        let mut n = RefundNotice {
            brand: &b,
            locale: Locale::EnGb,
            first_name: "Ada <b>",
            reference: "AE-10001",
            amount: Money::from_minor(308_050, Currency::Gbp).unwrap(),
            reason: ExcessReason::Overpaid,
        };
        let r = render(&n);
        assert!(r.subject.contains("£3,080.50") && r.subject.contains("AE-10001") && !r.subject.contains("Ada"));
        assert!(r.text.contains("paid more than") && r.text.contains("5 to 10 working days"), "{}", r.text);
        assert!(r.html.contains("Ada &lt;b&gt;") && !r.html.contains("<b>"));
        n.reason = ExcessReason::Cancelled;
        assert!(render(&n).text.contains("after the booking was cancelled"));
        n.locale = Locale::DeDe;
        assert!(render(&n).subject.contains("erstatten"));
    }
}
