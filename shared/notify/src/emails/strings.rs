//! The localized strings of the emails and the unsubscribe page: one [`Strings`] per language (en-GB and
//! en-US share English; dates and money are formatted by locale, not here). `{placeholders}` are filled by
//! `portal_mail::fill`; a subject's template never names `{name}` (customer data never reaches a header).

use portal_domain::locale::Locale;

pub(super) struct Strings {
    // Every email.
    pub greeting: &'static str,
    /// The small print: sent automatically, replies are not read.
    pub automatic: &'static str,
    pub view_booking: &'static str,
    /// `{start}`, `{end}`.
    pub date_range: &'static str,
    pub travel_dates: &'static str,

    // Digest.
    pub changed_subject: &'static str,
    pub changed_intro: &'static str,
    pub documents_subject: &'static str,
    pub documents_intro: &'static str,
    pub digest_outro: &'static str,
    /// `{now}`, `{was}`: date ranges.
    pub dates_value: &'static str,
    pub day_added: &'static str,
    pub day_removed: &'static str,
    pub day_changed: &'static str,
    pub service_added: &'static str,
    pub service_removed: &'static str,
    pub service_changed: &'static str,
    /// `{date}`, `{what}`: a day's title or a service's name.
    pub dated_value: &'static str,
    pub traveller_added: &'static str,
    pub traveller_removed: &'static str,
    pub traveller_renamed: &'static str,
    pub price: &'static str,
    /// `{was}`, `{now}`: names or amounts.
    pub from_to: &'static str,
    /// `{documents}`: the document names, joined with `list_separator`.
    pub documents: &'static str,
    pub list_separator: &'static str,
    pub invoice: &'static str,
    pub itinerary: &'static str,
    pub voucher: &'static str,
    pub receipt: &'static str,

    // Instalments.
    pub reminder_subject: &'static str,
    pub reminder_intro: &'static str,
    pub reminder_body: &'static str,
    pub reminder_button: &'static str,
    pub due_soon_subject: &'static str,
    pub due_soon_intro: &'static str,
    pub due_soon_body: &'static str,
    pub approval_subject: &'static str,
    pub approval_intro: &'static str,
    pub approval_body: &'static str,
    pub approval_button: &'static str,

    // Confirmed, cancelled.
    pub confirmed_subject: &'static str,
    pub confirmed_intro: &'static str,
    pub confirmed_body: &'static str,
    pub cancelled_subject: &'static str,
    pub cancelled_intro: &'static str,
    pub cancelled_body: &'static str,

    // Unsubscribing: `{emails}` is one of the three category phrases, written to fit every sentence naming it.
    pub updates_emails: &'static str,
    pub reminders_emails: &'static str,
    pub transactional_emails: &'static str,
    pub why: &'static str,
    pub why_transactional: &'static str,
    /// `{url}`.
    pub one_click: &'static str,
    pub page_title: &'static str,
    pub page_ask: &'static str,
    pub page_still: &'static str,
    pub page_button: &'static str,
    pub done_title: &'static str,
    pub done_body: &'static str,
}

pub(super) fn strings(locale: Locale) -> &'static Strings {
    match locale {
        Locale::EnGb | Locale::EnUs => &EN,
        Locale::DeDe => &DE,
        Locale::FrFr => &FR,
        Locale::NlNl => &NL,
        Locale::JaJp => &JA,
    }
}

