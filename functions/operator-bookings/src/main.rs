use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    // Secrets (X_SECRET_ARN in the environment) are read once, before the config that uses them.
    portal_http::config::install_secrets(portal_secrets::load_from_env().await?);
    let state = operator_bookings::State::from_env().await?;
    let state = &state;
    // DOCUMENTS_QUEUE_URL set: every committed change queues a document regeneration.
    let sdk = portal_store::aws::sdk_config().await;
    match portal_store::documents::DocumentQueue::from_env(&sdk) {
        Some(queue) => {
            let queue = &queue;
            lambda_http::run(service_fn(move |req| operator_bookings::handle_with_documents(state, queue, req))).await
        }
        None => lambda_http::run(service_fn(move |req| operator_bookings::handle(state, req))).await,
    }
}
