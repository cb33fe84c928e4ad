//! `cluster` checks: version, Ready nodes, capacity guidance.

use crate::server::{get, run};
use meshwork_checks::Outcome;
use meshwork_checks::course::{CheckSpec, ClusterCheck, Version};

fn demo_profile(min_ready_nodes: u32) -> CheckSpec {
    CheckSpec::Cluster(ClusterCheck {
        min_version: Version::parse("1.29"),
        min_ready_nodes,
        recommended_memory_gib: Some(8.0),
        recommended_cpus: Some(4.0),
    })
}

#[tokio::test]
async fn roomy_cluster_passes_with_a_summary() {
    let script = vec![
        get("/version", "version"),
        get("/api/v1/nodes", "nodes_roomy"),
    ];
    let f = run(script, demo_profile(1)).await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert_eq!(
        f.message,
        "Kubernetes v1.33.1, 2 nodes Ready, 23.6 GiB and 7.5 CPUs allocatable"
    );
}

#[tokio::test]
async fn small_node_is_a_warning_not_a_failure() {
    let script = vec![
        get("/version", "version"),
        get("/api/v1/nodes", "nodes_small"),
    ];
    let f = run(script, demo_profile(1)).await;
    assert_eq!(f.outcome, Outcome::Warn, "{}", f.message);
    assert!(
        f.message.starts_with(
            "Istio's demo profile wants about 8 GiB and 4 CPUs; the cluster has 3.8 GiB and 2 CPUs allocatable."
        ),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn not_ready_node_fails_and_is_named() {
    let script = vec![
        get("/version", "version"),
        get("/api/v1/nodes", "nodes_not_ready"),
    ];
    let f = run(script, demo_profile(2)).await;
    assert_eq!(f.outcome, Outcome::Fail, "{}", f.message);
    assert!(
        f.message.starts_with(
            "1 of 2 nodes are Ready, expected at least 2; not ready: kind-worker (NotReady: KubeletNotReady)."
        ),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn old_kubernetes_fails_naming_both_versions() {
    let spec = CheckSpec::Cluster(ClusterCheck {
        min_version: Version::parse("1.34"),
        min_ready_nodes: 1,
        recommended_memory_gib: None,
        recommended_cpus: None,
    });
    // The version alone decides: the nodes are never listed.
    let f = run(vec![get("/version", "version")], spec).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert!(
        f.message.starts_with(
            "the cluster runs Kubernetes v1.33.1, older than 1.34.0 which this course needs"
        ),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn rejected_credentials_are_an_error_that_says_so() {
    let script =
        vec![crate::server::get_only("/version").status(401, "Unauthorized", "Unauthorized")];
    let f = run(script, demo_profile(1)).await;
    assert_eq!(f.outcome, Outcome::Error);
    assert!(
        f.message.starts_with(
            "cannot reach the cluster (context mock): the cluster rejected the credentials"
        ),
        "{}",
        f.message
    );
}
