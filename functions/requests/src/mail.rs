//! Emails about requests, sent after the commit (a failed send is logged as `request email not sent` and
//! changes nothing; issue 21 moves them to the outbox-driven mailer).
//!
//! - To the team ([`to_team`], [`general_to_team`]): the role's addresses (or its deputy's while away), in
//!   English, with the booking's full context and a link into the operator's own system where configured.
//!   Replying to it reaches nobody, and it says so.
//! - To the customer ([`to_customer`], [`general_to_customer`]): in the booking's locale and brand; the team's
//!   message quoted as text (escaped by `portal_mail`), a role's name and never an address. Optional updates
//!   (a request taken into review; the team writing first in the general thread) only with the traveller's
//!   `optional_updates_by_email`.

use chrono::{DateTime, Duration, Utc};
use portal_domain::booking::Booking;
use portal_domain::locale::Locale;
use portal_mail::{Brand, Email, send_email};
use portal_requests::kind::{RequestStatus, RequestType};
use portal_requests::roles::BrandRequests;
use portal_store::BookingCollection;
use portal_store::requests::{MessageItem, RequestItem, ThreadItem, preferences_item};
use serde_json::Value;

use crate::State;
use crate::change::{Acted, status_of};

/// Why the team hears about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Submitted,
    CustomerMessage,
    Withdrawn,
}

/// The team's answer in the general thread is a reply (transactional) when the customer wrote there within
/// this many days; otherwise the team writes first (an optional update).
pub const REPLY_WINDOW_DAYS: i64 = 30;

fn type_name_en(kind: &str) -> String {
    kind.replace('_', " ")
}

fn field_rows(r: &RequestItem, booking: &Booking) -> Vec<(String, String)> {
    let fields: Value = serde_json::from_str(&r.fields).unwrap_or(Value::Null);
    let name = |id: &str| {
        booking.traveller(id).map(|t| format!("{} {} ({id})", t.first_name, t.last_name)).unwrap_or(id.to_string())
    };
    let mut rows = Vec::new();
    if let Some(obj) = fields.as_object() {
        for (k, v) in obj {
            let shown = match (k.as_str(), v) {
                ("traveller_id", Value::String(id)) => name(id),
                ("traveller_ids", Value::Array(ids)) => {
                    ids.iter().filter_map(Value::as_str).map(name).collect::<Vec<_>>().join(", ")
                }
                (_, Value::String(s)) => s.clone(),
                (_, Value::Null) => continue,
                (_, other) => other.to_string(),
            };
            rows.push((k.replace('_', " "), shown));
        }
    }
    rows
}

