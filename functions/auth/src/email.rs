//! The sign-in email: HTML and plain text, branded, in the booking's locale. Pure.
//!
//! The layout, escaping and sending are `portal_mail`'s: this module holds the localized strings and the blocks.
//! Every piece of customer or operator data (names, references) is HTML-escaped in the HTML part; nothing
//! from a booking goes into a header (the subject carries only the brand name from config and the booking
//! reference, which is `A-Z0-9-` by construction). The expiry time is formatted for the locale with CLDR
//! (`portal_domain::locale::format_datetime_utc`) and says `UTC`.

use chrono::{DateTime, Utc};
use portal_domain::locale::{Locale, format_datetime_utc};
use portal_mail::{Email, fill};

use crate::config::Brand;

pub use portal_mail::{Rendered, escape_html, from_address};

/// What goes into one sign-in email.
#[derive(Debug, Clone)]
pub struct LinkEmail<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
    pub first_name: &'a str,
    pub reference: &'a str,
    pub link: &'a str,
    pub code: &'a str,
    pub expires_at: DateTime<Utc>,
}

struct Strings {
    subject: &'static str,
    greeting: &'static str,
    intro: &'static str,
    button: &'static str,
    code: &'static str,
    expiry: &'static str,
    ignore: &'static str,
}

fn strings(locale: Locale) -> Strings {
    match locale {
        Locale::EnGb | Locale::EnUs => Strings {
            subject: "{brand}: your sign-in link for booking {reference}",
            greeting: "Hello {name},",
            intro: "Use the button below to open your booking {reference} with {brand}.",
            button: "Sign in to my booking",
            code: "Or enter this code on the sign-in page:",
            expiry: "The link and the code work once and expire on {time}.",
            ignore: "If you did not ask for this email, you can ignore it: nobody can sign in without it.",
        },
        Locale::DeDe => Strings {
            subject: "{brand}: Ihr Anmeldelink für die Buchung {reference}",
            greeting: "Hallo {name},",
            intro: "Über die Schaltfläche unten öffnen Sie Ihre Buchung {reference} bei {brand}.",
            button: "Zu meiner Buchung",
            code: "Oder geben Sie auf der Anmeldeseite diesen Code ein:",
            expiry: "Link und Code funktionieren einmal und laufen am {time} ab.",
            ignore: "Falls Sie diese E-Mail nicht angefordert haben, können Sie sie ignorieren: Ohne sie kann sich niemand anmelden.",
        },
        Locale::FrFr => Strings {
            subject: "{brand} : votre lien de connexion pour la réservation {reference}",
            greeting: "Bonjour {name},",
            intro: "Utilisez le bouton ci-dessous pour ouvrir votre réservation {reference} chez {brand}.",
            button: "Accéder à ma réservation",
            code: "Ou saisissez ce code sur la page de connexion :",
            expiry: "Le lien et le code ne fonctionnent qu’une fois et expirent le {time}.",
            ignore: "Si vous n’avez pas demandé cet e-mail, vous pouvez l’ignorer : personne ne peut se connecter sans lui.",
        },
        Locale::NlNl => Strings {
            subject: "{brand}: uw inloglink voor boeking {reference}",
            greeting: "Beste {name},",
            intro: "Met de knop hieronder opent u uw boeking {reference} bij {brand}.",
            button: "Naar mijn boeking",
            code: "Of voer deze code in op de inlogpagina:",
            expiry: "De link en de code werken één keer en verlopen op {time}.",
            ignore: "Heeft u deze e-mail niet aangevraagd? Dan kunt u hem negeren: zonder deze e-mail kan niemand inloggen.",
        },
        Locale::JaJp => Strings {
            subject: "{brand}：ご予約 {reference} のログインリンク",
            greeting: "{name} 様",
            intro: "下のボタンから {brand} のご予約 {reference} を開けます。",
            button: "予約を開く",
            code: "またはログインページで次のコードを入力してください：",
            expiry: "リンクとコードは1回のみ有効で、{time} に失効します。",
            ignore: "このメールに心当たりがない場合は破棄してください。このメールがなければ誰もログインできません。",
        },
    }
}

