use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    // Secrets (X_SECRET_ARN in the environment) are read once, before the config that uses them.
    portal_http::config::install_secrets(portal_secrets::load_from_env().await?);
    let state = instalment_runner::State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<serde_json::Value>| async move {
        instalment_runner::handle(state, ev.payload, chrono::Utc::now).await.map_err(Error::from)
    }))
    .await
}
