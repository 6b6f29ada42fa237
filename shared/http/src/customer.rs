//! The check every customer route makes before it reads or changes a booking, in one place:
//!
//! 1. a valid session token (cookie or bearer; see [`crate::session`]),
//! 2. the booking is in the session's scope ([`authorise_booking`]: another booking answers exactly like a
//!    missing one, 404, before anything is read),
//! 3. the booking exists and the session's item is still in its collection (logout and operator revocation
//!    delete it), both from the one `Query` that loads the booking;
//! 4. the role comes from the booking as it is now, not from the token: the traveller must still be on it with
//!    the email they signed in with (else the session has ended), and `is_lead` and `email` are taken from the
//!    current booking (an operator who moves the lead demotes the old lead at once).
//!
//! The route then answers with [`refreshed_cookie`] so the inactivity timeout slides.

use lambda_http::Request;
use portal_domain::ids::BookingReference;
use portal_store::{BookingCollection, Store};

use crate::ApiError;
use crate::session::{Session, SessionConfig, authorise_booking, not_found_booking};

/// The session ended (logout, revocation) though its token is still well-formed and unexpired.
pub fn session_ended() -> ApiError {
    ApiError::unauthorized("the session has ended (signed out or revoked); sign in again")
}

/// Verify the caller's session and load `reference` if, and only if, that session may see it.
pub async fn authorised_booking(
    store: &Store,
    sessions: &SessionConfig,
    req: &Request,
    reference: &BookingReference,
    now: i64,
) -> Result<(Session, BookingCollection), ApiError> {
    let mut session = sessions.from_request(req, now)?;
    authorise_booking(&session, reference)?;
    let collection = store.load_booking(reference.as_str()).await?.ok_or_else(not_found_booking)?;
    if !collection.has_session(&session.sid) {
        return Err(session_ended());
    }
    current_role(&mut session, &collection.booking)?;
    Ok((session, collection))
}

/// Take the session's role and email from the booking as it is now. The traveller gone, or their email
/// changed since sign-in: the session has ended (the operator upsert also deletes such sessions).
pub fn current_role(session: &mut Session, booking: &portal_domain::booking::Booking) -> Result<(), ApiError> {
    let traveller = booking.traveller(&session.traveller_id).ok_or_else(session_ended)?;
    let same_email = match &traveller.email {
        Some(e) => session.email.is_empty() || e.eq_ignore_ascii_case(&session.email),
        None => session.email.is_empty(),
    };
    if !same_email {
        return Err(session_ended());
    }
    session.is_lead = traveller.id == booking.lead_traveller_id;
    session.email = traveller.email.clone().unwrap_or_default();
    Ok(())
}

/// A `Set-Cookie` value with a freshly signed token (sliding inactivity timeout), or `None` once the
/// absolute lifetime leaves nothing to extend.
pub fn refreshed_cookie(sessions: &SessionConfig, session: &Session, now: i64) -> Option<String> {
    sessions.issue(session, now).ok().map(|t| sessions.cookie(&t))
}
