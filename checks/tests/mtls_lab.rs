//! The mTLS lab's check kinds (`mtls_matrix`, `workload_identity`) end to end against a mocked
//! live-cluster-shaped API: written in a lab.yaml, loaded, and run through `pods/exec` against
//! the fake API server of the probe tests, whose containers answer as the migration task's
//! curl clients (foo and bar with sidecars, legacy without) and httpbin's istio-proxy
//! (`pilot-agent request GET certs`) would.

// A test binary: helpers panic on broken fixtures, and a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "probes/fake_api.rs"]
#[allow(dead_code)]
mod fake_api;
#[path = "support/ws_exec.rs"]
mod ws_exec;

use fake_api::{Behaviour, FakeApi, Run, World, pod};
use meshwork_checks::check::Context;
use meshwork_checks::content::{Content, Origin};
use meshwork_checks::course::load::load;
use meshwork_checks::engine::{CheckResult, Outcome, run_check};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn lab(kind: &str, check: &str) -> Content {
    let yaml = format!(
        "format_version: 1\nid: mtls\ntitle: mTLS\nsummary: Identity.\nsteps:\n  - id: one\n    \
         title: One\n    body: 01-one.md\n    checks:\n      - id: c\n        title: The check\n        \
         {kind}:\n{check}    solution:\n      commands: [{{run: \"true\"}}]\n"
    );
    Content::from_files(
        Origin::Embedded,
        [
            ("labs/09-mtls/lab.yaml".to_string(), yaml.into_bytes()),
            ("labs/09-mtls/01-one.md".to_string(), b"# One\n".to_vec()),
        ],
    )
}

async fn run(api: &FakeApi, kind: &str, check: &str) -> CheckResult {
    let content = lab(kind, check);
    let course = load(&content).unwrap_or_else(|e| panic!("the lab should load:\n{e}"));
    let check = course.labs[0].steps[0].checks[0].clone();
    assert_eq!(check.spec.kind_name(), kind);
    let ctx = Context {
        target: api.target(),
        content: Arc::new(content),
    };
    run_check(&ctx, &check).await
}

fn in_namespace(mut p: Value, namespace: &str) -> Value {
    p["metadata"]["namespace"] = json!(namespace);
    p
}

fn with_default_container(mut p: Value, container: &str) -> Value {
    p["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/default-container": container});
    p
}

/// A curl container that answers the task's command: `codes` maps a server namespace to what
/// curl prints and its exit code.
fn client(codes: &'static [(&'static str, &'static str, i32)]) -> Behaviour {
    Arc::new(move |argv: &[String], container: &str| {
        assert_eq!(container, "curl", "the check names the client's container");
        let url = argv.get(1).cloned().unwrap_or_default();
        assert_eq!(
            argv,
            [
                "curl",
                url.as_str(),
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}"
            ],
            "the task's command"
        );
        let (_, code, exit) = codes
            .iter()
            .find(|(ns, _, _)| url == format!("http://httpbin.{ns}:8000/ip"))
            .copied()
            .unwrap_or(("", "000", 6));
        Run {
            stdout: code.to_string(),
            stderr: if exit == 0 {
                String::new()
            } else {
                format!("command terminated with exit code {exit}\n")
            },
            exit: Some(exit),
        }
    })
}

fn nothing_else() -> Behaviour {
    Arc::new(|argv: &[String], _: &str| Run {
        stdout: String::new(),
        stderr: format!("{}: not found\n", argv[0]),
        exit: Some(127),
    })
}

