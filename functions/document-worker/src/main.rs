use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    let generator = document_worker::Generator::from_env().await?;
    let generator = &generator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(document_worker::handle(generator, event.payload, chrono::Utc::now()).await)
    }))
    .await
}
