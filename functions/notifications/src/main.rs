use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    // Secrets (X_SECRET_ARN in the environment) are read once, before the config that uses them.
    portal_http::config::install_secrets(portal_secrets::load_from_env().await?);
    let mut state = notifications::State::from_env().await?;
    state.auth = Some(portal_http::operator::OperatorAuth::from_env()?);
    let state = &state;
    lambda_http::run(service_fn(move |req| notifications::http::handle(state, req))).await
}
