use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    portal_http::config::install_secrets(portal_secrets::load_from_env().await?);
    let state = notifications::State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<serde_json::Value>| async move {
        notifications::relay::run(state, ev.payload, chrono::Utc::now()).await.map_err(Error::from)
    }))
    .await
}
