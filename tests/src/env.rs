//! A test's (or the local portal's) own AWS resources on the emulator: a uniquely named table created from
//! the shared definitions, a documents bucket, a verified SES sender, and SDK clients pointed at moto.

use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use portal_store::Store;
use portal_store::aws::CallCounter;
use portal_store::tables::portal_table;

use crate::moto::Moto;

pub const REGION: &str = "eu-west-2";

pub struct TestEnv {
    pub moto: &'static Moto,
    pub sdk: aws_config::SdkConfig,
    pub table: String,
    pub bucket: String,
    pub sender: String,
    pub ddb: aws_sdk_dynamodb::Client,
    pub counter: CallCounter,
    pub s3: aws_sdk_s3::Client,
    pub ses: aws_sdk_sesv2::Client,
}

/// SDK configuration for the emulator: endpoint, region and dummy static credentials, put together by the
/// production builder (`portal_store::aws::build_sdk_config`).
pub async fn emulator_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = Credentials::new("testing", "testing", None, None, "emulator");
    portal_store::aws::build_sdk_config(Some(REGION.into()), credentials, Some(endpoint.into()))
}

impl TestEnv {
    /// Fresh resources with unique names on the shared emulator.
    pub async fn new() -> TestEnv {
        let id = uuid::Uuid::new_v4().simple().to_string();
        TestEnv::named(&format!("portal-{}", &id[..12]), &format!("docs-{}", &id[..12])).await
    }

    pub async fn named(table: &str, bucket: &str) -> TestEnv {
        let moto = Moto::shared();
        let sdk = emulator_sdk_config(&moto.url).await;
        let counter = CallCounter::default();
        let ddb = portal_store::aws::dynamodb_client(&sdk, Some(counter.clone()));
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        let ses = aws_sdk_sesv2::Client::new(&sdk);
        let env = TestEnv {
            moto,
            sdk,
            table: table.to_string(),
            bucket: bucket.to_string(),
            sender: "portal@tours.example".into(),
            ddb,
            counter,
            s3,
            ses,
        };
        env.create_table().await;
        env.create_bucket().await;
        env.verify_sender().await;
        env.counter.reset();
        env
    }

    pub fn store(&self) -> Store {
        Store::new(self.ddb.clone(), self.table.clone())
    }

    async fn create_table(&self) {
        let def = portal_table();
        let attr_type = |t: &str| match t {
            "N" => ScalarAttributeType::N,
            "B" => ScalarAttributeType::B,
            _ => ScalarAttributeType::S,
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
        };
        let mut req = self
            .ddb
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(&def.hash_key, KeyType::Hash))
            .key_schema(key(&def.range_key, KeyType::Range));
        for (name, t) in &def.attributes {
            req = req.attribute_definitions(
                AttributeDefinition::builder().attribute_name(name).attribute_type(attr_type(t)).build().unwrap(),
            );
        }
        for (name, idx) in &def.global_secondary_indexes {
            let projection = match idx.projection.as_str() {
                "KEYS_ONLY" => ProjectionType::KeysOnly,
                _ => ProjectionType::All,
            };
            req = req.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(&idx.hash_key, KeyType::Hash))
                    .key_schema(key(&idx.range_key, KeyType::Range))
                    .projection(Projection::builder().projection_type(projection).build())
                    .build()
                    .unwrap(),
            );
        }
        req.send().await.expect("create table on the emulator");
        self.ddb
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name(&def.ttl_attribute).enabled(true).build().unwrap(),
            )
            .send()
            .await
            .expect("enable TTL");
    }

    async fn create_bucket(&self) {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        self.s3
            .create_bucket()
            .bucket(&self.bucket)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .expect("create bucket on the emulator");
    }

    /// What infra uploads with the bucket (`infra/documents.tf`): the document worker's CJK fallback font. Only
    /// fixtures that run the worker need it (4 MB per bucket on the emulator).
    pub async fn upload_fallback_font(&self) {
        let font = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/documents/fonts/DroidSansFallbackFull.ttf");
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(portal_documents::FALLBACK_FONT_KEY)
            .body(std::fs::read(font).expect("the vendored fallback font").into())
            .send()
            .await
            .expect("upload the fallback font to the emulator");
    }

    async fn verify_sender(&self) {
        self.ses
            .create_email_identity()
            .email_identity(&self.sender)
            .send()
            .await
            .expect("verify SES sender on the emulator");
    }

    /// Emails the emulator's SES accepted for `recipient`, oldest first, as `{subject, body, source}`.
    pub fn emails_to(&self, recipient: &str) -> Vec<serde_json::Value> {
        let data = self.moto.data();
        let mut out = Vec::new();
        for key in ["Message", "RawMessage"] {
            if let Some(msgs) = data["ses"][key].as_array() {
                for m in msgs {
                    let to = m["destinations"].to_string().to_ascii_lowercase();
                    let raw = m["raw_data"].as_str().unwrap_or("").to_ascii_lowercase();
                    if to.contains(&recipient.to_ascii_lowercase())
                        || raw.contains(&format!("to: {}", recipient.to_ascii_lowercase()))
                    {
                        out.push(m.clone());
                    }
                }
            }
        }
        out
    }

    /// Every item in the test's table (a `Scan` is fine here: tests only, a few dozen items).
    pub async fn all_items(&self) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let out = self.ddb.scan().table_name(&self.table).send().await.expect("scan");
        out.items.unwrap_or_default()
    }
}
