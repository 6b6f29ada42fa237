//! A small flow layout on A4 pages: lines of text wrapped to the measured width of the real glyphs, pages
//! added as the text flows, then drawn with krilla. Text is split into runs of one font (DejaVu Sans, or
//! Droid Sans Fallback for the CJK characters DejaVu lacks) so every character has a glyph. The fallback's
//! bytes come from the caller; a layout that needed them without having them says so ([`Layout::needs_fallback`]).

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size as PageSize, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 48.0;
const BODY: f32 = 10.0;
const LINE: f32 = 14.0;
const BOTTOM: f32 = HEIGHT - MARGIN - 20.0;
/// The white square in the header band, and the logo's margin inside it.
const SQUARE: f32 = 42.0;
const LOGO_PAD: f32 = 3.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub u8, pub u8, pub u8);

const INK: Colour = Colour(0x22, 0x22, 0x22);
const MUTED: Colour = Colour(0x66, 0x66, 0x66);
const WHITE: Colour = Colour(0xff, 0xff, 0xff);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
    Fallback,
}

/// The fonts a layout draws with: the built-in faces and, when the caller has it, the fallback.
#[derive(Clone, Copy)]
struct Faces<'a> {
    fallback: Option<&'a [u8]>,
}

impl<'a> Faces<'a> {
    fn bytes(self, f: Face) -> Option<&'a [u8]> {
        match f {
            Face::Regular => Some(REGULAR),
            Face::Bold => Some(BOLD),
            Face::Fallback => self.fallback,
        }
    }
}

enum Op {
    Text { x: f32, y: f32, size: f32, face: Face, colour: Colour, text: String },
    Rect { x: f32, y: f32, w: f32, h: f32, colour: Colour },
    Image { x: f32, y: f32, w: f32, h: f32, image: Image },
}

/// The logo as a PDF image (metadata read here; the pixels are decoded when the PDF is written).
fn image(logo: &crate::Logo) -> Result<Image, String> {
    let data = krilla::Data::from(std::sync::Arc::clone(&logo.bytes));
    match logo.format {
        crate::LogoFormat::Png => Image::from_png(data, true),
        crate::LogoFormat::Jpeg => Image::from_jpeg(data, true),
    }
}

/// Writes a one-page PDF with the logo on it (which decodes every pixel) and answers its size in pixels.
pub(crate) fn probe(logo: &crate::Logo) -> Result<(u32, u32), String> {
    let image = image(logo)?;
    let size = image.size();
    let (w, h) = (size.0.max(1) as f32, size.1.max(1) as f32);
    let mut doc = Document::new();
    let mut page = doc.start_page_with(PageSettings::from_wh(w, h).ok_or("page size")?);
    let mut surface = page.surface();
    surface.draw_image(image, PageSize::from_wh(w, h).ok_or("image size")?);
    surface.finish();
    page.finish();
    doc.finish().map_err(|e| format!("{e:?}"))?;
    Ok(size)
}

/// Runs of one face: `(face, text)`.
fn runs(text: &str, bold: bool) -> Vec<(Face, String)> {
    let primary = if bold { Face::Bold } else { Face::Regular };
    let main = FontRef::new(if bold { BOLD } else { REGULAR }).ok();
    let mut out: Vec<(Face, String)> = Vec::new();
    for ch in text.chars() {
        let ch = if ch.is_control() { ' ' } else { ch };
        let covered = ch == ' ' || main.as_ref().is_some_and(|f| f.charmap().map(ch).is_some());
        let face = if covered { primary } else { Face::Fallback };
        match out.last_mut() {
            Some((f, s)) if *f == face => s.push(ch),
            _ => out.push((face, ch.to_string())),
        }
    }
    if out.len() < 2 {
        return out;
    }
    // A run is shaped on its own: spaces at the edge of a right-to-left run would land on the wrong side of
    // it, so the spaces between runs get runs of their own.
    let mut split = Vec::with_capacity(out.len() * 2);
    for (face, s) in out {
        let body = s.trim_matches(' ');
        let lead = s.len() - s.trim_start_matches(' ').len();
        let trail = s.len() - s.trim_end_matches(' ').len();
        if lead > 0 {
            split.push((primary, " ".repeat(lead)));
        }
        if !body.is_empty() {
            split.push((face, body.to_string()));
        }
        if trail > 0 && !body.is_empty() {
            split.push((primary, " ".repeat(trail)));
        }
    }
    split
}

