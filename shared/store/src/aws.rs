//! SDK configuration (built once per container) and an interceptor that counts AWS calls by operation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The Amazon Trust Services root CAs: every AWS service endpoint's certificate chains to one of them.
const AMAZON_TRUST_ROOTS: &[u8] = include_bytes!("amazon-trust-roots.pem");

/// The shared SDK configuration, from the environment: `AWS_REGION` (or `AWS_DEFAULT_REGION`), the
/// credentials in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL`
/// when pointed at a local emulator. Lambda always sets the first two for the function's role.
///
/// Cold start and binary size are most of a Lambda's performance budget, so this avoids the SDK's costly
/// defaults (see docs/performance.md):
/// - It is built directly, not with `aws_config::defaults(..).load()`: the loader reads profile files and
///   links the default credentials chain (STS, SSO, ECS, IMDS clients, ~0.5 MB of every binary) to find
///   values Lambda puts in the environment. Retries, timeouts, the sleep and time sources are the service
///   clients' own defaults for the behaviour version, as with the loader. A command run by a person
///   (`reconcile`) takes its credentials from the environment too (`aws configure export-credentials
///   --format env`).
/// - TLS trusts the five Amazon Trust Services roots instead of parsing the OS CA bundle (~140 certificates,
///   84 % of a stock SDK start-up). `AWS_TLS_NATIVE_ROOTS=true` trusts the OS bundle as well, for an HTTPS
///   endpoint that is not AWS (a proxy or an emulator with its own CA).
///
/// Loaded once per process: the secrets loader, a function's config and its queue clients share one
/// configuration (and one HTTP client with its connection pool) instead of each building their own.
pub async fn sdk_config() -> aws_config::SdkConfig {
    static SDK: std::sync::OnceLock<aws_config::SdkConfig> = std::sync::OnceLock::new();
    SDK.get_or_init(load_sdk_config).clone()
}

fn load_sdk_config() -> aws_config::SdkConfig {
    let region = env_value("AWS_REGION").or_else(|| env_value("AWS_DEFAULT_REGION"));
    if region.is_none() {
        tracing::error!("AWS_REGION is not set: every AWS call will fail");
    }
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    build_sdk_config(region, credentials, env_value("AWS_ENDPOINT_URL"))
}

/// The one way an [`aws_config::SdkConfig`] is put together, here and in the test harness (which passes the
/// emulator's endpoint and static credentials): behaviour version, region, credentials, [`https_client`].
pub fn build_sdk_config(
    region: Option<String>,
    credentials: impl aws_credential_types::provider::ProvideCredentials + 'static,
    endpoint_url: Option<String>,
) -> aws_config::SdkConfig {
    use aws_credential_types::provider::SharedCredentialsProvider;
    let mut b = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region.map(aws_config::Region::new))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client());
    if let Some(url) = endpoint_url {
        b = b.endpoint_url(url);
    }
    b.build()
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The SDK's HTTP client (the SDK's own hyper + rustls client, on ring) with the Amazon roots as its trust
/// store. Connectors are still built lazily, once per timeout setting, and pooled.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let native = env_value("AWS_TLS_NATIVE_ROOTS").is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let trust = TrustStore::empty().with_native_roots(native).with_pem_certificate(AMAZON_TRUST_ROOTS);
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(TlsContext::builder().with_trust_store(trust).build().expect("valid TLS context"))
        .build_https()
}

/// A DynamoDB client from the shared configuration, with optional interceptors (call counting in tests and
/// benchmarks).
pub fn dynamodb_client(config: &aws_config::SdkConfig, counter: Option<CallCounter>) -> aws_sdk_dynamodb::Client {
    let mut b = aws_sdk_dynamodb::config::Builder::from(config);
    if let Some(c) = counter {
        b = b.interceptor(c);
    }
    aws_sdk_dynamodb::Client::from_conf(b.build())
}

/// Counts every request actually sent (retries included), keyed `Service.Operation`.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }

    pub fn count(&self, key: &str) -> u64 {
        self.snapshot().get(key).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let key =
            cfg.load::<Metadata>().map(|m| format!("{}.{}", m.service(), m.name())).unwrap_or_else(|| "unknown".into());
        if let Ok(mut m) = self.0.lock() {
            *m.entry(key).or_default() += 1;
        }
        Ok(())
    }
}