fn context_rows(r: &RequestItem) -> Vec<(String, String)> {
    let c = crate::customer::context_view(&r.context, Locale::EnGb);
    let s = |k: &str| match &c[k] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("display").and_then(Value::as_str).unwrap_or_default().to_string(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    vec![
        ("Booking version".into(), s("booking_version")),
        ("Booking status".into(), s("booking_status")),
        ("Travel".into(), format!("{} to {}", s("travel_start"), s("travel_end"))),
        ("Total".into(), s("total")),
        ("Paid".into(), s("paid")),
        ("Outstanding".into(), s("outstanding")),
    ]
}

async fn deliver(state: &State, brand: &Brand, to: &[String], email: &Email<'_>, what: &str, reference: &str) -> usize {
    let mut sent = 0;
    for address in to {
        match send_email(&state.ses, brand, address, email, None).await {
            Ok(()) => sent += 1,
            Err(e) => {
                tracing::error!(reference, what, to = %portal_mail::mask_email(address), error = %e, "request email not sent")
            }
        }
    }
    sent
}

fn team_addresses(roles: &BrandRequests, role: &str, reference: &str, now: DateTime<Utc>) -> Vec<String> {
    let to = roles.role(role).map(|r| r.delivery(now.date_naive())).unwrap_or_default();
    if to.is_empty() {
        tracing::warn!(
            reference,
            role,
            "no address configured for this role: the team is not emailed (the request is on the operator feed)"
        );
    }
    to
}

/// The team email about a request.
pub fn team_email<'a>(
    brand: &'a Brand,
    booking: &Booking,
    roles: &BrandRequests,
    r: &RequestItem,
    notice: Notice,
    message: Option<&MessageItem>,
) -> Email<'a> {
    let reference = booking.reference.as_str();
    let who =
        booking.traveller(&r.submitted_by).map(|t| format!("{} {}", t.first_name, t.last_name)).unwrap_or_default();
    let kind = type_name_en(&r.kind);
    let subject = match notice {
        Notice::Submitted => format!("[{reference}] New {kind} request from {who}"),
        Notice::CustomerMessage => format!("[{reference}] Customer reply on the {kind} request {}", r.request_id),
        Notice::Withdrawn => format!("[{reference}] The customer withdrew the {kind} request {}", r.request_id),
    };
    let role_name = roles.role(&r.role).map(|x| x.name(Locale::EnGb)).unwrap_or_else(|| r.role.clone());
    let mut e = Email::new(brand, Locale::EnGb, &subject)
        .paragraph(format!(
            "For the {role_name}: booking {reference}, request {} ({kind}), now {}.",
            r.request_id,
            r.status.replace('_', " ")
        ))
        .table(
            [
                ("Reference".to_string(), reference.to_string()),
                ("Submitted by".into(), format!("{who} ({})", r.submitted_by)),
            ]
            .into_iter()
            .chain(context_rows(r))
            .chain(field_rows(r, booking)),
        );
    if let Some(m) = message {
        let from = booking.traveller(&m.author_id).map(|t| t.first_name.clone()).unwrap_or_else(|| m.author_id.clone());
        e = e.paragraph(format!("{from} wrote:")).paragraph(m.body.clone());
    }
    if let Some(link) = roles.operator_link(reference, &r.request_id) {
        e = e.button("Open in your back office", link);
    }
    e.small_print(format!(
        "Answer through your operator system or the portal's operator API (POST /operator/bookings/{reference}/requests/{}/messages). Replies to this email do not reach the customer.",
        r.request_id
    ))
}

pub async fn to_team(
    state: &State,
    booking: &Booking,
    roles: &BrandRequests,
    r: &RequestItem,
    notice: Notice,
    message: Option<&MessageItem>,
    now: DateTime<Utc>,
) {
    let reference = booking.reference.as_str();
    let to = team_addresses(roles, &r.role, reference, now);
    if to.is_empty() {
        return;
    }
    let brand = state.brands.get(&booking.brand);
    let email = team_email(brand, booking, roles, r, notice, message);
    let sent = deliver(state, brand, &to, &email, "team", reference).await;
    tracing::info!(reference, request = %r.request_id, role = %r.role, sent, "team notified");
}

pub fn general_team_email<'a>(
    brand: &'a Brand,
    booking: &Booking,
    roles: &BrandRequests,
    role: &str,
    m: &MessageItem,
) -> Email<'a> {
    let reference = booking.reference.as_str();
    let who = booking.traveller(&m.author_id).map(|t| format!("{} {}", t.first_name, t.last_name)).unwrap_or_default();
    let role_name = roles.role(role).map(|x| x.name(Locale::EnGb)).unwrap_or_else(|| role.to_string());
    Email::new(brand, Locale::EnGb, &format!("[{reference}] Message to the {role_name} from {who}"))
        .paragraph(format!("{who} ({}) wrote to the {role_name} about booking {reference}:", m.author_id))
        .paragraph(m.body.clone())
        .table([
            ("Travel".to_string(), format!("{} to {}", booking.travel_start, booking.travel_end)),
            ("Status".into(), format!("{:?}", booking.status).to_lowercase()),
        ])
        .small_print(format!(
            "Answer through your operator system or the portal's operator API (POST /operator/bookings/{reference}/messages). Replies to this email do not reach the customer."
        ))
}

pub async fn general_to_team(
    state: &State,
    booking: &Booking,
    roles: &BrandRequests,
    role: &str,
    m: &MessageItem,
    now: DateTime<Utc>,
) {
    let reference = booking.reference.as_str();
    let to = team_addresses(roles, role, reference, now);
    if to.is_empty() {
        return;
    }
    let brand = state.brands.get(&booking.brand);
    let email = general_team_email(brand, booking, roles, role, m);
    deliver(state, brand, &to, &email, "team", reference).await;
}

// ---------------------------------------------------------------------------------------------------------
// To the customer