static EN: Strings = Strings {
    greeting: "Hello {name},",
    automatic: "This email was sent automatically: please do not reply to it, replies are not read. For questions \
about your booking, send us a message from your booking in the portal.",
    view_booking: "View your booking",
    date_range: "{start} – {end}",
    travel_dates: "Travel dates",

    changed_subject: "{brand}: your booking {reference} has changed",
    changed_intro: "Your booking {reference} has changed:",
    documents_subject: "{brand}: new documents for booking {reference}",
    documents_intro: "There are new versions of the documents of your booking {reference}.",
    digest_outro: "You will find all the details in the portal.",
    dates_value: "{now} (were {was})",
    day_added: "Day added",
    day_removed: "Day removed",
    day_changed: "Day changed",
    service_added: "Service added",
    service_removed: "Service removed",
    service_changed: "Service changed",
    dated_value: "{date}, {what}",
    traveller_added: "Traveller added",
    traveller_removed: "Traveller removed",
    traveller_renamed: "Traveller name changed",
    price: "Price",
    from_to: "{was} → {now}",
    documents: "New versions of your documents: {documents}",
    list_separator: ", ",
    invoice: "Invoice",
    itinerary: "Itinerary",
    voucher: "Voucher",
    receipt: "Receipt",

    reminder_subject: "{brand}: payment due soon for booking {reference}",
    reminder_intro: "These payments for your booking {reference} are due soon:",
    reminder_body: "You can pay them now, or approve automatic payment with your saved card, in the portal.",
    reminder_button: "Pay or approve",
    due_soon_subject: "{brand}: upcoming automatic payment for booking {reference}",
    due_soon_intro: "These approved instalments for your booking {reference} will be charged automatically to your \
saved card on their due dates:",
    due_soon_body: "There is nothing you need to do, unless you want to change it: you can do so in the portal.",
    approval_subject: "{brand}: please review the instalments for booking {reference}",
    approval_intro: "New instalments for your booking {reference} are waiting for your approval:",
    approval_body: "Please approve automatic payment with your saved card, or pay each instalment yourself when it \
is due.",
    approval_button: "Review instalments",

    confirmed_subject: "{brand}: booking {reference} confirmed",
    confirmed_intro: "Good news: your booking {reference} is confirmed.",
    confirmed_body: "Your itinerary, documents and payments are waiting for you in the portal.",
    cancelled_subject: "{brand}: booking {reference} cancelled",
    cancelled_intro: "Your booking {reference} has been cancelled.",
    cancelled_body: "If a refund is due to you, we will take care of it: you will receive a separate email when the \
money is on its way back to you.",

    updates_emails: "booking update emails",
    reminders_emails: "payment reminder emails",
    transactional_emails: "these emails",
    why: "You receive {emails} because you are one of the travellers on this booking.",
    why_transactional: "You receive this email because you are one of the travellers on this booking.",
    one_click: "Unsubscribe with one click: {url}",
    page_title: "Unsubscribe",
    page_ask: "Do you want to stop receiving {emails}?",
    page_still: "Emails about payments and about the booking itself, such as receipts, confirmations and \
cancellations, will still arrive.",
    page_button: "Unsubscribe",
    done_title: "You are unsubscribed",
    done_body: "You will no longer receive {emails}.",
};

