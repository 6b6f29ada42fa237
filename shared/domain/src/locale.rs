//! Customer locales: negotiation from `Accept-Language` and display formatting of money and dates.
//!
//! # Where the rules come from
//!
//! No formatting rule is written by hand here: symbols, patterns, separators, digits, month names and word
//! order come from Unicode CLDR through ICU4X, the Unicode Consortium's maintained Rust implementation, with
//! its data compiled into the binary (`compiled_data`: no files to ship, no I/O, no load step):
//!
//! - money: `icu_experimental::dimension::currency::formatter::CurrencyFormatter` (ICU4X 0.7, built on
//!   `icu_decimal` 2.4). It takes the currency symbol for the locale (`£`, `US$` in en-GB, `$US` in fr-FR,
//!   `￥` in ja-JP), the pattern (symbol before or after, `¤ #,##0.00` in nl, `#,##0.00 ¤` in de and fr, the
//!   sign placement for negatives), the grouping and decimal separators (fr-FR groups with U+202F and puts a
//!   U+00A0 before the symbol), and the number of fraction digits of the currency. A currency the locale has
//!   no symbol for is shown by its ISO code (`BHD 12.345` in en-GB), as CLDR says. The amount is handed over
//!   as an exact decimal (`fixed_decimal::Decimal` built from the integer minor units), never as a float.
//!   `icu_experimental` is ICU4X's crate for components whose API may still change between 0.x releases;
//!   the output is plain CLDR, and the tests below pin it for every locale and currency we use.
//! - dates: `icu_datetime` 2.4 with the Gregorian calendar, the CLDR "long" date (`3 March 2027`,
//!   `March 3, 2027`, `3. März 2027`, `3 mars 2027`, `3 maart 2027`, `2027年3月3日`), and for date-times the
//!   CLDR long date-time glue of the locale (`at`, `um`, `à`, `om`) with a 24-hour clock forced (`-u-hc-h23`)
//!   and ` UTC` appended.
//! - tag parsing: `icu_locale_core` (BCP 47 syntax); `Accept-Language` weighting follows RFC 9110 §12.4.2
//!   and §12.5.4, written here because it is a few lines and must stay bounded on hostile input.
//!
//! Only the ` UTC` suffix and the ISO 8601 / ISO-code fallbacks for inputs ICU4X refuses are ours.
//!
//! Building a formatter from the compiled data (locale fallback, data look-ups) costs about ten times the
//! formatting itself, and a booking overview formats dozens of amounts and dates: building one per call was
//! about half of the overview's instructions (docs/performance.md). So each thread keeps the formatters it has
//! built, per locale (and currency): at most 6 date, 6 date-time and 6 × 12 money formatters. They are not
//! `Send`/`Sync` without ICU4X's `sync` feature, hence thread-local.
//!
//! # Cost (measured 2026-11-25 on this project's 2-core machine, rustc 1.95, scratch crates under /tmp)
//!
//! Clean builds of a hello binary that formats one amount (`money`: icu_experimental 0.7.0, fixed_decimal 0.7.3,
//! icu_locale_core/icu_provider 2.4.0) or one amount plus one date and one date-time (`money+dates`: also
//! icu_datetime/icu_calendar 2.4.0), against the same hello without them (`base`), each crate with its own
//! `CARGO_TARGET_DIR`, release profile as the workspace's (opt-level 3, fat LTO, 1 codegen unit, strip,
//! panic = abort). Wall times are the runs with the machine otherwise quiet; with other builds running they
//! reached 50–60 s.
//!
//! | binary        | clean dev build    | clean release build | stripped release size       |
//! |---------------|--------------------|---------------------|-----------------------------|
//! | base          | 0.3 s              | 2.8 s               | 305,736 B                   |
//! | money         | 20 s (31 s CPU)    | 28–30 s (39 s CPU)  | 431,072 B (+125 KB, +41 %)  |
//! | money + dates | 22–26 s (40 s CPU) | 35–39 s (54 s CPU)  | 839,480 B (+534 KB, +175 %) |
//!
//! So: about +20 s (dev) / +26 s (release) of clean build for money and +125 KB of binary; dates add about
//! +2–6 s / +7–9 s more and +408 KB (the Gregorian names and patterns of every CLDR locale: ICU4X's compiled
//! data is not cut down to our six; `icu4x-datagen` could do that, at the price of committing generated
//! data). At most 31 crates are new to this workspace (the rest, `icu_normalizer`, `icu_properties`, `zerovec`,
//! `yoke` …, already come in through `url` → `idna` in the AWS SDK), so the workspace pays less than the
//! scratch numbers: the first `cargo test -p portal-domain` after adding them took 20 s. Run time: building
//! the formatter and formatting takes about 2 µs per call in a release build.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use fixed_decimal::Decimal;
use icu_calendar::{Date, Gregorian};
use icu_datetime::fieldsets::{YMD, YMDT};
use icu_datetime::input::{DateTime as IcuDateTime, Time as IcuTime};
use icu_datetime::options::TimePrecision;
use icu_datetime::preferences::HourCycle;
use icu_datetime::{DateTimeFormatterPreferences, FixedCalendarDateTimeFormatter};
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::dimension::currency::formatter::{CurrencyFormatter, CurrencyFormatterPreferences};
use icu_locale_core::{Locale as IcuLocale, locale};

use crate::money::Money;

