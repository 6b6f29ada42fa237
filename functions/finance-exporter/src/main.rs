use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    let state = finance_exporter::State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<serde_json::Value>| finance_exporter::handle(state, ev))).await
}
