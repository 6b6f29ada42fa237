//! The emails the mailer words itself, from a notice's data, in the booking's locale (six locales).
//!
//! The layout, escaping and sending are `portal_mail`'s: this module holds the blocks, and [`strings`] the
//! localized strings (filled with [`fill`] in one pass, so a name holding `{reference}` stays as it is). Every
//! email: a subject naming the brand and the booking reference (never the customer's name), the greeting, an
//! intro, the data, a button to the booking's page and the small print that it was sent automatically. The
//! one piece of HTML written here is the unsubscribe page (every piece of data escaped).

mod strings;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use portal_domain::locale::{Locale, format_date, format_money};
use portal_mail::{Block, Brand, Email, escape_html, fill};

use crate::changes::Change;
use crate::content::DueLine;
use crate::kind::Category;
use strings::{Strings, strings};

/// Who and what an email is for.
pub struct Ctx<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
    pub first_name: &'a str,
    pub reference: &'a str,
    /// The booking's page in the web app.
    pub link: &'a str,
}

impl<'a> Ctx<'a> {
    /// `template` with `{brand}`, `{reference}` and `{name}` filled in.
    fn fill(&self, template: &str) -> String {
        fill(template, &[("brand", self.brand.name.as_str()), ("reference", self.reference), ("name", self.first_name)])
    }

    /// Subject, greeting and intro.
    fn start(&self, subject: &str, intro: &str) -> Email<'a> {
        let s = strings(self.locale);
        // The subject's template names no `{name}`: customer data never reaches a header.
        Email::new(self.brand, self.locale, &self.fill(subject))
            .paragraph(self.fill(s.greeting))
            .paragraph(self.fill(intro))
    }

    fn date(&self, date: NaiveDate) -> String {
        format_date(date, self.locale)
    }

    fn dates(&self, start: NaiveDate, end: NaiveDate) -> String {
        let (start, end) = (self.date(start), self.date(end));
        fill(strings(self.locale).date_range, &[("start", &start), ("end", &end)])
    }
}

/// The button to the booking's page and the small print.
fn finish<'a>(email: Email<'a>, ctx: &Ctx<'_>, button: &str) -> Email<'a> {
    email.button(button, ctx.link).small_print(strings(ctx.locale).automatic)
}

/// "Your booking changed": the merged changes and the documents with a new version.
pub fn digest<'a>(ctx: &Ctx<'a>, changes: &[Change], documents: &[String]) -> Email<'a> {
    let s = strings(ctx.locale);
    let (subject, intro) = if changes.is_empty() && !documents.is_empty() {
        (s.documents_subject, s.documents_intro)
    } else {
        (s.changed_subject, s.changed_intro)
    };
    let mut email = ctx.start(subject, intro);
    if !changes.is_empty() {
        email = email.table(changes.iter().map(|c| change_row(ctx, s, c)));
    }
    if !documents.is_empty() {
        let mut names: Vec<&str> = Vec::with_capacity(documents.len());
        for name in documents.iter().map(|d| document_name(s, d)) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        email = email.paragraph(fill(s.documents, &[("documents", &names.join(s.list_separator))]));
    }
    finish(email.paragraph(s.digest_outro), ctx, s.view_booking)
}

/// One change as a table row: what, then the details.
fn change_row(ctx: &Ctx<'_>, s: &Strings, change: &Change) -> (&'static str, String) {
    let dated = |date: NaiveDate, what: &str| fill(s.dated_value, &[("date", &ctx.date(date)), ("what", what)]);
    let from_to = |was: &str, now: &str| fill(s.from_to, &[("was", was), ("now", now)]);
    match change {
        Change::TravelDates { was_start, was_end, start, end } => (
            s.travel_dates,
            fill(s.dates_value, &[("now", &ctx.dates(*start, *end)), ("was", &ctx.dates(*was_start, *was_end))]),
        ),
        Change::DayAdded { date, title } => (s.day_added, dated(*date, title)),
        Change::DayRemoved { date, title } => (s.day_removed, dated(*date, title)),
        Change::DayChanged { date, title } => (s.day_changed, dated(*date, title)),
        Change::ServiceAdded { date, name } => (s.service_added, dated(*date, name)),
        Change::ServiceRemoved { date, name } => (s.service_removed, dated(*date, name)),
        Change::ServiceChanged { date, name } => (s.service_changed, dated(*date, name)),
        Change::TravellerAdded { name } => (s.traveller_added, name.clone()),
        Change::TravellerRemoved { name } => (s.traveller_removed, name.clone()),
        Change::TravellerRenamed { was, name } => (s.traveller_renamed, from_to(was, name)),
        Change::PriceChanged { was, now } => {
            (s.price, from_to(&format_money(*was, ctx.locale), &format_money(*now, ctx.locale)))
        }
    }
}

/// A document type's name; an unknown type as it is.
fn document_name<'s>(s: &'static Strings, document: &'s str) -> &'s str {
    match document {
        "invoice" => s.invoice,
        "itinerary" => s.itinerary,
        "voucher" => s.voucher,
        "receipt" => s.receipt,
        other => other,
    }
}

/// Due date → amount, by due date.
fn due_table<'a>(email: Email<'a>, ctx: &Ctx<'_>, lines: &[DueLine]) -> Email<'a> {
    let mut lines: Vec<&DueLine> = lines.iter().collect();
    lines.sort_by_key(|l| l.due_date);
    email.table(lines.into_iter().map(|l| (ctx.date(l.due_date), format_money(l.amount, ctx.locale))))
}