/// A locale the portal can format for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    EnGb,
    EnUs,
    DeDe,
    FrFr,
    NlNl,
    JaJp,
}

/// Longest tag [`Locale::parse`] looks at. BCP 47 asks for at least 35 characters; with `-u-` extensions a
/// real tag can be longer, but nothing a browser sends comes near this.
const MAX_TAG_LEN: usize = 128;
/// Only this many bytes of an `Accept-Language` header are read (browsers send well under 200).
const MAX_HEADER_BYTES: usize = 1024;
/// Only this many non-empty list members of an `Accept-Language` header are considered.
const MAX_HEADER_ENTRIES: usize = 32;

impl Locale {
    /// Every supported locale, in the order used when any locale will do.
    pub const ALL: [Locale; 6] = [Locale::EnGb, Locale::EnUs, Locale::DeDe, Locale::FrFr, Locale::NlNl, Locale::JaJp];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::EnGb => "en-GB",
            Locale::EnUs => "en-US",
            Locale::DeDe => "de-DE",
            Locale::FrFr => "fr-FR",
            Locale::NlNl => "nl-NL",
            Locale::JaJp => "ja-JP",
        }
    }

    /// Parse a BCP 47 tag we support exactly or by language (`"de"` → de-DE, `"en"` → en-GB).
    ///
    /// Case-insensitive; `_` is accepted for `-` (`en_US`). Any region of a supported language falls back to
    /// that language's locale (`de-AT` → de-DE, `fr-CA` → fr-FR), except English: `en-US` and the US
    /// territories whose CLDR locales inherit from `en` rather than from `en-001` (`en-AS`, `en-GU`, `en-MP`,
    /// `en-PR`, `en-UM`, `en-VI`) give en-US, every other English (`en-AU`, `en-IE`, `en-IN`, `en`) gives
    /// en-GB. Scripts, variants and extensions are accepted and ignored (`de-DE-u-co-phonebk` → de-DE).
    /// Anything that is not a well-formed tag, or is longer than 128 bytes, gives `None`.
    pub fn parse(tag: &str) -> Option<Locale> {
        let bytes = tag.as_bytes();
        if bytes.is_empty() || bytes.len() > MAX_TAG_LEN {
            return None;
        }
        let mut buf = [0u8; MAX_TAG_LEN];
        let normalized = buf.get_mut(..bytes.len())?;
        for (out, &b) in normalized.iter_mut().zip(bytes) {
            *out = if b == b'_' { b'-' } else { b };
        }
        let parsed = IcuLocale::try_from_utf8(normalized).ok()?;
        let region = parsed.id.region.as_ref().map(|r| r.as_str());
        match parsed.id.language.as_str() {
            "en" => match region {
                Some("US" | "AS" | "GU" | "MP" | "PR" | "UM" | "VI") => Some(Locale::EnUs),
                _ => Some(Locale::EnGb),
            },
            "de" => Some(Locale::DeDe),
            "fr" => Some(Locale::FrFr),
            "nl" => Some(Locale::NlNl),
            "ja" => Some(Locale::JaJp),
            _ => None,
        }
    }

    /// Choose from an `Accept-Language` header, else `fallback`. Never fails on garbage.
    ///
    /// RFC 9110 §12.5.4: members are tried by descending `q` (ties keep header order); a member whose `q`
    /// is malformed (`q=abc`, `q=1.5`, more than three decimals) is ignored; `q=0` means "not acceptable"
    /// and, with the most specific matching range deciding (`en;q=0, en-US` accepts en-US), removes a locale
    /// from the choice; `*` stands for any locale and gives `fallback` (or, if that one is refused, the
    /// first of [`Locale::ALL`] that is not). A language-only range (`en`) may also be served by the other
    /// locale of that language if its default one was refused. Only the first 1 KiB and the first 32
    /// members are read (a member cut by the 1 KiB limit is dropped, so `q=0.5` is never read as `q=0`).
    pub fn negotiate(accept_language: Option<&str>, fallback: Locale) -> Locale {
        let Some(header) = accept_language else {
            return fallback;
        };
        let entries = parse_accept_language(header);

        let mut order: Vec<&Entry<'_>> = entries.iter().filter(|e| e.q > 0).collect();
        // Stable: equal weights keep the order of the header.
        order.sort_by_key(|e| std::cmp::Reverse(e.q));

        for entry in order {
            if entry.range == "*" {
                let mut any = std::iter::once(fallback).chain(Locale::ALL);
                if let Some(found) = any.find(|&l| acceptable(&entries, l, None)) {
                    return found;
                }
                continue;
            }
            let Some(primary) = Locale::parse(entry.range) else {
                continue;
            };
            if acceptable(&entries, primary, Some(entry)) {
                return primary;
            }
            if is_language_only(entry.range) {
                let language = language_of(primary);
                let mut same_language = Locale::ALL.into_iter().filter(|&l| language_of(l) == language);
                if let Some(found) = same_language.find(|&l| acceptable(&entries, l, None)) {
                    return found;
                }
            }
        }
        fallback
    }

    fn icu_locale(self) -> IcuLocale {
        match self {
            Locale::EnGb => locale!("en-GB"),
            Locale::EnUs => locale!("en-US"),
            Locale::DeDe => locale!("de-DE"),
            Locale::FrFr => locale!("fr-FR"),
            Locale::NlNl => locale!("nl-NL"),
            Locale::JaJp => locale!("ja-JP"),
        }
    }
}