struct Strings {
    subject_reply: &'static str,
    subject_status: &'static str,
    subject_general: &'static str,
    greeting: &'static str,
    wrote: &'static str,
    now_status: &'static str,
    view_request: &'static str,
    view_messages: &'static str,
    no_reply: &'static str,
    optional: &'static str,
}

fn strings(l: Locale) -> Strings {
    match l {
        Locale::DeDe => Strings {
            subject_reply: "{brand}: Nachricht vom {role} zu Ihrer Buchung {reference}",
            subject_status: "{brand}: Ihre Anfrage zur Buchung {reference} ist jetzt „{status}“",
            subject_general: "{brand}: Nachricht vom {role} zu Ihrer Buchung {reference}",
            greeting: "Hallo {name},",
            wrote: "{role} schreibt:",
            now_status: "Ihre Anfrage ({type}) hat jetzt den Status „{status}“.",
            view_request: "Anfrage ansehen",
            view_messages: "Nachrichten ansehen",
            no_reply: "Bitte antworten Sie im Kundenportal: Antworten auf diese E-Mail werden nicht gelesen.",
            optional: "Diese optionale Benachrichtigung können Sie im Portal unter „Anfragen“ abbestellen.",
        },
        Locale::FrFr => Strings {
            subject_reply: "{brand} : message du {role} concernant votre réservation {reference}",
            subject_status: "{brand} : votre demande pour la réservation {reference} est « {status} »",
            subject_general: "{brand} : message du {role} concernant votre réservation {reference}",
            greeting: "Bonjour {name},",
            wrote: "{role} écrit :",
            now_status: "Votre demande ({type}) a désormais le statut « {status} ».",
            view_request: "Voir la demande",
            view_messages: "Voir les messages",
            no_reply: "Répondez dans l’espace client : les réponses à cet e-mail ne sont pas lues.",
            optional: "Vous pouvez désactiver ces notifications facultatives dans l’espace client, rubrique « Demandes ».",
        },
        Locale::NlNl => Strings {
            subject_reply: "{brand}: bericht van {role} over uw boeking {reference}",
            subject_status: "{brand}: uw verzoek voor boeking {reference} is nu ‘{status}’",
            subject_general: "{brand}: bericht van {role} over uw boeking {reference}",
            greeting: "Beste {name},",
            wrote: "{role} schrijft:",
            now_status: "Uw verzoek ({type}) heeft nu de status ‘{status}’.",
            view_request: "Verzoek bekijken",
            view_messages: "Berichten bekijken",
            no_reply: "Antwoord in het klantportaal: antwoorden op deze e-mail worden niet gelezen.",
            optional: "U kunt deze optionele berichten uitzetten in het portaal, onder ‘Verzoeken’.",
        },
        Locale::JaJp => Strings {
            subject_reply: "{brand}：ご予約 {reference} について{role}からのメッセージ",
            subject_status: "{brand}：ご予約 {reference} のリクエストは「{status}」になりました",
            subject_general: "{brand}：ご予約 {reference} について{role}からのメッセージ",
            greeting: "{name} 様",
            wrote: "{role}からのメッセージ：",
            now_status: "リクエスト（{type}）のステータスは「{status}」になりました。",
            view_request: "リクエストを見る",
            view_messages: "メッセージを見る",
            no_reply: "ご返信はポータルからお願いします。このメールへの返信は確認されません。",
            optional: "この任意のお知らせは、ポータルの「リクエスト」から停止できます。",
        },
        Locale::EnGb | Locale::EnUs => Strings {
            subject_reply: "{brand}: a message from the {role} about your booking {reference}",
            subject_status: "{brand}: your request for booking {reference} is now {status}",
            subject_general: "{brand}: a message from the {role} about your booking {reference}",
            greeting: "Hello {name},",
            wrote: "The {role} wrote:",
            now_status: "Your request ({type}) is now: {status}.",
            view_request: "View your request",
            view_messages: "View your messages",
            no_reply: "Please reply in the portal: replies to this email are not read.",
            optional: "You can turn off optional updates like this one on the Requests page of the portal.",
        },
    }
}

