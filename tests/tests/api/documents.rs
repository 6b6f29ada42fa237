//! Documents against moto: generation after an upsert (through the SQS queue and the worker), versioning by
//! content hash, presigned downloads of exact bytes, PDF text, and every bad input.

use chrono::{Duration, Utc};
use lambda_http::{Body, Response};
use portal_http::operator::OperatorAuth;
use portal_http::session::COOKIE_NAME;
use portal_store::documents::DocumentQueue;
use portal_tests::customer::{OPERATOR_KEY, sessions, sign_in_at};
use portal_tests::{ApiRequest, TestEnv, body_json, seed};
use serde_json::{Value, json};

const KEY: &str = OPERATOR_KEY;

struct Fx {
    env: TestEnv,
    ops: operator_bookings::State,
    docs: documents::State,
    generator: document_worker::Generator,
    queue: DocumentQueue,
}

async fn fx() -> Fx {
    let env = TestEnv::new().await;
    env.upload_fallback_font().await;
    let sqs = aws_sdk_sqs::Client::new(&env.sdk);
    let name = format!("docs-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let url = sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    let queue = DocumentQueue { client: sqs, url };
    let brands = document_worker::Brands::parse(
        Some(r##"{"alpine-escapes": {"name": "Alpine Escapes", "primary_colour": "#0b6e4f"}}"##),
        Some("Alpine Escapes Ltd | 1 Market Street, Bristol"),
    )
    .unwrap();
    let generator = document_worker::Generator::new(env.store(), env.s3.clone(), env.bucket.clone(), brands);
    let docs = documents::State {
        store: env.store(),
        s3: env.s3.clone(),
        bucket: env.bucket.clone(),
        sessions: sessions(),
        auth: OperatorAuth::key(KEY).unwrap(),
        queue: queue.clone(),
        clock: std::sync::Arc::new(Utc::now),
    };
    let ops = operator_bookings::State { store: env.store(), auth: OperatorAuth::key(KEY).unwrap(), gateway: None };
    Fx { env, ops, docs, generator, queue }
}

impl Fx {
    async fn upsert(&self, reference: &str, body: &Value) {
        let req = ApiRequest::new("PUT", &format!("/operator/bookings/{reference}"))
            .route("/operator/bookings/{reference}")
            .path_param("reference", reference)
            .bearer(KEY)
            .json(body)
            .build();
        let r =
            operator_bookings::handle_with_documents(&self.ops, &self.queue, req).await.unwrap_or_else(|e| match e {});
        assert!(r.status().as_u16() < 300, "{}", body_json(&r));
    }

    /// Drain the queue into the worker (moto invokes no Lambda). Returns how many messages ran.
    async fn run_worker(&self) -> usize {
        let (ran, failed) = self.drain().await;
        assert_eq!(failed, 0, "the worker reported failed messages");
        ran
    }

    /// Drain the queue into the worker: `(messages run, messages the worker reported failed)`. A failed
    /// message stays on the queue (invisible until its visibility timeout), as SQS would keep it.
    async fn drain(&self) -> (usize, usize) {
        let (mut n, mut failed) = (0, 0);
        loop {
            let out = self
                .queue
                .client
                .receive_message()
                .queue_url(&self.queue.url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let msgs = out.messages.unwrap_or_default();
            if msgs.is_empty() {
                return (n, failed);
            }
            let records: Vec<Value> = msgs
                .iter()
                .map(|m| json!({"messageId": m.message_id, "body": m.body, "receiptHandle": m.receipt_handle}))
                .collect();
            let event: aws_lambda_events::event::sqs::SqsEvent =
                serde_json::from_value(json!({"Records": records})).unwrap();
            let resp = document_worker::handle(&self.generator, event, Utc::now()).await;
            let failures: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
            failed += failures.len();
            for m in msgs.iter().filter(|m| !failures.contains(m.message_id.as_ref().unwrap())) {
                self.queue
                    .client
                    .delete_message()
                    .queue_url(&self.queue.url)
                    .receipt_handle(m.receipt_handle.clone().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            n += msgs.len();
        }
    }

    async fn sign_in(&self, reference: &str, traveller: &str, is_lead: bool, at: i64) -> String {
        // The session proves the traveller's email as the booking has it now (as a real sign-in would).
        let c = self.env.store().load_booking(reference).await.unwrap().expect("the booking");
        let email = c.booking.traveller(traveller).and_then(|t| t.email.clone()).unwrap_or_default();
        let token = sign_in_at(&self.env, reference, traveller, &email, is_lead, at).await;
        format!("{COOKIE_NAME}={token}")
    }

    async fn send(&self, req: ApiRequest) -> Response<Body> {
        documents::handle(&self.docs, req.build()).await.unwrap_or_else(|e| match e {})
    }

    async fn list(&self, reference: &str, cookie: &str) -> Response<Body> {
        self.send(
            ApiRequest::new("GET", &format!("/bookings/{reference}/documents"))
                .route("/bookings/{reference}/documents")
                .path_param("reference", reference)
                .header("cookie", cookie),
        )
        .await
    }

    async fn url(&self, reference: &str, id: &str, version: Option<&str>, cookie: &str) -> Response<Body> {
        let mut r = ApiRequest::new("GET", &format!("/bookings/{reference}/documents/{id}/url"))
            .route("/bookings/{reference}/documents/{document_id}/url")
            .path_param("reference", reference)
            .path_param("document_id", id)
            .header("cookie", cookie);
        if let Some(v) = version {
            r = r.query("version", v);
        }
        self.send(r).await
    }

    async fn regenerate(&self, reference: &str, body: Option<Value>) -> Response<Body> {
        let mut r = ApiRequest::new("POST", &format!("/operator/bookings/{reference}/documents/regenerate"))
            .route("/operator/bookings/{reference}/documents/regenerate")
            .path_param("reference", reference)
            .bearer(KEY);
        if let Some(b) = body {
            r = r.json(&b);
        }
        self.send(r).await
    }
}

fn problem(r: &Response<Body>, status: u16, kind: &str) {
    assert_eq!(r.status(), status, "{}", body_json(r));
    assert_eq!(body_json(r)["type"], format!("/problems/{kind}"));
}

fn versions(list: &Value, id: &str) -> Vec<u64> {
    list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["document_id"] == id)
        .map(|d| d["versions"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect())
        .unwrap_or_default()
}

async fn fetch(url: &str) -> (Vec<u8>, String) {
    let r = portal_tests::http_client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cd = r.headers().get("content-disposition").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.bytes().await.unwrap().to_vec(), cd)
}

#[tokio::test]
async fn documents_follow_the_booking_through_the_queue_and_versions_stay_downloadable() {
    let f = fx().await;
    let today = Utc::now().date_naive();
    let mut body = seed::gbp_booking(today);
    f.upsert("AE-10001", &body).await;
    assert_eq!(f.run_worker().await, 1);
    let lead = f.sign_in("AE-10001", "T1", true, Utc::now().timestamp()).await;

    let r = f.list("AE-10001", &lead).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let list = body_json(&r);
    let ids: Vec<&str> =
        list["documents"].as_array().unwrap().iter().map(|d| d["document_id"].as_str().unwrap()).collect();
    assert_eq!(ids[..2], ["invoice", "itinerary"]);
    assert!(ids.contains(&"voucher-S-HTL") && ids.iter().any(|i| i.starts_with("receipt-mov")), "{ids:?}");
    assert_eq!(versions(&list, "invoice"), [1]);
    assert_eq!(list["documents"][0]["versions"][0]["reason"], "created");

    // The presigned URL: ≤ 5 minutes, the server's key, a file name; fetches the exact stored bytes.
    let r = f.url("AE-10001", "invoice", None, &lead).await;
    assert_eq!(r.status(), 200, "{}", body_json(&r));
    let u = body_json(&r);
    let url = u["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=300"), "{url}");
    let key = url.split('?').next().unwrap().split(&format!("/{}/", f.env.bucket)).nth(1).unwrap().to_string();
    assert!(key.starts_with("bookings/AE-10001/invoice/invoice/v1-") && key.ends_with(".pdf"), "{url}");
    assert_eq!(u["file_name"], "AE-10001-invoice-v1.pdf");
    let expires = chrono::DateTime::parse_from_rfc3339(u["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires.timestamp() - Utc::now().timestamp() <= 300);
    let (v1_bytes, cd) = fetch(url).await;
    assert_eq!(cd, "attachment; filename=\"AE-10001-invoice-v1.pdf\"");
    let stored = f.env.s3.get_object().bucket(&f.env.bucket).key(&key).send().await.unwrap();
    assert_eq!(stored.body.collect().await.unwrap().into_bytes().to_vec(), v1_bytes);
    let text = pdf_extract::extract_text_from_mem(&v1_bytes).unwrap();
    for needle in
        ["Alpine Escapes", "Invoice", "AE-10001", "£3,080.50", "£2,580.50", "BT-20261115-001", "Alpine Escapes Ltd"]
    {
        assert!(text.contains(needle), "invoice lacks {needle:?}:\n{text}");
    }

    // A price change: invoice v2; the itinerary is unchanged and gets no version; v1 stays downloadable.
    body["price_lines"][2]["amount"] = json!("200.00");
    body["schedule"][2]["amount"] = json!("1600.00");
    f.upsert("AE-10001", &body).await;
    f.run_worker().await;
    let list = body_json(&f.list("AE-10001", &lead).await);
    assert_eq!(versions(&list, "invoice"), [1, 2]);
    assert_eq!(versions(&list, "itinerary"), [1]);
    let v2 = body_json(&f.url("AE-10001", "invoice", None, &lead).await);
    assert_eq!(v2["version"], 2);
    let (v2_bytes, _) = fetch(v2["url"].as_str().unwrap()).await;
    assert!(pdf_extract::extract_text_from_mem(&v2_bytes).unwrap().contains("£3,100.00"));
    let again = body_json(&f.url("AE-10001", "invoice", Some("1"), &lead).await);
    assert_eq!(fetch(again["url"].as_str().unwrap()).await.0, v1_bytes);

    // Identical regeneration (operator request, and a redelivered message) writes nothing.
    let r = f.regenerate("AE-10001", Some(json!({"types": ["invoice", "itinerary"]}))).await;
    assert_eq!(r.status(), 202, "{}", body_json(&r));
    assert_eq!(f.run_worker().await, 1);
    let r = f.regenerate("AE-10001", None).await;
    assert_eq!(r.status(), 202);
    f.run_worker().await;
    let after = body_json(&f.list("AE-10001", &lead).await);
    assert_eq!(after, list, "identical content creates no version");
}

#[tokio::test]
async fn bad_inputs() {
    let f = fx().await;
    let today = Utc::now().date_naive();
    f.upsert("AE-10001", &seed::gbp_booking(today)).await;
    f.upsert("AE-50005", &seed::group_booking(today)).await;
    f.run_worker().await;
    let now = Utc::now().timestamp();
    let lead = f.sign_in("AE-10001", "T1", true, now).await;

    // Another booking's document: the same 404 as an unknown booking.
    let other = f.url("AE-50005", "invoice", None, &lead).await;
    problem(&other, 404, "not-found");
    let unknown = f.url("ZZ-99999", "invoice", None, &lead).await;
    assert_eq!(body_json(&other), body_json(&unknown));
    // Traversal and key-prefix injection never reach S3.
    for id in [
        "..",
        "../AE-50005/invoice",
        "invoice%2F..%2F..",
        "bookings/AE-50005/invoice/invoice/v1.pdf",
        "invoice#1",
        "",
        &"x".repeat(91),
    ] {
        problem(&f.url("AE-10001", id, None, &lead).await, 400, "bad-request");
    }
    problem(&f.url("AE-10001", "invoice-AE-50005", None, &lead).await, 404, "not-found");
    // Versions.
    problem(&f.url("AE-10001", "invoice", Some("2"), &lead).await, 404, "not-found");
    for v in ["0", "-1", "abc", "1.0", "99999999999"] {
        problem(&f.url("AE-10001", "invoice", Some(v), &lead).await, 400, "bad-request");
    }
    // Expired session.
    let old = f.sign_in("AE-10001", "T1", true, (Utc::now() - Duration::hours(13)).timestamp()).await;
    problem(&f.list("AE-10001", &old).await, 401, "unauthorized");
    problem(&f.url("AE-10001", "invoice", None, &old).await, 401, "unauthorized");
    problem(&f.list("AE-10001", "").await, 401, "unauthorized");
    // A traveller sees shared documents and vouchers for their services only.
    let alan = f.sign_in("AE-50005", "G2", false, now).await;
    let kath = f.sign_in("AE-50005", "G3", false, now).await;
    assert_eq!(f.url("AE-50005", "voucher-S-BL", None, &alan).await.status(), 200);
    problem(&f.url("AE-50005", "voucher-S-BL", None, &kath).await, 404, "not-found");
    let kl = body_json(&f.list("AE-50005", &kath).await);
    assert!(!kl.to_string().contains("voucher-S-BL") && kl.to_string().contains("itinerary"));
    // The invoice (every traveller's name and price line) is the lead's alone: not listed, and its URL answers
    // exactly like a document that does not exist.
    assert!(!kl.to_string().contains("\"invoice\""), "{kl}");
    let forged = f.url("AE-50005", "invoice", None, &kath).await;
    let missing = f.url("AE-50005", "nothing-here", None, &kath).await;
    problem(&forged, 404, "not-found");
    assert_eq!(body_json(&forged), body_json(&missing));
    // Regeneration: unknown booking, bad types, customer session, wrong method.
    problem(&f.regenerate("ZZ-99999", None).await, 404, "not-found");
    problem(&f.regenerate("AE-10001", Some(json!({"types": ["passport"]}))).await, 422, "validation-error");
    problem(&f.regenerate("AE-10001", Some(json!({"types": "invoice"}))).await, 422, "validation-error");
    let as_customer = f
        .send(
            ApiRequest::new("POST", "/operator/bookings/AE-10001/documents/regenerate")
                .route("/operator/bookings/{reference}/documents/regenerate")
                .path_param("reference", "AE-10001")
                .header("cookie", &lead),
        )
        .await;
    problem(&as_customer, 401, "unauthorized");
}

#[tokio::test]
async fn layout_breaking_booking_still_gets_valid_pdfs() {
    let f = fx().await;
    let today = Utc::now().date_naive();
    let mut b = seed::gbp_booking(today);
    b["travellers"][0]["first_name"] = json!("Wolfeschlegelsteinhausenbergerdorff ".repeat(2).trim());
    b["travellers"][1]["first_name"] = json!("محمد");
    b["travellers"][1]["last_name"] = json!("山田");
    let start = today + chrono::Days::new(120);
    let days: Vec<Value> = (0..60)
        .map(|i| json!({"date": start + chrono::Days::new(i), "title": format!("Tag {i} 京都"), "services": [{"id": format!("S{i}"), "kind": "hotel", "name": "Ryokan", "supplier_name": "宿", "supplier_reference": format!("R-{i}")}]}))
        .collect();
    b["itinerary"] = json!(days);
    b["travel_start"] = json!(start);
    b["travel_end"] = json!(start + chrono::Days::new(59));
    f.upsert("AE-10001", &b).await;
    f.run_worker().await;
    let lead = f.sign_in("AE-10001", "T1", true, Utc::now().timestamp()).await;
    let u = body_json(&f.url("AE-10001", "itinerary", None, &lead).await);
    let (bytes, _) = fetch(u["url"].as_str().unwrap()).await;
    let text = pdf_extract::extract_text_from_mem(&bytes).unwrap();
    for needle in ["Day 60", "R-59", "山田", "京都", "Wolfeschlegelsteinhausenbergerdorff"] {
        assert!(text.contains(needle), "itinerary lacks {needle:?}");
    }
}

async fn put_font(f: &Fx, bytes: Vec<u8>) {
    let key = portal_documents::FALLBACK_FONT_KEY;
    f.env.s3.put_object().bucket(&f.env.bucket).key(key).body(bytes.into()).send().await.unwrap();
}

/// How many document versions the booking has.
async fn docs_of(f: &Fx, reference: &str) -> usize {
    let pk = format!("B#{reference}");
    let items = f.env.all_items().await;
    items.iter().filter(|i| i["pk"].as_s().unwrap() == &pk && i["sk"].as_s().unwrap().starts_with("DOC#")).count()
}

#[tokio::test]
async fn cjk_documents_wait_for_the_fallback_font_from_the_bucket_and_latin_ones_never_need_it() {
    let f = fx().await;
    let key = portal_documents::FALLBACK_FONT_KEY;
    let font = f.env.s3.get_object().bucket(&f.env.bucket).key(key).send().await.unwrap();
    let font = font.body.collect().await.unwrap().into_bytes().to_vec();
    f.env.s3.delete_object().bucket(&f.env.bucket).key(key).send().await.unwrap();
    // No font in the bucket: a Latin booking's documents are generated all the same.
    f.upsert("AE-10001", &seed::gbp_booking(Utc::now().date_naive())).await;
    assert_eq!(f.drain().await, (1, 0));
    assert!(docs_of(&f, "AE-10001").await > 0);

    // CJK in the itinerary only (the invoice is Latin): the message fails (to be retried) and nothing is
    // written, not even the documents that could be drawn; nothing is drawn with missing glyphs.
    let mut b = seed::gbp_booking(Utc::now().date_naive());
    b["itinerary"][0]["title"] = json!("京都");
    f.upsert("AE-20002", &b).await;
    assert_eq!(f.drain().await, (1, 1));
    assert_eq!(docs_of(&f, "AE-20002").await, 0);
    b["travellers"][0]["last_name"] = json!("山田");
    f.upsert("AE-20002", &b).await;
    assert_eq!(f.drain().await, (1, 1));
    assert_eq!(docs_of(&f, "AE-20002").await, 0);

    // Other bytes under the key are refused (the SHA-256 is fixed).
    put_font(&f, b"not the font".to_vec()).await;
    let regenerate = |reference: &str| {
        let body = json!({"reference": reference, "types": [], "reason": "booking_changed"}).to_string();
        serde_json::from_value(json!({"Records": [{"messageId": "m1", "body": body, "receiptHandle": "r"}]})).unwrap()
    };
    let resp = document_worker::handle(&f.generator, regenerate("AE-20002"), Utc::now()).await;
    assert_eq!(resp.batch_item_failures.len(), 1);

    // The font uploaded: the retry draws the name; the container keeps the font (gone from the bucket again,
    // a changed CJK booking still renders).
    put_font(&f, font).await;
    let resp = document_worker::handle(&f.generator, regenerate("AE-20002"), Utc::now()).await;
    assert!(resp.batch_item_failures.is_empty());
    assert!(docs_of(&f, "AE-20002").await > 0);
    f.env.s3.delete_object().bucket(&f.env.bucket).key(key).send().await.unwrap();
    b["travellers"][0]["first_name"] = json!("花子");
    f.upsert("AE-20002", &b).await;
    f.run_worker().await;
    let lead = b["lead_traveller_id"].as_str().unwrap().to_string();
    let cookie = f.sign_in("AE-20002", &lead, true, Utc::now().timestamp()).await;
    let u = body_json(&f.url("AE-20002", "invoice", None, &cookie).await);
    let (bytes, _) = fetch(u["url"].as_str().unwrap()).await;
    let text = pdf_extract::extract_text_from_mem(&bytes).unwrap();
    assert!(text.contains("花子") && text.contains("山田"), "{text}");
}

#[tokio::test]
async fn sample_events_are_real_requests_and_the_overview_lists_the_documents() {
    // events/documents/*.json and events/document-worker/*.json feed `cargo lambda invoke --data-file`; their
    // cookie is a placeholder, replaced here by a freshly signed session.
    let mut f = fx().await;
    f.upsert("AE-10001", &seed::gbp_booking(Utc::now().date_naive())).await;
    f.run_worker().await;
    let cookie = f.sign_in("AE-10001", "T1", true, Utc::now().timestamp()).await;
    let dir = portal_tests::moto::repo_root().join("events/documents");
    let load = |name: &str| {
        let mut ev: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        if ev.get("cookies").is_some() {
            ev["cookies"] = json!([cookie.clone()]);
        }
        lambda_http::request::from_str(&ev.to_string()).unwrap()
    };
    let call = |req| documents::handle(&f.docs, req);
    let status = |r: Response<Body>| r.status().as_u16();
    assert_eq!(status(call(load("list-documents.json")).await.unwrap_or_else(|e| match e {})), 200);
    let r = call(load("get-document-url.json")).await.unwrap_or_else(|e| match e {});
    assert_eq!(body_json(&r)["file_name"], "AE-10001-invoice-v1.pdf");
    assert_eq!(status(call(load("get-document-url-latest.json")).await.unwrap_or_else(|e| match e {})), 200);
    assert_eq!(status(call(load("get-document-url-traversal.json")).await.unwrap_or_else(|e| match e {})), 400);
    // The operator event carries an IAM principal, as API Gateway passes it.
    f.docs.auth = OperatorAuth::iam(["arn:aws:iam::123456789012:user/reservations"]).unwrap();
    let r = documents::handle(&f.docs, load("regenerate.json")).await.unwrap_or_else(|e| match e {});
    assert_eq!(r.status(), 202, "{}", body_json(&r));
    assert_eq!(f.run_worker().await, 1);

    let worker_event = portal_tests::moto::repo_root().join("events/document-worker/sqs-regenerate.json");
    let event = serde_json::from_str(&std::fs::read_to_string(worker_event).unwrap()).unwrap();
    let before = f.env.all_items().await.len();
    let resp = document_worker::handle(&f.generator, event, Utc::now()).await;
    assert!(resp.batch_item_failures.is_empty());
    assert_eq!(f.env.all_items().await.len(), before, "nothing changed: no new version");

    // The booking overview (one Query of the collection) lists the same documents.
    let bookings = ::bookings::State::new(f.env.store(), sessions());
    let req = ApiRequest::new("GET", "/bookings/AE-10001")
        .route("/bookings/{reference}")
        .path_param("reference", "AE-10001")
        .header("cookie", &cookie);
    let r = ::bookings::handle(&bookings, req.build()).await.unwrap_or_else(|e| match e {});
    let docs = body_json(&r)["documents"].clone();
    let ids: Vec<&str> = docs.as_array().unwrap().iter().map(|d| d["document_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"invoice") && ids.contains(&"itinerary") && ids.contains(&"voucher-S-HTL"), "{docs}");
}

#[tokio::test]
async fn concurrent_and_repeated_regenerations_write_each_version_once() {
    let f = fx().await;
    let mut body = seed::gbp_booking(Utc::now().date_naive());
    f.upsert("AE-10001", &body).await;
    f.run_worker().await;
    body["price_lines"][2]["amount"] = json!("200.00");
    body["schedule"][2]["amount"] = json!("1600.00");
    f.upsert("AE-10001", &body).await;
    // The queued message, a duplicate delivery and an operator request, all at once.
    let g = &f.generator;
    let now = Utc::now();
    let (a, b, c) = tokio::join!(
        g.regenerate("AE-10001", &[], portal_documents::Reason::BookingChanged, now),
        g.regenerate("AE-10001", &[], portal_documents::Reason::BookingChanged, now),
        g.regenerate("AE-10001", &[], portal_documents::Reason::OperatorRequest, now),
    );
    let written: usize = [a.unwrap(), b.unwrap(), c.unwrap()].iter().map(|o| o.written.len()).sum();
    assert_eq!(written, 1, "only the invoice changed, and it is written once");
    f.run_worker().await;
    let lead = f.sign_in("AE-10001", "T1", true, Utc::now().timestamp()).await;
    let list = body_json(&f.list("AE-10001", &lead).await);
    assert_eq!(versions(&list, "invoice"), [1, 2]);
    let objects =
        f.env.s3.list_objects_v2().bucket(&f.env.bucket).prefix("bookings/AE-10001/invoice/").send().await.unwrap();
    assert_eq!(objects.contents().len(), 2, "one object per version");
    // The customer hears of the new version once (the digest with the booking change: notifications.rs).
    let (notices, _) = f.env.store().notices_of("AE-10001").await.unwrap();
    let docs: Vec<_> = notices.iter().filter(|n| n.kind == portal_notify::NoticeKind::DocumentsUpdated).collect();
    assert_eq!(docs.len(), 1, "one notice for the one new version: {notices:?}");
    let content = serde_json::to_string(&docs[0].notice.content).unwrap();
    assert!(content.contains("invoice") && !content.contains("itinerary"), "{content}");
    assert_eq!(docs[0].notice.recipients.len(), 2, "the party");
}

static LOGO: &[u8] = include_bytes!("../../../shared/documents/fixtures/alpine-escapes-logo.png");
static LOGO_ALT: &[u8] = include_bytes!("../../../shared/documents/fixtures/logo-alt.png");

/// `(width, height)` in pixels of every image the PDF draws (a PNG's alpha channel, its soft mask, not counted).
fn pdf_images(pdf: &[u8]) -> Vec<(i64, i64)> {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    let masks: Vec<lopdf::ObjectId> =
        doc.objects.values().filter_map(|o| o.as_stream().ok()?.dict.get(b"SMask").ok()?.as_reference().ok()).collect();
    doc.objects
        .iter()
        .filter(|(id, _)| !masks.contains(id))
        .filter_map(|(_, o)| o.as_stream().ok())
        .filter(|s| s.dict.get(b"Subtype").and_then(|t| t.as_name()).is_ok_and(|n| n == b"Image"))
        .map(|s| {
            let n = |k: &[u8]| s.dict.get(k).and_then(|v| v.as_i64()).unwrap_or_default();
            (n(b"Width"), n(b"Height"))
        })
        .collect()
}

impl Fx {
    /// A new worker container: brands with `logo_key` for alpine-escapes, an empty logo cache.
    fn new_container(&mut self, logo_key: &str) {
        let json = format!(
            r##"{{"alpine-escapes": {{"name": "Alpine Escapes", "primary_colour": "#0b6e4f", "logo_key": "{logo_key}"}}}}"##
        );
        let brands =
            document_worker::Brands::parse(Some(&json), Some("Alpine Escapes Ltd | 1 Market Street, Bristol")).unwrap();
        self.generator.brands = brands;
    }

    async fn put_logo(&self, key: &str, bytes: &[u8]) {
        let body = aws_sdk_s3::primitives::ByteStream::from(bytes.to_vec());
        self.env.s3.put_object().bucket(&self.env.bucket).key(key).body(body).send().await.unwrap();
    }

    /// The latest invoice: its version, image sizes and text.
    async fn invoice(&self, cookie: &str) -> (u64, Vec<(i64, i64)>, String) {
        let u = body_json(&self.url("AE-10001", "invoice", None, cookie).await);
        let (bytes, _) = fetch(u["url"].as_str().unwrap()).await;
        (u["version"].as_u64().unwrap(), pdf_images(&bytes), pdf_extract::extract_text_from_mem(&bytes).unwrap())
    }
}

#[tokio::test]
async fn the_brand_logo_comes_from_the_bucket_and_a_missing_or_broken_one_leaves_the_monogram() {
    let mut f = fx().await;
    let key = "brands/alpine-escapes/logo.png";
    // The brand names a logo that is not in the bucket: every document is still generated, with the monogram.
    f.new_container(key);
    f.upsert("AE-10001", &seed::gbp_booking(Utc::now().date_naive())).await;
    assert_eq!(f.run_worker().await, 1);
    let lead = f.sign_in("AE-10001", "T1", true, Utc::now().timestamp()).await;
    let (v, images, text) = f.invoice(&lead).await;
    assert_eq!((v, images), (1, vec![]));
    assert!(text.contains("AE Alpine Escapes") && text.contains("£3,080.50"), "{text}");

    // The logo uploaded (a failure was not cached): the next regeneration draws it, a new version of each.
    f.put_logo(key, LOGO).await;
    assert_eq!(f.regenerate("AE-10001", None).await.status(), 202);
    f.run_worker().await;
    let (v, images, text) = f.invoice(&lead).await;
    assert_eq!((v, images), (2, vec![(120, 80)]), "the invoice draws the logo");
    assert!(!text.contains("AE Alpine") && text.contains("Alpine Escapes") && text.contains("£3,080.50"), "{text}");
    let list = body_json(&f.list("AE-10001", &lead).await);
    assert_eq!(versions(&list, "itinerary"), [1, 2]);

    // Kept for the container: gone from the bucket, the same logo is drawn and nothing changes.
    f.env.s3.delete_object().bucket(&f.env.bucket).key(key).send().await.unwrap();
    assert_eq!(f.regenerate("AE-10001", None).await.status(), 202);
    f.run_worker().await;
    assert_eq!(body_json(&f.list("AE-10001", &lead).await), list, "same bytes: no version");

    // Other logo bytes, seen by a new container: a new version with the new image.
    f.put_logo(key, LOGO_ALT).await;
    f.new_container(key);
    assert_eq!(f.regenerate("AE-10001", Some(json!({"types": ["invoice"]}))).await.status(), 202);
    f.run_worker().await;
    assert_eq!(f.invoice(&lead).await.1, [(48, 48)]);
    assert_eq!(versions(&body_json(&f.list("AE-10001", &lead).await), "invoice"), [1, 2, 3]);

    // Bytes that are no image, and an image over 512 KiB: warned about, the monogram again, no failed message.
    let mut big = LOGO.to_vec();
    big.resize(512 * 1024 + 1, 0);
    for (n, bad) in [b"<html>not an image</html>".to_vec(), big].into_iter().enumerate() {
        f.put_logo(key, &bad).await;
        f.new_container(key);
        assert_eq!(f.regenerate("AE-10001", Some(json!({"types": ["invoice"]}))).await.status(), 202);
        assert_eq!(f.run_worker().await, 1);
        let (v, images, text) = f.invoice(&lead).await;
        assert_eq!((v, images), (4, vec![]), "case {n}: the monogram (v4 once, then unchanged)");
        assert!(text.contains("AE Alpine Escapes"), "{text}");
    }
}

#[tokio::test]
async fn a_traveller_sees_only_receipts_they_paid_or_were_paid_for_and_never_the_invoice() {
    let f = fx().await;
    let today = Utc::now().date_naive();
    // GIVEN the lead's bank transfer, and a payment the back office recorded for Charles (T2)
    let mut body = seed::gbp_booking(today);
    body["payments_received"].as_array_mut().unwrap().push(json!({
        "external_reference": "BT-CHARLES-1", "amount": "100.00", "channel": "bank_transfer",
        "received_at": format!("{today}T09:00:00Z"), "traveller_id": "T2"
    }));
    f.upsert("AE-10001", &body).await;
    assert_eq!(f.run_worker().await, 1);
    let now = Utc::now().timestamp();
    let lead = f.sign_in("AE-10001", "T1", true, now).await;
    let charles = f.sign_in("AE-10001", "T2", false, now).await;
    let ids = |r: Response<Body>| -> Vec<String> {
        body_json(&r)["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["document_id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = ids(f.list("AE-10001", &lead).await);
    let receipts: Vec<&String> = all.iter().filter(|i| i.starts_with("receipt-")).collect();
    assert_eq!(receipts.len(), 2, "{all:?}");
    let c = f.env.store().load_booking("AE-10001").await.unwrap().unwrap();
    let for_charles = c.movements.iter().find(|m| m.external_reference.as_deref() == Some("BT-CHARLES-1")).unwrap();
    let his = format!("receipt-{}", for_charles.id);
    let leads = receipts.iter().find(|r| ***r != his).unwrap().to_string();
    // WHEN Charles lists the documents
    let mine = ids(f.list("AE-10001", &charles).await);
    // THEN he sees the itinerary and his receipt, not the lead's receipt nor the invoice
    assert!(mine.contains(&"itinerary".to_string()) && mine.contains(&his), "{mine:?}");
    assert!(!mine.contains(&leads) && !mine.contains(&"invoice".to_string()), "{mine:?}");
    // AND a forged URL request for the lead's receipt answers exactly like a document that does not exist
    let forged = f.url("AE-10001", &leads, None, &charles).await;
    let missing = f.url("AE-10001", "receipt-movnothing", None, &charles).await;
    problem(&forged, 404, "not-found");
    assert_eq!(body_json(&forged), body_json(&missing));
    assert_eq!(f.url("AE-10001", &his, None, &charles).await.status(), 200);
    // AND the overview agrees with the documents route
    let overview = ::bookings::State::new(f.env.store(), sessions());
    let req = ApiRequest::new("GET", "/bookings/AE-10001")
        .route("/bookings/{reference}")
        .path_param("reference", "AE-10001")
        .header("cookie", &charles);
    let r = ::bookings::handle(&overview, req.build()).await.unwrap_or_else(|e| match e {});
    let listed: Vec<String> = body_json(&r)["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["document_id"].as_str().unwrap().to_string())
        .collect();
    let mut a = listed.clone();
    a.sort();
    let mut b = mine.clone();
    b.sort();
    assert_eq!(a, b);
}
