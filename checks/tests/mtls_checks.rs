//! The mTLS lab's checks against a real reference mesh with Istio installed, real Envoy
//! sidecars and Istio's httpbin and curl samples applied unchanged with the real kubectl, as
//! Istio's mutual TLS migration task deploys them (foo and bar injected, legacy without
//! sidecars): the `mtls_matrix` check passes on the all-200 matrix, fails quoting the legacy →
//! foo cell once foo is STRICT, and passes again with the matrix updated; `workload_identity`
//! reads httpbin's SPIFFE id on both target shapes; an `http` check sees an AuthorizationPolicy's
//! 403 (`RBAC: access denied`), also when it is the request's header that the policy denies, and
//! a RequestAuthentication's 401 for a bearer token its key does not verify.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

// A test binary: helpers panic with a message, and a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mesh.rs"]
mod mesh_support;

use mesh_support::{MeshEnv, SAMPLES, kubectl_and_envoy};
use meshwork_checks::engine::Outcome;

/// A fresh mesh with Istio installed and the migration task's namespaces and workloads.
async fn migration_task() -> Option<MeshEnv> {
    let env = MeshEnv::start(kubectl_and_envoy()?).await;
    env.install_istio().await;
    for ns in ["foo", "bar", "legacy"] {
        env.kubectl(&["create", "namespace", ns]).await;
    }
    let httpbin = format!("{SAMPLES}/httpbin/httpbin.yaml");
    let curl = format!("{SAMPLES}/curl/curl.yaml");
    for ns in ["foo", "bar"] {
        env.kubectl(&["label", "namespace", ns, "istio-injection=enabled"])
            .await;
        env.kubectl(&["apply", "-n", ns, "-f", &httpbin]).await;
        env.kubectl(&["apply", "-n", ns, "-f", &curl]).await;
    }
    env.kubectl(&["apply", "-n", "legacy", "-f", &curl]).await;
    for ns in ["foo", "bar"] {
        env.ready(ns, "app=httpbin").await;
        env.ready(ns, "app=curl").await;
    }
    env.ready("legacy", "app=curl").await;
    Some(env)
}

fn matrix_check(expect: &str) -> String {
    format!(
        "      - id: matrix\n        title: The request matrix\n        timeout: 60\n        mtls_matrix:\n          \
         clients: [foo, bar, legacy]\n          servers: [foo, bar]\n          client: app=curl\n          \
         container: curl\n          url: \"http://httpbin.{{server}}:8000/ip\"\n{expect}"
    )
}

