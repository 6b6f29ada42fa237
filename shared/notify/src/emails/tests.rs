use super::*;
use portal_domain::money::{Currency, Money};
use portal_mail::Rendered;

const NBSP: char = '\u{a0}';

fn brand() -> Brand {
    Brand {
        name: "Alpine Escapes".into(),
        primary_colour: "#0a7c59".into(),
        sender: "p@tours.example".into(),
        logo_url: None,
    }
}

fn ctx<'a>(brand: &'a Brand, locale: Locale, first_name: &'a str) -> Ctx<'a> {
    Ctx { brand, locale, first_name, reference: "AE-10001", link: "https://portal.example/bookings/AE-10001" }
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::Eur).unwrap()
}

fn changes() -> Vec<Change> {
    vec![
        Change::TravelDates {
            was_start: date("2027-05-10"),
            was_end: date("2027-05-18"),
            start: date("2027-05-12"),
            end: date("2027-05-20"),
        },
        Change::DayAdded { date: date("2027-05-14"), title: "Glacier walk".into() },
        Change::DayRemoved { date: date("2027-05-13"), title: "Lake day".into() },
        Change::DayChanged { date: date("2027-05-12"), title: "Arrive Zermatt".into() },
        Change::ServiceAdded { date: date("2027-05-14"), name: "Mountain guide".into() },
        Change::ServiceRemoved { date: date("2027-05-15"), name: "Hotel Alpina".into() },
        Change::ServiceChanged { date: date("2027-05-12"), name: "Station transfer".into() },
        Change::TravellerAdded { name: "Grace Hopper".into() },
        Change::TravellerRemoved { name: "Charles Babbage".into() },
        Change::TravellerRenamed { was: "Ada Byron".into(), name: "Ada Lovelace".into() },
        Change::PriceChanged { was: eur(120_000), now: eur(135_000) },
    ]
}

fn lines() -> Vec<DueLine> {
    vec![
        DueLine { instalment_id: "BAL".into(), due_date: date("2027-04-01"), amount: eur(135_000) },
        DueLine { instalment_id: "I1".into(), due_date: date("2027-03-01"), amount: eur(20_000) },
    ]
}

