use chrono::{TimeZone, Utc};
use portal_domain::booking::{Booking, BookingInput};
use portal_domain::ids::BookingReference;
use portal_domain::ledger::{Actor, LedgerSummary, Movement, MovementKind};
use portal_domain::money::Money;
use portal_domain::schedule::Instalment;
use serde_json::{Value, json};

use super::*;

/// The text of every page, as a PDF reader extracts it.
pub fn pdf_text(pdf: &[u8]) -> String {
    lopdf::Document::load_mem(pdf).expect("a parseable PDF");
    pdf_extract::extract_text_from_mem(pdf).expect("extractable text")
}

fn input() -> Value {
    serde_json::from_str(include_str!("../../../events/operator-bookings/booking.json")).unwrap()
}

fn booking(v: Value) -> (Booking, Vec<Instalment>) {
    let input: BookingInput = serde_json::from_value(v).unwrap();
    let vb = Booking::from_input(BookingReference::parse("AE-10001").unwrap(), input).unwrap();
    let inst = vb.schedule.iter().map(Instalment::new).collect();
    (vb.booking, inst)
}

fn payment(b: &Booking, minor: i64) -> Movement {
    let at = Utc.with_ymd_and_hms(2026, 11, 10, 9, 30, 0).unwrap();
    Movement {
        id: "mov_pay1".into(),
        kind: MovementKind::Payment,
        amount: Money::from_minor(minor, b.currency).unwrap(),
        channel: Some(portal_domain::booking::PaymentChannel::BankTransfer),
        external_reference: Some("BT-4471".into()),
        occurred_at: at,
        recorded_at: at,
        actor: Actor::operator("op"),
        idempotency_key: "pay1".into(),
        traveller_id: None,
        instalment_ids: vec![],
        description: None,
        acquirer_fee: None,
    }
}

fn charge(b: &Booking) -> Movement {
    let mut m = payment(b, b.total_price().minor());
    m.id = "mov_charge".into();
    m.kind = MovementKind::Charge;
    m.idempotency_key = "charge".into();
    m.channel = None;
    m.external_reference = None;
    m
}

fn brand() -> Brand {
    Brand {
        name: "Alpine Escapes".into(),
        primary_colour: "#0b6e4f".into(),
        operator_lines: vec!["Alpine Escapes Ltd · 1 Market Street, Bristol BS1 4DJ".into()],
        logo: None,
    }
}

static LOGO_PNG: &[u8] = include_bytes!("../fixtures/alpine-escapes-logo.png");
static LOGO_JPEG: &[u8] = include_bytes!("../fixtures/logo.jpg");

/// `(width, height)` in pixels of every image XObject in the PDF.
pub fn pdf_images(pdf: &[u8]) -> Vec<(i64, i64)> {
    let doc = lopdf::Document::load_mem(pdf).expect("a parseable PDF");
    doc.objects
        .values()
        .filter_map(|o| o.as_stream().ok())
        .filter(|s| s.dict.get(b"Subtype").and_then(|t| t.as_name()).is_ok_and(|n| n == b"Image"))
        // A PNG's alpha channel is a second image (the first one's soft mask): count the drawn ones.
        .filter(|s| {
            s.dict.get(b"SMask").is_ok()
                || !s.dict.get(b"ColorSpace").and_then(|c| c.as_name()).is_ok_and(|n| n == b"DeviceGray")
        })
        .map(|s| {
            let n = |k: &[u8]| s.dict.get(k).and_then(|v| v.as_i64()).unwrap_or_default();
            (n(b"Width"), n(b"Height"))
        })
        .collect()
}

/// The fallback font, as the worker gets it from the bucket (read from the crate's `fonts/` here).
fn fallback() -> FallbackFont {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fonts/DroidSansFallbackFull.ttf");
    FallbackFont::new(std::fs::read(path).unwrap()).unwrap()
}

fn render_invoice(brand: &Brand) -> Rendered {
    let (b, inst) = booking(input());
    let movements = [charge(&b)];
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let summary = LedgerSummary::compute(&b, &movements, &inst, today).unwrap();
    let input = RenderInput { booking: &b, movements: &movements, summary: &summary, brand, fallback_font: None };
    render(&plan(&b, &movements)[0], &input).unwrap()
}

fn render_all(b: &Booking, inst: &[Instalment], movements: &[Movement]) -> Vec<(DocumentSpec, Rendered)> {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let summary = LedgerSummary::compute(b, movements, inst, today).unwrap();
    let brand = brand();
    let font = fallback();
    let input = RenderInput { booking: b, movements, summary: &summary, brand: &brand, fallback_font: Some(&font) };
    plan(b, movements).into_iter().map(|s| (s.clone(), render(&s, &input).unwrap())).collect()
}

