//! One accepted change to a traveller's details, as the store commits it: the new current item (conditional
//! on the version the editor read), the version (who, when, what changed, the sealed snapshot) and the
//! operator's event, in one transaction; and erasure, which keeps nothing sensitive anywhere.

use chrono::{DateTime, Days, NaiveDate, Utc};
use portal_details::TravellerDetails;
use portal_details::events::{ErasureRef, EventActor, EventType, TravellerEvent};
use portal_details::history;
use portal_domain::booking::Booking;
use portal_http::ApiError;
use portal_store::details::{
    Actor, DetailsChange, DetailsItem, DetailsVersionItem, ENTITY_DETAILS, ENTITY_DETAILS_VERSION, ENTITY_PROFILE,
    ENTITY_TRAVELLER_EVENT, ERASE_GSI2PK, ErasureRequest, ProfileItem, TRAVELLER_EVENTS_GSI3PK, TravellerEventItem,
    details_sk, erase_gsi2sk, event_gsi3sk, event_pk, history_pk, profile_pk, profile_sk, version_sk,
};
use portal_store::{Store, StoreError};

use crate::vault::{Vault, details_context, profile_context};

/// The operator's feed keeps an event this long.
pub const EVENT_TTL_DAYS: i64 = 90;

/// The day after which the details are erased: the end of travel plus the operator's retention.
pub fn erase_after(booking: &Booking, retention_days: u32) -> NaiveDate {
    booking.travel_end.checked_add_days(Days::new(u64::from(retention_days))).unwrap_or(NaiveDate::MAX)
}

pub fn event_item(reference: &str, event: &TravellerEvent, at: DateTime<Utc>) -> Result<TravellerEventItem, ApiError> {
    Ok(TravellerEventItem {
        pk: event_pk(reference),
        sk: format!("EVT#{}", event.event_id),
        entity: ENTITY_TRAVELLER_EVENT.into(),
        event: serde_json::to_string(event).map_err(|e| ApiError::internal(format!("event: {e}")))?,
        recorded_at: at,
        gsi3pk: TRAVELLER_EVENTS_GSI3PK.into(),
        gsi3sk: event_gsi3sk(at, &event.event_id),
        expires_at: (at + chrono::Duration::days(EVENT_TTL_DAYS)).timestamp(),
    })
}

fn event_actor(a: &Actor) -> EventActor {
    EventActor { role: a.role.clone(), id: a.id.clone() }
}

pub fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::precondition_failed(
            "someone saved this traveller's details after you read them: reload, check, and save again",
        ),
        other => other.into(),
    }
}

/// What a save or restore needs besides the new details.
pub struct Save<'a> {
    pub booking: &'a Booking,
    pub retention_days: u32,
    pub traveller_id: &'a str,
    pub before: Option<(&'a DetailsItem, &'a TravellerDetails)>,
    pub actor: Actor,
    pub restored_from: Option<u32>,
    /// The traveller saving their own details refreshes their profile under this verified email.
    pub profile_email: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Seal, version and commit `after`. Nothing changed: the current item as it is (no new version, no event).
