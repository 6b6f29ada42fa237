//! Secrets read at cold start from Secrets Manager (moto): the values Terraform points a function at by
//! `<NAME>_SECRET_ARN` become its config, and a missing or empty secret stops the start with a named error.

use portal_secrets::{SecretError, read, wanted};
use portal_tests::env::TestEnv;

#[tokio::test]
async fn secrets_named_by_arn_are_read_and_missing_ones_stop_the_start() {
    let env = TestEnv::new().await;
    let client = aws_sdk_secretsmanager::Client::new(&env.sdk);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let mut arns = Vec::new();
    for (name, value) in
        [("session-keys", "k1:c2Vzc2lvbi1rZXktb2YtYXQtbGVhc3QtMzItYnl0ZXMhIQ"), ("stripe", "sk_test_1")]
    {
        let out = client.create_secret().name(format!("{name}-{suffix}")).secret_string(value).send().await.unwrap();
        arns.push(out.arn.unwrap());
    }
    // A rotation puts a new current version: the next cold start reads it.
    client.put_secret_value().secret_id(&arns[1]).secret_string("sk_test_2").send().await.unwrap();

    let vars = vec![
        ("SESSION_KEYS_SECRET_ARN".to_string(), arns[0].clone()),
        ("STRIPE_SECRET_KEY_SECRET_ARN".to_string(), arns[1].clone()),
        ("TABLE_NAME".to_string(), "portal".to_string()),
    ];
    let want = wanted(vars).unwrap();
    let values = read(&client, &want).await.unwrap();
    assert_eq!(values.len(), 2);
    assert!(values["SESSION_KEYS"].starts_with("k1:"));
    assert_eq!(values["STRIPE_SECRET_KEY"], "sk_test_2");

    // The installed values are what the config readers see (the session config parses them).
    portal_http::config::install_secrets(values);
    assert_eq!(portal_http::config::required("STRIPE_SECRET_KEY").unwrap(), "sk_test_2");
    assert!(portal_http::session::SessionConfig::from_env().is_ok());

    // A secret that does not exist: the error names the variable, never a value.
    let gone = arns[0].replace(&suffix, "deleted");
    let err = read(&client, &[("SESSION_KEYS".into(), gone)]).await.unwrap_err();
    assert!(matches!(&err, SecretError::Read { variable, .. } if variable == "SESSION_KEYS_SECRET_ARN"), "{err}");
    assert!(!err.to_string().contains("c2Vzc2lvbi"));
}