/// Instalments due soon that are not approved for automatic collection.
pub fn reminder<'a>(ctx: &Ctx<'a>, lines: &[DueLine]) -> Email<'a> {
    let s = strings(ctx.locale);
    let email = due_table(ctx.start(s.reminder_subject, s.reminder_intro), ctx, lines);
    finish(email.paragraph(s.reminder_body), ctx, s.reminder_button)
}

/// Approved instalments about to be charged.
pub fn due_soon<'a>(ctx: &Ctx<'a>, lines: &[DueLine]) -> Email<'a> {
    let s = strings(ctx.locale);
    let email = due_table(ctx.start(s.due_soon_subject, s.due_soon_intro), ctx, lines);
    finish(email.paragraph(s.due_soon_body), ctx, s.view_booking)
}

/// New instalments waiting for the customer's approval.
pub fn approval_needed<'a>(ctx: &Ctx<'a>, lines: &[DueLine]) -> Email<'a> {
    let s = strings(ctx.locale);
    let email = due_table(ctx.start(s.approval_subject, s.approval_intro), ctx, lines);
    finish(email.paragraph(s.approval_body), ctx, s.approval_button)
}

/// The booking is confirmed: its travel dates, and where to find the rest.
pub fn confirmed<'a>(ctx: &Ctx<'a>, start: chrono::NaiveDate, end: chrono::NaiveDate) -> Email<'a> {
    let s = strings(ctx.locale);
    let email = ctx
        .start(s.confirmed_subject, s.confirmed_intro)
        .table([(s.travel_dates, ctx.dates(start, end))])
        .paragraph(s.confirmed_body);
    finish(email, ctx, s.view_booking)
}

/// The booking is cancelled; a refund, if any, has its own email.
pub fn cancelled<'a>(ctx: &Ctx<'a>) -> Email<'a> {
    let s = strings(ctx.locale);
    let email = ctx.start(s.cancelled_subject, s.cancelled_intro).paragraph(s.cancelled_body);
    finish(email, ctx, s.view_booking)
}

/// A refund the gateway completed: how much, where it goes, how long it takes.
pub fn refunded<'a>(ctx: &Ctx<'a>, amount: portal_domain::money::Money) -> Email<'a> {
    let s = strings(ctx.locale);
    let email = ctx
        .start(s.refunded_subject, s.refunded_intro)
        .table([(s.refund_amount, format_money(amount, ctx.locale))])
        .paragraph(s.refunded_body);
    finish(email, ctx, s.view_booking)
}

/// The category's name as the sentences of [`Strings`] use it.
fn category_emails(s: &Strings, category: Category) -> &'static str {
    match category {
        Category::Updates => s.updates_emails,
        Category::Reminders => s.reminders_emails,
        Category::Transactional => s.transactional_emails,
    }
}

/// The small print under every optional email: why it came, and the one-click unsubscribe link.
pub fn unsubscribe_footer(locale: Locale, category: Category, url: &str) -> Block {
    let s = strings(locale);
    if category == Category::Transactional {
        // Never called for it (transactional emails carry no unsubscribe): why it came, no link.
        return Block::SmallPrint(s.why_transactional.to_string());
    }
    let why = fill(s.why, &[("emails", category_emails(s, category))]);
    Block::SmallPrint(format!("{why} {}", fill(s.one_click, &[("url", url)])))
}

/// A `#rgb` / `#rrggbb` colour as it is (it goes into CSS), anything else the layout's text colour.
fn css_colour(colour: &str) -> &str {
    let hex = colour.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) { colour } else { "#18181b" }
}

/// The page the unsubscribe link opens (GET: a button that POSTs; after the POST: done). A full HTML document,
/// every piece of data escaped.
pub fn unsubscribe_page(brand: &Brand, locale: Locale, category: Category, action: &str, done: bool) -> String {
    let s = strings(locale);
    let emails = category_emails(s, category);
    let name = escape_html(&brand.name);
    let colour = css_colour(&brand.primary_colour);
    let (heading, body) = if done {
        (s.done_title, format!("<p>{}</p>", escape_html(&fill(s.done_body, &[("emails", emails)]))))
    } else {
        (
            s.page_title,
            format!(
                "<p>{}</p>\n<form method=\"post\" action=\"{}\">\n<input type=\"hidden\" name=\"List-Unsubscribe\" \
value=\"One-Click\">\n<button type=\"submit\">{}</button>\n</form>",
                escape_html(&fill(s.page_ask, &[("emails", emails)])),
                escape_html(action),
                escape_html(s.page_button),
            ),
        )
    };
    format!(
        "<!DOCTYPE html>
<html lang=\"{lang}\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<meta name=\"robots\" content=\"noindex\">
<title>{title} – {name}</title>
<style>
body{{margin:0;padding:24px 16px;background:#f4f4f5;color:#18181b;font:16px/1.5 Arial,Helvetica,sans-serif}}
main{{max-width:560px;margin:0 auto;background:#ffffff;border-top:6px solid {colour};padding:24px}}
.brand{{font-size:18px;font-weight:bold;margin:0 0 16px}}
h1{{font-size:24px;line-height:1.25;margin:0 0 16px}}
.note{{color:#52525b;font-size:14px}}
button{{background:{colour};color:#ffffff;border:0;border-radius:4px;padding:12px 20px;font:inherit;cursor:pointer}}
button:focus-visible{{outline:3px solid #18181b;outline-offset:3px}}
</style>
</head>
<body>
<main>
<p class=\"brand\">{name}</p>
<h1>{title}</h1>
{body}
<p class=\"note\">{still}</p>
</main>
</body>
</html>
",
        lang = locale.tag(),
        title = escape_html(heading),
        still = escape_html(s.page_still),
    )
}