/// The width of a run; without the face's bytes, an estimate (such a layout is never drawn).
fn advance(faces: Faces<'_>, face: Face, text: &str, size: f32) -> f32 {
    let Some(Ok(font)) = faces.bytes(face).map(FontRef::new) else {
        return text.chars().count() as f32 * size * 0.6;
    };
    let charmap = font.charmap();
    let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
    text.chars().map(|c| charmap.map(c).and_then(|g| metrics.advance_width(g)).unwrap_or(size * 0.6)).sum()
}

fn measure(faces: Faces<'_>, text: &str, size: f32, bold: bool) -> f32 {
    runs(text, bold).iter().map(|(f, s)| advance(faces, *f, s, size)).sum()
}

/// Greedy word wrap to `width`; a word longer than a line is broken between characters.
fn wrap(faces: Faces<'_>, text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if measure(faces, &candidate, size, bold) <= width {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        if measure(faces, word, size, bold) <= width {
            current = word.to_string();
        } else {
            for ch in word.chars() {
                let mut next = current.clone();
                next.push(ch);
                if measure(faces, &next, size, bold) > width && !current.is_empty() {
                    lines.push(std::mem::take(&mut current));
                    current.push(ch);
                } else {
                    current = next;
                }
            }
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

pub struct Layout<'f> {
    pages: Vec<Vec<Op>>,
    y: f32,
    brand: String,
    colour: Colour,
    reference: String,
    logo: Option<Image>,
    fallback: Option<&'f crate::FallbackFont>,
    needs_fallback: bool,
}