pub fn status_name(s: RequestStatus, l: Locale) -> &'static str {
    use RequestStatus::*;
    match (l, s) {
        (Locale::DeDe, Submitted) => "eingereicht",
        (Locale::DeDe, InReview) => "in Bearbeitung",
        (Locale::DeDe, WaitingForCustomer) => "wartet auf Ihre Antwort",
        (Locale::DeDe, Accepted) => "angenommen",
        (Locale::DeDe, Declined) => "abgelehnt",
        (Locale::DeDe, Completed) => "erledigt",
        (Locale::DeDe, Withdrawn) => "zurückgezogen",
        (Locale::FrFr, Submitted) => "envoyée",
        (Locale::FrFr, InReview) => "en cours d’examen",
        (Locale::FrFr, WaitingForCustomer) => "en attente de votre réponse",
        (Locale::FrFr, Accepted) => "acceptée",
        (Locale::FrFr, Declined) => "refusée",
        (Locale::FrFr, Completed) => "traitée",
        (Locale::FrFr, Withdrawn) => "retirée",
        (Locale::NlNl, Submitted) => "ingediend",
        (Locale::NlNl, InReview) => "in behandeling",
        (Locale::NlNl, WaitingForCustomer) => "wacht op uw antwoord",
        (Locale::NlNl, Accepted) => "geaccepteerd",
        (Locale::NlNl, Declined) => "afgewezen",
        (Locale::NlNl, Completed) => "afgerond",
        (Locale::NlNl, Withdrawn) => "ingetrokken",
        (Locale::JaJp, Submitted) => "送信済み",
        (Locale::JaJp, InReview) => "確認中",
        (Locale::JaJp, WaitingForCustomer) => "お客様の返信待ち",
        (Locale::JaJp, Accepted) => "承認",
        (Locale::JaJp, Declined) => "お断り",
        (Locale::JaJp, Completed) => "完了",
        (Locale::JaJp, Withdrawn) => "取り下げ",
        (_, Submitted) => "submitted",
        (_, InReview) => "in review",
        (_, WaitingForCustomer) => "waiting for your reply",
        (_, Accepted) => "accepted",
        (_, Declined) => "declined",
        (_, Completed) => "completed",
        (_, Withdrawn) => "withdrawn",
    }
}

pub fn type_name(t: RequestType, l: Locale) -> &'static str {
    use RequestType::*;
    match (l, t) {
        (Locale::DeDe, ServiceChange) => "Leistungsänderung",
        (Locale::DeDe, AddTraveller) => "Reisende hinzufügen",
        (Locale::DeDe, RemoveTraveller) => "Reisende entfernen",
        (Locale::DeDe, DateChange) => "Terminänderung",
        (Locale::DeDe, Cancellation) => "Stornierung",
        (Locale::DeDe, SpecialAssistance) => "besondere Unterstützung",
        (Locale::DeDe, Other) => "sonstige Anfrage",
        (Locale::FrFr, ServiceChange) => "modification d’une prestation",
        (Locale::FrFr, AddTraveller) => "ajout d’un voyageur",
        (Locale::FrFr, RemoveTraveller) => "retrait d’un voyageur",
        (Locale::FrFr, DateChange) => "changement de dates",
        (Locale::FrFr, Cancellation) => "annulation",
        (Locale::FrFr, SpecialAssistance) => "assistance particulière",
        (Locale::FrFr, Other) => "autre demande",
        (Locale::NlNl, ServiceChange) => "wijziging van een dienst",
        (Locale::NlNl, AddTraveller) => "reiziger toevoegen",
        (Locale::NlNl, RemoveTraveller) => "reiziger verwijderen",
        (Locale::NlNl, DateChange) => "datumwijziging",
        (Locale::NlNl, Cancellation) => "annulering",
        (Locale::NlNl, SpecialAssistance) => "speciale assistentie",
        (Locale::NlNl, Other) => "overig verzoek",
        (Locale::JaJp, ServiceChange) => "サービスの変更",
        (Locale::JaJp, AddTraveller) => "旅行者の追加",
        (Locale::JaJp, RemoveTraveller) => "旅行者の削除",
        (Locale::JaJp, DateChange) => "日程の変更",
        (Locale::JaJp, Cancellation) => "キャンセル",
        (Locale::JaJp, SpecialAssistance) => "特別なサポート",
        (Locale::JaJp, Other) => "その他のご依頼",
        (_, ServiceChange) => "service change",
        (_, AddTraveller) => "add a traveller",
        (_, RemoveTraveller) => "remove a traveller",
        (_, DateChange) => "date change",
        (_, Cancellation) => "cancellation",
        (_, SpecialAssistance) => "special assistance",
        (_, Other) => "other request",
    }
}

