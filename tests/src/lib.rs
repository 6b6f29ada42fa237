//! Test harness and local-portal support: the moto emulator, per-test AWS resources, API Gateway request
//! building, the local HTTP gateway and demo data.

pub mod apigw;
pub mod customer;
pub mod details;
pub mod env;
pub mod gateway;
pub mod instalments;
pub mod moto;
pub mod notices;
pub mod requests;
pub mod seed;
pub mod signin;
pub mod stripe_double;
pub mod web;

pub use apigw::{ApiRequest, body_json};
pub use env::TestEnv;

/// An HTTP client for tests (moto's presigned URLs, the local gateway). reqwest is built without a TLS
/// crypto provider of its own (the functions hand it rustls on ring, see portal-gateway), so tests install
/// ring as rustls' process default first.
pub fn http_client() -> reqwest::Client {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::new()
}
