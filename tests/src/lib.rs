//! Test harness and local-portal support: the moto emulator, per-test AWS resources, API Gateway request
//! building, the local HTTP gateway and demo data.

pub mod apigw;
pub mod customer;
pub mod env;
pub mod gateway;
pub mod instalments;
pub mod moto;
pub mod pages;
pub mod seed;
pub mod stripe_double;

pub use apigw::{ApiRequest, body_json};
pub use env::TestEnv;