/// What a customer email says.
pub struct CustomerNotice<'a> {
    pub brand: &'a Brand,
    pub locale: Locale,
    pub reference: &'a str,
    pub first_name: &'a str,
    pub role_name: String,
    pub message: Option<&'a str>,
    /// The request and its new status (`None`: the general thread).
    pub request: Option<(RequestType, Option<RequestStatus>)>,
    pub link: String,
    pub optional: bool,
}

pub fn customer_email<'a>(n: &CustomerNotice<'a>) -> Email<'a> {
    let s = strings(n.locale);
    let status = n.request.and_then(|(_, st)| st).map(|st| status_name(st, n.locale)).unwrap_or_default();
    let kind = n.request.map(|(t, _)| type_name(t, n.locale)).unwrap_or_default();
    let vars = [
        ("brand", n.brand.name.as_str()),
        ("reference", n.reference),
        ("role", n.role_name.as_str()),
        ("status", status),
        ("type", kind),
    ];
    let subject_template = match (n.request, n.message) {
        (None, _) => s.subject_general,
        (Some(_), Some(_)) => s.subject_reply,
        (Some(_), None) => s.subject_status,
    };
    // The subject carries no customer data (a name could hold anything); the role's name is configuration.
    let mut e = Email::new(n.brand, n.locale, &portal_mail::fill(subject_template, &vars))
        .paragraph(portal_mail::fill(s.greeting, &[("name", n.first_name)]));
    if let Some(m) = n.message {
        e = e.paragraph(portal_mail::fill(s.wrote, &vars)).paragraph(m.to_string());
    }
    if n.request.is_some_and(|(_, st)| st.is_some()) {
        e = e.paragraph(portal_mail::fill(s.now_status, &vars));
    }
    e = e
        .button(if n.request.is_some() { s.view_request } else { s.view_messages }, n.link.clone())
        .small_print(s.no_reply);
    if n.optional {
        e = e.small_print(s.optional);
    }
    e
}

fn booking_locale(b: &Booking) -> Locale {
    Locale::parse(&b.locale).unwrap_or(Locale::EnGb)
}

/// After a team reply or status change: the submitter hears about it (optional updates only if they want).
pub async fn to_customer(
    state: &State,
    c: &BookingCollection,
    roles: &BrandRequests,
    acted: &Acted,
    _now: DateTime<Utc>,
) {
    let r = &acted.request;
    let reference = c.booking.reference.as_str();
    if acted.replay || (acted.message.is_none() && acted.moved.is_none()) {
        return;
    }
    let moved_to = acted.moved.map(|(_, to)| to);
    let transactional = acted.message.is_some() || moved_to.and_then(RequestStatus::customer_email) == Some(true);
    if moved_to.is_some_and(|t| t.customer_email().is_none()) && acted.message.is_none() {
        return;
    }
    let optional = !transactional;
    if optional && !preferences_item(c, &r.submitted_by).is_none_or(|p| p.optional_updates_by_email) {
        tracing::info!(reference, request = %r.request_id, "optional update not emailed: the customer turned them off");
        return;
    }
    let locale = booking_locale(&c.booking);
    let brand = state.brands.get(&c.booking.brand);
    let first = c.booking.traveller(&r.submitted_by).map(|t| t.first_name.as_str()).unwrap_or("");
    let role = acted.message.as_ref().map_or(r.role.as_str(), |m| m.author_id.as_str());
    let kind = RequestType::parse(&r.kind).unwrap_or(RequestType::Other);
    let n = CustomerNotice {
        brand,
        locale,
        reference,
        first_name: first,
        role_name: roles.role(role).map(|x| x.name(locale)).unwrap_or_else(|| role.to_string()),
        message: acted.message.as_ref().map(|m| m.body.as_str()),
        request: Some((kind, moved_to.or(Some(status_of(r))).filter(|_| moved_to.is_some()))),
        link: format!("{}/trips/{reference}/requests/{}", state.portal_url, r.request_id),
        optional,
    };
    let Some(t) = c.booking.traveller(&r.submitted_by) else { return };
    let seed = format!(
        "request:{}:{}:{}",
        r.request_id,
        r.revision,
        acted.message.as_ref().map_or("", |m| m.message_id.as_str())
    );
    outbox(state, c, t, &seed, optional, &customer_email(&n)).await;
}