/// One member of an `Accept-Language` list: a language range and its weight in thousandths.
#[derive(Debug)]
struct Entry<'a> {
    range: &'a str,
    q: u16,
}

/// The well-formed members of the first [`MAX_HEADER_BYTES`] / [`MAX_HEADER_ENTRIES`] of a header.
fn parse_accept_language(header: &str) -> Vec<Entry<'_>> {
    let mut text = header;
    if text.len() > MAX_HEADER_BYTES {
        let mut end = MAX_HEADER_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let head = text.get(..end).unwrap_or("");
        // The last member may have been cut anywhere (`de-DE` into `de`, `q=0.5` into `q=0`): drop it.
        text = head.rfind(',').and_then(|i| head.get(..i)).unwrap_or("");
    }

    let mut entries = Vec::with_capacity(MAX_HEADER_ENTRIES);
    for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()).take(MAX_HEADER_ENTRIES) {
        let mut parts = member.split(';');
        let range = parts.next().unwrap_or("").trim();
        if range.is_empty() {
            continue;
        }
        let mut q = Some(1000);
        for param in parts {
            match param.split_once('=') {
                Some((name, value)) if name.trim().eq_ignore_ascii_case("q") => {
                    q = q.and(parse_qvalue(value.trim()));
                }
                // Accept-Language defines no other parameter; a stray one makes the member malformed.
                _ => q = None,
            }
        }
        if let Some(q) = q {
            entries.push(Entry { range, q });
        }
    }
    entries
}

/// RFC 9110 §12.4.2 `qvalue` (`0`, `0.5`, `0.125`, `1`, `1.000`) in thousandths; `None` if malformed.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    let mut scale: u16 = 100;
    for digit in frac.bytes() {
        thousandths += u16::from(digit - b'0') * scale;
        scale /= 10;
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether the most specific range matching `locale` (RFC 4647 basic filtering) leaves it acceptable.
///
/// `origin` is the member `locale` was derived from (`en-AU` for en-GB): it counts as matching, just below a
/// range of the same length that names the locale itself, so `en-AU, *;q=0` gives en-GB but
/// `en-AU, en-GB;q=0` does not. A locale no range mentions is acceptable.
fn acceptable(entries: &[Entry<'_>], locale: Locale, origin: Option<&Entry<'_>>) -> bool {
    let tag = locale.tag();
    let mut best: Option<(usize, &Entry<'_>)> = None;
    for entry in entries {
        let specificity = if entry.range == "*" {
            0
        } else if range_matches(entry.range, tag) {
            entry.range.len() * 2 + 1
        } else if origin.is_some_and(|o| std::ptr::eq(o, entry)) {
            entry.range.len() * 2
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, entry));
        }
    }
    best.is_none_or(|(_, e)| e.q > 0)
}

/// RFC 4647 §3.3.1: `range` equals `tag`, or is a prefix of it ending at a `-`; case-insensitive, `_` = `-`.
fn range_matches(range: &str, tag: &str) -> bool {
    let same = |a: u8, b: u8| {
        let norm = |c: u8| {
            if c == b'_' { b'-' } else { c.to_ascii_lowercase() }
        };
        norm(a) == norm(b)
    };
    let (range, tag) = (range.as_bytes(), tag.as_bytes());
    if range.len() > tag.len() || !range.iter().zip(tag).all(|(&a, &b)| same(a, b)) {
        return false;
    }
    matches!(tag.get(range.len()), None | Some(b'-'))
}

fn is_language_only(range: &str) -> bool {
    !range.contains(['-', '_'])
}

fn language_of(locale: Locale) -> &'static str {
    locale.tag().split('-').next().unwrap_or("")
}

/// Format money for display in `locale`, e.g. `£1,234.50` (en-GB), `1.234,50 €` (de-DE), `￥1,500` (ja-JP).
///
/// CLDR through ICU4X (see the module docs): the locale's symbol for the currency, or its ISO code where the
/// locale has none (`BHD 12.345` in en-GB), the locale's pattern, separators and sign. Exactly the
/// currency's minor-unit digits are shown (none for JPY, three for BHD): the tests check this for every
/// [`Currency`](crate::money::Currency) in every locale.
pub fn format_money(money: Money, locale: Locale) -> String {
    let currency = money.currency();
    let mut amount = Decimal::from(money.minor());
    // The exponent is 0, 2 or 3: no truncation in the cast.
    amount.multiply_pow10(-(currency.exponent() as i16));

    let formatted = MONEY_FORMATTERS.with_borrow_mut(|cache| {
        let formatter = cache.entry((locale, currency.code())).or_insert_with(|| {
            let prefs = CurrencyFormatterPreferences::from(&locale.icu_locale());
            currency
                .code()
                .parse::<CurrencyType>()
                .ok()
                .and_then(|code| CurrencyFormatter::try_new_symbol(prefs, code, Default::default()).ok())
                .map(|f| Box::new(move |amount: &Decimal| f.format_fixed_decimal(amount).to_string()) as MoneyFormat)
        });
        formatter.as_ref().map(|f| f(&amount))
    });
    // `None` cannot happen with compiled data and ISO codes (the tests build every pair); still, never panic.
    formatted.unwrap_or_else(|| format!("{}\u{a0}{}", currency.code(), money.to_decimal_string()))
}

/// A built currency formatter (its decimal-formatter type parameter is ICU4X's business).
type MoneyFormat = Box<dyn Fn(&Decimal) -> String>;

