//! The target itself: probe, an unconfigured target, and connect() to loopback addresses.

use crate::server::{get, get_only, serve};
use meshwork_checks::Outcome;
use meshwork_checks::check::{self, Context};
use meshwork_checks::course::{CheckSpec, ClusterCheck, PodsCheck};
use meshwork_checks::target::cluster::KubeconfigSearch;
use meshwork_checks::target::{ClusterTarget, Target, TargetStatus, probe};
use std::path::Path;
use std::sync::Arc;

#[tokio::test]
async fn probe_reports_version_and_ready_nodes() {
    let (client, server) = serve(vec![
        get("/version", "version"),
        get("/api/v1/nodes", "nodes_not_ready"),
    ]);
    let target = ClusterTarget::from_client(client, None);
    let status = probe(&target).await;
    drop(target);
    server.await.unwrap();
    assert_eq!(
        status,
        TargetStatus::Ready {
            version: "v1.33.1".into(),
            ready_nodes: 1
        }
    );
}

#[tokio::test]
async fn probe_explains_rejected_credentials() {
    let (client, server) = serve(vec![get_only("/version").status(
        401,
        "Unauthorized",
        "Unauthorized",
    )]);
    let target = ClusterTarget::from_client(client, None);
    let status = probe(&target).await;
    drop(target);
    server.await.unwrap();
    let TargetStatus::Unreachable(why) = status else {
        panic!("expected Unreachable, got {status:?}");
    };
    assert!(
        why.starts_with("the cluster rejected the credentials (401 Unauthorized)"),
        "{why}"
    );
}

fn no_kubeconfig(home: &Path) -> KubeconfigSearch {
    KubeconfigSearch {
        kubeconfig_env: None,
        home: Some(home.to_path_buf()),
    }
}

#[tokio::test]
async fn without_kubeconfig_every_cluster_check_explains_the_alternative() {
    let home = tempfile::tempdir().unwrap();
    let target = ClusterTarget::connect_with(&no_kubeconfig(home.path()), None).await;
    assert_eq!(target.describe(), "cluster");
    let status = probe(&target).await;
    let TargetStatus::Unconfigured(why) = status else {
        panic!("expected Unconfigured, got {status:?}");
    };
    assert!(
        why.starts_with("no Kubernetes cluster is configured"),
        "{why}"
    );

    let ctx = Context {
        target: Arc::new(target),
        content: Arc::new(crate::server::content()),
    };
    let cluster = CheckSpec::Cluster(ClusterCheck {
        min_version: None,
        min_ready_nodes: 1,
        recommended_memory_gib: None,
        recommended_cpus: None,
    });
    let f = check::evaluate(&ctx, &cluster).await;
    assert_eq!(f.outcome, Outcome::Error);
    assert!(
        f.message.contains("no Kubernetes cluster is configured"),
        "{}",
        f.message
    );
    assert!(f.message.contains("reference mesh"), "{}", f.message);
    assert!(
        f.message
            .contains(&home.path().join(".kube/config").display().to_string()),
        "names where it looked: {}",
        f.message
    );

    let pods = CheckSpec::Pods(PodsCheck {
        namespace: "default".into(),
        selector: String::new(),
        min_count: 1,
        ready: true,
        containers: None,
        has_container: None,
        lacks_container: None,
    });
    assert_eq!(check::evaluate(&ctx, &pods).await.outcome, Outcome::Error);
}

/// A kubeconfig whose only context points at `server`.
fn kubeconfig(dir: &Path, server: &str) -> KubeconfigSearch {
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: kind-istio\n\
         clusters:\n- name: kind-istio\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n\
         users:\n- name: learner\n  user:\n    token: not-a-real-token\n\
         contexts:\n- name: kind-istio\n  context:\n    cluster: kind-istio\n    user: learner\n"
    );
    let path = dir.join("config");
    std::fs::write(&path, text).unwrap();
    KubeconfigSearch {
        kubeconfig_env: Some(path.into_os_string()),
        home: None,
    }
}

#[tokio::test]
async fn connect_to_a_stopped_cluster_is_unreachable_with_connection_refused() {
    // A loopback port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let target = ClusterTarget::connect_with(
        &kubeconfig(dir.path(), &format!("https://127.0.0.1:{port}")),
        None,
    )
    .await;
    assert_eq!(target.describe(), "cluster (context kind-istio)");
    let status = probe(&target).await;
    let TargetStatus::Unreachable(why) = status else {
        panic!("expected Unreachable, got {status:?}");
    };
    assert!(why.starts_with("connection refused"), "{why}");
}

#[tokio::test]
async fn connect_to_a_server_that_does_not_speak_tls_reports_tls() {
    // A loopback server that answers in plain HTTP where the kubeconfig says https.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let target = ClusterTarget::connect_with(
        &kubeconfig(dir.path(), &format!("https://127.0.0.1:{port}")),
        None,
    )
    .await;
    let status = probe(&target).await;
    server.abort();
    let TargetStatus::Unreachable(why) = status else {
        panic!("expected Unreachable, got {status:?}");
    };
    assert!(
        why.starts_with("the TLS connection to the API server failed"),
        "{why}"
    );
}
