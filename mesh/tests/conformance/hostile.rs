//! Hostile and malformed requests get a 4xx Status and leave the mesh working.
//!
//! Hand-picked cases first, then a seeded property test that mutates valid bodies at every verb
//! (see [`mutator`]); `MESHWORK_FUZZ_SEED` and `MESHWORK_FUZZ_ROUNDS` replay or extend it.

mod mutator;

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use serde_json::{Value, json};

use super::harness::Env;
use mutator::Rng;

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

/// One valid object per kind the fuzzer aims at: (collection path, name, object).
fn fuzz_targets() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "/api/v1/namespaces/default/configmaps",
            "fuzz-cm",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "fuzz-cm", "labels": {"app": "fuzz"}}, "data": {"k": "v"}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            "fuzz-web",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "fuzz-web"},
                   "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "fuzz"}},
                            "template": {"metadata": {"labels": {"app": "fuzz"}},
                                         "spec": {"containers": [{"name": "c", "image": "nginx",
                                                                  "ports": [{"containerPort": 80}]}]}}}}),
        ),
        (
            "/api/v1/namespaces/default/services",
            "fuzz-svc",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fuzz-svc"},
                   "spec": {"selector": {"app": "fuzz"}, "ports": [{"name": "http", "port": 80}]}}),
        ),
        (
            "/api/v1/namespaces/default/pods",
            "fuzz-pod",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fuzz-pod"},
                   "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        ),
        (
            "/api/v1/namespaces",
            "fuzz-ns",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz-ns"}}),
        ),
    ]
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_bodies_at_every_verb_never_break_the_mesh() {
    let seed = env_number("MESHWORK_FUZZ_SEED", 0x5eed_0003);
    let rounds = env_number("MESHWORK_FUZZ_ROUNDS", 400);
    let mut env = Env::start().await;
    let client = env.kube_client().await;
    let targets = fuzz_targets();
    for (collection, _, valid) in &targets {
        let body = serde_json::to_vec(valid).expect("json");
        let (code, created) = send(&client, "POST", collection, "application/json", body).await;
        assert_eq!(code, 201, "{collection}: {created}");
    }
    let mut rng = Rng::new(seed);
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..rounds {
        let (collection, name, valid) = rng.pick(&targets);
        let item = format!("{collection}/{name}");
        let (method, path, content_type, body) = match rng.below(9) {
            0 | 1 => (
                "POST",
                collection.to_string(),
                "application/json",
                mutator::body(&mut rng, valid),
            ),
            2 => (
                "PUT",
                item,
                "application/json",
                mutator::body(&mut rng, valid),
            ),
            3 => (
                "PATCH",
                item,
                "application/merge-patch+json",
                mutator::body(&mut rng, valid),
            ),
            4 => (
                "PATCH",
                item,
                "application/strategic-merge-patch+json",
                mutator::body(&mut rng, valid),
            ),
            5 => {
                let patch = if rng.chance(70) {
                    serde_json::to_vec(&mutator::json_patch(&mut rng)).expect("json")
                } else {
                    mutator::body(&mut rng, valid)
                };
                ("PATCH", item, "application/json-patch+json", patch)
            }
            6 => (
                "PATCH",
                format!("{item}?fieldManager=fuzz&force=true"),
                "application/apply-patch+yaml",
                mutator::body(&mut rng, valid),
            ),
            7 => {
                let options = json!({"kind": "DeleteOptions", "apiVersion": "v1",
                                     "propagationPolicy": "Background",
                                     "preconditions": {"resourceVersion": "1"}});
                (
                    "DELETE",
                    item,
                    "application/json",
                    mutator::body(&mut rng, &options),
                )
            }
            _ => {
                let base = if rng.chance(50) {
                    collection.to_string()
                } else {
                    item
                };
                (
                    "GET",
                    format!("{base}?{}", mutator::query(&mut rng)),
                    "application/json",
                    Vec::new(),
                )
            }
        };
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        let replay = format!(
            "seed {seed} round {round}: {method} {path} ({content_type}, {} bytes) {shown}",
            body.len()
        );
        let (code, answer) = tokio::time::timeout(
            Duration::from_secs(30),
            send(&client, method, &path, content_type, body),
        )
        .await
        .unwrap_or_else(|_| panic!("no answer (hang) for {replay}"));
        *codes.entry(code).or_default() += 1;
        assert!(code < 500, "{code} for {replay}: {answer}");
        assert!(
            answer.is_object(),
            "{code} with a body that is not a JSON object for {replay}"
        );
        if code >= 300 {
            assert_eq!(answer["kind"], "Status", "{code} for {replay}: {answer}");
            assert_eq!(answer["code"], code, "{replay}: {answer}");
            assert!(
                answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                "a Status kubectl can print, for {replay}: {answer}"
            );
        }
        if method == "DELETE" && code < 300 {
            // Put it back so later rounds keep finding something to mutate.
            let body = serde_json::to_vec(valid).expect("json");
            let (code, again) = send(&client, "POST", collection, "application/json", body).await;
            assert!(code < 500, "re-creating {name} after {replay}: {again}");
        }
    }
    eprintln!("seed {seed}, {rounds} rounds, answers by code: {codes:?}");
    assert!(
        codes.keys().any(|c| *c < 300) && codes.keys().any(|c| (400..500).contains(c)),
        "the run exercised both accepted and rejected requests: {codes:?}"
    );

    // The controllers survived whatever was accepted: a new Deployment still gets a Ready pod.
    let (_, _, deployment) = &targets[1];
    let mut fresh = deployment.clone();
    fresh["metadata"]["name"] = json!("after-fuzz");
    fresh["spec"]["selector"]["matchLabels"] = json!({"app": "after-fuzz"});
    fresh["spec"]["template"]["metadata"]["labels"] = json!({"app": "after-fuzz"});
    let body = serde_json::to_vec(&fresh).expect("json");
    let (code, created) = send(&client, "POST", targets[1].0, "application/json", body).await;
    assert_eq!(code, 201, "{created}");
    let ready = "/api/v1/namespaces/default/pods?labelSelector=app%3Dafter-fuzz";
    let mut polls = 0;
    loop {
        let (_, pods) = send(&client, "GET", ready, "application/json", Vec::new()).await;
        let is_ready = pods["items"].as_array().is_some_and(|items| {
            items.iter().any(|p| {
                p["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
        });
        if is_ready {
            break;
        }
        polls += 1;
        assert!(
            polls < 3000,
            "controllers stopped after seed {seed}: no Ready pod for a new Deployment"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The store reloads cleanly and holds only well-formed objects.
    env.restart().await;
    assert_eq!(
        env.mesh().notice(),
        None,
        "the state reloaded without setting anything aside"
    );
    for (resource, object) in env.mesh().store().all() {
        let name = object["metadata"]["name"].as_str().unwrap_or("");
        assert!(
            !name.is_empty(),
            "{resource} object without a name: {object}"
        );
    }
    let snapshot = std::fs::read(env.state.path().join(meshwork_mesh::store::STORE_FILE))
        .expect("the restart wrote a snapshot");
    let snapshot: Value = serde_json::from_slice(&snapshot).expect("the snapshot is JSON");
    let objects = snapshot["objects"].as_array().expect("objects");
    assert!(!objects.is_empty());
    for entry in objects {
        assert!(
            entry["object"]["metadata"]["name"]
                .as_str()
                .is_some_and(|n| !n.is_empty()),
            "snapshot entry without a name: {entry}"
        );
    }
    let client = env.kube_client().await;
    let (code, list) = send(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(code, 200, "{list}");
    env.stop().await;
}
