use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    let state = instalments::State::from_env().await?;
    let state = &state;
    lambda_http::run(service_fn(move |req| instalments::handle(state, req))).await
}
