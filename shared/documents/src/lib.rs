//! Booking documents rendered to PDF: invoice, itinerary, one voucher per supplier service and one receipt per
//! payment. Pure: the caller passes the booking, its ledger and the brand; no AWS types, no clock (the same
//! input always gives the same bytes, so regenerating unchanged content is recognised by its hash).
//!
//! - [`plan`] says which documents a booking has (ids are built here from operator-checked ids, so they are
//!   safe inside DynamoDB sort keys and S3 keys).
//! - [`render`] draws one of them with [krilla](https://docs.rs/krilla): real text with embedded, subset
//!   TrueType fonts and ToUnicode maps, so the text can be extracted (the tests read it back).
//!
//! Fonts (vendored in `fonts/`, licences beside them): DejaVu Sans (Latin, Greek, Cyrillic, Hebrew, Arabic;
//! hinting removed, which a PDF never uses), built in, and Droid Sans Fallback (CJK, Apache-2.0) for
//! characters DejaVu lacks. The fallback is 4 MB, needed by few documents, and not built in: the caller
//! passes it as a [`FallbackFont`] when [`render`] answers [`RenderError::FallbackFontNeeded`] (the worker
//! fetches it from the documents bucket, [`FALLBACK_FONT_KEY`], once per container). Text is drawn in runs of one font;
//! each run is shaped on its own (`TextDirection::Auto`), so a right-to-left name reads correctly, but a
//! line mixing directions is not reordered by the Unicode bidi algorithm.

mod layout;

use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::booking::{Booking, PaymentChannel};
use portal_domain::ledger::{LedgerSummary, Movement, MovementKind};
use portal_domain::locale::{Locale, format_date, format_datetime_utc, format_money};
use portal_domain::money::Money;
use portal_domain::schedule::InstalmentKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use layout::{Colour, Layout};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    Invoice,
    Itinerary,
    Voucher,
    Receipt,
}

impl DocType {
    pub const ALL: [DocType; 4] = [DocType::Invoice, DocType::Itinerary, DocType::Voucher, DocType::Receipt];

    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Invoice => "invoice",
            DocType::Itinerary => "itinerary",
            DocType::Voucher => "voucher",
            DocType::Receipt => "receipt",
        }
    }

    pub fn parse(s: &str) -> Option<DocType> {
        DocType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Why a version was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Created,
    BookingChanged,
    PaymentRecorded,
    OperatorRequest,
}

/// Brand details printed on every document (from the same `BRANDS_JSON` the emails use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub name: String,
    /// `#rrggbb`.
    pub primary_colour: String,
    /// The operator's legal name and address lines, printed under the brand.
    pub operator_lines: Vec<String>,
    /// Drawn in the header's white square instead of the monogram of the brand's initials.
    pub logo: Option<Logo>,
}

/// The largest logo accepted, in bytes (a header logo needs a few KiB; this bounds memory and PDF size).
pub const MAX_LOGO_BYTES: usize = 512 * 1024;
/// The largest logo accepted, in pixels per side (bounds the memory a small but highly compressed image
/// could take once decoded).
pub const MAX_LOGO_SIDE: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoFormat {
    Png,
    Jpeg,
}

/// A brand logo: PNG or JPEG bytes that [`Logo::new`] has checked decode (cheap to clone: the bytes are
/// shared).
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    bytes: std::sync::Arc<Vec<u8>>,
    format: LogoFormat,
}

/// The format and size, not the bytes (a logged brand stays one line).
impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logo").field("format", &self.format).field("bytes", &self.bytes.len()).finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogoError {
    #[error("{0} bytes: more than {MAX_LOGO_BYTES}")]
    TooLarge(usize),
    #[error("neither PNG nor JPEG")]
    UnknownFormat,
    #[error("{0}×{1} pixels: more than {MAX_LOGO_SIDE} on a side")]
    TooManyPixels(u32, u32),
    #[error("undecodable: {0}")]
    Undecodable(String),
}