#[test]
fn cjk_text_needs_the_fallback_font_and_latin_text_is_the_same_with_or_without_it() {
    let (mut b, inst) = booking(input());
    let movements = [charge(&b)];
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let summary = LedgerSummary::compute(&b, &movements, &inst, today).unwrap();
    let brand = brand();
    let font = fallback();
    let invoice = &plan(&b, &movements)[0];
    let mut input =
        RenderInput { booking: &b, movements: &movements, summary: &summary, brand: &brand, fallback_font: None };
    let without = render(invoice, &input).unwrap();
    input.fallback_font = Some(&font);
    let with = render(invoice, &input).unwrap();
    // Whether a container happened to have fetched the font never changes a document (nor its versions).
    assert_eq!(without.sha256, with.sha256);

    b.travellers[0].last_name = "山田".into();
    let input =
        RenderInput { booking: &b, movements: &movements, summary: &summary, brand: &brand, fallback_font: None };
    assert!(matches!(render(invoice, &input), Err(RenderError::FallbackFontNeeded)));
    let input = RenderInput { fallback_font: Some(&font), ..input };
    assert!(pdf_text(&render(invoice, &input).unwrap().pdf).contains("山田"));
}

#[test]
fn only_the_vendored_fallback_font_is_accepted() {
    assert!(matches!(FallbackFont::new(b"not a font".to_vec()), Err(FontError::WrongBytes(_))));
    let mut bytes = fallback().bytes().to_vec();
    bytes[1000] ^= 1;
    assert!(matches!(FallbackFont::new(bytes), Err(FontError::WrongBytes(_))));
}

#[test]
fn plans_invoice_itinerary_vouchers_and_receipts() {
    let (b, _) = booking(input());
    let docs = plan(&b, &[charge(&b), payment(&b, 50000)]);
    let ids: Vec<&str> = docs.iter().map(|d| d.document_id.as_str()).collect();
    assert_eq!(ids, ["invoice", "itinerary", "voucher-S-TRF", "receipt-mov_pay1"]);
    assert_eq!(docs[3].movement_id.as_deref(), Some("mov_pay1"));
}

#[test]
fn invoice_shows_prices_payments_outstanding_and_brand() {
    let (b, inst) = booking(input());
    let docs = render_all(&b, &inst, &[charge(&b), payment(&b, 50000)]);
    let text = pdf_text(&docs[0].1.pdf);
    for needle in [
        "Alpine Escapes",
        "Invoice",
        "AE-10001",
        "Ada Lovelace",
        "Zermatt Explorer, per person",
        "£1,450.00",
        "£3,080.50",
        "BT-4471",
        "£500.00",
        "Outstanding",
        "£2,580.50",
        "Deposit due 15 November 2026",
        "Alpine Escapes Ltd",
    ] {
        assert!(text.contains(needle), "invoice lacks {needle:?}:\n{text}");
    }
    let itinerary = pdf_text(&docs[1].1.pdf);
    for needle in ["Itinerary", "Day 1", "25 March 2027", "Arrive in Zermatt", "SBB Rail", "SBB-77812", "Hotel Alpina"]
    {
        assert!(itinerary.contains(needle), "itinerary lacks {needle:?}:\n{itinerary}");
    }
    let voucher = pdf_text(&docs[2].1.pdf);
    assert!(voucher.contains("SBB-77812") && voucher.contains("Charles Babbage"), "{voucher}");
    let receipt = pdf_text(&docs[3].1.pdf);
    assert!(receipt.contains("£500.00") && receipt.contains("BT-4471"), "{receipt}");
}

#[test]
fn same_input_same_bytes_and_a_price_change_changes_the_invoice_only() {
    let (b, inst) = booking(input());
    let a = render_all(&b, &inst, &[charge(&b)]);
    let again = render_all(&b, &inst, &[charge(&b)]);
    for (x, y) in a.iter().zip(&again) {
        assert_eq!(x.1.sha256, y.1.sha256, "{} is not deterministic", x.0.document_id);
    }
    let mut v = input();
    v["price_lines"][2]["amount"] = json!("200.00");
    // The schedule follows the price (+19.50): exact money, never a float.
    let currency = b.currency;
    let last = Money::parse(v["schedule"][2]["amount"].as_str().unwrap(), currency).unwrap();
    let raised = last.checked_add(Money::parse("19.50", currency).unwrap()).unwrap();
    v["schedule"][2]["amount"] = json!(raised.to_decimal_string());
    let input: BookingInput = serde_json::from_value(v).expect("the changed booking is valid input");
    let vb = Booking::from_input(BookingReference::parse("AE-10001").unwrap(), input).expect("a valid booking");
    let inst2: Vec<Instalment> = vb.schedule.iter().map(Instalment::new).collect();
    let c = render_all(&vb.booking, &inst2, &[charge(&vb.booking)]);
    assert_ne!(a[0].1.sha256, c[0].1.sha256);
    assert_eq!(a[1].1.sha256, c[1].1.sha256, "the itinerary does not show prices");
}