static DE: Strings = Strings {
    greeting: "Hallo {name},",
    automatic: "Diese E-Mail wurde automatisch versendet: Bitte antworten Sie nicht darauf, Antworten werden nicht \
gelesen. Fragen zu Ihrer Buchung senden Sie uns am besten als Nachricht über Ihre Buchung im Portal.",
    view_booking: "Buchung ansehen",
    date_range: "{start} – {end}",
    travel_dates: "Reisedaten",

    changed_subject: "{brand}: Ihre Buchung {reference} wurde geändert",
    changed_intro: "Ihre Buchung {reference} wurde geändert:",
    documents_subject: "{brand}: neue Dokumente für die Buchung {reference}",
    documents_intro: "Für Ihre Buchung {reference} gibt es neue Versionen Ihrer Dokumente.",
    digest_outro: "Alle Einzelheiten finden Sie im Portal.",
    dates_value: "{now} (bisher {was})",
    day_added: "Tag hinzugefügt",
    day_removed: "Tag entfernt",
    day_changed: "Tag geändert",
    service_added: "Leistung hinzugefügt",
    service_removed: "Leistung entfernt",
    service_changed: "Leistung geändert",
    dated_value: "{date}, {what}",
    traveller_added: "Reisende Person hinzugefügt",
    traveller_removed: "Reisende Person entfernt",
    traveller_renamed: "Name einer reisenden Person geändert",
    price: "Preis",
    from_to: "{was} → {now}",
    documents: "Neue Versionen Ihrer Dokumente: {documents}",
    list_separator: ", ",
    invoice: "Rechnung",
    itinerary: "Reiseverlauf",
    voucher: "Voucher",
    receipt: "Zahlungsbeleg",

    reminder_subject: "{brand}: Zahlung für die Buchung {reference} bald fällig",
    reminder_intro: "Diese Zahlungen für Ihre Buchung {reference} sind bald fällig:",
    reminder_body: "Sie können sie jetzt im Portal bezahlen oder dort die automatische Zahlung mit Ihrer \
gespeicherten Karte freigeben.",
    reminder_button: "Bezahlen oder freigeben",
    due_soon_subject: "{brand}: anstehende automatische Zahlung für die Buchung {reference}",
    due_soon_intro: "Diese freigegebenen Raten für Ihre Buchung {reference} werden am jeweiligen Fälligkeitstag \
automatisch von Ihrer gespeicherten Karte abgebucht:",
    due_soon_body: "Sie müssen nichts tun, es sei denn, Sie möchten etwas daran ändern: Das können Sie im Portal.",
    approval_subject: "{brand}: Bitte prüfen Sie die Raten für die Buchung {reference}",
    approval_intro: "Für Ihre Buchung {reference} warten neue Raten auf Ihre Freigabe:",
    approval_body: "Bitte geben Sie die automatische Zahlung mit Ihrer gespeicherten Karte frei oder bezahlen Sie \
jede Rate selbst, wenn sie fällig ist.",
    approval_button: "Raten prüfen",

    confirmed_subject: "{brand}: Buchung {reference} bestätigt",
    confirmed_intro: "Gute Nachrichten: Ihre Buchung {reference} ist bestätigt.",
    confirmed_body: "Ihren Reiseverlauf, Ihre Dokumente und Ihre Zahlungen finden Sie im Portal.",
    cancelled_subject: "{brand}: Buchung {reference} storniert",
    cancelled_intro: "Ihre Buchung {reference} wurde storniert.",
    cancelled_body: "Falls Ihnen eine Erstattung zusteht, kümmern wir uns darum: Sie erhalten eine separate E-Mail, \
sobald das Geld an Sie zurückgeht.",

    updates_emails: "E-Mails zu Änderungen an Ihrer Buchung",
    reminders_emails: "Zahlungserinnerungen",
    transactional_emails: "diese E-Mails",
    why: "Sie erhalten {emails}, weil Sie zu den Reisenden dieser Buchung gehören.",
    why_transactional: "Sie erhalten diese E-Mail, weil Sie zu den Reisenden dieser Buchung gehören.",
    one_click: "Mit einem Klick abbestellen: {url}",
    page_title: "Abbestellen",
    page_ask: "Möchten Sie {emails} abbestellen?",
    page_still: "E-Mails zu Zahlungen und zur Buchung selbst, etwa Zahlungsbelege, Bestätigungen und Stornierungen, \
erhalten Sie weiterhin.",
    page_button: "Abbestellen",
    done_title: "Abbestellt",
    done_body: "Sie haben {emails} abbestellt.",
};