const STRICT_FOO: &str = "\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: foo
spec:
  mtls:
    mode: STRICT
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_task_matrix_and_identities() {
    let Some(env) = migration_task().await else {
        return;
    };
    let all_200 = matrix_check("");
    let before = env
        .run_until(&all_200, "the all-200 matrix", |r| {
            r.outcome == Outcome::Pass
        })
        .await;
    println!("{}", before.message);
    assert_eq!(
        before.message,
        "the request matrix (3 clients × 2 servers) is as expected:\n\
         curl.foo to httpbin.foo: 200\n\
         curl.foo to httpbin.bar: 200\n\
         curl.bar to httpbin.foo: 200\n\
         curl.bar to httpbin.bar: 200\n\
         curl.legacy to httpbin.foo: 200\n\
         curl.legacy to httpbin.bar: 200"
    );
    // The matrix expecting STRICT before it is applied: plaintext is still accepted.
    let strict_expected = matrix_check(
        "          expect:\n            default: 200\n            legacy to foo: \"000\"\n",
    );
    let early = env.run(&strict_expected).await;
    assert_eq!(early.outcome, Outcome::Fail, "{}", early.message);
    assert!(
        early
            .message
            .contains("curl.legacy to httpbin.foo: 200   ✗ expected 000\n")
            && early
                .message
                .contains("httpbin.foo still accepts plaintext from curl.legacy"),
        "{}",
        early.message
    );

    // Workload identity of httpbin in foo, on both target shapes.
    let identity = "      - id: identity\n        title: httpbin's identity\n        workload_identity:\n          \
         pod: app=httpbin\n          namespace: foo\n          expect: spiffe://cluster.local/ns/foo/sa/httpbin\n          \
         expires_within: 25h\n";
    let id = env
        .run_until(identity, "httpbin's certificate", |r| {
            r.outcome == Outcome::Pass
        })
        .await;
    println!("{}", id.message);
    assert!(
        id.message.starts_with("the sidecar of httpbin-")
            && id
                .message
                .contains(" (foo) presents spiffe://cluster.local/ns/foo/sa/httpbin (serial ")
            && id.message.contains(", expires in "),
        "{}",
        id.message
    );
    let on_cluster = env.run_on(env.as_cluster().await, identity).await;
    assert_eq!(on_cluster.outcome, Outcome::Pass, "{}", on_cluster.message);
    let wrong = env
        .run(
            "      - id: identity\n        title: t\n        workload_identity:\n          \
             pod: app=httpbin\n          namespace: foo\n          expect: spiffe://cluster.local/ns/bar/sa/*\n",
        )
        .await;
    assert_eq!(wrong.outcome, Outcome::Fail, "{}", wrong.message);
    assert!(
        wrong
            .message
            .contains("; expected spiffe://cluster.local/ns/bar/sa/* — the identity comes from"),
        "{}",
        wrong.message
    );
    let legacy = env
        .run(
            "      - id: identity\n        title: t\n        workload_identity:\n          \
             pod: app=curl\n          namespace: legacy\n          expect: spiffe://cluster.local/ns/legacy/sa/curl\n",
        )
        .await;
    assert_eq!(legacy.outcome, Outcome::Fail, "{}", legacy.message);
    assert!(
        legacy.message.contains(
            "has no istio-proxy sidecar (its containers: curl), so it has no workload certificate"
        ),
        "{}",
        legacy.message
    );

    // STRICT in foo: only legacy → foo fails, with 000 and exit code 56, quoted by the check.
    env.apply_text("strict-foo.yaml", STRICT_FOO).await;
    let strict = env
        .run_until(&all_200, "legacy → foo refused", |r| {
            r.outcome == Outcome::Fail
        })
        .await;
    println!("{}", strict.message);
    assert!(
        strict.message.starts_with(
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
        strict.message
    );
    // The expected matrix updated: a pass, on both target shapes.
    let updated = env.run(&strict_expected).await;
    assert_eq!(updated.outcome, Outcome::Pass, "{}", updated.message);
    assert!(
        updated
            .message
            .contains("curl.legacy to httpbin.foo: 000\ncurl.legacy to httpbin.bar: 200"),
        "{}",
        updated.message
    );
    let on_cluster = env.run_on(env.as_cluster().await, &strict_expected).await;
    assert_eq!(on_cluster.outcome, Outcome::Pass, "{}", on_cluster.message);
    env.mesh.shutdown().await;
}

const DENY_HEADERS: &str = "\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-headers
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        paths: [\"/headers\"]
  - when:
    - key: request.headers[x-lab]
      values: [\"block\"]
";

/// A RequestAuthentication for httpbin in foo with an inline key set (a public P-256 key).
const JWT_RULE: &str = r#"
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: testing@secure.istio.io
    jwks: '{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"lab","x":"woDhGLIvwm-8VThDsEtbYMihgm5oBKRnXyihbk4SFEQ","y":"TYQ92W3Lk3x-pAdpOXK7iNCpaev6uzvS6dmTQByH0uo"}]}'
"#;

/// A well-formed token of that issuer whose signature the key does not verify.
const FORGED: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImxhYiJ9.\
eyJpc3MiOiJ0ZXN0aW5nQHNlY3VyZS5pc3Rpby5pbyIsInN1YiI6ImxlYXJuZXIiLCJleHAiOjQxMDI0NDQ4MDB9.\
rP44sljQZsfXdUxSYLNGaLiRLq1hbAZmeEGRLTOJm52JShJgFxCFwLtmzu_DE404i4RKsDk3L2jW1te48JkMCA";

fn http_check(path: &str, headers: &str, expect: &str) -> String {
    format!(
        "      - id: policy\n        title: The policy's outcome\n        timeout: 30\n        http:\n          \
         url: http://httpbin.foo:8000{path}\n{headers}          \
         from: {{pod: app=curl, namespace: foo, container: curl}}\n          expect:\n{expect}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_policy_outcome_is_seen_by_the_http_check() {
    let Some(env) = migration_task().await else {
        return;
    };
    let denied = http_check(
        "/headers",
        "",
        "            status: 403\n            body: {contains: \"RBAC: access denied\"}\n",
    );
    let before = env.run(&denied).await;
    assert_eq!(before.outcome, Outcome::Fail, "{}", before.message);
    assert!(
        before.message.contains("status 200, expected 403"),
        "{}",
        before.message
    );
    env.apply_text("deny.yaml", DENY_HEADERS).await;
    let after = env
        .run_until(&denied, "the DENY policy enforced", |r| {
            r.outcome == Outcome::Pass
        })
        .await;
    assert!(
        after
            .message
            .starts_with("GET http://httpbin.foo:8000/headers from pod curl-")
            && after
                .message
                .contains("status 403; the body is as expected"),
        "{}",
        after.message
    );
    // Other paths pass; the same path with the header the policy denies does not.
    let ip = http_check("/ip", "", "            status: 200\n");
    let r = env.run(&ip).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    let blocked = http_check(
        "/ip",
        "          headers: {x-lab: block}\n",
        "            status: 403\n            body: {contains: \"RBAC: access denied\"}\n",
    );
    let r = env.run(&blocked).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);

    // JWT: a token the key does not verify gets Envoy's 401, sent as the http check's header.
    let bad_token = http_check(
        "/ip",
        &format!("          headers: {{Authorization: \"Bearer {FORGED}\"}}\n"),
        "            status: 401\n            body: {contains: \"Jwt verification fails\"}\n",
    );
    let before = env.run(&bad_token).await;
    assert_eq!(before.outcome, Outcome::Fail, "{}", before.message);
    env.apply_text("jwt.yaml", JWT_RULE).await;
    let r = env
        .run_until(&bad_token, "the forged token refused", |r| {
            r.outcome == Outcome::Pass
        })
        .await;
    assert!(r.message.contains("status 401"), "{}", r.message);
    let r = env.run(&ip).await;
    assert_eq!(
        r.outcome,
        Outcome::Pass,
        "no token is allowed: {}",
        r.message
    );
    env.mesh.shutdown().await;
}
