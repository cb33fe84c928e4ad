//! The scripted mock API server and helpers to run a check against it.

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use meshwork_checks::Content;
use meshwork_checks::check::{self, Context, Finding};
use meshwork_checks::content::Origin;
use meshwork_checks::course::CheckSpec;
use meshwork_checks::target::ClusterTarget;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// One request the client must send, and the answer it gets.
pub struct Exchange {
    method: Method,
    path: String,
    query_contains: Option<String>,
    status: StatusCode,
    body: Vec<u8>,
    /// Instead of answering, fail the connection with this error.
    refuse: bool,
}

/// Expects `GET path`, answered 200 with the named fixture.
pub fn get(path: &str, fixture_name: &str) -> Exchange {
    Exchange {
        method: Method::GET,
        path: path.to_string(),
        query_contains: None,
        status: StatusCode::OK,
        body: serde_json::to_vec(&fixture(fixture_name)).unwrap(),
        refuse: false,
    }
}

impl Exchange {
    /// The query string must contain this (e.g. `labelSelector=app%3Dproductpage`).
    pub fn query(mut self, part: &str) -> Self {
        self.query_contains = Some(part.to_string());
        self
    }

    /// Answers with a status and a raw body instead.
    pub fn answer(mut self, status: u16, body: impl Into<Vec<u8>>) -> Self {
        self.status = StatusCode::from_u16(status).unwrap();
        self.body = body.into();
        self
    }

    /// The connection fails as if nothing listened (connection refused).
    pub fn refuse(mut self) -> Self {
        self.refuse = true;
        self
    }

    /// Answers with a Kubernetes `Status` error, as the API server does.
    pub fn status(self, code: u16, reason: &str, message: &str) -> Self {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code
        });
        self.answer(code, serde_json::to_vec(&status).unwrap())
    }
}

/// Expects `GET path` and answers with a raw status and body (set with `answer`/`status`).
pub fn get_only(path: &str) -> Exchange {
    Exchange {
        method: Method::GET,
        path: path.to_string(),
        query_contains: None,
        status: StatusCode::OK,
        body: b"{}".to_vec(),
        refuse: false,
    }
}

/// A JSON fixture from `tests/fixtures/mock_api/`.
pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The text of a fixture file.
pub fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/mock_api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let path = if path.ends_with(".yaml") {
        path
    } else {
        format!("{path}.json")
    };
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A client whose requests go to a task that plays `script` in order.
pub fn serve(script: Vec<Exchange>) -> (kube::Client, JoinHandle<()>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        for ex in script {
            let Some((request, send)) = handle.next_request().await else {
                panic!(
                    "expected {} {}, but the client sent nothing more",
                    ex.method, ex.path
                );
            };
            assert_eq!(request.method(), ex.method, "method of {}", request.uri());
            assert_eq!(request.uri().path(), ex.path, "path of {}", request.uri());
            if let Some(part) = &ex.query_contains {
                let query = request.uri().query().unwrap_or_default();
                assert!(
                    query.contains(part.as_str()),
                    "query of {}: wanted {part}",
                    request.uri()
                );
            }
            if ex.refuse {
                let refused = std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "tcp connect error: Connection refused (os error 111)",
                );
                send.send_error(refused);
                continue;
            }
            let response = Response::builder()
                .status(ex.status)
                .header("content-type", "application/json")
                .body(Body::from(ex.body))
                .unwrap();
            send.send_response(response);
        }
        if let Some((request, _)) = handle.next_request().await {
            panic!("unexpected request {} {}", request.method(), request.uri());
        }
    });
    (kube::Client::new(service, "default"), server)
}

/// Course content holding `manifests/reviews-v1.yaml` (the reference for the VirtualService).
pub fn content() -> Content {
    Content::from_files(
        Origin::Embedded,
        [(
            "manifests/reviews-v1.yaml",
            fixture_text("reviews-v1.yaml").into_bytes(),
        )],
    )
}

/// Runs one check against the scripted server and returns what it found, after making sure
/// the server saw exactly the expected requests.
pub async fn run(script: Vec<Exchange>, spec: CheckSpec) -> Finding {
    let (client, server) = serve(script);
    let ctx = Context {
        target: Arc::new(ClusterTarget::from_client(client, Some("mock".into()))),
        content: Arc::new(content()),
    };
    let finding = check::evaluate(&ctx, &spec).await;
    drop(ctx);
    server.await.unwrap();
    finding
}