static FR: Strings = Strings {
    greeting: "Bonjour {name},",
    automatic: "Cet e-mail a été envoyé automatiquement : merci de ne pas y répondre, les réponses ne sont pas lues. \
Pour toute question sur votre réservation, envoyez-nous un message depuis votre réservation sur le portail.",
    view_booking: "Voir votre réservation",
    date_range: "{start} – {end}",
    travel_dates: "Dates du voyage",

    changed_subject: "{brand} : votre réservation {reference} a été modifiée",
    changed_intro: "Votre réservation {reference} a été modifiée :",
    documents_subject: "{brand} : nouveaux documents pour la réservation {reference}",
    documents_intro: "De nouvelles versions des documents de votre réservation {reference} sont disponibles.",
    digest_outro: "Vous trouverez tous les détails sur le portail.",
    dates_value: "{now} (auparavant {was})",
    day_added: "Journée ajoutée",
    day_removed: "Journée supprimée",
    day_changed: "Journée modifiée",
    service_added: "Prestation ajoutée",
    service_removed: "Prestation supprimée",
    service_changed: "Prestation modifiée",
    dated_value: "{date}, {what}",
    traveller_added: "Voyageur ajouté",
    traveller_removed: "Voyageur retiré",
    traveller_renamed: "Nom d’un voyageur modifié",
    price: "Prix",
    from_to: "{was} → {now}",
    documents: "Nouvelles versions de vos documents : {documents}",
    list_separator: ", ",
    invoice: "Facture",
    itinerary: "Itinéraire",
    voucher: "Bon d’échange",
    receipt: "Reçu",

    reminder_subject: "{brand} : paiement bientôt dû pour la réservation {reference}",
    reminder_intro: "Ces paiements pour votre réservation {reference} arrivent bientôt à échéance :",
    reminder_body: "Vous pouvez les régler dès maintenant, ou autoriser le paiement automatique avec votre carte \
enregistrée, sur le portail.",
    reminder_button: "Payer ou autoriser",
    due_soon_subject: "{brand} : prochain paiement automatique pour la réservation {reference}",
    due_soon_intro: "Ces échéances autorisées de votre réservation {reference} seront débitées automatiquement sur \
votre carte enregistrée à leur date d’échéance :",
    due_soon_body: "Vous n’avez rien à faire, sauf si vous souhaitez modifier cela : vous pouvez le faire sur le \
portail.",
    approval_subject: "{brand} : veuillez vérifier les échéances de la réservation {reference}",
    approval_intro: "De nouvelles échéances de votre réservation {reference} attendent votre autorisation :",
    approval_body: "Veuillez autoriser le paiement automatique avec votre carte enregistrée, ou régler vous-même \
chaque échéance à sa date.",
    approval_button: "Vérifier les échéances",

    confirmed_subject: "{brand} : réservation {reference} confirmée",
    confirmed_intro: "Bonne nouvelle : votre réservation {reference} est confirmée.",
    confirmed_body: "Votre itinéraire, vos documents et vos paiements vous attendent sur le portail.",
    cancelled_subject: "{brand} : réservation {reference} annulée",
    cancelled_intro: "Votre réservation {reference} a été annulée.",
    cancelled_body: "Si un remboursement vous est dû, nous nous en occupons : vous recevrez un e-mail séparé lorsque \
l’argent vous sera reversé.",

    updates_emails: "les e-mails de suivi de votre réservation",
    reminders_emails: "les rappels de paiement",
    transactional_emails: "ces e-mails",
    why: "Vous recevez {emails} car vous faites partie des voyageurs de cette réservation.",
    why_transactional: "Vous recevez cet e-mail car vous faites partie des voyageurs de cette réservation.",
    one_click: "Se désabonner en un clic : {url}",
    page_title: "Se désabonner",
    page_ask: "Voulez-vous ne plus recevoir {emails} ?",
    page_still: "Les e-mails concernant les paiements et la réservation elle-même, comme les reçus, les \
confirmations et les annulations, continueront de vous parvenir.",
    page_button: "Se désabonner",
    done_title: "Désabonnement confirmé",
    done_body: "Vous ne recevrez plus {emails}.",
};

