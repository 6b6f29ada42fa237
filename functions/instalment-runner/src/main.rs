use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    let state = instalment_runner::State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<serde_json::Value>| async move {
        instalment_runner::handle(state, ev.payload, chrono::Utc::now).await.map_err(Error::from)
    }))
    .await
}