impl Logo {
    /// Checks the bytes: at most [`MAX_LOGO_BYTES`], PNG or JPEG by their signature (not by a file name), at
    /// most [`MAX_LOGO_SIDE`] pixels a side, and fully decodable by the PDF writer (a one-image PDF is
    /// written), so a logo that passes cannot make a document fail.
    pub fn new(bytes: Vec<u8>) -> Result<Logo, LogoError> {
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(LogoError::TooLarge(bytes.len()));
        }
        let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            LogoFormat::Png
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            LogoFormat::Jpeg
        } else {
            return Err(LogoError::UnknownFormat);
        };
        let logo = Logo { bytes: std::sync::Arc::new(bytes), format };
        let (w, h) = layout::probe(&logo).map_err(LogoError::Undecodable)?;
        if w > MAX_LOGO_SIDE || h > MAX_LOGO_SIDE {
            return Err(LogoError::TooManyPixels(w, h));
        }
        Ok(logo)
    }

    pub fn format(&self) -> LogoFormat {
        self.format
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Where the fallback font lives in the documents bucket (infra uploads `fonts/DroidSansFallbackFull.ttf` of
/// this crate there), and the SHA-256 it must have: the worker refuses any other bytes.
pub const FALLBACK_FONT_KEY: &str = "fonts/DroidSansFallbackFull.ttf";
pub const FALLBACK_FONT_SHA256: &str = "acb6440a713d880a13a21b468ba7cd43f5a2b2934972e51be791c880730777b8";
/// Larger than the font by a margin; a larger object is not read into memory.
pub const MAX_FALLBACK_FONT_BYTES: usize = 8 << 20;

/// The CJK fallback font, checked (cheap to clone: the bytes are shared).
#[derive(Clone)]
pub struct FallbackFont(pub(crate) std::sync::Arc<Vec<u8>>);

impl std::fmt::Debug for FallbackFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FallbackFont").field(&self.0.len()).finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FontError {
    #[error("SHA-256 {0}, not the fallback font's ({FALLBACK_FONT_SHA256})")]
    WrongBytes(String),
    #[error("not a font the PDF writer reads")]
    Unreadable,
}

impl FallbackFont {
    /// The bytes must be exactly the vendored font (by SHA-256): a document's bytes, and so its version
    /// history, must not depend on what happens to be in the bucket.
    pub fn new(bytes: Vec<u8>) -> Result<FallbackFont, FontError> {
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha != FALLBACK_FONT_SHA256 {
            return Err(FontError::WrongBytes(sha));
        }
        skrifa::FontRef::new(&bytes).map_err(|_| FontError::Unreadable)?;
        Ok(FallbackFont(std::sync::Arc::new(bytes)))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One document of a booking (not yet rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSpec {
    pub doc_type: DocType,
    /// `invoice`, `itinerary`, `voucher-<service id>`, `receipt-<movement id>`.
    pub document_id: String,
    /// A voucher for exactly one traveller: only that traveller (and the lead) may see it.
    pub traveller_id: Option<String>,
    /// Travellers a voucher is for (empty: the whole party).
    pub traveller_ids: Vec<String>,
    /// A receipt's payment movement.
    pub movement_id: Option<String>,
    /// A voucher's service.
    pub service_id: Option<String>,
}

impl DocumentSpec {
    /// May the traveller `traveller_id` (not the lead) see this document?
    pub fn visible_to_traveller(&self, traveller_id: &str) -> bool {
        self.traveller_ids.is_empty() || self.traveller_ids.iter().any(|t| t == traveller_id)
    }
}

/// The documents a booking has: invoice, itinerary, a voucher per service, a receipt per payment.
pub fn plan(booking: &Booking, movements: &[Movement]) -> Vec<DocumentSpec> {
    let doc = |doc_type, document_id: String| DocumentSpec {
        doc_type,
        document_id,
        traveller_id: None,
        traveller_ids: Vec::new(),
        movement_id: None,
        service_id: None,
    };
    let mut out = vec![doc(DocType::Invoice, "invoice".into()), doc(DocType::Itinerary, "itinerary".into())];
    for s in booking.itinerary.iter().flat_map(|d| &d.services) {
        let mut d = doc(DocType::Voucher, format!("voucher-{}", s.id));
        if out.iter().any(|o: &DocumentSpec| o.document_id == d.document_id) {
            continue; // the same service id on two days: one voucher
        }
        d.traveller_ids = s.traveller_ids.clone();
        d.traveller_id = (s.traveller_ids.len() == 1).then(|| s.traveller_ids[0].clone());
        d.service_id = Some(s.id.clone());
        out.push(d);
    }
    for m in movements.iter().filter(|m| m.kind == MovementKind::Payment) {
        let mut d = doc(DocType::Receipt, format!("receipt-{}", m.id));
        d.movement_id = Some(m.id.clone());
        out.push(d);
    }
    out
}

/// Everything a document shows.
#[derive(Clone, Copy)]
pub struct RenderInput<'a> {
    pub booking: &'a Booking,
    pub movements: &'a [Movement],
    pub summary: &'a LedgerSummary,
    pub brand: &'a Brand,
    /// Needed only by text DejaVu Sans has no glyph for; without it such a document is not drawn
    /// ([`RenderError::FallbackFontNeeded`]).
    pub fallback_font: Option<&'a FallbackFont>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the document refers to something the booking no longer has: {0}")]
    Missing(String),
    #[error("PDF writer: {0}")]
    Pdf(String),
    #[error("the document has characters only the fallback font draws, and it was not given")]
    FallbackFontNeeded,
}

/// A rendered document: the PDF and its SHA-256 (hex), the content hash versions are compared by.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub sha256: String,
}

/// Renders one document. The brand's logo is drawn when it has one; should the PDF writer still fail with
/// the logo (it passed [`Logo::new`], so it should not), the document is rendered with the monogram instead:
/// a logo never costs a document.
pub fn render(spec: &DocumentSpec, input: &RenderInput<'_>) -> Result<Rendered, RenderError> {
    match render_with(spec, input, input.brand.logo.as_ref()) {
        Err(RenderError::Pdf(_)) if input.brand.logo.is_some() => render_with(spec, input, None),
        other => other,
    }
}

fn render_with(spec: &DocumentSpec, input: &RenderInput<'_>, logo: Option<&Logo>) -> Result<Rendered, RenderError> {
    let locale = Locale::parse(&input.booking.locale).unwrap_or(Locale::EnGb);
    let mut l = Layout::new(
        &input.brand.name,
        &input.brand.primary_colour,
        input.booking.reference.as_str(),
        logo,
        input.fallback_font,
    );
    let title = match spec.doc_type {
        DocType::Invoice => "Invoice",
        DocType::Itinerary => "Itinerary",
        DocType::Voucher => "Voucher",
        DocType::Receipt => "Payment receipt",
    };
    l.header(title, &input.brand.operator_lines);
    booking_block(&mut l, input.booking, locale);
    match spec.doc_type {
        DocType::Invoice => invoice(&mut l, input, locale),
        DocType::Itinerary => itinerary(&mut l, input.booking, locale),
        DocType::Voucher => voucher(&mut l, spec, input.booking, locale)?,
        DocType::Receipt => receipt(&mut l, spec, input, locale)?,
    }
    if l.needs_fallback() {
        return Err(RenderError::FallbackFontNeeded);
    }
    let pdf = l.finish(&format!("{title} {}", input.booking.reference)).map_err(RenderError::Pdf)?;
    let sha256 = hex::encode(Sha256::digest(&pdf));
    Ok(Rendered { pdf, sha256 })
}

fn full_name(b: &Booking, id: &str) -> String {
    b.traveller(id).map(|t| format!("{} {}", t.first_name, t.last_name)).unwrap_or_else(|| id.to_string())
}

fn booking_block(l: &mut Layout, b: &Booking, locale: Locale) {
    l.pair("Booking reference", b.reference.as_str());
    l.pair("Lead traveller", &full_name(b, &b.lead_traveller_id));
    l.pair("Travel", &format!("{} – {}", format_date(b.travel_start, locale), format_date(b.travel_end, locale)));
    l.gap(8.0);
}

fn money(m: Money, locale: Locale) -> String {
    format_money(m, locale)
}

fn channel(c: Option<PaymentChannel>) -> &'static str {
    match c {
        Some(PaymentChannel::Card) => "Card",
        Some(PaymentChannel::OpenBanking) => "Open banking",
        Some(PaymentChannel::BankTransfer) => "Bank transfer",
        Some(PaymentChannel::Cash) => "Cash",
        Some(PaymentChannel::Voucher) => "Voucher",
        None => "Payment",
    }
}

fn invoice(l: &mut Layout, input: &RenderInput<'_>, locale: Locale) {
    let b = input.booking;
    let s = input.summary;
    l.section("Price");
    for line in &b.price_lines {
        let who = line.traveller_id.as_deref().map(|t| full_name(b, t));
        let desc = match who {
            Some(w) => format!("{} ({w})", line.description),
            None => line.description.clone(),
        };
        l.row(&desc, &money(line.amount, locale));
    }
    for m in input.movements.iter().filter(|m| matches!(m.kind, MovementKind::Fee)) {
        l.row(m.description.as_deref().unwrap_or("Fee"), &money(m.amount, locale));
    }
    l.rule();
    l.row_bold("Total price", &money(s.total_price, locale));
    l.gap(8.0);
    l.section("Payments");
    // Every movement that moves the money received, signed as it does: payments, refunds, chargebacks and
    // their reversals (a pending refund is not yet money back and is left off).
    let payments: Vec<&Movement> = input.movements.iter().filter(|m| m.kind.paid_sign() != 0).collect();
    if payments.is_empty() {
        l.text("No payments received yet.");
    }
    for m in payments {
        let what = match m.kind {
            MovementKind::Refund => "Refund",
            MovementKind::RefundReversed => "Refund failed",
            MovementKind::Chargeback => "Chargeback",
            MovementKind::ChargebackReversed => "Chargeback reversed",
            _ => channel(m.channel),
        };
        let label = format!(
            "{} {} {}",
            format_date(m.occurred_at.date_naive(), locale),
            what,
            m.external_reference.as_deref().unwrap_or("")
        );
        let amount = if m.kind.paid_sign() < 0 {
            m.amount.checked_neg().map(|a| money(a, locale)).unwrap_or_default()
        } else {
            money(m.amount, locale)
        };
        l.row(label.trim_end(), &amount);
    }
    l.rule();
    l.row_bold("Paid", &money(s.paid, locale));
    l.row_bold("Outstanding", &money(s.outstanding, locale));
    if s.credit.is_positive() {
        l.row_bold("Credit", &money(s.credit, locale));
    }
    l.gap(8.0);
    if !s.instalments.is_empty() {
        l.section("Payment schedule");
        for v in &s.instalments {
            let kind = match v.instalment.kind {
                InstalmentKind::Deposit => "Deposit",
                InstalmentKind::Instalment => "Instalment",
                InstalmentKind::Balance => "Balance",
            };
            let state = if v.remaining.is_zero() {
                "paid".to_string()
            } else {
                format!("{} to pay", money(v.remaining, locale))
            };
            l.row(
                &format!("{kind} due {}, {state}", format_date(v.instalment.due_date, locale)),
                &money(v.instalment.amount, locale),
            );
        }
    }
}

fn itinerary(l: &mut Layout, b: &Booking, locale: Locale) {
    l.section("Travellers");
    for t in &b.travellers {
        l.text(&format!("{} {}", t.first_name, t.last_name));
    }
    l.gap(8.0);
    if b.itinerary.is_empty() {
        l.text("The day-by-day itinerary will follow.");
    }
    for (n, day) in b.itinerary.iter().enumerate() {
        l.keep(60.0);
        l.section(&format!("Day {} · {} · {}", n + 1, format_date(day.date, locale), day.title));
        if let Some(d) = &day.description {
            l.text(d);
        }
        if let Some(a) = &day.accommodation {
            l.pair("Accommodation", a);
        }
        for s in &day.services {
            let reference =
                s.supplier_reference.as_deref().map(|r| format!(", supplier reference {r}")).unwrap_or_default();
            l.text(&format!("• {}: {} ({}{reference})", s.kind, s.name, s.supplier_name));
        }
        l.gap(4.0);
    }
}

fn voucher(l: &mut Layout, spec: &DocumentSpec, b: &Booking, locale: Locale) -> Result<(), RenderError> {
    let id = spec.service_id.as_deref().unwrap_or_default();
    let (day, s) = b
        .itinerary
        .iter()
        .flat_map(|d| d.services.iter().map(move |s| (d, s)))
        .find(|(_, s)| s.id == id)
        .ok_or_else(|| RenderError::Missing(format!("service {id}")))?;
    l.section(&s.name);
    l.pair("Service", &s.kind);
    l.pair("Date", &format_date(day.date, locale));
    l.pair("Supplier", &s.supplier_name);
    l.pair("Supplier reference", s.supplier_reference.as_deref().unwrap_or("not yet confirmed"));
    l.gap(8.0);
    l.section("Valid for");
    let ids: Vec<&str> = if s.traveller_ids.is_empty() {
        b.travellers.iter().map(|t| t.id.as_str()).collect()
    } else {
        s.traveller_ids.iter().map(String::as_str).collect()
    };
    for t in ids {
        l.text(&full_name(b, t));
    }
    l.gap(8.0);
    l.text("Please present this voucher to the supplier.");
    Ok(())
}

fn receipt(l: &mut Layout, spec: &DocumentSpec, input: &RenderInput<'_>, locale: Locale) -> Result<(), RenderError> {
    let id = spec.movement_id.as_deref().unwrap_or_default();
    let m = input
        .movements
        .iter()
        .find(|m| m.id == id && m.kind == MovementKind::Payment)
        .ok_or_else(|| RenderError::Missing(format!("payment {id}")))?;
    l.section("Payment received");
    l.row_bold("Amount", &money(m.amount, locale));
    l.pair("Received", &format_datetime_utc(m.occurred_at, locale));
    l.pair("Method", channel(m.channel));
    if let Some(r) = &m.external_reference {
        l.pair("Payment reference", r);
    }
    if let Some(t) = &m.traveller_id {
        l.pair("Paid for", &full_name(input.booking, t));
    }
    l.pair("Receipt number", &spec.document_id);
    l.gap(8.0);
    l.text("Thank you for your payment.");
    Ok(())
}

/// A report of labelled values in sections (a traveller's data export): drawn with the brand's header like
/// every document, never stored.
pub struct Report<'a> {
    pub title: &'a str,
    pub reference: &'a str,
    pub brand: &'a Brand,
    pub intro: &'a str,
    pub sections: &'a [(String, Vec<(String, String)>)],
    pub fallback_font: Option<&'a FallbackFont>,
}