static NL: Strings = Strings {
    greeting: "Beste {name},",
    automatic: "Deze e-mail is automatisch verstuurd: beantwoord hem niet, antwoorden worden niet gelezen. Hebt u \
vragen over uw boeking, stuur ons dan een bericht via uw boeking in het portaal.",
    view_booking: "Bekijk uw boeking",
    date_range: "{start} – {end}",
    travel_dates: "Reisdata",

    changed_subject: "{brand}: uw boeking {reference} is gewijzigd",
    changed_intro: "Uw boeking {reference} is gewijzigd:",
    documents_subject: "{brand}: nieuwe documenten voor boeking {reference}",
    documents_intro: "Er zijn nieuwe versies van de documenten van uw boeking {reference}.",
    digest_outro: "Alle details vindt u in het portaal.",
    dates_value: "{now} (was {was})",
    day_added: "Dag toegevoegd",
    day_removed: "Dag verwijderd",
    day_changed: "Dag gewijzigd",
    service_added: "Reisonderdeel toegevoegd",
    service_removed: "Reisonderdeel verwijderd",
    service_changed: "Reisonderdeel gewijzigd",
    dated_value: "{date}, {what}",
    traveller_added: "Reiziger toegevoegd",
    traveller_removed: "Reiziger verwijderd",
    traveller_renamed: "Naam van reiziger gewijzigd",
    price: "Prijs",
    from_to: "{was} → {now}",
    documents: "Nieuwe versies van uw documenten: {documents}",
    list_separator: ", ",
    invoice: "Factuur",
    itinerary: "Reisschema",
    voucher: "Voucher",
    receipt: "Betalingsbewijs",

    reminder_subject: "{brand}: betaling binnenkort verschuldigd voor boeking {reference}",
    reminder_intro: "Deze betalingen voor uw boeking {reference} vervallen binnenkort:",
    reminder_body: "U kunt ze nu betalen, of toestemming geven voor automatische betaling met uw opgeslagen kaart, in \
het portaal.",
    reminder_button: "Betalen of toestemming geven",
    due_soon_subject: "{brand}: komende automatische betaling voor boeking {reference}",
    due_soon_intro: "Deze goedgekeurde termijnen van uw boeking {reference} worden op hun vervaldatum automatisch van \
uw opgeslagen kaart afgeschreven:",
    due_soon_body: "U hoeft niets te doen, tenzij u dit wilt wijzigen: dat kan in het portaal.",
    approval_subject: "{brand}: bekijk de termijnen van boeking {reference}",
    approval_intro: "Nieuwe termijnen van uw boeking {reference} wachten op uw goedkeuring:",
    approval_body: "Geef toestemming voor automatische betaling met uw opgeslagen kaart, of betaal elke termijn zelf \
wanneer die vervalt.",
    approval_button: "Termijnen bekijken",

    confirmed_subject: "{brand}: boeking {reference} bevestigd",
    confirmed_intro: "Goed nieuws: uw boeking {reference} is bevestigd.",
    confirmed_body: "Uw reisschema, documenten en betalingen vindt u in het portaal.",
    cancelled_subject: "{brand}: boeking {reference} geannuleerd",
    cancelled_intro: "Uw boeking {reference} is geannuleerd.",
    cancelled_body: "Als u recht hebt op een terugbetaling, regelen wij die: u ontvangt een aparte e-mail zodra het \
geld naar u wordt teruggestort.",

    updates_emails: "e-mails over wijzigingen in uw boeking",
    reminders_emails: "betalingsherinneringen",
    transactional_emails: "deze e-mails",
    why: "U ontvangt {emails} omdat u een van de reizigers van deze boeking bent.",
    why_transactional: "U ontvangt deze e-mail omdat u een van de reizigers van deze boeking bent.",
    one_click: "Afmelden met één klik: {url}",
    page_title: "Afmelden",
    page_ask: "Wilt u {emails} niet meer ontvangen?",
    page_still: "E-mails over betalingen en over de boeking zelf, zoals betalingsbewijzen, bevestigingen en \
annuleringen, blijft u ontvangen.",
    page_button: "Afmelden",
    done_title: "U bent afgemeld",
    done_body: "U ontvangt {emails} niet meer.",
};