/// The migration task's clients; legacy → foo refused as under STRICT in foo.
fn strict_foo_world() -> World {
    let mut by_pod: BTreeMap<String, Behaviour> = BTreeMap::new();
    by_pod.insert(
        "curl-6f9-foo".into(),
        client(&[("foo", "200", 0), ("bar", "200", 0)]),
    );
    by_pod.insert(
        "curl-6f9-bar".into(),
        client(&[("foo", "200", 0), ("bar", "200", 0)]),
    );
    by_pod.insert(
        "curl-6f9-legacy".into(),
        client(&[("foo", "000", 56), ("bar", "200", 0)]),
    );
    World {
        pods: vec![
            // The sidecar first, as with holdApplicationUntilProxyStarts; the injector's
            // annotation names the app's container as kubectl's default.
            with_default_container(
                in_namespace(
                    pod(
                        "curl-6f9-foo",
                        json!({"app": "curl"}),
                        &["istio-proxy", "curl"],
                        "Running",
                    ),
                    "foo",
                ),
                "curl",
            ),
            in_namespace(
                pod(
                    "curl-6f9-bar",
                    json!({"app": "curl"}),
                    &["curl", "istio-proxy"],
                    "Running",
                ),
                "bar",
            ),
            in_namespace(
                pod(
                    "curl-6f9-legacy",
                    json!({"app": "curl"}),
                    &["curl"],
                    "Running",
                ),
                "legacy",
            ),
        ],
        exec_by_pod: by_pod,
        ..World::default()
    }
}

const MATRIX: &str = "          clients: [foo, bar, legacy]\n          servers: [foo, bar]\n          \
     container: curl\n";

