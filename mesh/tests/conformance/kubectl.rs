//! The real kubectl against the mesh: discovery, apply/label/delete, tables and errors.

use super::harness::{Env, header_line, kubectl_path, row};

const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: lab
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: lab
data:
  greeting: hello
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: lab
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: lab
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: demo
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_discovery_report_kubernetes_1_32() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let version = env.ok(&["version"]).await;
    assert!(
        version.contains("Server Version: v1.32.4-meshwork"),
        "{version}"
    );

    let resources = env.ok(&["api-resources"]).await;
    let deploy = row(&resources, "deployments");
    assert_eq!(
        deploy,
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
    assert_eq!(row(&resources, "pods"), ["pods", "po", "v1", "true", "Pod"]);
    assert_eq!(
        row(&resources, "namespaces"),
        ["namespaces", "ns", "v1", "false", "Namespace"]
    );

    let ns = env.ok(&["get", "ns"]).await;
    assert_eq!(header_line(&ns), "NAME STATUS AGE");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(row(&ns, name)[..2], [name.to_owned(), "Active".to_owned()]);
    }
    let nodes = env.ok(&["get", "nodes"]).await;
    assert_eq!(header_line(&nodes), "NAME STATUS ROLES AGE VERSION");
    assert_eq!(row(&nodes, "meshwork")[1], "Ready");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_prints_created_unchanged_configured_and_delete_removes() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let file = env.write("app.yaml", MANIFEST);
    let file = file.to_str().expect("utf8 path");

    let created = env.ok(&["apply", "-f", file]).await;
    assert_eq!(
        created.lines().collect::<Vec<_>>(),
        [
            "namespace/lab created",
            "configmap/settings created",
            "service/web created",
            "deployment.apps/web created"
        ]
    );
    let again = env.ok(&["apply", "-f", file]).await;
    assert_eq!(
        again.lines().collect::<Vec<_>>(),
        [
            "namespace/lab unchanged",
            "configmap/settings unchanged",
            "service/web unchanged",
            "deployment.apps/web unchanged"
        ]
    );
    let edited = MANIFEST
        .replace("greeting: hello", "greeting: bonjour")
        .replace("nginx:1.27", "nginx:1.28");
    let file2 = env.write("app2.yaml", &edited);
    let configured = env
        .ok(&["apply", "-f", file2.to_str().expect("utf8")])
        .await;
    assert_eq!(
        configured.lines().collect::<Vec<_>>(),
        [
            "namespace/lab unchanged",
            "configmap/settings configured",
            "service/web unchanged",
            "deployment.apps/web configured"
        ]
    );
    let image = env
        .ok(&["get", "deploy", "web", "-n", "lab", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].value} {.metadata.generation}"])
        .await;
    assert_eq!(
        image, "nginx:1.28 demo 2",
        "the strategic merge kept env and bumped generation"
    );
    let greeting = env
        .ok(&[
            "get",
            "cm",
            "settings",
            "-n",
            "lab",
            "-o",
            "jsonpath={.data.greeting}",
        ])
        .await;
    assert_eq!(greeting, "bonjour");

    // Tables as a real cluster prints them.
    let svc = env.ok(&["get", "svc", "-n", "lab"]).await;
    assert_eq!(
        header_line(&svc),
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE"
    );
    let web = row(&svc, "web");
    assert_eq!(web[1], "ClusterIP");
    assert!(web[2].starts_with("10.96."), "{web:?}");
    assert_eq!(web[3..5], ["<none>".to_owned(), "80/TCP".to_owned()]);
    let wide = env.ok(&["get", "svc", "-n", "lab", "-o", "wide"]).await;
    assert_eq!(
        header_line(&wide),
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR"
    );
    let rolled = env
        .ok(&[
            "rollout",
            "status",
            "deploy/web",
            "-n",
            "lab",
            "--timeout=30s",
        ])
        .await;
    assert!(rolled.contains("successfully rolled out"), "{rolled}");
    let deploy = env.ok(&["get", "deploy", "-n", "lab"]).await;
    assert_eq!(header_line(&deploy), "NAME READY UP-TO-DATE AVAILABLE AGE");
    assert_eq!(
        row(&deploy, "web")[1..4],
        ["2/2".to_owned(), "2".to_owned(), "2".to_owned()]
    );
    let deploy_wide = env.ok(&["get", "deploy", "-n", "lab", "-o", "wide"]).await;
    assert_eq!(
        header_line(&deploy_wide),
        "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR"
    );
    assert_eq!(
        row(&deploy_wide, "web")[5..],
        [
            "web".to_owned(),
            "nginx:1.28".to_owned(),
            "app=web".to_owned()
        ]
    );
    let no_pods = env.kubectl(&["get", "pods", "-n", "default"]).await;
    assert_eq!(no_pods.code, 0);
    assert_eq!(
        no_pods.stderr.trim(),
        "No resources found in default namespace."
    );

    let pod = env.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: solo\n  namespace: lab\nspec:\n  containers:\n  - name: c\n    image: busybox\n    command: [\"sleep\", \"3600\"]\n",
    );
    env.ok(&["apply", "-f", pod.to_str().expect("utf8")]).await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod/solo",
        "-n",
        "lab",
        "--timeout=30s",
    ])
    .await;
    let pods = env.ok(&["get", "pods", "-n", "lab"]).await;
    assert_eq!(header_line(&pods), "NAME READY STATUS RESTARTS AGE");
    assert_eq!(
        row(&pods, "solo")[1..4],
        ["1/1".to_owned(), "Running".to_owned(), "0".to_owned()]
    );
    assert_eq!(pods.lines().count(), 4, "two web pods and solo: {pods}");
    let pods_wide = env.ok(&["get", "pods", "-n", "lab", "-o", "wide"]).await;
    assert_eq!(
        header_line(&pods_wide),
        "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"
    );

    let all = env.ok(&["get", "all", "-n", "lab"]).await;
    assert!(
        all.contains("pod/solo")
            && all.contains("service/web")
            && all.contains("deployment.apps/web"),
        "{all}"
    );

    let deleted = env.ok(&["delete", "-f", file]).await;
    assert_eq!(
        deleted.lines().collect::<Vec<_>>(),
        [
            "namespace \"lab\" deleted",
            "configmap \"settings\" deleted",
            "service \"web\" deleted",
            "deployment.apps \"web\" deleted"
        ],
        "{deleted}"
    );
    // kubectl waited for the namespace to finish Terminating; its pod went with it.
    let gone = env.kubectl(&["get", "pod", "solo", "-n", "lab"]).await;
    assert_eq!(
        gone.stderr.trim(),
        "Error from server (NotFound): namespaces \"lab\" not found"
    );
    let everywhere = env.ok(&["get", "pods", "-A", "-o", "name"]).await;
    assert!(!everywhere.contains("solo"), "{everywhere}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_namespace_and_show_it_as_a_column() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let labelled = env
        .ok(&["label", "ns", "default", "istio-injection=enabled"])
        .await;
    assert_eq!(labelled.trim(), "namespace/default labeled");
    let ns = env.ok(&["get", "ns", "-L", "istio-injection"]).await;
    assert_eq!(header_line(&ns), "NAME STATUS AGE ISTIO-INJECTION");
    assert_eq!(
        row(&ns, "default").last().map(String::as_str),
        Some("enabled")
    );
    assert_eq!(
        row(&ns, "kube-system").len(),
        3,
        "unlabelled namespaces show an empty cell"
    );
    let filtered = env
        .ok(&["get", "ns", "-l", "istio-injection=enabled", "-o", "name"])
        .await;
    assert_eq!(filtered.trim(), "namespace/default");
    let unlabelled = env
        .ok(&["label", "ns", "default", "istio-injection-"])
        .await;
    assert_eq!(unlabelled.trim(), "namespace/default unlabeled");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_read_as_on_a_real_cluster() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let missing = env.kubectl(&["get", "cm", "nope"]).await;
    assert_eq!(missing.code, 1);
    assert_eq!(
        missing.stderr.trim(),
        "Error from server (NotFound): configmaps \"nope\" not found"
    );

    let no_ns = env.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: ghost\ndata: {}\n",
    );
    let out = env
        .kubectl(&["create", "-f", no_ns.to_str().expect("utf8")])
        .await;
    assert_eq!(
        out.stderr.trim(),
        "Error from server (NotFound): error when creating \"".to_owned()
            + no_ns.to_str().expect("utf8")
            + "\": namespaces \"ghost\" not found"
    );

    let bad_name = env.write(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata: {}\n",
    );
    let out = env
        .kubectl(&["apply", "-f", bad_name.to_str().expect("utf8")])
        .await;
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
        "{out:?}"
    );
    let out = env.kubectl(&["delete", "ns", "default"]).await;
    assert_eq!(
        out.stderr.trim(),
        "Error from server (Forbidden): namespaces \"default\" is forbidden: this namespace may not be deleted"
    );

    // A wrong token: the kubeconfig from the mesh with the token replaced.
    let text = std::fs::read_to_string(env.kubeconfig()).expect("kubeconfig");
    let wrong = text.replace(env.mesh().token(), "not-the-token");
    let wrong_path = env.write("wrong-kubeconfig", &wrong);
    let out = env.kubectl_with(&wrong_path, &["get", "ns"]).await;
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        "error: You must be logged in to the server (Unauthorized)"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_survive_a_restart_on_the_same_state_dir() {
    if kubectl_path().is_none() {
        return;
    }
    let mut env = Env::start().await;
    let file = env.write("app.yaml", MANIFEST);
    env.ok(&["apply", "-f", file.to_str().expect("utf8")]).await;
    let uid = env
        .ok(&[
            "get",
            "cm",
            "settings",
            "-n",
            "lab",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.kubeconfig())
            .expect("kubeconfig")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the kubeconfig holds the token: owner-only"
        );
    }
    env.restart().await;
    let after = env
        .ok(&[
            "get",
            "cm",
            "settings",
            "-n",
            "lab",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .await;
    assert_eq!(after, uid);
    let again = env.ok(&["apply", "-f", file.to_str().expect("utf8")]).await;
    assert!(again.lines().all(|l| l.ends_with(" unchanged")), "{again}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_applies_unchanged_and_deletes() {
    if kubectl_path().is_none() {
        return;
    }
    let bookinfo = "/work/shared/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml";
    let bookinfo = std::env::var("MESHWORK_BOOKINFO").unwrap_or_else(|_| bookinfo.to_owned());
    if !std::path::Path::new(&bookinfo).exists() {
        // The Istio samples live beside the repository on the project's machines only.
        eprintln!("skipping: {bookinfo} not found");
        return;
    }
    let env = Env::start().await;
    let created = env.ok(&["apply", "-f", &bookinfo]).await;
    let lines: Vec<&str> = created.lines().collect();
    assert_eq!(lines.len(), 14, "{created}");
    assert!(lines.iter().all(|l| l.ends_with(" created")), "{created}");
    assert!(lines.contains(&"deployment.apps/reviews-v3 created"));
    let again = env.ok(&["apply", "-f", &bookinfo]).await;
    assert!(again.lines().all(|l| l.ends_with(" unchanged")), "{again}");
    let svc = env.ok(&["get", "svc"]).await;
    for name in ["details", "ratings", "reviews", "productpage"] {
        assert_eq!(row(&svc, name)[4], "9080/TCP", "{svc}");
    }
    let deleted = env.ok(&["delete", "-f", &bookinfo]).await;
    assert_eq!(deleted.lines().count(), 14, "{deleted}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_changed_to_node_port_gets_a_node_port_and_gives_it_back() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let service = |kind: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: {kind}\n  selector: {{app: web}}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
        )
    };
    let node_port = "jsonpath={.spec.ports[0].nodePort}";
    let file = env.write("svc.yaml", &service("ClusterIP"));
    env.ok(&["apply", "-f", file.to_str().expect("utf8")]).await;
    assert_eq!(env.ok(&["get", "svc", "web", "-o", node_port]).await, "");
    // As Istio's productpage-nodeport.yaml does over bookinfo.yaml's Service.
    let file = env.write("svc.yaml", &service("NodePort"));
    env.ok(&["apply", "-f", file.to_str().expect("utf8")]).await;
    let allocated: u16 = env
        .ok(&["get", "svc", "web", "-o", node_port])
        .await
        .parse()
        .expect("a nodePort was allocated on update");
    assert!((30000..=32767).contains(&allocated), "{allocated}");
    let file = env.write("svc.yaml", &service("ClusterIP"));
    env.ok(&["apply", "-f", file.to_str().expect("utf8")]).await;
    assert_eq!(env.ok(&["get", "svc", "web", "-o", node_port]).await, "");
    env.stop().await;
}