#[test]
fn hostile_layouts_still_give_valid_pdfs_with_their_text() {
    let mut v = input();
    let long = "Maximilianus-Bartholomaeus ".repeat(3);
    v["travellers"][0]["first_name"] = json!(long.trim());
    v["travellers"][1]["first_name"] = json!("שרה");
    v["travellers"][1]["last_name"] = json!("山田太郎");
    let days: Vec<Value> = (0..60)
        .map(|i| {
            let date = chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap() + chrono::Days::new(i);
            json!({"date": date, "title": format!("Day title {i} محطة"), "description": "A long description ".repeat(20),
                   "services": [{"id": format!("S{i}"), "kind": "hotel", "name": "東京ホテル", "supplier_name": "Supplier", "supplier_reference": format!("REF-{i}")}]})
        })
        .collect();
    v["itinerary"] = json!(days);
    v["travel_start"] = json!("2027-03-01");
    v["travel_end"] = json!("2027-04-29");
    let (b, inst) = booking(v);
    let docs = render_all(&b, &inst, &[charge(&b)]);
    assert_eq!(docs.len(), 62);
    let itinerary = pdf_text(&docs[1].1.pdf);
    let pages = lopdf::Document::load_mem(&docs[1].1.pdf).unwrap().get_pages().len();
    assert!(pages > 5, "60 days flow over pages ({pages})");
    for needle in ["Day 60", "REF-59", "東京ホテル", "山田太郎", "Maximilianus-Bartholomaeus"] {
        assert!(itinerary.contains(needle), "itinerary lacks {needle:?}");
    }
    assert!(itinerary.contains("שרה") || itinerary.contains("הרש"), "Hebrew name extractable");
    let invoice = pdf_text(&docs[0].1.pdf);
    assert!(invoice.contains("Maximilianus"), "{invoice}");
}

#[test]
fn colours_and_file_names() {
    assert_eq!(parse_colour("#0b6e4f"), layout::Colour(0x0b, 0x6e, 0x4f));
    assert_eq!(parse_colour("red"), layout::Colour(0x1f, 0x4e, 0x79));
    assert_eq!(file_name("AE-10001", "invoice", 2), "AE-10001-invoice-v2.pdf");
    assert_eq!(DocType::parse("voucher"), Some(DocType::Voucher));
    assert_eq!(DocType::parse("../x"), None);
}

#[test]
fn the_logo_is_drawn_instead_of_the_monogram_and_the_text_stays_extractable() {
    let plain = render_invoice(&brand());
    assert!(pdf_images(&plain.pdf).is_empty());
    assert!(pdf_text(&plain.pdf).contains("AE Alpine Escapes"), "the monogram, then the brand name");

    for (bytes, format, size) in [(LOGO_PNG, LogoFormat::Png, (120, 80)), (LOGO_JPEG, LogoFormat::Jpeg, (64, 40))] {
        let logo = Logo::new(bytes.to_vec()).unwrap();
        assert_eq!(logo.format(), format);
        assert_eq!(format!("{logo:?}"), format!("Logo {{ format: {format:?}, bytes: {} }}", bytes.len()));
        let branded = render_invoice(&Brand { logo: Some(logo), ..brand() });
        assert_eq!(pdf_images(&branded.pdf), [size], "{format:?}: one image XObject, the logo");
        let text = pdf_text(&branded.pdf);
        for needle in ["Alpine Escapes", "Invoice", "AE-10001", "£3,080.50", "Alpine Escapes Ltd"] {
            assert!(text.contains(needle), "{format:?} invoice lacks {needle:?}:\n{text}");
        }
        assert!(!text.contains("AE Alpine") && text.contains("Alpine Escapes Invoice"), "no monogram:\n{text}");
        assert_ne!(branded.sha256, plain.sha256);
        assert_eq!(
            render_invoice(&Brand { logo: Some(Logo::new(bytes.to_vec()).unwrap()), ..brand() }).sha256,
            branded.sha256
        );
    }
}

#[test]
fn logos_that_are_too_big_or_not_images_are_refused() {
    assert_eq!(Logo::new(b"GIF89a....".to_vec()), Err(LogoError::UnknownFormat));
    assert_eq!(Logo::new(Vec::new()), Err(LogoError::UnknownFormat));
    let mut big = LOGO_PNG.to_vec();
    big.resize(MAX_LOGO_BYTES + 1, 0);
    assert_eq!(Logo::new(big), Err(LogoError::TooLarge(MAX_LOGO_BYTES + 1)));
    // A PNG signature with a truncated body, a JPEG cut after its headers: the writer cannot decode them.
    assert!(matches!(Logo::new(LOGO_PNG[..40].to_vec()), Err(LogoError::Undecodable(_))));
    assert!(matches!(Logo::new(LOGO_JPEG[..LOGO_JPEG.len() / 2].to_vec()), Err(LogoError::Undecodable(_))));
    // A PNG header claiming 100000×100000 pixels is refused before any pixel is decoded.
    let mut huge = LOGO_PNG.to_vec();
    huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]);
    assert!(Logo::new(huge).is_err());
}