#[tokio::test]
async fn the_matrix_fails_at_the_refused_cell_then_passes_once_expected() {
    let api = FakeApi::start(strict_foo_world(), nothing_else()).await;
    let r = run(&api, "mtls_matrix", MATRIX).await;
    assert_eq!(r.outcome, Outcome::Fail, "{}", r.message);
    assert!(
        r.message.starts_with(
            "1 of 6 cells of the request matrix (3 clients × 2 servers) differ from what is expected:\n\
             curl.foo to httpbin.foo: 200\n\
             curl.foo to httpbin.bar: 200\n\
             curl.bar to httpbin.foo: 200\n\
             curl.bar to httpbin.bar: 200\n\
             curl.legacy to httpbin.foo: 000   ✗ expected 200 (command terminated with exit code 56)\n\
             curl.legacy to httpbin.bar: 200\n\
             curl.legacy has no sidecar, so it cannot present a certificate; STRICT refuses plaintext"
        ),
        "{}",
        r.message
    );
    let execs = api.execs.lock().unwrap().clone();
    assert_eq!(execs.len(), 6, "one exec per cell: {execs:?}");

    let r = run(
        &api,
        "mtls_matrix",
        &format!("{MATRIX}          expect:\n            default: 200\n            legacy to foo: \"000\"\n"),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message
            .contains("curl.legacy to httpbin.foo: 000\ncurl.legacy to httpbin.bar: 200"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn without_a_container_named_the_pods_default_container_sends() {
    let api = FakeApi::start(strict_foo_world(), nothing_else()).await;
    let r = run(
        &api,
        "mtls_matrix",
        "          clients: [foo, bar, legacy]\n          servers: [foo, bar]\n          expect:\n            legacy to foo: fail\n",
    )
    .await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    let containers: Vec<String> = api
        .execs
        .lock()
        .unwrap()
        .iter()
        .map(|(_, c, _)| c.clone())
        .collect();
    assert_eq!(containers, vec!["curl".to_string(); 6]);
}

#[tokio::test]
async fn a_namespace_without_a_client_fails_saying_what_to_deploy() {
    let mut world = strict_foo_world();
    world.pods.pop();
    let api = FakeApi::start(world, nothing_else()).await;
    let r = run(&api, "mtls_matrix", MATRIX).await;
    assert_eq!(r.outcome, Outcome::Fail, "{}", r.message);
    assert_eq!(
        r.message,
        "the matrix needs a client pod (app=curl) in every client namespace: there is no pod \
         with app=curl in namespace legacy — deploy the client there (e.g. kubectl apply -n \
         NAMESPACE -f samples/curl/curl.yaml) and wait until it is Running"
    );
    assert!(
        api.execs.lock().unwrap().is_empty(),
        "nothing is sent before every client is there"
    );
}

#[tokio::test]
async fn a_bad_matrix_is_refused_when_the_lab_loads() {
    let content = lab(
        "mtls_matrix",
        "          clients: [foo]\n          servers: [bar]\n          expect:\n            foo to baz: 200\n",
    );
    let e = load(&content)
        .expect_err("an unknown cell is an error")
        .to_string();
    assert!(
        e.contains("checks[0].mtls_matrix.expect.foo to baz`: the matrix has no cell foo to baz: clients are foo, servers are bar"),
        "{e}"
    );
}

/// An istio-proxy container whose Envoy uses a workload certificate for `uri`.
fn proxy(uri: &'static str) -> Behaviour {
    Arc::new(move |argv: &[String], container: &str| {
        if container == "istio-proxy" && argv.join(" ") == "pilot-agent request GET certs" {
            let now = jiff::Timestamp::now();
            let from = now - jiff::SignedDuration::from_hours(1);
            let until = now + jiff::SignedDuration::from_hours(23);
            let leaf = json!({
                "path": "<inline>", "serial_number": "5e1f",
                "subject_alt_names": [{"uri": uri}],
                "days_until_expiration": "0",
                "valid_from": from.to_string(), "expiration_time": until.to_string(),
            });
            Run {
                stdout: json!({"certificates": [{"ca_cert": [], "cert_chain": [leaf]}]})
                    .to_string(),
                stderr: String::new(),
                exit: Some(0),
            }
        } else {
            Run {
                stdout: String::new(),
                stderr: format!("{}: not found\n", argv[0]),
                exit: Some(127),
            }
        }
    })
}

fn httpbin_world(uri: &'static str) -> World {
    let mut by_pod: BTreeMap<String, Behaviour> = BTreeMap::new();
    by_pod.insert("httpbin-5c4-x".into(), proxy(uri));
    World {
        pods: vec![
            in_namespace(
                pod(
                    "httpbin-5c4-x",
                    json!({"app": "httpbin"}),
                    &["httpbin", "istio-proxy"],
                    "Running",
                ),
                "foo",
            ),
            in_namespace(
                pod(
                    "curl-6f9-legacy",
                    json!({"app": "curl"}),
                    &["curl"],
                    "Running",
                ),
                "legacy",
            ),
        ],
        exec_by_pod: by_pod,
        ..World::default()
    }
}

#[tokio::test]
async fn the_identity_is_read_from_the_sidecar_and_judged() {
    let api = FakeApi::start(
        httpbin_world("spiffe://cluster.local/ns/foo/sa/httpbin"),
        nothing_else(),
    )
    .await;
    let check = "          pod: app=httpbin\n          namespace: foo\n          \
                 expect: spiffe://cluster.local/ns/foo/sa/*\n          expires_within: 24h\n";
    let r = run(&api, "workload_identity", check).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.starts_with(
            "the sidecar of httpbin-5c4-x (foo) presents spiffe://cluster.local/ns/foo/sa/httpbin \
             (serial 5e1f, valid from "
        ) && r.message.contains(", expires in 2"),
        "{}",
        r.message
    );
    let execs = api.execs.lock().unwrap().clone();
    assert_eq!(
        execs.last().unwrap(),
        &(
            "httpbin-5c4-x".to_string(),
            "istio-proxy".to_string(),
            ["pilot-agent", "request", "GET", "certs"]
                .map(String::from)
                .to_vec()
        ),
        "read in the sidecar's container with pilot-agent"
    );

    // A certificate for another service account fails naming both.
    let api = FakeApi::start(
        httpbin_world("spiffe://cluster.local/ns/foo/sa/default"),
        nothing_else(),
    )
    .await;
    let r = run(
        &api,
        "workload_identity",
        check.replace("/sa/*", "/sa/httpbin").as_str(),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail, "{}", r.message);
    assert!(
        r.message.contains("presents spiffe://cluster.local/ns/foo/sa/default (serial 5e1f")
            && r.message.contains("; expected spiffe://cluster.local/ns/foo/sa/httpbin — the identity comes from the pod's namespace and service account"),
        "{}",
        r.message
    );

    // A pod without a sidecar has no certificate.
    let r = run(
        &api,
        "workload_identity",
        "          pod: app=curl\n          namespace: legacy\n          expect: spiffe://cluster.local/ns/legacy/sa/curl\n",
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail, "{}", r.message);
    assert!(
        r.message.starts_with(
            "pod curl-6f9-legacy in legacy has no istio-proxy sidecar (its containers: curl), so it has no workload certificate"
        ),
        "{}",
        r.message
    );
}
