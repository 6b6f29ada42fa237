//! The wording a marketing opt-in is given against. The server, not the browser, decides which text was
//! shown (the page renders the same text from the details answer), so the consent record cannot be forged
//! with a friendlier sentence. A new wording gets a new id; consents given to an old one keep its text.

use crate::model::Consent;
use chrono::{DateTime, Utc};
use portal_domain::locale::Locale;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    MarketingEmail,
    Sms,
}

pub const MARKETING_EMAIL_V1: &str = "marketing_email.v1";
pub const SMS_V1: &str = "sms.v1";

/// The id and text of the current wording for `channel` in `locale`.
pub fn wording(channel: Channel, locale: Locale) -> (&'static str, &'static str) {
    use Locale::*;
    let text = match (channel, locale) {
        (Channel::MarketingEmail, DeDe) => {
            "Ja, ich möchte E-Mails mit Reiseangeboten und Neuigkeiten erhalten. Ich kann mich jederzeit abmelden."
        }
        (Channel::MarketingEmail, FrFr) => {
            "Oui, je souhaite recevoir par e-mail des offres de voyage et des nouvelles. Je peux me désabonner à tout moment."
        }
        (Channel::MarketingEmail, NlNl) => {
            "Ja, ik wil e-mails ontvangen met reisaanbiedingen en nieuws. Ik kan me altijd afmelden."
        }
        (Channel::MarketingEmail, JaJp) => "旅行のご案内やお知らせをメールで受け取ります。配信はいつでも停止できます。",
        (Channel::MarketingEmail, EnUs) => {
            "Yes, send me emails with travel offers and news. I can unsubscribe at any time."
        }
        (Channel::MarketingEmail, _) => {
            "Yes, send me emails with travel offers and news. I can unsubscribe at any time."
        }
        (Channel::Sms, DeDe) => "Ja, ich möchte Reiseangebote per SMS erhalten. Ich kann mich jederzeit abmelden.",
        (Channel::Sms, FrFr) => {
            "Oui, je souhaite recevoir des offres de voyage par SMS. Je peux me désabonner à tout moment."
        }
        (Channel::Sms, NlNl) => "Ja, ik wil reisaanbiedingen per sms ontvangen. Ik kan me altijd afmelden.",
        (Channel::Sms, JaJp) => "旅行のご案内をSMSで受け取ります。配信はいつでも停止できます。",
        (Channel::Sms, _) => "Yes, send me travel offers by text message. I can unsubscribe at any time.",
    };
    let id = match channel {
        Channel::MarketingEmail => MARKETING_EMAIL_V1,
        Channel::Sms => SMS_V1,
    };
    (id, text)
}

/// The consent after the form said `opted_in`: an existing consent is kept as it was given (its time and
/// wording do not move on every save); a new opt-in is recorded at `now`; an opt-out removes it.
pub fn update(
    existing: Option<&Consent>,
    opted_in: bool,
    channel: Channel,
    locale: Locale,
    now: DateTime<Utc>,
) -> Option<Consent> {
    match (opted_in, existing) {
        (false, _) => None,
        (true, Some(c)) => Some(c.clone()),
        (true, None) => {
            let (id, text) = wording(channel, locale);
            Some(Consent { given_at: now, wording_id: id.into(), wording: text.into(), locale: locale.tag().into() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_opt_in_records_time_and_wording_once_and_an_opt_out_removes_it() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        let c = update(None, true, Channel::MarketingEmail, Locale::DeDe, t0).unwrap();
        assert_eq!((c.given_at, c.wording_id.as_str(), c.locale.as_str()), (t0, MARKETING_EMAIL_V1, "de-DE"));
        assert!(c.wording.starts_with("Ja,"));
        assert_eq!(update(Some(&c), true, Channel::MarketingEmail, Locale::EnGb, t1), Some(c.clone()));
        assert_eq!(update(Some(&c), false, Channel::MarketingEmail, Locale::DeDe, t1), None);
        assert_eq!(update(None, true, Channel::Sms, Locale::JaJp, t1).unwrap().locale, "ja-JP");
    }
}