static JA: Strings = Strings {
    greeting: "{name} 様",
    automatic: "このメールは自動送信されています。ご返信いただいても確認できませんのでご了承ください。ご予約に関する\
お問い合わせは、ポータルのご予約ページからメッセージでお送りください。",
    view_booking: "ご予約を見る",
    date_range: "{start}～{end}",
    travel_dates: "旅行日程",

    changed_subject: "{brand}：ご予約 {reference} が変更されました",
    changed_intro: "ご予約 {reference} に次の変更がありました。",
    documents_subject: "{brand}：ご予約 {reference} の新しい書類",
    documents_intro: "ご予約 {reference} の書類が更新されました。",
    digest_outro: "詳細はポータルでご確認いただけます。",
    dates_value: "{now}（変更前：{was}）",
    day_added: "日程の追加",
    day_removed: "日程の削除",
    day_changed: "日程の変更",
    service_added: "サービスの追加",
    service_removed: "サービスの削除",
    service_changed: "サービスの変更",
    dated_value: "{date}、{what}",
    traveller_added: "旅行者の追加",
    traveller_removed: "旅行者の削除",
    traveller_renamed: "旅行者名の変更",
    price: "料金",
    from_to: "{was} → {now}",
    documents: "更新された書類：{documents}",
    list_separator: "、",
    invoice: "請求書",
    itinerary: "旅程表",
    voucher: "バウチャー",
    receipt: "領収書",

    reminder_subject: "{brand}：ご予約 {reference} のお支払い期日が近づいています",
    reminder_intro: "ご予約 {reference} の次のお支払いの期日が近づいています。",
    reminder_body: "ポータルで今すぐお支払いいただくか、登録済みのカードによる自動支払いを承認してください。",
    reminder_button: "支払う・承認する",
    due_soon_subject: "{brand}：ご予約 {reference} の自動支払いのお知らせ",
    due_soon_intro: "ご予約 {reference} の承認済みの次の分割払いは、各期日に登録済みのカードから自動で引き落とされます。",
    due_soon_body: "変更をご希望の場合を除き、お手続きは不要です。変更はポータルで行えます。",
    approval_subject: "{brand}：ご予約 {reference} の分割払いをご確認ください",
    approval_intro: "ご予約 {reference} に、承認待ちの新しい分割払いがあります。",
    approval_body: "登録済みのカードによる自動支払いを承認いただくか、各期日にご自身でお支払いください。",
    approval_button: "分割払いを確認する",

    confirmed_subject: "{brand}：ご予約 {reference} が確定しました",
    confirmed_intro: "ご予約 {reference} が確定しました。",
    confirmed_body: "旅程、書類、お支払いはポータルでご確認いただけます。",
    cancelled_subject: "{brand}：ご予約 {reference} はキャンセルされました",
    cancelled_intro: "ご予約 {reference} はキャンセルされました。",
    cancelled_body: "返金がある場合は当社で手続きいたします。ご返金の際は、別途メールでお知らせします。",

    updates_emails: "ご予約の変更に関するメール",
    reminders_emails: "お支払いのリマインダーメール",
    transactional_emails: "このメール",
    why: "このご予約の旅行者として登録されているため、{emails}をお送りしています。",
    why_transactional: "このご予約の旅行者として登録されているため、このメールをお送りしています。",
    one_click: "ワンクリックで配信停止：{url}",
    page_title: "配信停止",
    page_ask: "{emails}の配信を停止しますか？",
    page_still: "お支払いやご予約そのものに関するメール（領収書、予約確定、キャンセルなど）は引き続きお届けします。",
    page_button: "配信を停止する",
    done_title: "配信を停止しました",
    done_body: "{emails}は今後お届けしません。",
};
