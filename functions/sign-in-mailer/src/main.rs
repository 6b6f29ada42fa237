use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    // TOKEN_HASH_KEY arrives as TOKEN_HASH_KEY_SECRET_ARN: read once, before the config that uses it.
    portal_http::config::install_secrets(portal_secrets::load_from_env().await?);
    let mailer = auth::mailer::Mailer::from_env().await?;
    let mailer = &mailer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(auth::mailer::handle(mailer, event.payload, chrono::Utc::now()).await)
    }))
    .await
}