thread_local! {
    static MONEY_FORMATTERS: RefCell<HashMap<(Locale, &'static str), Option<MoneyFormat>>> =
        RefCell::new(HashMap::new());
    static DATE_FORMATTERS: RefCell<HashMap<Locale, Option<FixedCalendarDateTimeFormatter<Gregorian, YMD>>>> =
        RefCell::new(HashMap::new());
    static DATETIME_FORMATTERS: RefCell<HashMap<Locale, Option<FixedCalendarDateTimeFormatter<Gregorian, YMDT>>>> =
        RefCell::new(HashMap::new());
}

/// Format a date for display in `locale` with CLDR's long date: `3 March 2027` (en-GB), `March 3, 2027`
/// (en-US), `3. März 2027` (de-DE), `3 mars 2027` (fr-FR), `3 maart 2027` (nl-NL), `2027年3月3日` (ja-JP).
///
/// Dates ICU4X's Gregorian calendar does not take (years far outside any booking) are shown as ISO 8601.
pub fn format_date(date: NaiveDate, locale: Locale) -> String {
    let formatted = gregorian(date).and_then(|date| {
        DATE_FORMATTERS.with_borrow_mut(|cache| {
            let formatter = cache.entry(locale).or_insert_with(|| {
                let prefs = DateTimeFormatterPreferences::from(&locale.icu_locale());
                FixedCalendarDateTimeFormatter::<Gregorian, _>::try_new(prefs, YMD::long()).ok()
            });
            formatter.as_ref().map(|f| f.format(&date).to_string())
        })
    });
    formatted.unwrap_or_else(|| date.format("%Y-%m-%d").to_string())
}

/// Format an instant in UTC for display in `locale`: the long date, the locale's glue, a 24-hour `HH:MM`
/// (CLDR's pattern: `H:mm` in ja-JP) and `UTC`, e.g. `3 March 2027 at 09:05 UTC` (en-GB),
/// `3. März 2027 um 09:05 UTC` (de-DE), `2027年3月3日 9:05 UTC` (ja-JP). Seconds are dropped, not rounded.
pub fn format_datetime_utc(dt: DateTime<Utc>, locale: Locale) -> String {
    let naive = dt.naive_utc();
    let formatted = gregorian(naive.date()).and_then(|date| {
        let hour = u8::try_from(naive.hour()).ok()?;
        let minute = u8::try_from(naive.minute()).ok()?;
        let time = IcuTime::try_new(hour, minute, 0, 0).ok()?;
        DATETIME_FORMATTERS.with_borrow_mut(|cache| {
            let formatter = cache.entry(locale).or_insert_with(|| {
                let mut prefs = DateTimeFormatterPreferences::from(&locale.icu_locale());
                prefs.hour_cycle = Some(HourCycle::H23);
                let fields = YMDT::long().with_time_precision(TimePrecision::Minute);
                FixedCalendarDateTimeFormatter::<Gregorian, _>::try_new(prefs, fields).ok()
            });
            formatter.as_ref().map(|f| f.format(&IcuDateTime { date, time }).to_string())
        })
    });
    let body = formatted.unwrap_or_else(|| naive.format("%Y-%m-%d %H:%M").to_string());
    format!("{body} UTC")
}

fn gregorian(date: NaiveDate) -> Option<Date<Gregorian>> {
    let month = u8::try_from(date.month()).ok()?;
    let day = u8::try_from(date.day()).ok()?;
    Date::try_new_gregorian(date.year(), month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, MAX_ABS_MINOR};

    /// U+00A0 NO-BREAK SPACE.
    const NBSP: char = '\u{a0}';
    /// U+202F NARROW NO-BREAK SPACE (French grouping).
    const NNBSP: char = '\u{202f}';

    fn money(amount: &str, code: &str) -> Money {
        let currency = Currency::parse(code).unwrap();
        Money::parse(amount, currency).unwrap()
    }

    fn fmt(amount: &str, code: &str, locale: Locale) -> String {
        format_money(money(amount, code), locale)
    }

    #[test]
    fn locale_money_en_gb() {
        let l = Locale::EnGb;
        assert_eq!(fmt("1234.50", "GBP", l), "£1,234.50");
        assert_eq!(fmt("1234.50", "EUR", l), "€1,234.50");
        assert_eq!(fmt("1234.50", "USD", l), "US$1,234.50");
        assert_eq!(fmt("1500", "JPY", l), "JP¥1,500");
        assert_eq!(fmt("12.345", "BHD", l), format!("BHD{NBSP}12.345"));
        assert_eq!(fmt("-1234.50", "GBP", l), "-£1,234.50");
        assert_eq!(fmt("-12.345", "BHD", l), format!("-BHD{NBSP}12.345"));
        assert_eq!(fmt("0", "GBP", l), "£0.00");
    }

    #[test]
    fn locale_money_en_us() {
        let l = Locale::EnUs;
        assert_eq!(fmt("1234.50", "USD", l), "$1,234.50");
        assert_eq!(fmt("1234.50", "GBP", l), "£1,234.50");
        assert_eq!(fmt("1234.50", "EUR", l), "€1,234.50");
        assert_eq!(fmt("1500", "JPY", l), "¥1,500");
        assert_eq!(fmt("12.345", "BHD", l), format!("BHD{NBSP}12.345"));
        assert_eq!(fmt("-1234.50", "USD", l), "-$1,234.50");
        assert_eq!(fmt("0", "USD", l), "$0.00");
    }

    #[test]
    fn locale_money_de_de() {
        let l = Locale::DeDe;
        assert_eq!(fmt("1234.50", "EUR", l), format!("1.234,50{NBSP}€"));
        assert_eq!(fmt("1234.50", "GBP", l), format!("1.234,50{NBSP}£"));
        assert_eq!(fmt("1234.50", "USD", l), format!("1.234,50{NBSP}$"));
        assert_eq!(fmt("1500", "JPY", l), format!("1.500{NBSP}¥"));
        assert_eq!(fmt("12.345", "BHD", l), format!("12,345{NBSP}BHD"));
        assert_eq!(fmt("-1234.50", "EUR", l), format!("-1.234,50{NBSP}€"));
        assert_eq!(fmt("0", "EUR", l), format!("0,00{NBSP}€"));
    }

    #[test]
    fn locale_money_fr_fr() {
        let l = Locale::FrFr;
        assert_eq!(fmt("1234.50", "EUR", l), format!("1{NNBSP}234,50{NBSP}€"));
        assert_eq!(fmt("1234.50", "GBP", l), format!("1{NNBSP}234,50{NBSP}£GB"));
        assert_eq!(fmt("1234.50", "USD", l), format!("1{NNBSP}234,50{NBSP}$US"));
        assert_eq!(fmt("1500", "JPY", l), format!("1{NNBSP}500{NBSP}JP¥"));
        assert_eq!(fmt("12.345", "BHD", l), format!("12,345{NBSP}BHD"));
        assert_eq!(fmt("-1234.50", "EUR", l), format!("-1{NNBSP}234,50{NBSP}€"));
        assert_eq!(fmt("0", "EUR", l), format!("0,00{NBSP}€"));
    }

    #[test]
    fn locale_money_nl_nl() {
        let l = Locale::NlNl;
        assert_eq!(fmt("1234.50", "EUR", l), format!("€{NBSP}1.234,50"));
        assert_eq!(fmt("1234.50", "GBP", l), format!("£{NBSP}1.234,50"));
        assert_eq!(fmt("1234.50", "USD", l), format!("US${NBSP}1.234,50"));
        assert_eq!(fmt("1500", "JPY", l), format!("JP¥{NBSP}1.500"));
        assert_eq!(fmt("12.345", "BHD", l), format!("BHD{NBSP}12,345"));
        // nl's CLDR pattern puts the minus between symbol and number: `¤ -#,##0.00`.
        assert_eq!(fmt("-1234.50", "EUR", l), format!("€{NBSP}-1.234,50"));
        assert_eq!(fmt("0", "EUR", l), format!("€{NBSP}0,00"));
    }

    #[test]
    fn locale_money_ja_jp() {
        let l = Locale::JaJp;
        assert_eq!(fmt("1500", "JPY", l), "￥1,500");
        assert_eq!(fmt("1234.50", "GBP", l), "£1,234.50");
        assert_eq!(fmt("1234.50", "EUR", l), "€1,234.50");
        assert_eq!(fmt("1234.50", "USD", l), "$1,234.50");
        assert_eq!(fmt("12.345", "BHD", l), format!("BHD{NBSP}12.345"));
        assert_eq!(fmt("-1500", "JPY", l), "-￥1,500");
        assert_eq!(fmt("0", "JPY", l), "￥0");
    }

    #[test]
    fn locale_money_big_and_extreme_amounts() {
        assert_eq!(fmt("1234567890.12", "GBP", Locale::EnGb), "£1,234,567,890.12");
        assert_eq!(fmt("1234567890.12", "EUR", Locale::FrFr), format!("1{NNBSP}234{NNBSP}567{NNBSP}890,12{NBSP}€"));
        assert_eq!(fmt("1234567890", "JPY", Locale::JaJp), "￥1,234,567,890");
        let max = Money::from_minor(MAX_ABS_MINOR, Currency::Gbp).unwrap();
        assert_eq!(format_money(max, Locale::EnGb), "£10,000,000,000,000.00");
        let min = Money::from_minor(-MAX_ABS_MINOR, Currency::Usd).unwrap();
        assert_eq!(format_money(min, Locale::EnUs), "-$10,000,000,000,000.00");
        let min_bhd = Money::from_minor(-MAX_ABS_MINOR + 1, Currency::Bhd).unwrap();
        assert_eq!(format_money(min_bhd, Locale::DeDe), format!("-999.999.999.999,999{NBSP}BHD"));
        let max_jpy = Money::from_minor(MAX_ABS_MINOR, Currency::Jpy).unwrap();
        assert_eq!(format_money(max_jpy, Locale::JaJp), "￥1,000,000,000,000,000");
    }

    #[test]
    fn locale_money_smallest_units_are_never_rounded() {
        assert_eq!(fmt("0.01", "GBP", Locale::EnGb), "£0.01");
        assert_eq!(fmt("-0.01", "EUR", Locale::DeDe), format!("-0,01{NBSP}€"));
        assert_eq!(fmt("0.001", "BHD", Locale::EnGb), format!("BHD{NBSP}0.001"));
        assert_eq!(fmt("0.005", "KWD", Locale::EnGb), format!("KWD{NBSP}0.005"));
        // CHF has a 0.05 cash rounding in CLDR; display must not apply it.
        assert_eq!(fmt("0.01", "CHF", Locale::DeDe), format!("0,01{NBSP}CHF"));
        assert_eq!(fmt("1", "JPY", Locale::EnUs), "¥1");
    }

    /// Every currency in every locale shows exactly the digits of the exact amount: CLDR's fraction digits
    /// must agree with our ISO 4217 exponents, or an ICU4X data update would round or pad amounts.
    #[test]
    fn locale_money_shows_exact_minor_digits_for_every_currency_and_locale() {
        for currency in Currency::ALL {
            for locale in Locale::ALL {
                for minor in [0, 1, -7, 123_456_789, -987_654_321_012, MAX_ABS_MINOR, -MAX_ABS_MINOR] {
                    let m = Money::from_minor(minor, currency).unwrap();
                    let shown = format_money(m, locale);
                    let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
                    let expected: String = m.to_decimal_string().chars().filter(char::is_ascii_digit).collect();
                    assert_eq!(digits, expected, "{currency} {minor} in {locale:?}: {shown:?}");
                    assert_eq!(shown.contains('-'), minor < 0, "sign of {shown:?}");
                    // Either the locale's symbol or the ISO code, never our non-CLDR fallback.
                    assert!(!shown.is_empty());
                }
            }
        }
    }

    #[test]
    fn locale_money_fraction_part_has_exponent_digits() {
        // In en-US the decimal separator is `.` and grouping `,`: the fraction part has exactly `exponent` digits.
        for currency in Currency::ALL {
            let shown = format_money(Money::from_minor(123_456_789, currency).unwrap(), Locale::EnUs);
            let number: String = shown.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
            let fraction = number.rsplit_once('.').map_or(0, |(_, f)| f.len());
            assert_eq!(fraction, currency.exponent() as usize, "{currency}: {shown:?}");
        }
    }

    #[test]
    fn locale_parse_exact_and_case_insensitive() {
        for locale in Locale::ALL {
            assert_eq!(Locale::parse(locale.tag()), Some(locale));
            assert_eq!(Locale::parse(&locale.tag().to_ascii_lowercase()), Some(locale));
            assert_eq!(Locale::parse(&locale.tag().to_ascii_uppercase()), Some(locale));
            assert_eq!(Locale::parse(&locale.tag().replace('-', "_")), Some(locale));
        }
        assert_eq!(Locale::parse("EN-gb"), Some(Locale::EnGb));
        assert_eq!(Locale::parse("en_us"), Some(Locale::EnUs));
    }

    #[test]
    fn locale_parse_language_fallback() {
        let cases = [
            ("en", Locale::EnGb),
            ("EN", Locale::EnGb),
            ("en-AU", Locale::EnGb),
            ("en-IE", Locale::EnGb),
            ("en-IN", Locale::EnGb),
            ("en-CA", Locale::EnGb),
            ("en-001", Locale::EnGb),
            ("en-US", Locale::EnUs),
            ("en-Latn-US", Locale::EnUs),
            ("en-US-u-hc-h12", Locale::EnUs),
            ("en-PR", Locale::EnUs),
            ("de", Locale::DeDe),
            ("de-AT", Locale::DeDe),
            ("de-CH", Locale::DeDe),
            ("de-DE-u-co-phonebk", Locale::DeDe),
            ("fr", Locale::FrFr),
            ("fr-CA", Locale::FrFr),
            ("fr_BE", Locale::FrFr),
            ("nl", Locale::NlNl),
            ("nl-BE", Locale::NlNl),
            ("ja", Locale::JaJp),
            ("ja-Jpan-JP", Locale::JaJp),
        ];
        for (tag, want) in cases {
            assert_eq!(Locale::parse(tag), Some(want), "{tag}");
        }
    }

    #[test]
    fn locale_parse_rejects_unsupported_and_malformed() {
        let long = format!("en-{}", "a1b2c3d4-".repeat(20));
        for tag in [
            "",
            " ",
            "*",
            "zh",
            "zh-CN",
            "es-ES",
            "und",
            "e",
            "english",
            "en-",
            "-en",
            "en--GB",
            "en-GB-",
            "de DE",
            " de",
            "ｄｅ",
            "de-DEUTSCHLAND",
            "x-private",
            "i-klingon",
            "en;q=1",
            "\u{0}",
            long.as_str(),
        ] {
            assert_eq!(Locale::parse(tag), None, "{tag:?}");
        }
    }

    #[test]
    fn locale_negotiate_missing_or_empty_header() {
        for fallback in Locale::ALL {
            assert_eq!(Locale::negotiate(None, fallback), fallback);
            assert_eq!(Locale::negotiate(Some(""), fallback), fallback);
            assert_eq!(Locale::negotiate(Some("   "), fallback), fallback);
            assert_eq!(Locale::negotiate(Some(",,,"), fallback), fallback);
        }
    }

    #[test]
    fn locale_negotiate_simple_and_ordered() {
        let n = |h: &str| Locale::negotiate(Some(h), Locale::EnGb);
        assert_eq!(n("de-DE"), Locale::DeDe);
        assert_eq!(n("en-US"), Locale::EnUs);
        assert_eq!(n("ja"), Locale::JaJp);
        assert_eq!(n("nl-BE,nl;q=0.9"), Locale::NlNl);
        // A browser's typical header.
        assert_eq!(n("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"), Locale::FrFr);
        // Unsupported first choices are skipped.
        assert_eq!(n("zh-CN, es;q=0.9, de;q=0.8"), Locale::DeDe);
        assert_eq!(n("da, en-gb;q=0.8, en;q=0.7"), Locale::EnGb);
        // Equal weights keep header order.
        assert_eq!(n("ja, de"), Locale::JaJp);
        assert_eq!(n("de;q=0.5, ja;q=0.5"), Locale::DeDe);
    }

    #[test]
    fn locale_negotiate_q_values() {
        let n = |h: &str| Locale::negotiate(Some(h), Locale::EnGb);
        assert_eq!(n("en-US;q=0.5, ja;q=0.9"), Locale::JaJp);
        assert_eq!(n("de;q=0.1, fr;q=0.2, nl;q=0.3"), Locale::NlNl);
        assert_eq!(n("de;q=0.001, fr;q=0"), Locale::DeDe);
        assert_eq!(n("de;q=1.000, fr;q=1"), Locale::DeDe);
        assert_eq!(n("de;q=0.999, fr;q=1."), Locale::FrFr);
        assert_eq!(n("fr;Q=0.4, de;q=0.3"), Locale::FrFr);
        assert_eq!(n("fr ; q=0.4 , de ; q=0.3"), Locale::FrFr);
        // Malformed weights drop the member, not the header.
        for bad in ["q=abc", "q=", "q=1.5", "q=2", "q=-1", "q=0.1234", "q=1.001", "q=.5", "q=0,5", "x=1", ""] {
            let header = format!("de;{bad}, fr;q=0.1");
            assert_eq!(n(&header), Locale::FrFr, "{header}");
        }
    }

    #[test]
    fn locale_negotiate_refusals_with_q_zero() {
        let n = |h: &str, fallback| Locale::negotiate(Some(h), fallback);
        // Nothing acceptable we support: the fallback.
        assert_eq!(n("de;q=0", Locale::NlNl), Locale::NlNl);
        assert_eq!(n("de;q=0", Locale::DeDe), Locale::DeDe);
        // The most specific range decides.
        assert_eq!(n("en;q=0, en-US", Locale::DeDe), Locale::EnUs);
        assert_eq!(n("en-US;q=0, en", Locale::DeDe), Locale::EnGb);
        // `en` is fine, but not British English: the other English.
        assert_eq!(n("en-GB;q=0, en", Locale::DeDe), Locale::EnUs);
        // `*` gives the fallback unless it is refused.
        assert_eq!(n("*", Locale::NlNl), Locale::NlNl);
        assert_eq!(n("zh, *;q=0.1", Locale::FrFr), Locale::FrFr);
        assert_eq!(n("nl;q=0, *", Locale::NlNl), Locale::EnGb);
        assert_eq!(n("en;q=0, *", Locale::EnGb), Locale::DeDe);
        // `*;q=0` refuses only what nothing more specific accepts.
        assert_eq!(n("ja, *;q=0", Locale::EnGb), Locale::JaJp);
        assert_eq!(n("*;q=0", Locale::EnGb), Locale::EnGb);
        // A locale reached through a nearby tag: accepted with it, unless refused by name.
        assert_eq!(n("en-AU, *;q=0", Locale::DeDe), Locale::EnGb);
        assert_eq!(n("de-AT, de;q=0", Locale::JaJp), Locale::DeDe);
        assert_eq!(n("en-AU, en-GB;q=0", Locale::DeDe), Locale::DeDe);
        assert_eq!(n("fr-CA;q=0.9, fr-FR;q=0, nl;q=0.1", Locale::EnGb), Locale::NlNl);
    }

    #[test]
    fn locale_negotiate_garbage_never_panics() {
        let fb = Locale::FrFr;
        for header in [
            "��;;q=abc,,,",
            ";;;",
            ";q=1",
            "q=0.5",
            "=,=,=",
            "*;q=abc",
            "de;q",
            "de;q=0.5;q=0.7=",
            "\u{0}\u{1}\u{7f}",
            "ｄｅ-ＤＥ",
            "en-GB\u{0}",
            "😀😀😀;q=1",
            "-,--,---",
            "zh-Hant-TW-x-private-tag-that-is-long",
        ] {
            assert_eq!(Locale::negotiate(Some(header), fb), fb, "{header:?}");
        }
        assert_eq!(Locale::negotiate(Some("��, de;q=0.5,,"), fb), Locale::DeDe);
    }

    #[test]
    fn locale_negotiate_caps_huge_headers() {
        // 100 KB of unsupported members before a supported one: never read past 1 KiB / 32 members.
        let mut header = "xx-YY;q=0.9,".repeat(100_000 / 12);
        header.push_str("de");
        assert!(header.len() >= 99_000);
        assert_eq!(Locale::negotiate(Some(&header), Locale::JaJp), Locale::JaJp);

        // A supported member at the start still wins.
        let header = format!("nl,{}", "zz;q=0.1,".repeat(12_000));
        assert_eq!(Locale::negotiate(Some(&header), Locale::JaJp), Locale::NlNl);

        // More than 32 members within 1 KiB: the 33rd is ignored.
        let header = format!("{}de", "x,".repeat(32));
        assert!(header.len() < MAX_HEADER_BYTES);
        assert_eq!(Locale::negotiate(Some(&header), Locale::JaJp), Locale::JaJp);
        let header = format!("{}de", "x,".repeat(31));
        assert_eq!(Locale::negotiate(Some(&header), Locale::JaJp), Locale::DeDe);

        // 100 KB of multi-byte characters: the cut lands inside a character and must not panic.
        let header = "é".repeat(50_000);
        assert_eq!(Locale::negotiate(Some(&header), Locale::EnUs), Locale::EnUs);
        let header = format!("ja,{}", "€".repeat(40_000));
        assert_eq!(Locale::negotiate(Some(&header), Locale::EnUs), Locale::JaJp);

        // One giant member, no comma at all.
        let header = "a".repeat(100_000);
        assert_eq!(Locale::negotiate(Some(&header), Locale::EnUs), Locale::EnUs);
    }

    #[test]
    fn locale_negotiate_member_cut_at_the_limit_is_dropped() {
        // Whitespace around members is allowed, so one unsupported member plus padding reaches the limit.
        let padded = |tail: &str, pad: usize| format!("zz{},{tail}", " ".repeat(pad));
        // Fits whole: `fr` is read.
        let header = padded("fr", MAX_HEADER_BYTES - 5);
        assert_eq!(header.len(), MAX_HEADER_BYTES);
        assert_eq!(Locale::negotiate(Some(&header), Locale::EnUs), Locale::FrFr);
        // `frr` (unsupported) cut after `fr` must not be read as French.
        let header = padded("frr", MAX_HEADER_BYTES - 5);
        assert_eq!(header.len(), MAX_HEADER_BYTES + 1);
        assert_eq!(Locale::negotiate(Some(&header), Locale::EnUs), Locale::EnUs);
        // `de;q=0.5` cut into `de;q=0.` must not be read as a refusal of German (the `*` then gives the
        // fallback, German; a refusal would give en-GB).
        let header = format!("*;q=0.1,{}", padded("de;q=0.5", MAX_HEADER_BYTES - 18));
        assert_eq!(header.len(), MAX_HEADER_BYTES + 1);
        assert_eq!(Locale::negotiate(Some(&header), Locale::DeDe), Locale::DeDe);
        // Control: the same refusal, whole, is honoured.
        let header = format!("*;q=0.1,{}", padded("de;q=0", MAX_HEADER_BYTES - 18));
        assert_eq!(Locale::negotiate(Some(&header), Locale::DeDe), Locale::EnGb);
    }

    #[test]
    fn locale_qvalue_grammar() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue("0.125"), Some(125));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        for bad in ["", ".", "1.5", "01", "0.1234", "+0.5", " 0.5", "0.5x", "abc", "0.٥"] {
            assert_eq!(parse_qvalue(bad), None, "{bad:?}");
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn locale_dates() {
        let d = date(2027, 3, 3);
        assert_eq!(format_date(d, Locale::EnGb), "3 March 2027");
        assert_eq!(format_date(d, Locale::EnUs), "March 3, 2027");
        assert_eq!(format_date(d, Locale::DeDe), "3. März 2027");
        assert_eq!(format_date(d, Locale::FrFr), "3 mars 2027");
        assert_eq!(format_date(d, Locale::NlNl), "3 maart 2027");
        assert_eq!(format_date(d, Locale::JaJp), "2027年3月3日");
        let d = date(2028, 12, 31);
        assert_eq!(format_date(d, Locale::EnGb), "31 December 2028");
        assert_eq!(format_date(d, Locale::DeDe), "31. Dezember 2028");
        assert_eq!(format_date(d, Locale::FrFr), "31 décembre 2028");
        let d = date(2028, 2, 29);
        assert_eq!(format_date(d, Locale::NlNl), "29 februari 2028");
        assert_eq!(format_date(d, Locale::JaJp), "2028年2月29日");
    }

    #[test]
    fn locale_dates_far_outside_bookings_do_not_panic() {
        for d in [NaiveDate::MIN, NaiveDate::MAX, date(1, 1, 1), date(9999, 12, 31)] {
            for locale in Locale::ALL {
                assert!(!format_date(d, locale).is_empty());
            }
        }
    }

    #[test]
    fn locale_datetimes_utc() {
        let dt = date(2027, 3, 3).and_hms_opt(9, 5, 59).unwrap().and_utc();
        assert_eq!(format_datetime_utc(dt, Locale::EnGb), "3 March 2027 at 09:05 UTC");
        assert_eq!(format_datetime_utc(dt, Locale::EnUs), "March 3, 2027 at 09:05 UTC");
        assert_eq!(format_datetime_utc(dt, Locale::DeDe), "3. März 2027 um 09:05 UTC");
        assert_eq!(format_datetime_utc(dt, Locale::FrFr), "3 mars 2027 à 09:05 UTC");
        assert_eq!(format_datetime_utc(dt, Locale::NlNl), "3 maart 2027 om 09:05 UTC");
        assert_eq!(format_datetime_utc(dt, Locale::JaJp), "2027年3月3日 9:05 UTC");
        let evening = date(2027, 3, 3).and_hms_opt(23, 0, 0).unwrap().and_utc();
        assert_eq!(format_datetime_utc(evening, Locale::EnUs), "March 3, 2027 at 23:00 UTC");
        let midnight = date(2027, 3, 4).and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert_eq!(format_datetime_utc(midnight, Locale::EnGb), "4 March 2027 at 00:00 UTC");
        for locale in Locale::ALL {
            assert!(format_datetime_utc(DateTime::<Utc>::MAX_UTC, locale).ends_with(" UTC"));
            assert!(format_datetime_utc(DateTime::<Utc>::MIN_UTC, locale).ends_with(" UTC"));
        }
    }
}
