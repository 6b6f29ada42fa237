//! Envelope encryption against moto's KMS: what the traveller-details store will keep for passport numbers,
//! dates of birth and medical notes. The stored form holds no plaintext; only its owner's context opens it;
//! another KMS key opens nothing.

use portal_sealing::{Context, SealError, Sealer};
use portal_tests::env::TestEnv;

#[tokio::test]
async fn sealed_values_open_only_for_their_owner_and_only_while_the_key_is_enabled() {
    let env = TestEnv::new().await;
    let kms = aws_sdk_kms::Client::new(&env.sdk);
    let key = kms.create_key().description("traveller details (test)").send().await.unwrap();
    let meta = key.key_metadata.unwrap();
    let key_id = meta.arn.unwrap();
    let sealer = Sealer::new(kms.clone(), &key_id);

    let owner = Context::new([("reference", "AE-20001"), ("traveller", "t1"), ("version", "3")]);
    let secret = br#"{"document_number":"X1234567","date_of_birth":"1984-03-09"}"#;
    let sealed = sealer.seal(secret, &owner).await.unwrap();

    // What is stored names the key and nothing else readable.
    let stored = serde_json::to_string(&sealed).unwrap();
    assert!(!stored.contains("X1234567") && !stored.contains("1984"), "{stored}");
    assert_eq!(sealed.key_id, key_id);

    // Its owner opens it; two seals of the same value differ (fresh data key and nonce each time).
    assert_eq!(sealer.open(&sealed, &owner).await.unwrap(), secret);
    let again = sealer.seal(secret, &owner).await.unwrap();
    assert_ne!(again.ciphertext, sealed.ciphertext);
    assert_ne!(again.wrapped_key, sealed.wrapped_key);

    // Another traveller's (or version's) context opens nothing: the wrapped key or the AEAD refuses.
    let other = Context::new([("reference", "AE-20001"), ("traveller", "t2"), ("version", "3")]);
    assert!(matches!(sealer.open(&sealed, &other).await, Err(SealError::Denied(_))));

    // A ciphertext moved under another owner's wrapped key does not decrypt either.
    let theirs = sealer.seal(b"{}", &other).await.unwrap();
    let spliced = portal_sealing::Sealed { ciphertext: sealed.ciphertext.clone(), ..theirs };
    assert!(matches!(sealer.open(&spliced, &other).await, Err(SealError::Denied(_))));

    // Another KMS key cannot unwrap it: the data key is bound to the key that wrapped it.
    let other_key = kms.create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    let misdirected = portal_sealing::Sealed { key_id: other_key, ..sealed.clone() };
    assert!(matches!(sealer.open(&misdirected, &owner).await, Err(SealError::Denied(_))));
    // Not provable here: a disabled key. moto's Decrypt ignores the key's state (measured: it still opens);
    // real KMS answers DisabledException, which `open` maps to Denied like every other service refusal.
    let _ = meta;
}
