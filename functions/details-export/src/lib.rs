//! `GET /bookings/{reference}/traveller-details/{traveller_id}/export` (customer): everything the portal holds
//! about one traveller on one booking (identity, the details with the document number masked, consents with
//! their wording, every version's changes, any erasure request), as JSON, or as a readable PDF with
//! `?format=pdf` or `Accept: application/pdf`. The same reach as the details routes (the lead: the party;
//! anyone else: themself).
//!
//! A function of its own: the PDF writer and its fonts would double the `traveller-details` function's
//! package and memory for a route used rarely.

mod export;

use std::convert::Infallible;

use lambda_http::{Body, Request, Response};
use portal_http::config::{self, ConfigError};
use portal_http::{ApiError, header, respond};
use traveller_details::customer;

pub struct State {
    pub details: traveller_details::State,
    /// Brand names and colours for the PDF (the same `BRANDS_JSON` as the emails).
    pub brands: portal_mail::Brands,
    /// Where the CJK fallback font lives (the documents bucket), for exports that need it.
    pub fonts: Option<(aws_sdk_s3::Client, String)>,
}

impl State {
    /// What `traveller-details` reads, plus optional `DOCUMENTS_BUCKET` (the CJK fallback font).
    pub async fn from_env() -> Result<State, ConfigError> {
        let details = traveller_details::State::from_env().await?;
        let brands = portal_mail::Brands::parse(config::optional("BRANDS_JSON").as_deref(), "noreply@portal.invalid")
            .map_err(|e| ConfigError { variable: "BRANDS_JSON", problem: e.to_string() })?;
        let sdk = portal_store::aws::sdk_config().await;
        let fonts = config::optional("DOCUMENTS_BUCKET").map(|b| (aws_sdk_s3::Client::new(&sdk), b));
        Ok(State { details, brands, fonts })
    }
}

pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, Infallible> {
    respond(route(state, req)).await
}

async fn route(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let ["bookings", raw, "traveller-details", id, "export"] = segs.as_slice() else {
        return Err(ApiError::not_found("no such route"));
    };
    if req.method() != http::Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let d = &state.details;
    let s = Box::pin(customer::signed(d, &req, raw)).await?;
    let t = s.reach(id)?;
    let item = s.item(id);
    let details = Box::pin(customer::current(d, &s, t, item.as_ref())).await?;
    let versions = d.store.details_versions(s.c.booking.reference.as_str(), id).await?;
    let data = export::Data {
        booking: &s.c.booking,
        traveller: t,
        item: item.as_ref(),
        details: &details,
        versions: &versions,
        now: s.now,
    };
    let wants_pdf = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "format=pdf"))
        || header(&req, "accept").is_some_and(|a| a.contains("application/pdf"));
    tracing::info!(reference = %s.c.booking.reference, traveller = id, pdf = wants_pdf, "traveller data exported");
    let r = if wants_pdf { Box::pin(export::pdf(state, &data, s.locale)).await? } else { export::json(&data)? };
    Ok(s.respond(d, r))
}
