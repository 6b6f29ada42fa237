use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portal_http::init_tracing();
    let table = portal_http::config::required("TABLE_NAME")?;
    let policies =
        portal_details::policy::BrandPolicies::parse(portal_http::config::optional("BRANDS_JSON").as_deref())
            .map_err(|problem| portal_http::config::ConfigError { variable: "BRANDS_JSON", problem })?;
    let sdk = portal_store::aws::sdk_config().await;
    let store = portal_store::Store::new(portal_store::aws::dynamodb_client(&sdk, None), table);
    let state = details_retention::State { store, policies };
    let state = &state;
    lambda_runtime::run(service_fn(move |_ev: LambdaEvent<serde_json::Value>| async move {
        let report = details_retention::run(state, chrono::Utc::now()).await.map_err(|e| Error::from(e.to_string()))?;
        serde_json::to_value(report).map_err(Error::from)
    }))
    .await
}
