//! Hostile and malformed requests get a 4xx Status and leave the mesh working.

use bytes::Bytes;
use http::Request;

use super::harness::Env;

async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .expect("request");
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .expect("sent");
    let code = resp.status().as_u16();
    let bytes: Bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (code, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_hostile_bodies_are_4xx_status_errors() {
    let env = Env::start().await;
    let client = env.kube_client().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let json = "application/json";

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"k\":\"{}\"}}}}",
        "x".repeat(4 * 1024 * 1024)
    );
    // (method, path, content type, body, expected code, expected reason)
    type Case<'a> = (&'a str, String, &'a str, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            cms.into(),
            json,
            b"{not json".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.into(),
            json,
            deep.into_bytes(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.into(),
            json,
            huge.into_bytes(),
            413,
            "RequestEntityTooLarge",
        ),
        (
            "POST",
            cms.into(),
            json,
            b"[1,2,3]".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.into(),
            "application/vnd.kubernetes.protobuf",
            b"k8s\0junk".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.into(),
            json,
            br#"{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"a"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.into(),
            json,
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "POST",
            cms.into(),
            json,
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":[1]}}}"#
                .to_vec(),
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            format!("{cms}/kube-root"),
            "application/merge-patch+json",
            b"{}".to_vec(),
            404,
            "NotFound",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default".into(),
            "application/json-patch+json",
            br#"[{"op":"remove","path":"/nope"}]"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default".into(),
            "text/plain",
            b"{}".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        (
            "PUT",
            cms.to_owned(),
            json,
            b"{}".to_vec(),
            405,
            "MethodNotAllowed",
        ),
        (
            "GET",
            "/api/v1/widgets".into(),
            json,
            Vec::new(),
            404,
            "NotFound",
        ),
        (
            "GET",
            format!("{cms}?labelSelector=a%20in%20(b"),
            json,
            Vec::new(),
            400,
            "BadRequest",
        ),
        (
            "GET",
            format!("{cms}?fieldSelector=spec.x%3Dy"),
            json,
            Vec::new(),
            400,
            "BadRequest",
        ),
    ];
    for (method, path, ct, body, want_code, want_reason) in cases {
        let (code, status) = send(&client, method, &path, ct, body).await;
        assert_eq!(code, want_code, "{method} {path}: {status}");
        assert_eq!(status["kind"], "Status", "{method} {path}");
        assert_eq!(status["reason"], want_reason, "{method} {path}: {status}");
        assert_eq!(status["code"], want_code);
    }
    // Still healthy and nothing half-written.
    let (code, list) = send(&client, "GET", cms, json, Vec::new()).await;
    assert_eq!(code, 200);
    assert_eq!(list["items"], serde_json::json!([]));
    env.stop().await;
}