pub async fn save(
    store: &Store,
    vault: &Vault,
    s: Save<'_>,
    after: &TravellerDetails,
) -> Result<(DetailsItem, bool), ApiError> {
    let reference = s.booking.reference.as_str();
    if let Some((item, before)) = s.before
        && *before == *after
        && s.restored_from.is_none()
    {
        return Ok((item.clone(), false));
    }
    let version = s.before.map_or(0, |(i, _)| i.version) + 1;
    let (plain, sensitive) = after.split();
    let sealed = vault.seal(&sensitive, &details_context(reference, s.traveller_id, version)).await?;
    let plain = serde_json::to_string(&plain).map_err(|e| ApiError::internal(format!("details: {e}")))?;
    let changes = history::changes(s.before.map(|(_, d)| d), after);
    let changed_fields: Vec<String> = changes.iter().map(|c| c.field.to_string()).collect();
    let changes = serde_json::to_string(&changes).map_err(|e| ApiError::internal(format!("changes: {e}")))?;
    let erase = erase_after(s.booking, s.retention_days);
    let current = DetailsItem {
        pk: portal_store::keys::booking_pk(reference),
        sk: details_sk(s.traveller_id),
        entity: ENTITY_DETAILS.into(),
        traveller_id: s.traveller_id.into(),
        version,
        plain: plain.clone(),
        sealed: sealed.clone(),
        present: sensitive.present(),
        updated_at: s.now,
        updated_by: s.actor.clone(),
        erasure_request: s.before.and_then(|(i, _)| i.erasure_request.clone()),
        erased_at: None,
        gsi2pk: Some(ERASE_GSI2PK.into()),
        gsi2sk: Some(erase_gsi2sk(erase, reference, s.traveller_id)),
    };
    let version_item = DetailsVersionItem {
        pk: history_pk(reference),
        sk: version_sk(s.traveller_id, version),
        entity: ENTITY_DETAILS_VERSION.into(),
        traveller_id: s.traveller_id.into(),
        version,
        at: s.now,
        actor: s.actor.clone(),
        changes,
        restored_from: s.restored_from,
        plain: plain.clone(),
        sealed,
    };
    let kind = if s.restored_from.is_some() { EventType::Restored } else { EventType::Changed };
    let mut event = TravellerEvent::new(
        uuid::Uuid::now_v7().to_string(),
        kind,
        s.now,
        reference,
        &s.booking.brand,
        s.traveller_id,
        version,
        event_actor(&s.actor),
    );
    event.changed_fields = changed_fields;
    event.restored_from = s.restored_from;
    let profile = match s.profile_email {
        Some(email) => {
            let pk = profile_pk(email);
            let sealed = vault.seal(&sensitive, &profile_context(&s.booking.brand, &pk)).await?;
            let expires = erase.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc().timestamp();
            Some(ProfileItem {
                pk,
                sk: profile_sk(&s.booking.brand),
                entity: ENTITY_PROFILE.into(),
                from_reference: reference.into(),
                from_traveller: s.traveller_id.into(),
                saved_at: s.now,
                plain,
                sealed,
                expires_at: expires,
            })
        }
        None => None,
    };
    let change = DetailsChange {
        current: current.clone(),
        expected_version: s.before.map(|(i, _)| i.version),
        version: Some(version_item),
        event: event_item(reference, &event, s.now)?,
        profile,
    };
    store.write_details_change(&change).await.map_err(conflict)?;
    tracing::info!(reference, traveller = s.traveller_id, version, by = %s.actor.role, "traveller details saved");
    Ok((current, true))
}

/// Record an erasure request's new state on the details item (no new version of the details).
#[allow(clippy::too_many_arguments)]
pub async fn record_erasure_request(
    store: &Store,
    booking: &Booking,
    traveller_id: &str,
    existing: Option<&DetailsItem>,
    request: ErasureRequest,
    actor: Actor,
    event_type: EventType,
    now: DateTime<Utc>,
) -> Result<DetailsItem, ApiError> {
    let reference = booking.reference.as_str();
    let current = match existing {
        Some(i) => DetailsItem { erasure_request: Some(request.clone()), ..i.clone() },
        None => DetailsItem {
            pk: portal_store::keys::booking_pk(reference),
            sk: details_sk(traveller_id),
            entity: ENTITY_DETAILS.into(),
            traveller_id: traveller_id.into(),
            version: 0,
            plain: serde_json::to_string(&TravellerDetails::default()).unwrap_or_else(|_| "{}".into()),
            sealed: None,
            present: Vec::new(),
            updated_at: now,
            updated_by: actor.clone(),
            erasure_request: Some(request.clone()),
            erased_at: None,
            gsi2pk: None,
            gsi2sk: None,
        },
    };
    let mut event = TravellerEvent::new(
        uuid::Uuid::now_v7().to_string(),
        event_type,
        now,
        reference,
        &booking.brand,
        traveller_id,
        current.version,
        event_actor(&actor),
    );
    event.erasure_request = Some(ErasureRef {
        request_id: request.request_id.clone(),
        status: request.status.clone(),
        note: request.note.clone(),
    });
    let change = DetailsChange {
        current: current.clone(),
        expected_version: existing.map(|i| i.version),
        version: None,
        event: event_item(reference, &event, now)?,
        profile: None,
    };
    store.write_details_change(&change).await.map_err(conflict)?;
    Ok(current)
}

