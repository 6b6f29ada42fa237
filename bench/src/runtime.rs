//! The two local servers a benchmarked function talks to: a minimal Lambda Runtime API (the function's only
//! way in and out) and a counting proxy in front of moto (every AWS call, by service and operation).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::sync::{mpsc, oneshot};

type Reply = Result<Response<Full<Bytes>>, std::io::Error>;
/// A queued invocation (request id, event), or `None`: end the function at its next poll.
type Queued = Option<(String, Vec<u8>)>;

fn reply(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder().status(status).body(Full::new(body.into())).expect("valid response")
}

/// What the function answered for one invocation.
#[derive(Debug)]
pub struct Outcome {
    pub at: Instant,
    pub error: bool,
    pub body: Vec<u8>,
}

struct Shared {
    first_next: Mutex<Option<Instant>>,
    nexts: tokio::sync::Notify,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<String>>,
}

/// `GET /2018-06-01/runtime/invocation/next` hands out queued events; a queued `None` (or an empty, closed
/// queue) answers the next poll by dropping the connection, which makes the runtime's `run` return an error
/// and the process exit (so callgrind writes its profile).
pub struct RuntimeApi {
    pub addr: String,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Queued>,
    seq: u64,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the runtime API");
        let addr = listener.local_addr().expect("local addr").to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            first_next: Mutex::new(None),
            nexts: tokio::sync::Notify::new(),
            queue: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let st = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let st = st.clone();
                        async move { serve(st, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        RuntimeApi { addr, shared, tx, seq: 0 }
    }

    /// Queue one event; the receiver completes when the function posts its response (or error).
    pub fn invoke(&mut self, event: Vec<u8>) -> oneshot::Receiver<Outcome> {
        self.seq += 1;
        let id = format!("bench-{:08}", self.seq);
        let (done, rx) = oneshot::channel();
        self.shared.pending.lock().expect("lock").insert(id.clone(), done);
        let _ = self.tx.send(Some((id, event)));
        rx
    }

    /// The next poll ends the function.
    pub fn stop(&self) {
        let _ = self.tx.send(None);
    }

    pub fn first_next(&self) -> Option<Instant> {
        *self.shared.first_next.lock().expect("lock")
    }

    pub fn init_error(&self) -> Option<String> {
        self.shared.init_error.lock().expect("lock").clone()
    }

    /// Wait until the function first polls for an event.
    pub async fn ready(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.shared.nexts.notified();
            if let Some(t) = self.first_next() {
                return Some(t);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if tokio::time::timeout(left.min(Duration::from_millis(50)), notified).await.is_err()
                && Instant::now() >= deadline
            {
                return None;
            }
        }
    }
}

async fn serve(st: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let now = Instant::now();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if method == hyper::Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        {
            let mut first = st.first_next.lock().expect("lock");
            if first.is_none() {
                *first = Some(now);
            }
        }
        st.nexts.notify_waiters();
        let next = st.queue.lock().await.recv().await;
        let Some(Some((id, event))) = next else {
            return Err(std::io::Error::other("benchmark over: closing the runtime API connection"));
        };
        let deadline = chrono::Utc::now().timestamp_millis() + 300_000;
        return Ok(Response::builder()
            .status(200)
            .header("lambda-runtime-aws-request-id", &id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:eu-west-2:123456789012:function:bench")
            .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(event)))
            .expect("valid response"));
    }
    let body = req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let at = Instant::now();
    if method == hyper::Method::POST && path == "/2018-06-01/runtime/init/error" {
        *st.init_error.lock().expect("lock") = Some(String::from_utf8_lossy(&body).into_owned());
        return Ok(reply(202, "{}"));
    }
    if method == hyper::Method::POST
        && let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/")
        && let Some((id, kind)) = rest.split_once('/')
    {
        let done = st.pending.lock().expect("lock").remove(id);
        if let Some(done) = done {
            let _ = done.send(Outcome { at, error: kind == "error", body });
        }
        return Ok(reply(202, "{}"));
    }
    Ok(reply(404, "{}"))
}

/// A forwarding proxy in front of moto that counts requests by `Service.Operation`.
#[derive(Clone)]
pub struct CountingProxy {
    pub url: String,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> CountingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let counts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
        let upstream = upstream.trim_end_matches('/').to_string();
        let c = counts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                let (c, client, upstream) = (c.clone(), client.clone(), upstream.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (c, client, upstream) = (c.clone(), client.clone(), upstream.clone());
                        async move {
                            let key = operation(&req);
                            *c.lock().expect("lock").entry(key).or_default() += 1;
                            let (mut parts, body) = req.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
                            parts.uri = format!("{upstream}{pq}").parse().expect("upstream uri");
                            let fwd = Request::from_parts(parts, Full::new(body));
                            match client.request(fwd).await {
                                Ok(resp) => {
                                    let (parts, body) = resp.into_parts();
                                    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                    Ok::<_, Infallible>(Response::from_parts(parts, Full::new(body)))
                                }
                                Err(e) => Ok(reply(502, e.to_string())),
                            }
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        CountingProxy { url, counts }
    }

    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().expect("lock"))
    }
}

/// `Service.Operation` of an SDK request: the service from the SigV4 credential scope, the operation from
/// `X-Amz-Target` (JSON protocols: DynamoDB, SQS) or from the REST shape (S3, SES v2).
fn operation<B>(req: &Request<B>) -> String {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let scope = h("authorization");
    let signing = scope.split("Credential=").nth(1).and_then(|c| c.split('/').nth(3)).unwrap_or("unknown").to_string();
    let service = match signing.as_str() {
        "dynamodb" => "DynamoDB",
        "sqs" => "SQS",
        "ses" => "SESv2",
        "s3" => "S3",
        other => return format!("{other}.{} {}", req.method(), req.uri().path()),
    };
    let target = h("x-amz-target");
    if let Some((_, op)) = target.rsplit_once('.') {
        return format!("{service}.{op}");
    }
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let segments = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).count();
    let op = match (service, req.method().as_str()) {
        ("SESv2", "POST") if path.ends_with("/outbound-emails") => "SendEmail".to_string(),
        ("S3", "PUT") if segments >= 2 => "PutObject".into(),
        ("S3", "GET") if segments >= 2 => "GetObject".into(),
        ("S3", "HEAD") if segments >= 2 => "HeadObject".into(),
        ("S3", "DELETE") if segments >= 2 => "DeleteObject".into(),
        ("S3", "GET") if query.contains("list-type=2") => "ListObjectsV2".into(),
        (_, m) => format!("{m} {path}"),
    };
    format!("{service}.{op}")
}