impl<'f> Layout<'f> {
    /// A logo the PDF writer cannot read is left out (the header then shows the monogram).
    pub fn new(
        brand: &str,
        colour: &str,
        reference: &str,
        logo: Option<&crate::Logo>,
        fallback: Option<&'f crate::FallbackFont>,
    ) -> Layout<'f> {
        Layout {
            pages: vec![Vec::new()],
            y: MARGIN,
            brand: brand.to_string(),
            colour: crate::parse_colour(colour),
            reference: reference.to_string(),
            logo: logo.and_then(|l| image(l).ok()),
            fallback,
            needs_fallback: false,
        }
    }

    fn faces(&self) -> Faces<'f> {
        Faces { fallback: self.fallback.map(crate::FallbackFont::bytes) }
    }

    /// Some text needed the fallback font, which this layout was not given: it must not be drawn.
    pub fn needs_fallback(&self) -> bool {
        self.needs_fallback
    }

    fn push(&mut self, op: Op) {
        if let Some(p) = self.pages.last_mut() {
            p.push(op);
        }
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
        let (brand, colour) = (self.brand.clone(), self.colour);
        self.push(Op::Rect { x: 0.0, y: 0.0, w: WIDTH, h: 6.0, colour });
        self.line_at(MARGIN, MARGIN - 16.0, 8.0, false, MUTED, &brand);
        self.y = MARGIN + 4.0;
    }

    /// Start a new page unless `height` still fits.
    pub fn keep(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.new_page();
        }
    }

    fn line_at(&mut self, x: f32, y: f32, size: f32, bold: bool, colour: Colour, text: &str) {
        let mut cx = x;
        for (face, run) in runs(text, bold) {
            if face == Face::Fallback && self.fallback.is_none() {
                self.needs_fallback = true;
            }
            let w = advance(self.faces(), face, &run, size);
            self.push(Op::Text { x: cx, y, size, face, colour, text: run });
            cx += w;
        }
    }

    /// The brand band with the logo (else a monogram of the brand's initials) in a white square, the brand
    /// name and the document title, then the operator's details.
    pub fn header(&mut self, title: &str, operator_lines: &[String]) {
        let colour = self.colour;
        self.push(Op::Rect { x: 0.0, y: 0.0, w: WIDTH, h: 90.0, colour });
        self.push(Op::Rect { x: MARGIN, y: 24.0, w: SQUARE, h: SQUARE, colour: WHITE });
        match self.logo.clone() {
            Some(image) => {
                let (x, y, w, h) = fit(image.size(), MARGIN + LOGO_PAD, 24.0 + LOGO_PAD, SQUARE - 2.0 * LOGO_PAD);
                self.push(Op::Image { x, y, w, h, image });
            }
            None => {
                let initials: String = self.brand.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect();
                self.line_at(MARGIN + 8.0, 52.0, 16.0, true, colour, &initials.to_uppercase());
            }
        }
        let brand = self.brand.clone();
        let name =
            wrap(self.faces(), &brand, 18.0, true, WIDTH - 2.0 * MARGIN - 220.0).into_iter().next().unwrap_or_default();
        self.line_at(MARGIN + 56.0, 52.0, 18.0, true, WHITE, &name);
        let tw = measure(self.faces(), title, 20.0, true);
        self.line_at(WIDTH - MARGIN - tw, 52.0, 20.0, true, WHITE, title);
        self.y = 110.0;
        for l in operator_lines {
            for part in wrap(self.faces(), l, 8.0, false, WIDTH - 2.0 * MARGIN) {
                let y = self.y;
                self.line_at(MARGIN, y, 8.0, false, MUTED, &part);
                self.y += 11.0;
            }
        }
        self.y += 12.0;
    }

    fn wrapped(&mut self, x: f32, width: f32, size: f32, bold: bool, colour: Colour, text: &str) -> f32 {
        let lines = wrap(self.faces(), text, size, bold, width);
        let mut y = self.y;
        for l in &lines {
            if y > BOTTOM {
                self.new_page();
                y = self.y;
            }
            self.line_at(x, y, size, bold, colour, l);
            y += LINE;
        }
        self.y = y;
        y
    }

    pub fn section(&mut self, title: &str) {
        self.keep(40.0);
        self.y += 6.0;
        let colour = self.colour;
        self.wrapped(MARGIN, WIDTH - 2.0 * MARGIN, 12.0, true, colour, title);
        self.y += 2.0;
    }

    pub fn text(&mut self, text: &str) {
        self.wrapped(MARGIN, WIDTH - 2.0 * MARGIN, BODY, false, INK, text);
    }

    /// `label: value`, the value wrapped in its own column.
    pub fn pair(&mut self, label: &str, value: &str) {
        self.keep(LINE);
        let y = self.y;
        self.line_at(MARGIN, y, BODY, false, MUTED, label);
        self.wrapped(MARGIN + 130.0, WIDTH - 2.0 * MARGIN - 130.0, BODY, false, INK, value);
    }

    fn row_with(&mut self, label: &str, amount: &str, bold: bool) {
        self.keep(LINE);
        let aw = measure(self.faces(), amount, BODY, bold);
        let y = self.y;
        self.line_at(WIDTH - MARGIN - aw, y, BODY, bold, INK, amount);
        self.wrapped(MARGIN, WIDTH - 2.0 * MARGIN - 150.0, BODY, bold, INK, label);
    }

    /// A label on the left (wrapped) and an amount right-aligned.
    pub fn row(&mut self, label: &str, amount: &str) {
        self.row_with(label, amount, false);
    }

    pub fn row_bold(&mut self, label: &str, amount: &str) {
        self.row_with(label, amount, true);
    }

    pub fn rule(&mut self) {
        self.keep(8.0);
        let y = self.y - 8.0;
        self.push(Op::Rect { x: MARGIN, y, w: WIDTH - 2.0 * MARGIN, h: 0.6, colour: MUTED });
        self.y += 4.0;
    }

    pub fn gap(&mut self, h: f32) {
        self.y += h;
    }

    /// Draw every page (with a footer `reference · page n of N`) and serialise the PDF.
    pub fn finish(mut self, title: &str) -> Result<Vec<u8>, String> {
        let total = self.pages.len();
        let reference = self.reference.clone();
        let pages = std::mem::take(&mut self.pages);
        if self.needs_fallback {
            return Err("the fallback font is needed and was not given".into());
        }
        let font = |data: krilla::Data| Font::new(data, 0).ok_or("font unreadable");
        let fonts = [font(REGULAR.into())?, font(BOLD.into())?];
        let fallback = self.fallback.map(|f| font(krilla::Data::from(std::sync::Arc::clone(&f.0)))).transpose()?;
        let mut doc = Document::new();
        doc.set_metadata(Metadata::new().title(title.to_string()));
        for (n, mut ops) in pages.into_iter().enumerate() {
            let footer = format!("{reference} · page {} of {total}", n + 1);
            let fw = measure(self.faces(), &footer, 8.0, false);
            ops.push(Op::Text {
                x: WIDTH - MARGIN - fw,
                y: HEIGHT - MARGIN + 10.0,
                size: 8.0,
                face: Face::Regular,
                colour: MUTED,
                text: footer,
            });
            let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or("page size")?;
            let mut page = doc.start_page_with(settings);
            let mut surface = page.surface();
            for op in ops {
                draw(&mut surface, &fonts, fallback.as_ref(), op);
            }
            surface.finish();
            page.finish();
        }
        doc.finish().map_err(|e| format!("{e:?}"))
    }
}

