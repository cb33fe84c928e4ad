//! `envoy_stat` checks end to end against a mocked target: written in a lab.yaml, loaded, and
//! run through `pods/exec` against the fake API server of the probe tests, whose istio-proxy
//! container answers `pilot-agent request GET stats` with fixed stats.

// A test binary: helpers panic on broken fixtures, and a panic is a failed test with its message.
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
use serde_json::json;
use std::sync::Arc;

const OVERFLOW: &str =
    "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow";

fn lab(check: &str) -> Content {
    let yaml = format!(
        "format_version: 1\nid: cb\ntitle: Circuit breaking\nsummary: Trip it.\nsteps:\n  - id: one\n    \
         title: One\n    body: 01-one.md\n    checks:\n      - id: stat\n        title: The breaker tripped\n        \
         envoy_stat:\n{check}    solution:\n      commands: [{{run: \"true\"}}]\n"
    );
    Content::from_files(
        Origin::Embedded,
        [
            ("labs/01-cb/lab.yaml".to_string(), yaml.into_bytes()),
            ("labs/01-cb/01-one.md".to_string(), b"# One\n".to_vec()),
        ],
    )
}

fn world() -> World {
    World {
        pods: vec![
            pod(
                "fortio-deploy-7c9",
                json!({"app": "fortio"}),
                &["fortio", "istio-proxy"],
                "Running",
            ),
            pod("sleep-1", json!({"app": "sleep"}), &["sleep"], "Running"),
        ],
        ..World::default()
    }
}

/// An istio-proxy container whose Envoy counted `overflow` pending overflows.
fn sidecar(overflow: u64) -> Behaviour {
    Arc::new(move |argv: &[String], container: &str| {
        if container == "istio-proxy" && argv.join(" ") == "pilot-agent request GET stats" {
            Run {
                stdout: format!(
                    "{OVERFLOW}: {overflow}\n\
                     cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_total: 30\n\
                     server.live: 1\n"
                ),
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

async fn run(api: &FakeApi, check: &str) -> CheckResult {
    let content = lab(check);
    let course = load(&content).unwrap_or_else(|e| panic!("the lab should load:\n{e}"));
    let check = course.labs[0].steps[0].checks[0].clone();
    assert_eq!(check.spec.kind_name(), "envoy_stat");
    let ctx = Context {
        target: api.target(),
        content: Arc::new(content),
    };
    run_check(&ctx, &check).await
}

fn stat_check(pod: &str, stat: &str, expect: &str) -> String {
    format!(
        "          pod: {pod}\n          namespace: default\n          stat: {stat}\n          expect: \"{expect}\"\n"
    )
}

#[tokio::test]
async fn a_tripped_breaker_passes_and_says_what_was_read() {
    let api = FakeApi::start(world(), sidecar(12)).await;
    let r = run(&api, &stat_check("app=fortio", OVERFLOW, "> 0")).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert_eq!(
        r.message,
        format!("{OVERFLOW} = 12 on fortio-deploy-7c9 (default), expected > 0")
    );
    let execs = api.execs.lock().unwrap().clone();
    assert_eq!(
        execs.last().unwrap(),
        &(
            "fortio-deploy-7c9".to_string(),
            "istio-proxy".to_string(),
            ["pilot-agent", "request", "GET", "stats"]
                .map(String::from)
                .to_vec()
        ),
        "read in the sidecar's container with pilot-agent"
    );
}

#[tokio::test]
async fn before_the_load_it_fails_with_the_value() {
    let api = FakeApi::start(world(), sidecar(0)).await;
    let r = run(&api, &stat_check("fortio-deploy-7c9", OVERFLOW, "> 0")).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        format!("{OVERFLOW} = 0 on fortio-deploy-7c9 (default), expected > 0")
    );
}

#[tokio::test]
async fn a_pod_without_sidecar_says_so() {
    let api = FakeApi::start(world(), sidecar(12)).await;
    let r = run(&api, &stat_check("app=sleep", OVERFLOW, "> 0")).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(
        r.message.starts_with(
            "pod sleep-1 in default has no istio-proxy sidecar (its containers: sleep)"
        ),
        "{}",
        r.message
    );
    assert!(api.execs.lock().unwrap().is_empty(), "nothing was run");
}

#[tokio::test]
async fn a_missing_stat_lists_close_matches() {
    let api = FakeApi::start(world(), sidecar(12)).await;
    let wrong = OVERFLOW.replace("8000", "8080");
    let r = run(&api, &stat_check("app=fortio", &wrong, ">= 1")).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        format!(
            "no stat named {wrong} on fortio-deploy-7c9 (default) (its sidecar reports 3 stats); \
             the closest are: {OVERFLOW}, \
             cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_total"
        ),
        "the same statistic of another port first, then names a typo away; server.live is too far"
    );
}

#[tokio::test]
async fn a_pattern_adds_up_matching_stats() {
    let api = FakeApi::start(world(), sidecar(5)).await;
    let check = "          pod: app=fortio\n          pattern: 'httpbin\\..*\\.upstream_rq_(total|pending_overflow)$'\n          expect: \">= 35\"\n";
    let r = run(&api, check).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(r.message.starts_with("2 stats matching"), "{}", r.message);
    assert!(r.message.contains("add up to 35"), "{}", r.message);
}

#[test]
fn lab_authors_are_told_what_to_write() {
    let errors = |check: &str| {
        load(&lab(check))
            .expect_err("the lab should be rejected")
            .0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    let e =
        errors("          pod: app=fortio\n          stat: server.live\n          expect: lots\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].contains("field `steps[0].checks[0].envoy_stat.expect`"),
        "{}",
        e[0]
    );
    assert!(e[0].contains("e.g. \"> 0\""), "{}", e[0]);
    let e = errors("          pod: app=fortio\n          expect: \"> 0\"\n");
    assert!(e[0].contains("needs `stat:`"), "{}", e[0]);
}
