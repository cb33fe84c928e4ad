//! The `envoy_stat` and `istio_config` checks against a real reference mesh with Istio
//! installed and real Envoy sidecars, Istio's httpbin and fortio samples applied unchanged with
//! the real kubectl: the circuit-breaking lesson (the overflow stat fails before fortio's load
//! and passes after it), and configuration istiod cannot use (a malformed VirtualService, a
//! route to an undefined subset) failing the `istio_config` check until it is fixed.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

// A test binary: helpers panic with a message, and a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mesh.rs"]
mod mesh_support;

use mesh_support::{MeshEnv, SAMPLES, kubectl_and_envoy};
use meshwork_checks::engine::Outcome;
use std::time::{Duration, Instant};

const OVERFLOW: &str =
    "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow";

/// The circuit breaker of Istio's circuit-breaking task (which writes it inline; it is not
/// among the sample files).
const CIRCUIT_BREAKER: &str = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequests: 1
        maxRequestsPerConnection: 1
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
";

/// Configuration istiod cannot use, and its fix: fixtures shared with the CLI's tests.
const MALFORMED: &str = include_str!("../../tests/fixtures/pilot_problems/httpbin-bad.yaml");
const MISSING_SUBSET: &str = include_str!("../../tests/fixtures/pilot_problems/httpbin-v9.yaml");
const SUBSET_V9: &str = include_str!("../../tests/fixtures/pilot_problems/dr-v9.yaml");

/// A fresh mesh with Istio installed and `default` labelled for injection.
async fn istio() -> Option<MeshEnv> {
    let env = MeshEnv::start(kubectl_and_envoy()?).await;
    env.install_istio().await;
    env.kubectl(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    Some(env)
}

const OVERFLOW_CHECK: &str = "      - id: tripped\n        title: The breaker tripped\n        envoy_stat:\n          \
     pod: app=fortio\n          namespace: default\n          \
     stat: cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow\n          \
     expect: \"> 0\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaking_lesson_trips_the_overflow_stat() {
    let Some(env) = istio().await else {
        return;
    };
    env.kubectl(&["apply", "-f", &format!("{SAMPLES}/httpbin/httpbin.yaml")])
        .await;
    env.kubectl(&[
        "apply",
        "-f",
        &format!("{SAMPLES}/httpbin/sample-client/fortio-deploy.yaml"),
    ])
    .await;
    env.ready("default", "app=httpbin").await;
    env.ready("default", "app=fortio").await;
    env.apply_text("breaker.yaml", CIRCUIT_BREAKER).await;

    // Before the load: the counter is there and 0, so the check fails saying so.
    let before = env
        .run_until(
            OVERFLOW_CHECK,
            "the overflow counter in fortio's sidecar",
            |r| r.message.contains(" = 0 on fortio-deploy-"),
        )
        .await;
    assert_eq!(before.outcome, Outcome::Fail, "{}", before.message);
    assert!(
        before
            .message
            .starts_with(&format!("{OVERFLOW} = 0 on fortio-deploy-"))
            && before.message.ends_with(" (default), expected > 0"),
        "{}",
        before.message
    );

    // A sidecar-less pod has no stats to read.
    let sidecarless = env
        .run(
            "      - id: none\n        title: No sidecar\n        envoy_stat:\n          \
             pod: app=istiod\n          namespace: istio-system\n          stat: server.live\n          expect: \"== 1\"\n",
        )
        .await;
    assert_eq!(sidecarless.outcome, Outcome::Fail);
    assert!(
        sidecarless.message.contains("has no istio-proxy sidecar"),
        "{}",
        sidecarless.message
    );

    // Load it as the task does; the breaker reaches fortio's sidecar within moments of the
    // DestinationRule, so a load that ran before it arrived is run again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let load = env
            .kubectl_out(&[
                "exec",
                "deploy/fortio-deploy",
                "-c",
                "fortio",
                "--",
                "fortio",
                "load",
                "-c",
                "3",
                "-qps",
                "0",
                "-n",
                "30",
                "-loglevel",
                "Warning",
                "http://httpbin:8000/get",
            ])
            .await;
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&load.stdout),
            String::from_utf8_lossy(&load.stderr)
        );
        if report.contains("Code 503") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the breaker never refused a request:\n{report}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let after = env.run(OVERFLOW_CHECK).await;
    println!("before: {}\nafter: {}", before.message, after.message);
    assert_eq!(after.outcome, Outcome::Pass, "{}", after.message);
    assert!(
        after.message.starts_with(&format!("{OVERFLOW} = ")),
        "{}",
        after.message
    );
    env.mesh.shutdown().await;
}

const CONFIG_CHECK: &str = "      - id: accepted\n        title: The mesh accepted the configuration\n        \
     istio_config:\n          namespace: default\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_config_fails_quoting_what_istiod_cannot_use_until_it_is_fixed() {
    let Some(env) = istio().await else {
        return;
    };
    env.kubectl(&["apply", "-f", &format!("{SAMPLES}/httpbin/httpbin.yaml")])
        .await;
    env.ready("default", "app=httpbin").await;
    let clean = env
        .run_until(CONFIG_CHECK, "httpbin's sidecar connected", |r| {
            r.outcome == Outcome::Pass && !r.message.contains("0 proxies connected")
        })
        .await;
    assert!(
        clean.message.starts_with(
            "istiod accepted the configuration of namespace default: no rejected configuration"
        ),
        "{}",
        clean.message
    );

    env.apply_text("bad.yaml", MALFORMED).await;
    env.apply_text("v9.yaml", MISSING_SUBSET).await;
    let failed = env
        .run_until(CONFIG_CHECK, "both problems quoted", |r| {
            r.message.contains("httpbin-bad") && r.message.contains("httpbin-v9")
        })
        .await;
    println!("{}", failed.message);
    assert_eq!(failed.outcome, Outcome::Fail, "{}", failed.message);
    for part in [
        "istiod reports 2 problems in namespace default: ",
        "VirtualService default/httpbin-bad (malformed, ignored): field `spec.http[0].route[0].destination.port",
        "VirtualService default/httpbin-v9 (warning): field `http[0].route[0].destination.subset`: subset \"v9\"",
        "DestinationRule",
    ] {
        assert!(
            failed.message.contains(part),
            "{part:?} in {}",
            failed.message
        );
    }
    // On a live cluster the check reads Istio's /debug/syncz, which knows rejections only: the
    // same mesh through that path has none to report.
    let cluster = env.as_cluster().await;
    let via_syncz = env.run_on(cluster, CONFIG_CHECK).await;
    assert_eq!(via_syncz.outcome, Outcome::Pass, "{}", via_syncz.message);
    assert!(
        via_syncz
            .message
            .starts_with("no proxy of namespace default rejected its configuration (")
            && via_syncz
                .message
                .contains("/debug/syncz, which reports rejections only"),
        "{}",
        via_syncz.message
    );
    // Another namespace is not concerned.
    let elsewhere = env
        .run("      - id: other\n        title: Other\n        istio_config:\n          namespace: istio-system\n")
        .await;
    assert_eq!(elsewhere.outcome, Outcome::Pass, "{}", elsewhere.message);

    env.kubectl(&["delete", "virtualservice", "httpbin-bad"])
        .await;
    env.apply_text("dr.yaml", SUBSET_V9).await;
    env.run_until(CONFIG_CHECK, "a pass once fixed", |r| {
        r.outcome == Outcome::Pass
    })
    .await;
    env.mesh.shutdown().await;
}