/// An image of `px` pixels scaled to fit a `side`-point square at (`x`, `y`), keeping its aspect ratio and
/// centred: `(x, y, width, height)` in points.
fn fit(px: (u32, u32), x: f32, y: f32, side: f32) -> (f32, f32, f32, f32) {
    let (pw, ph) = (px.0.max(1) as f32, px.1.max(1) as f32);
    let scale = (side / pw).min(side / ph);
    let (w, h) = (pw * scale, ph * scale);
    (x + (side - w) / 2.0, y + (side - h) / 2.0, w, h)
}

fn fill(c: Colour) -> Fill {
    Fill { paint: rgb::Color::new(c.0, c.1, c.2).into(), opacity: NormalizedF32::ONE, rule: FillRule::NonZero }
}

fn draw(surface: &mut Surface<'_>, fonts: &[Font; 2], fallback: Option<&Font>, op: Op) {
    match op {
        Op::Rect { x, y, w, h, colour } => {
            let mut pb = PathBuilder::new();
            if let Some(r) = Rect::from_xywh(x, y, w, h) {
                pb.push_rect(r);
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(Some(fill(colour)));
                surface.draw_path(&path);
            }
        }
        Op::Text { x, y, size, face, colour, text } => {
            let font = match (face, fallback) {
                (Face::Regular, _) => fonts[0].clone(),
                (Face::Bold, _) => fonts[1].clone(),
                (Face::Fallback, Some(f)) => f.clone(),
                (Face::Fallback, None) => return,
            };
            surface.set_fill(Some(fill(colour)));
            surface.draw_text(Point::from_xy(x, y), font, size, &text, false, TextDirection::Auto);
        }
        Op::Image { x, y, w, h, image } => {
            if let Some(size) = PageSize::from_wh(w, h) {
                surface.push_transform(&Transform::from_translate(x, y));
                surface.draw_image(image, size);
                surface.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_to_width_and_breaks_long_words() {
        let faces = Faces { fallback: None };
        let lines = wrap(faces, &"word ".repeat(100), 10.0, false, 200.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| measure(faces, l, 10.0, false) <= 200.0));
        let long = wrap(faces, &"x".repeat(500), 10.0, false, 100.0);
        assert!(long.len() > 5 && long.iter().all(|l| measure(faces, l, 10.0, false) <= 100.0));
    }

    #[test]
    fn a_logo_fits_the_square_keeping_its_aspect_ratio() {
        // 120×80 (3:2) in a 36-point square: 36 wide, 24 high, centred vertically.
        let (x, y, w, h) = fit((120, 80), 10.0, 20.0, 36.0);
        assert_eq!((x, w, h), (10.0, 36.0, 24.0));
        assert_eq!(y, 26.0);
        // A tall one: as high as the square, centred horizontally; a 1-pixel one scales up to the square.
        let (x, y, w, h) = fit((40, 400), 0.0, 0.0, 36.0);
        assert_eq!((y, h), (0.0, 36.0));
        assert!((w - 3.6).abs() < 1e-4 && (x - 16.2).abs() < 1e-4);
        assert_eq!(fit((1, 1), 0.0, 0.0, 36.0), (0.0, 0.0, 36.0, 36.0));
        assert_eq!(fit((0, 0), 0.0, 0.0, 36.0), (0.0, 0.0, 36.0, 36.0));
    }

    #[test]
    fn cjk_goes_to_the_fallback_font() {
        let r = runs("Yamada 山田", false);
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], (Face::Fallback, "山田".to_string()));
        // The space between a right-to-left run and the next is its own run (else shaping moves it).
        let r = runs("محمد 山田", false);
        assert_eq!(r.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["محمد", " ", "山田"]);
        assert_eq!(runs("שלום", false), vec![(Face::Regular, "שלום".to_string())]);
    }
}
