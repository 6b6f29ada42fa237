//! The sensitive part of a traveller's details (document number, date of birth, medical notes) sealed under
//! the details KMS key ([`portal_sealing`]), bound to its owner: `{reference, traveller, version}` for a
//! booking's details and their versions, `{reference: profile:<brand>, traveller: <email hash>, version:
//! profile}` for a profile. A blob moved to another traveller, booking or version does not open.

use portal_details::TravellerDetails;
use portal_details::model::Sensitive;
use portal_http::ApiError;
use portal_sealing::{Context, SealError, Sealed, Sealer};
use portal_store::details::DetailsItem;

#[derive(Clone)]
pub struct Vault {
    sealer: Sealer,
}

pub fn details_context(reference: &str, traveller_id: &str, version: u32) -> Context {
    let v = version.to_string();
    Context::new([("reference", reference), ("traveller", traveller_id), ("version", v.as_str())])
}

pub fn profile_context(brand: &str, profile_pk: &str) -> Context {
    let r = format!("profile:{brand}");
    Context::new([("reference", r.as_str()), ("traveller", profile_pk), ("version", "profile")])
}

fn seal_error(e: SealError) -> ApiError {
    match e {
        SealError::Unavailable(m) => ApiError::Unavailable(format!("KMS: {m}")),
        other => ApiError::internal(format!("sealing traveller details: {other}")),
    }
}

impl Vault {
    pub fn new(sealer: Sealer) -> Vault {
        Vault { sealer }
    }

    /// `None` when there is nothing sensitive to keep.
    pub async fn seal(&self, s: &Sensitive, context: &Context) -> Result<Option<String>, ApiError> {
        if s.is_empty() {
            return Ok(None);
        }
        let bytes = serde_json::to_vec(s).map_err(|e| ApiError::internal(format!("sensitive part: {e}")))?;
        let sealed = self.sealer.seal(&bytes, context).await.map_err(seal_error)?;
        serde_json::to_string(&sealed).map(Some).map_err(|e| ApiError::internal(format!("sealed part: {e}")))
    }

    pub async fn open(&self, sealed: Option<&str>, context: &Context) -> Result<Sensitive, ApiError> {
        let Some(text) = sealed else { return Ok(Sensitive::default()) };
        let sealed: Sealed =
            serde_json::from_str(text).map_err(|e| ApiError::internal(format!("stored sealed part: {e}")))?;
        let bytes = self.sealer.open(&sealed, context).await.map_err(seal_error)?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(format!("opened sensitive part: {e}")))
    }

    /// The whole details of a stored item.
    pub async fn details(&self, reference: &str, item: &DetailsItem) -> Result<TravellerDetails, ApiError> {
        let plain = plain(&item.plain)?;
        let sensitive =
            self.open(item.sealed.as_deref(), &details_context(reference, &item.traveller_id, item.version)).await?;
        Ok(TravellerDetails::join(plain, sensitive))
    }
}

pub fn plain(text: &str) -> Result<TravellerDetails, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::internal(format!("stored details: {e}")))
}
