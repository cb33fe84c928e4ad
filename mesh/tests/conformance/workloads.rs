//! Workloads through the controllers, driven by the real kubectl: Istio's samples run, scale,
//! roll, show events and go away; imperative `kubectl create` sends protobuf.

use super::harness::{Env, header_line, kubectl_path, row};

const SAMPLES: &str = "/work/shared/istio-samples/samples";

/// The Istio samples' paths, or `None` (with a note) where they are not checked out.
fn samples() -> Option<Vec<String>> {
    let root = std::env::var("MESHWORK_ISTIO_SAMPLES").unwrap_or_else(|_| SAMPLES.to_owned());
    let files: Vec<String> = [
        "bookinfo/platform/kube/bookinfo.yaml",
        "httpbin/httpbin.yaml",
        "sleep/sleep.yaml",
        "curl/curl.yaml",
        "httpbin/sample-client/fortio-deploy.yaml",
    ]
    .iter()
    .map(|f| format!("{root}/{f}"))
    .collect();
    if files.iter().all(|f| std::path::Path::new(f).exists()) {
        Some(files)
    } else {
        eprintln!("skipping: the Istio samples are not under {root}");
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_samples_run_scale_show_events_and_delete() {
    if kubectl_path().is_none() {
        return;
    }
    let Some(files) = samples() else {
        return;
    };
    let env = Env::start().await;
    for f in &files {
        let out = env.ok(&["apply", "-f", f]).await;
        assert!(out.lines().all(|l| l.ends_with(" created")), "{out}");
    }
    // As on a real cluster, pods exist once the controllers have acted: wait for every rollout.
    let deployments = env.ok(&["get", "deploy", "-o", "name"]).await;
    assert_eq!(deployments.lines().count(), 10, "{deployments}");
    for d in deployments.lines() {
        env.ok(&["rollout", "status", d, "--timeout=30s"]).await;
    }
    let waited = env
        .ok(&[
            "wait",
            "--for=condition=ready",
            "pod",
            "--all",
            "--timeout=30s",
        ])
        .await;
    // bookinfo 6, httpbin, sleep, curl, fortio.
    assert_eq!(waited.lines().count(), 10, "{waited}");
    assert!(waited.lines().all(|l| l.ends_with(" condition met")));
    let rolled = env
        .ok(&[
            "rollout",
            "status",
            "deploy/productpage-v1",
            "--timeout=30s",
        ])
        .await;
    assert_eq!(
        rolled.trim(),
        "deployment \"productpage-v1\" successfully rolled out"
    );

    let pods = env.ok(&["get", "pods", "-o", "wide"]).await;
    let mut ips = Vec::new();
    for line in pods.lines().skip(1) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[1..3], ["1/1", "Running"], "{line}");
        assert!(
            cells[5].starts_with("127.") && cells[5] != "127.0.0.1",
            "{line}"
        );
        assert_eq!(cells[6], "meshwork", "{line}");
        ips.push(cells[5].to_owned());
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 10, "every pod has its own IP: {pods}");

    let eps = env.ok(&["get", "endpoints"]).await;
    assert_eq!(header_line(&eps), "NAME ENDPOINTS AGE");
    let productpage = row(&eps, "productpage");
    assert!(productpage[1].ends_with(":9080"), "{eps}");
    let reviews = row(&eps, "reviews");
    assert_eq!(
        reviews[1].matches(":9080").count(),
        3,
        "three reviews versions: {eps}"
    );
    // httpbin's Service maps port 8000 to the pod's 8080.
    assert!(row(&eps, "httpbin")[1].ends_with(":8080"), "{eps}");
    let slices = env
        .ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=reviews",
            "-o",
            "jsonpath={.items[0].endpoints[*].conditions.ready}",
        ])
        .await;
    assert_eq!(slices, "true true true");

    let scaled = env
        .ok(&["scale", "deploy", "reviews-v1", "--replicas=2"])
        .await;
    assert_eq!(scaled.trim(), "deployment.apps/reviews-v1 scaled");
    env.ok(&["rollout", "status", "deploy/reviews-v1", "--timeout=30s"])
        .await;
    let reviews_v1 = env
        .ok(&["get", "pods", "-l", "app=reviews,version=v1", "-o", "name"])
        .await;
    assert_eq!(reviews_v1.lines().count(), 2, "{reviews_v1}");
    let deploy = env.ok(&["get", "deploy", "reviews-v1"]).await;
    assert_eq!(row(&deploy, "reviews-v1")[1..4], ["2/2", "2", "2"]);

    let restarted = env.ok(&["rollout", "restart", "deploy/ratings-v1"]).await;
    assert_eq!(restarted.trim(), "deployment.apps/ratings-v1 restarted");
    env.ok(&["rollout", "status", "deploy/ratings-v1", "--timeout=30s"])
        .await;
    let rs = env.ok(&["get", "rs", "-l", "app=ratings"]).await;
    assert_eq!(header_line(&rs), "NAME DESIRED CURRENT READY AGE");
    let mut counts: Vec<String> = rs
        .lines()
        .skip(1)
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        ["0 0 0", "1 1 1"],
        "the old ReplicaSet is scaled to zero: {rs}"
    );

    let pod = env
        .ok(&[
            "get",
            "pods",
            "-l",
            "app=details",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .await;
    let described = env.ok(&["describe", "pod", &pod]).await;
    for line in [
        "Status:           Running",
        "Node:             meshwork/127.0.0.1",
        "Controlled By:  ReplicaSet/details-v1-",
    ] {
        assert!(
            described.contains(line),
            "describe lacks {line:?}: {described}"
        );
    }
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(
            described
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(reason)),
            "describe shows no {reason} event: {described}"
        );
    }
    let described = env.ok(&["describe", "deploy", "reviews-v1"]).await;
    assert!(
        described.contains("Scaled up replica set reviews-v1-"),
        "{described}"
    );
    let events = env.ok(&["get", "events"]).await;
    assert_eq!(header_line(&events), "LAST SEEN TYPE REASON OBJECT MESSAGE");
    assert!(
        events.contains("SuccessfulCreate") && events.contains("ScalingReplicaSet"),
        "{events}"
    );

    let all = env.ok(&["get", "all"]).await;
    for kind in [
        "pod/productpage-v1-",
        "service/reviews",
        "deployment.apps/httpbin",
        "replicaset.apps/sleep-",
    ] {
        assert!(all.contains(kind), "get all lacks {kind}: {all}");
    }

    let deleted = env.ok(&["delete", "-f", &files[0]]).await;
    assert!(
        deleted.contains("deployment.apps \"productpage-v1\" deleted"),
        "{deleted}"
    );
    let left = env.ok(&["get", "pods", "-o", "name"]).await;
    let mut waited_rounds = 0;
    let mut left = left;
    // Background deletion: the dependents follow their owners right after the delete returns.
    while ["details", "ratings", "reviews", "productpage"]
        .iter()
        .any(|a| left.contains(a))
    {
        waited_rounds += 1;
        assert!(
            waited_rounds < 200,
            "bookinfo pods were never collected: {left}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        left = env.ok(&["get", "pods", "-o", "name"]).await;
    }
    assert_eq!(
        left.lines().count(),
        4,
        "httpbin, sleep, curl and fortio stay: {left}"
    );
    let eps = env.ok(&["get", "endpoints", "-o", "name"]).await;
    assert!(!eps.contains("productpage"), "{eps}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_watch_receives_new_pods() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let bin = kubectl_path().expect("kubectl");
    let mut watch = tokio::process::Command::new(bin)
        .args(["get", "pods", "-w", "--request-timeout=0"])
        .arg(format!("--kubeconfig={}", env.kubeconfig().display()))
        .arg(format!(
            "--cache-dir={}",
            env.home.path().join("cache").display()
        ))
        .env("HOME", env.home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl get -w starts");
    let stdout = watch.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    env.ok(&["create", "deployment", "hello", "--image=nginx"])
        .await;
    let mut seen = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let running = line.contains("Running") && line.starts_with("hello-");
        seen.push(line);
        if running {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.starts_with("hello-") && l.contains("Running")),
        "the watch never showed the pod running: {seen:?}"
    );
    watch.kill().await.expect("stop the watch");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imperative_creates_send_protobuf_and_work() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    assert_eq!(
        env.ok(&["create", "ns", "foo"]).await.trim(),
        "namespace/foo created"
    );
    assert_eq!(
        env.ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
            "-n",
            "foo"
        ])
        .await
        .trim(),
        "deployment.apps/web created"
    );
    assert_eq!(
        env.ok(&["create", "configmap", "c", "--from-literal=a=b"])
            .await
            .trim(),
        "configmap/c created"
    );
    assert_eq!(
        env.ok(&["create", "secret", "generic", "s", "--from-literal=p=q"])
            .await
            .trim(),
        "secret/s created"
    );
    assert_eq!(
        env.ok(&["create", "serviceaccount", "sa"]).await.trim(),
        "serviceaccount/sa created"
    );
    let ns = env.ok(&["get", "ns", "foo"]).await;
    assert_eq!(row(&ns, "foo")[1], "Active");
    env.ok(&[
        "rollout",
        "status",
        "deploy/web",
        "-n",
        "foo",
        "--timeout=30s",
    ])
    .await;
    let pods = env.ok(&["get", "pods", "-n", "foo", "-l", "app=web"]).await;
    assert_eq!(
        pods.lines()
            .skip(1)
            .filter(|l| l.contains("Running"))
            .count(),
        2,
        "{pods}"
    );
    let image = env
        .ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            "foo",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.spec.selector.matchLabels.app}",
        ])
        .await;
    assert_eq!(image, "nginx web");
    let data = env
        .ok(&["get", "cm", "c", "-o", "jsonpath={.data.a}"])
        .await;
    assert_eq!(data, "b");
    let secret = env
        .ok(&["get", "secret", "s", "-o", "jsonpath={.data.p}"])
        .await;
    assert_eq!(secret, "cQ==", "base64 of q");
    let sas = env.ok(&["get", "sa", "-n", "foo", "-o", "name"]).await;
    assert_eq!(
        sas.trim(),
        "serviceaccount/default",
        "every namespace gets a default ServiceAccount"
    );
    env.stop().await;
}
