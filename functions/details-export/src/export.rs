//! "Download my data": everything held about one traveller on one booking, as JSON or as a readable PDF
//! (drawn by portal-documents, never stored). The document number stays masked here as everywhere on the
//! customer's side; consents carry their time and wording.

use chrono::{DateTime, Utc};
use lambda_http::{Body, Response};
use portal_details::{TravellerDetails, view};
use portal_domain::booking::{Booking, Traveller};
use portal_domain::locale::{Locale, format_date};
use portal_http::ApiError;
use portal_store::details::{DetailsItem, DetailsVersionItem};
use serde_json::{Value, json};

use crate::State;
use traveller_details::customer::history_entry;

pub struct Data<'a> {
    pub booking: &'a Booking,
    pub traveller: &'a Traveller,
    pub item: Option<&'a DetailsItem>,
    pub details: &'a TravellerDetails,
    pub versions: &'a [DetailsVersionItem],
    pub now: DateTime<Utc>,
}

fn document(d: &Data<'_>) -> Value {
    let mut details = view::customer(d.details);
    details["preferences"] = serde_json::to_value(&d.details.preferences).unwrap_or_default();
    json!({
        "exported_at": d.now,
        "booking": {
            "reference": d.booking.reference.as_str(), "brand": d.booking.brand,
            "travel_start": d.booking.travel_start, "travel_end": d.booking.travel_end,
        },
        "traveller": {
            "traveller_id": d.traveller.id, "first_name": d.traveller.first_name,
            "last_name": d.traveller.last_name, "email": d.traveller.email,
            "is_lead": d.traveller.id == d.booking.lead_traveller_id,
        },
        "details": details,
        "details_version": d.item.map_or(0, |i| i.version),
        "erased_at": d.item.and_then(|i| i.erased_at),
        "erasure_request": d.item.and_then(|i| i.erasure_request.as_ref()),
        "history": d.versions.iter().rev().map(history_entry).collect::<Vec<_>>(),
        "note": "The travel document number is shown masked. Dates of birth, document numbers and medical notes \
                 are stored encrypted. Ask the operator for anything held in its own systems (e.g. invoices).",
    })
}

pub(crate) fn json(d: &Data<'_>) -> Result<Response<Body>, ApiError> {
    let mut r = portal_http::json(200, &document(d))?;
    let name = format!("attachment; filename=\"{}-{}-data.json\"", d.booking.reference.as_str(), d.traveller.id);
    if let Ok(v) = name.parse() {
        r.headers_mut().insert("content-disposition", v);
    }
    Ok(r)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) if s.is_empty() => "none".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{}: {}", k.replace('_', " "), text(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

pub(crate) async fn pdf(state: &State, d: &Data<'_>, locale: Locale) -> Result<Response<Body>, ApiError> {
    let doc = document(d);
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    sections.push((
        "Booking".into(),
        vec![
            ("Reference".into(), d.booking.reference.as_str().into()),
            (
                "Travel".into(),
                format!(
                    "{} – {}",
                    format_date(d.booking.travel_start, locale),
                    format_date(d.booking.travel_end, locale)
                ),
            ),
            ("Traveller".into(), format!("{} {}", d.traveller.first_name, d.traveller.last_name)),
            ("Email".into(), d.traveller.email.clone().unwrap_or_else(|| "—".into())),
        ],
    ));
    let mut rows = Vec::new();
    if let Some(obj) = doc["details"].as_object() {
        for (k, v) in obj {
            rows.push((k.replace('_', " "), text(v)));
        }
    }
    sections.push(("Traveller details".into(), rows));
    let history: Vec<(String, String)> = d
        .versions
        .iter()
        .rev()
        .map(|v| {
            let fields: Vec<String> = serde_json::from_str::<Vec<Value>>(&v.changes)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c["field"].as_str().map(str::to_string))
                .collect();
            (
                format!("Version {} ({})", v.version, v.actor.role),
                format!("{}: {}", v.at.format("%Y-%m-%d %H:%M UTC"), fields.join(", ")),
            )
        })
        .collect();
    if !history.is_empty() {
        sections.push(("Changes".into(), history));
    }
    if let Some(r) = d.item.and_then(|i| i.erasure_request.as_ref()) {
        sections.push((
            "Erasure request".into(),
            vec![
                ("Status".into(), r.status.clone()),
                ("Requested".into(), r.requested_at.format("%Y-%m-%d").to_string()),
            ],
        ));
    }
    let b = state.brands.get(&d.booking.brand);
    let brand = portal_documents::Brand {
        name: b.name.clone(),
        primary_colour: b.primary_colour.clone(),
        operator_lines: Vec::new(),
        logo: None,
    };
    let title = "Your personal data";
    let intro = "Everything this portal holds about you on this booking. The travel document number is shown \
                 masked; dates of birth, document numbers and medical notes are stored encrypted.";
    let reference = d.booking.reference.as_str();
    let report = |fallback| portal_documents::Report {
        title,
        reference,
        brand: &brand,
        intro,
        sections: &sections,
        fallback_font: fallback,
    };
    let bytes = match portal_documents::render_report(&report(None)) {
        Ok(b) => b,
        Err(portal_documents::RenderError::FallbackFontNeeded) => {
            let font = fallback_font(state).await?;
            portal_documents::render_report(&report(Some(&font)))
                .map_err(|e| ApiError::internal(format!("export PDF: {e}")))?
        }
        Err(e) => return Err(ApiError::internal(format!("export PDF: {e}"))),
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/pdf")
        .header("cache-control", "no-store")
        .header("content-disposition", format!("attachment; filename=\"{reference}-{}-data.pdf\"", d.traveller.id))
        .body(Body::Binary(bytes))
        .map_err(|e| ApiError::internal(format!("building response: {e}")))
}

async fn fallback_font(state: &State) -> Result<portal_documents::FallbackFont, ApiError> {
    let Some((s3, bucket)) = &state.fonts else {
        return Err(ApiError::Unavailable("the export needs the CJK font and DOCUMENTS_BUCKET is not set".into()));
    };
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(portal_documents::FALLBACK_FONT_KEY)
        .send()
        .await
        .map_err(|e| ApiError::Unavailable(format!("fallback font: {e}")))?;
    let bytes = out.body.collect().await.map_err(|e| ApiError::Unavailable(format!("fallback font: {e}")))?;
    portal_documents::FallbackFont::new(bytes.into_bytes().to_vec())
        .map_err(|e| ApiError::internal(format!("fallback font: {e}")))
}
