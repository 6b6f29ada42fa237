use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    // UNSUBSCRIBE_KEY arrives as UNSUBSCRIBE_KEY_SECRET_ARN: read once, before the config that uses it.
    portal_http::config::install_secrets(portal_secrets::load_from_env().await?);
    let state = notifications::State::from_env().await?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(notifications::mailer::consume(state, event.payload, chrono::Utc::now()).await)
    }))
    .await
}