/// A `{word}` placeholder left unfilled.
fn leftover(s: &str) -> Option<&str> {
    s.match_indices('{').find_map(|(i, _)| {
        let rest = &s[i + 1..];
        let end = rest.find('}')?;
        let word = &rest[..end];
        (!word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')).then_some(word)
    })
}

/// Every email of the module, for one context.
fn all(c: &Ctx<'_>) -> Vec<(&'static str, Rendered)> {
    let docs = vec!["invoice".to_string(), "itinerary".to_string()];
    vec![
        ("digest", digest(c, &changes(), &docs).render()),
        ("digest changes only", digest(c, &changes(), &[]).render()),
        ("digest documents only", digest(c, &[], &docs).render()),
        ("reminder", reminder(c, &lines()).render()),
        ("due_soon", due_soon(c, &lines()).render()),
        ("approval_needed", approval_needed(c, &lines()).render()),
        ("confirmed", confirmed(c, date("2027-05-12"), date("2027-05-20")).render()),
        ("cancelled", cancelled(c).render()),
        ("refunded", refunded(c, eur(12_345)).render()),
    ]
}

#[test]
fn every_email_renders_in_every_locale_filled_escaped_and_linked() {
    let b = brand();
    for locale in Locale::ALL {
        let c = ctx(&b, locale, "Ada <script>");
        for (what, r) in all(&c) {
            let at = format!("{what} in {locale:?}");
            for part in [&r.subject, &r.text, &r.html] {
                assert_eq!(leftover(part), None, "{at}: {part}");
            }
            assert!(r.subject.starts_with("Alpine Escapes") && r.subject.contains("AE-10001"), "{at}: {}", r.subject);
            assert!(!r.subject.contains("Ada"), "{at}: no name in a header");
            assert!(r.html.contains("Ada &lt;script&gt;") && !r.html.contains("<script>"), "{at}");
            assert!(r.text.contains("Ada <script>"), "{at}: text is plain");
            assert!(r.html.contains("href=\"https://portal.example/bookings/AE-10001\""), "{at}");
            assert!(r.html.contains(&format!("<html lang=\"{}\">", locale.tag())), "{at}");
            assert!(r.text.contains(strings(locale).automatic), "{at}: the small print");
        }
    }
}

#[test]
fn amounts_and_dates_are_formatted_by_locale() {
    let b = brand();
    let de = ctx(&b, Locale::DeDe, "Ada");
    let r = digest(&de, &changes(), &[]).render();
    assert!(r.text.contains(&format!("Preis: 1.200,00{NBSP}€ → 1.350,00{NBSP}€")), "{}", r.text);
    assert!(
        r.text.contains("Reisedaten: 12. Mai 2027 – 20. Mai 2027 (bisher 10. Mai 2027 – 18. Mai 2027)"),
        "{}",
        r.text
    );
    let r = reminder(&de, &lines()).render();
    assert!(r.text.contains(&format!("1. März 2027: 200,00{NBSP}€\n1. April 2027: 1.350,00{NBSP}€")), "{}", r.text);

    for locale in Locale::ALL {
        let c = ctx(&b, locale, "Ada");
        for (what, r) in all(&c) {
            let at = format!("{what} in {locale:?}");
            match what {
                "digest" | "digest changes only" => {
                    assert!(r.text.contains(&format_money(eur(135_000), locale)), "{at}: {}", r.text);
                    assert!(r.text.contains(&format_date(date("2027-05-14"), locale)), "{at}: {}", r.text);
                }
                "reminder" | "due_soon" | "approval_needed" => {
                    for l in lines() {
                        let row = format!("{}: {}", format_date(l.due_date, locale), format_money(l.amount, locale));
                        assert!(r.text.contains(&row), "{at}: {}", r.text);
                    }
                }
                "confirmed" => assert!(r.text.contains(&format_date(date("2027-05-20"), locale)), "{at}"),
                _ => {}
            }
        }
    }
    let us = digest(&ctx(&b, Locale::EnUs, "Ada"), &changes(), &[]).render();
    assert!(
        us.text.contains("Travel dates: May 12, 2027 – May 20, 2027 (were May 10, 2027 – May 18, 2027)"),
        "{}",
        us.text
    );
}

#[test]
fn the_digest_in_words() {
    let b = brand();
    let c = ctx(&b, Locale::EnGb, "Ada");
    let docs = ["invoice", "itinerary", "invoice", "boarding_pass"].map(String::from);
    let r = digest(&c, &changes(), &docs).render();
    assert_eq!(r.subject, "Alpine Escapes: your booking AE-10001 has changed");
    for line in [
        "Hello Ada,",
        "Your booking AE-10001 has changed:",
        "Travel dates: 12 May 2027 – 20 May 2027 (were 10 May 2027 – 18 May 2027)",
        "Day added: 14 May 2027, Glacier walk",
        "Day removed: 13 May 2027, Lake day",
        "Day changed: 12 May 2027, Arrive Zermatt",
        "Service added: 14 May 2027, Mountain guide",
        "Service removed: 15 May 2027, Hotel Alpina",
        "Service changed: 12 May 2027, Station transfer",
        "Traveller added: Grace Hopper",
        "Traveller removed: Charles Babbage",
        "Traveller name changed: Ada Byron → Ada Lovelace",
        "Price: €1,200.00 → €1,350.00",
        "New versions of your documents: Invoice, Itinerary, boarding_pass",
        "View your booking\nhttps://portal.example/bookings/AE-10001",
    ] {
        assert!(r.text.contains(line), "{line:?} in {}", r.text);
    }
    // In the order of the changes.
    let at = |s: &str| r.text.find(s).unwrap();
    assert!(at("Travel dates") < at("Day added") && at("Day added") < at("Price:"));

    let only_docs = digest(&c, &[], &docs[..1]).render();
    assert_eq!(only_docs.subject, "Alpine Escapes: new documents for booking AE-10001");
    assert!(only_docs.text.contains("New versions of your documents: Invoice\n"), "{}", only_docs.text);
    assert!(!only_docs.text.contains("has changed"));

    let no_docs = digest(&c, &changes(), &[]).render();
    assert!(!no_docs.text.contains("New versions"), "{}", no_docs.text);

    let ja = digest(&ctx(&b, Locale::JaJp, "Ada"), &[], &docs).render();
    assert!(ja.text.contains("請求書、旅程表、boarding_pass"), "{}", ja.text);

    // Operator text is escaped in HTML, and its braces are not placeholders.
    let evil = [Change::DayAdded { date: date("2027-05-14"), title: "<b>{reference}</b>".into() }];
    let r = digest(&c, &evil, &["<i>".to_string()]).render();
    assert!(r.html.contains("&lt;b&gt;{reference}&lt;/b&gt;") && !r.html.contains("<b>") && !r.html.contains("<i>"));
}

#[test]
fn instalment_emails_say_what_to_do() {
    let b = brand();
    let c = ctx(&b, Locale::EnGb, "Ada");
    let r = reminder(&c, &lines()).render();
    assert!(r.text.contains("1 March 2027: €200.00\n1 April 2027: €1,350.00"), "by due date: {}", r.text);
    assert!(r.text.contains("approve automatic payment") && r.text.contains("Pay or approve\nhttps://"), "{}", r.text);
    let r = due_soon(&c, &lines()).render();
    assert!(r.text.contains("charged automatically") && r.text.contains("nothing you need to do"), "{}", r.text);
    let r = approval_needed(&c, &lines()).render();
    assert!(r.text.contains("waiting for your approval") && r.text.contains("Review instalments\n"), "{}", r.text);
    let r = confirmed(&c, date("2027-05-12"), date("2027-05-20")).render();
    assert!(r.text.contains("Travel dates: 12 May 2027 – 20 May 2027") && r.subject.contains("confirmed"));
    let r = cancelled(&c).render();
    assert!(r.text.contains("separate email") && r.subject.contains("cancelled"), "{}", r.text);
}

#[test]
fn placeholders_in_names_stay_as_they_are() {
    let b = Brand { name: "{reference} Tours".into(), ..brand() };
    let c = Ctx { reference: "{name}", ..ctx(&b, Locale::EnGb, "{brand} {reference}") };
    let r = cancelled(&c).render();
    assert_eq!(r.subject, "{reference} Tours: booking {name} cancelled");
    assert!(r.text.contains("Hello {brand} {reference},"), "{}", r.text);
}

#[test]
fn unsubscribe_footer_says_why_and_how() {
    let url = "https://portal.example/unsubscribe?t=a&b=<c>";
    let Block::SmallPrint(en) = unsubscribe_footer(Locale::EnGb, Category::Updates, url) else { panic!() };
    assert_eq!(
        en,
        "You receive booking update emails because you are one of the travellers on this booking. Unsubscribe with \
one click: https://portal.example/unsubscribe?t=a&b=<c>"
    );
    let Block::SmallPrint(r) = unsubscribe_footer(Locale::EnUs, Category::Reminders, url) else { panic!() };
    assert!(r.contains("payment reminder emails") && r.ends_with(url), "{r}");
    let Block::SmallPrint(t) = unsubscribe_footer(Locale::EnGb, Category::Transactional, url) else { panic!() };
    assert!(!t.contains(url) && !t.contains("Unsubscribe"), "{t}");
    for locale in Locale::ALL {
        for category in [Category::Updates, Category::Reminders] {
            let block = unsubscribe_footer(locale, category, url);
            let Block::SmallPrint(p) = &block else { panic!() };
            assert!(p.ends_with(url) && leftover(p).is_none(), "{locale:?} {category:?}: {p}");
            // The layout escapes it.
            let html = Email::new(&brand(), locale, "S").block(block).render().html;
            assert!(html.contains("t=a&amp;b=&lt;c&gt;"), "{html}");
        }
    }
}

#[test]
fn unsubscribe_page_asks_then_confirms() {
    let b = Brand { name: "Alpine <Escapes>".into(), ..brand() };
    let action = "/unsubscribe?t=abc&x=\"><script>";
    for locale in Locale::ALL {
        for category in [Category::Updates, Category::Reminders] {
            let ask = unsubscribe_page(&b, locale, category, action, false);
            let done = unsubscribe_page(&b, locale, category, action, true);
            let s = strings(locale);
            for page in [&ask, &done] {
                assert!(page.starts_with("<!DOCTYPE html>\n"), "{page}");
                assert!(page.contains(&format!("<html lang=\"{}\">", locale.tag())));
                assert!(
                    page.contains("<meta name=\"viewport\"")
                        && page.contains("<meta name=\"robots\" content=\"noindex\">")
                );
                assert!(page.contains("<title>") && page.contains("Alpine &lt;Escapes&gt;"));
                assert!(!page.contains("<Escapes>") && !page.contains("<script") && !page.contains("\"><"));
                assert_eq!(page.matches("<main>").count(), 1);
                assert_eq!(page.matches("<h1>").count(), 1);
                assert!(page.contains("#0a7c59"), "the brand's accent");
                assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<link"));
                assert!(page.contains(&escape_html(s.page_still)), "transactional emails still come");
                assert_eq!(leftover(page), None);
            }
            let emails = escape_html(category_emails(s, category));
            assert!(ask.contains(&emails) && done.contains(&emails), "{locale:?} {category:?}");
            assert!(
                ask.contains("<form method=\"post\" action=\"/unsubscribe?t=abc&amp;x=&quot;&gt;&lt;script&gt;\">"),
                "{ask}"
            );
            assert!(ask.contains("<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"));
            assert!(ask.contains(&format!("<button type=\"submit\">{}</button>", escape_html(s.page_button))));
            assert!(!done.contains("<form") && !done.contains("<button") && !done.contains(action));
            assert!(done.contains(&format!("<h1>{}</h1>", escape_html(s.done_title))));
        }
    }
    let en = unsubscribe_page(&b, Locale::EnGb, Category::Reminders, action, true);
    assert!(en.contains("You will no longer receive payment reminder emails."), "{en}");
    // A colour that is not one goes nowhere near the CSS.
    let odd = Brand { primary_colour: "red;}</style><script>".into(), ..brand() };
    let page = unsubscribe_page(&odd, Locale::EnGb, Category::Updates, "/u", false);
    assert!(!page.contains("red;") && !page.contains("<script"), "{page}");
}
