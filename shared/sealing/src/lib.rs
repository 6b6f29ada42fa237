//! Envelope encryption of the few values the portal must keep but never show (travel document numbers,
//! dates of birth, medical notes).
//!
//! [`Sealer::seal`] asks KMS for a fresh 256-bit data key (`GenerateDataKey`) under the details key, encrypts
//! the value with AES-256-GCM (ring), and keeps only the KMS-wrapped data key beside the ciphertext; the
//! plaintext key is dropped at once. [`Sealer::open`] has KMS unwrap the key (`Decrypt`), which only roles
//! the key policy and IAM allow, and every call is in CloudTrail.
//!
//! The value's owner ([`Context`]: booking, traveller, version) is bound twice: as the KMS encryption
//! context (a wrapped key copied to another traveller's item does not unwrap) and as the AEAD's associated
//! data (a ciphertext moved under another owner does not decrypt).

use std::collections::BTreeMap;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// A sealed value as stored: all base64, nothing readable without a KMS `Decrypt` of `wrapped_key`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The KMS key (ARN) that wrapped the data key.
    pub key_id: String,
    pub wrapped_key: String,
    pub nonce: String,
    pub ciphertext: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Whose value it is: KMS encryption context and associated data. Ordered, so both sides build the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context(BTreeMap<String, String>);

impl Context {
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Context {
        Context(pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn aad(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
            out.push(b'\n');
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// KMS did not answer (network, throttling): safe to retry.
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
    /// KMS refused (no permission, key disabled or scheduled for deletion, wrong context) or the ciphertext
    /// does not match its owner: the value cannot be read.
    #[error("cannot unseal: {0}")]
    Denied(String),
    #[error("sealing failed: {0}")]
    Internal(String),
}

#[derive(Clone, Debug)]
pub struct Sealer {
    kms: aws_sdk_kms::Client,
    key_id: String,
    rng: SystemRandom,
}

fn chain<E: std::error::Error>(e: &E) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// A KMS refusal (access, key state, wrong context, bad ciphertext) is [`SealError::Denied`]; no answer, a
/// throttle or KMS's own failure is [`SealError::Unavailable`] (retry).
fn kms_error<E, R>(e: aws_sdk_kms::error::SdkError<E, R>) -> SealError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let retryable = match e.as_service_error() {
        Some(s) => matches!(
            s.code(),
            Some(
                "ThrottlingException"
                    | "KMSInternalException"
                    | "DependencyTimeoutException"
                    | "LimitExceededException"
            )
        ),
        None => true,
    };
    let msg = chain(&e);
    if retryable { SealError::Unavailable(msg) } else { SealError::Denied(msg) }
}

impl Sealer {
    pub fn new(kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Sealer {
        Sealer { kms, key_id: key_id.into(), rng: SystemRandom::new() }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub async fn seal(&self, plaintext: &[u8], context: &Context) -> Result<Sealed, SealError> {
        let out = self
            .kms
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context.0.clone().into_iter().collect()))
            .send()
            .await
            .map_err(kms_error)?;
        let key = out.plaintext.ok_or_else(|| SealError::Internal("GenerateDataKey gave no plaintext".into()))?;
        let wrapped = out.ciphertext_blob.ok_or_else(|| SealError::Internal("GenerateDataKey gave no blob".into()))?;
        let key_id = out.key_id.unwrap_or_else(|| self.key_id.clone());
        let sealing = aead_key(key.as_ref())?;
        drop(key);
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Internal("no randomness".into()))?;
        let mut buf = plaintext.to_vec();
        sealing
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.aad()), &mut buf)
            .map_err(|_| SealError::Internal("AES-GCM seal".into()))?;
        Ok(Sealed {
            key_id,
            wrapped_key: B64.encode(wrapped.as_ref()),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(&buf),
        })
    }

    pub async fn open(&self, sealed: &Sealed, context: &Context) -> Result<Vec<u8>, SealError> {
        let corrupt = |what: &str| SealError::Denied(format!("{what} is not base64"));
        let wrapped = B64.decode(&sealed.wrapped_key).map_err(|_| corrupt("wrapped_key"))?;
        let nonce: [u8; NONCE_LEN] = B64
            .decode(&sealed.nonce)
            .map_err(|_| corrupt("nonce"))?
            .try_into()
            .map_err(|_| SealError::Denied("nonce length".into()))?;
        let mut buf = B64.decode(&sealed.ciphertext).map_err(|_| corrupt("ciphertext"))?;
        let out = self
            .kms
            .decrypt()
            .key_id(&sealed.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(context.0.clone().into_iter().collect()))
            .send()
            .await
            .map_err(kms_error)?;
        let key = out.plaintext.ok_or_else(|| SealError::Internal("Decrypt gave no plaintext".into()))?;
        let opening = aead_key(key.as_ref())?;
        drop(key);
        let n = opening
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(context.aad()), &mut buf)
            .map_err(|_| SealError::Denied("the ciphertext does not belong to this owner or was altered".into()))?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

fn aead_key(bytes: &[u8]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Internal("data key is not 256 bits".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_canonical_whatever_the_order() {
        let a = Context::new([("reference", "AE-1"), ("traveller", "t1")]);
        let b = Context::new([("traveller", "t1"), ("reference", "AE-1")]);
        assert_eq!(a.aad(), b.aad());
        assert_ne!(a.aad(), Context::new([("reference", "AE-1"), ("traveller", "t2")]).aad());
    }

    #[test]
    fn debug_never_prints_the_ciphertext() {
        let s = Sealed { key_id: "k".into(), wrapped_key: "W".into(), nonce: "N".into(), ciphertext: "SECRET".into() };
        assert!(!format!("{s:?}").contains("SECRET"));
    }
}
