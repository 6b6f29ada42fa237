use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    // Secrets (X_SECRET_ARN in the environment) are read once, before the config that uses them.
    portal_http::config::install_secrets(portal_secrets::load_from_env().await?);
    let state = payment_reconciler::State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        let report = payment_reconciler::run(state, chrono::Utc::now()).await?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
