//! The check every customer route makes before it reads or changes a booking, in one place:
//!
//! 1. a valid session token (cookie or bearer; see [`crate::session`]),
//! 2. the booking is in the session's scope ([`authorise_booking`]: another booking answers exactly like a
//!    missing one, 404, before anything is read),
//! 3. the booking exists and the session's item is still in its collection (logout and operator revocation
//!    delete it), both from the one `Query` that loads the booking.
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
    let session = sessions.from_request(req, now)?;
    authorise_booking(&session, reference)?;
    let collection = store.load_booking(reference.as_str()).await?.ok_or_else(not_found_booking)?;
    if !collection.session_ids.iter().any(|s| s == &session.sid) {
        return Err(session_ended());
    }
    Ok((session, collection))
}

/// A `Set-Cookie` value with a freshly signed token (sliding inactivity timeout), or `None` once the
/// absolute lifetime leaves nothing to extend.
pub fn refreshed_cookie(sessions: &SessionConfig, session: &Session, now: i64) -> Option<String> {
    sessions.issue(session, now).ok().map(|t| sessions.cookie(&t))
}