/// Put a customer email into the mail outbox (the mailer honours preferences and suppressions and retries
/// SES). After the request's own commit: its id is derived from the change, so a replay writes nothing new.
async fn outbox(
    state: &State,
    c: &BookingCollection,
    t: &portal_domain::booking::Traveller,
    seed: &str,
    optional: bool,
    email: &Email<'_>,
) {
    let kind = if optional {
        portal_notify::NoticeKind::RequestOptionalUpdate
    } else {
        portal_notify::NoticeKind::RequestUpdate
    };
    let reference = c.booking.reference.as_str();
    let Some(n) = portal_notify::Notice::prepared(seed, kind, &c.booking, t, email, (state.clock)()) else { return };
    match state.store.put_notice(n).await {
        Ok(_) => tracing::info!(reference, optional, "customer notice queued"),
        Err(e) => tracing::error!(reference, error = %e, "request email not sent: notice not written"),
    }
}

/// After the team wrote in the general thread: a reply to whoever wrote last (within the window), else an
/// optional update to the lead.
pub async fn general_to_customer(
    state: &State,
    c: &BookingCollection,
    roles: &BrandRequests,
    before: Option<&ThreadItem>,
    m: &MessageItem,
    now: DateTime<Utc>,
) {
    let reference = c.booking.reference.as_str();
    let recent = before
        .and_then(|t| t.last_customer_at.zip(t.last_customer.clone()).zip(t.last_customer_email.clone()))
        .filter(|((at, _), _)| now - *at <= Duration::days(REPLY_WINDOW_DAYS));
    let (traveller, to, optional) = match recent {
        Some(((_, who), email)) => (who, email, false),
        None => {
            let lead = c.booking.lead_traveller_id.clone();
            let email = c.booking.lead().and_then(|t| t.email.clone()).unwrap_or_default();
            (lead, email, true)
        }
    };
    if to.is_empty() {
        return;
    }
    if optional && !preferences_item(c, &traveller).is_none_or(|p| p.optional_updates_by_email) {
        tracing::info!(reference, "optional update not emailed: the customer turned them off");
        return;
    }
    let locale = booking_locale(&c.booking);
    let brand = state.brands.get(&c.booking.brand);
    let n = CustomerNotice {
        brand,
        locale,
        reference,
        first_name: c.booking.traveller(&traveller).map(|t| t.first_name.as_str()).unwrap_or(""),
        role_name: roles.role(&m.author_id).map(|x| x.name(locale)).unwrap_or_else(|| m.author_id.clone()),
        message: Some(&m.body),
        request: None,
        link: format!("{}/trips/{reference}/messages", state.portal_url),
        optional,
    };
    let Some(t) = c.booking.traveller(&traveller) else { return };
    outbox(state, c, t, &format!("general:{reference}:{}", m.message_id), optional, &customer_email(&n)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand() -> Brand {
        Brand {
            name: "Alpine Escapes".into(),
            primary_colour: "#0a7c59".into(),
            sender: "portal@tours.example".into(),
            logo_url: None,
        }
    }

    #[test]
    fn customer_emails_escape_the_message_and_name_only_the_role() {
        let b = brand();
        for locale in Locale::ALL {
            let n = CustomerNotice {
                brand: &b,
                locale,
                reference: "AE-1",
                first_name: "<Ada>",
                role_name: "Reservations team".into(),
                message: Some("<b>We can</b> & will"),
                request: Some((RequestType::DateChange, Some(RequestStatus::WaitingForCustomer))),
                link: "https://portal.example/trips/AE-1/requests/rq_x".into(),
                optional: false,
            };
            let r = customer_email(&n).render();
            assert!(r.html.contains("&lt;b&gt;We can&lt;/b&gt; &amp; will"), "{locale:?}");
            assert!(!r.html.contains("<b>We can"), "{locale:?}");
            assert!(r.text.contains("<b>We can</b> & will"), "text part as sent");
            assert!(r.html.contains("&lt;Ada&gt;"));
            assert!(!r.subject.contains("Ada"), "no customer data in the subject");
            assert!(r.subject.contains("AE-1"));
            assert!(r.text.contains(status_name(RequestStatus::WaitingForCustomer, locale)));
        }
    }
}