/// Erase a traveller's details: the current item keeps only its version, the erasure and any erasure
/// request; one erasure version (no values, no snapshot) and an event are recorded in the same
/// transaction; then every earlier version (and its sealed snapshot) is deleted.
pub async fn erase(
    store: &Store,
    booking: &Booking,
    item: &DetailsItem,
    actor: Actor,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<DetailsItem, ApiError> {
    let reference = booking.reference.as_str();
    let version = item.version + 1;
    let mut erased_fields: Vec<String> = Vec::new();
    if let Ok(plain) = crate::vault::plain(&item.plain) {
        let probe = TravellerDetails::with_presence(plain, &item.present);
        erased_fields = history::changes(Some(&probe), &TravellerDetails::default())
            .into_iter()
            .map(|c| c.field.to_string())
            .collect();
    }
    for p in &item.present {
        if !erased_fields.contains(p) {
            erased_fields.push(p.clone());
        }
    }
    let empty = serde_json::to_string(&TravellerDetails::default()).unwrap_or_else(|_| "{}".into());
    let current = DetailsItem {
        version,
        plain: empty.clone(),
        sealed: None,
        present: Vec::new(),
        updated_at: now,
        updated_by: actor.clone(),
        erased_at: Some(now),
        gsi2pk: None,
        gsi2sk: None,
        ..item.clone()
    };
    let changes: Vec<serde_json::Value> = erased_fields
        .iter()
        .map(|f| serde_json::json!({"field": f, "sensitive": history::is_sensitive(f), "before": null, "after": null, "erased": true}))
        .collect();
    let version_item = DetailsVersionItem {
        pk: history_pk(reference),
        sk: version_sk(&item.traveller_id, version),
        entity: ENTITY_DETAILS_VERSION.into(),
        traveller_id: item.traveller_id.clone(),
        version,
        at: now,
        actor: actor.clone(),
        changes: serde_json::Value::Array(changes).to_string(),
        restored_from: None,
        plain: empty,
        sealed: None,
    };
    let mut event = TravellerEvent::new(
        uuid::Uuid::now_v7().to_string(),
        EventType::Erased,
        now,
        reference,
        &booking.brand,
        &item.traveller_id,
        version,
        event_actor(&actor),
    );
    event.changed_fields = erased_fields;
    event.reason = Some(reason.into());
    let change = DetailsChange {
        current: current.clone(),
        expected_version: Some(item.version),
        version: Some(version_item),
        event: event_item(reference, &event, now)?,
        profile: None,
    };
    store.write_details_change(&change).await.map_err(conflict)?;
    let deleted = store.delete_details_versions(reference, &item.traveller_id, version).await?;
    // The traveller's profile goes too when it came from this booking (a later booking's save keeps it).
    if let Some(email) = booking.traveller(&item.traveller_id).and_then(|t| t.email.as_deref())
        && let Some(p) = store.profile_item(email, &booking.brand).await?
        && p.from_reference == reference
    {
        store.delete_profile(email, &booking.brand).await?;
    }
    tracing::info!(reference, traveller = %item.traveller_id, version, deleted, reason, "traveller details erased");
    Ok(current)
}