pub fn render_report(r: &Report<'_>) -> Result<Vec<u8>, RenderError> {
    let draw = |logo: Option<&Logo>| {
        let mut l = Layout::new(&r.brand.name, &r.brand.primary_colour, r.reference, logo, r.fallback_font);
        l.header(r.title, &r.brand.operator_lines);
        l.text(r.intro);
        for (title, rows) in r.sections {
            l.section(title);
            for (label, value) in rows {
                l.pair(label, value);
            }
        }
        if l.needs_fallback() {
            return Err(RenderError::FallbackFontNeeded);
        }
        l.finish(r.title).map_err(RenderError::Pdf)
    };
    match draw(r.brand.logo.as_ref()) {
        Err(RenderError::Pdf(_)) if r.brand.logo.is_some() => draw(None),
        other => other,
    }
}

/// Download file name: `<REF>-<document id>-v<version>.pdf` (ASCII only: safe in `Content-Disposition`).
pub fn file_name(reference: &str, document_id: &str, version: u32) -> String {
    format!("{reference}-{document_id}-v{version}.pdf")
}

/// A document's `generated_at` never affects its content; kept here so callers format it one way.
pub fn generated_on(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

/// Colour parsing for the brand band (`#rrggbb`, else the portal's default blue).
pub(crate) fn parse_colour(hex: &str) -> Colour {
    let h = hex.trim_start_matches('#');
    let byte = |i: usize| h.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok());
    match (h.len(), byte(0), byte(2), byte(4)) {
        (6, Some(r), Some(g), Some(b)) => Colour(r, g, b),
        _ => Colour(0x1f, 0x4e, 0x79),
    }
}

#[cfg(test)]
mod tests;