/// The sign-in email for [`portal_mail::send_email`].
pub fn email<'a>(e: &LinkEmail<'a>) -> Email<'a> {
    let s = strings(e.locale);
    let time = format_datetime_utc(e.expires_at, e.locale);
    let vars = [("brand", e.brand.name.as_str()), ("reference", e.reference), ("name", e.first_name), ("time", &time)];
    let t = |template: &str| fill(template, &vars);
    // Names never reach a header: the subject has the brand (config) and the reference only.
    let subject = fill(s.subject, &[("brand", &e.brand.name), ("reference", e.reference)]);
    Email::new(e.brand, e.locale, &subject)
        .paragraph(t(s.greeting))
        .paragraph(t(s.intro))
        .button(t(s.button), e.link)
        .code(t(s.code), e.code)
        .paragraph(t(s.expiry))
        .small_print(t(s.ignore))
}

pub fn render(e: &LinkEmail<'_>) -> Rendered {
    email(e).render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn brand() -> Brand {
        Brand {
            name: "Alpine Escapes".into(),
            primary_colour: "#0a7c59".into(),
            sender: "portal@tours.example".into(),
            logo_url: None,
        }
    }

    fn email<'a>(b: &'a Brand, locale: Locale, name: &'a str) -> LinkEmail<'a> {
        LinkEmail {
            brand: b,
            locale,
            first_name: name,
            reference: "AE-10001",
            link: "https://portal.example/sign-in#token=abc_-",
            code: "04213795",
            expires_at: Utc.with_ymd_and_hms(2027, 3, 3, 9, 5, 0).unwrap(),
        }
    }

    #[test]
    fn every_locale_has_link_code_and_local_expiry() {
        let b = brand();
        for (locale, time, word) in [
            (Locale::EnGb, "3 March 2027 at 09:05 UTC", "Hello"),
            (Locale::DeDe, "3. März 2027 um 09:05 UTC", "Hallo"),
            (Locale::FrFr, "3 mars 2027", "Bonjour"),
            (Locale::NlNl, "3 maart 2027", "Beste"),
            (Locale::JaJp, "2027年3月3日", "様"),
        ] {
            let r = render(&email(&b, locale, "Ada"));
            assert!(r.text.contains(time), "{locale:?}: {}", r.text);
            assert!(r.html.contains(time), "{locale:?}");
            assert!(r.text.contains(word) && r.html.contains(word), "{locale:?}");
            assert!(r.text.contains("https://portal.example/sign-in#token=abc_-"));
            assert!(r.html.contains("href=\"https://portal.example/sign-in#token=abc_-\""));
            assert!(r.text.contains("04213795") && r.html.contains("04213795"));
            assert!(r.subject.contains("AE-10001") && r.subject.contains("Alpine Escapes"));
            assert!(r.html.contains("#0a7c59"));
        }
    }

    #[test]
    fn names_cannot_inject_html_or_headers() {
        let b = brand();
        let r = render(&email(&b, Locale::EnGb, "<script>alert(1)</script>\r\nBcc: evil@x.y"));
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(!r.subject.contains("Bcc") && !r.subject.contains('\n'), "names never reach a header");
        let mut evil = brand();
        evil.name = "Evil\r\nBcc: x@y.z".into();
        let r = render(&email(&evil, Locale::EnGb, "Ada"));
        assert!(!r.subject.contains('\r') && !r.subject.contains('\n'));
        assert_eq!(from_address(&brand()), "\"Alpine Escapes\" <portal@tours.example>");
        evil.name = "Ev\"il".into();
        assert_eq!(from_address(&evil), "portal@tours.example");
    }

    #[test]
    fn escaping_and_filling() {
        assert_eq!(escape_html("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
        assert_eq!(fill("{a} {b} {c", &[("a", "{b}"), ("b", "x")]), "{b} x {c");
    }

    #[test]
    fn logo_and_placeholders_in_names() {
        let mut b = brand();
        let r = render(&email(&b, Locale::EnGb, "{time} {brand}"));
        assert!(r.html.contains("Hello {time} {brand},") && r.text.contains("Hello {time} {brand},"), "{}", r.text);
        assert!(!r.html.contains("<img"));
        b.logo_url = Some("https://cdn.example/alpine.png".into());
        let r = render(&email(&b, Locale::JaJp, "Ada"));
        assert!(r.html.contains("<img src=\"https://cdn.example/alpine.png\" alt=\"Alpine Escapes\""), "{}", r.html);
    }
}
