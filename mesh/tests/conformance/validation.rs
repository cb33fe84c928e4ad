//! Server-side field validation with the real kubectl: `--validate=strict` (kubectl's default,
//! sent as `fieldValidation=Strict`), `warn` and `false`; wrong types; CRD schemas; and that
//! every manifest of Istio's samples still applies. Also `kubectl edit` with a scripted EDITOR.

use std::path::Path;

use super::harness::{Env, Out, kubectl_path};

const SAMPLES: &str = "/work/shared/istio-samples/samples";

fn deployment(extra_spec: &str, container_extra: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
{extra_spec}  selector:
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
{container_extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_rejected_as_a_real_server_rejects_them() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let file = env.write(
        "typo.yaml",
        &deployment("  replica: 3\n", "        imagePullPolicyy: Always\n"),
    );
    let path = file.to_str().expect("utf8");
    let out = env.kubectl(&["apply", "-f", path]).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error from server (BadRequest): error when creating \"{path}\": Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""
        )
    );
    let out = env.kubectl(&["get", "deploy", "web"]).await;
    assert_ne!(out.code, 0, "nothing may be created: {out:?}");

    // --validate=warn: created without the unknown fields, with a warning per field.
    let out = env.kubectl(&["apply", "--validate=warn", "-f", path]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("deployment.apps/web created"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("Warning: unknown field \"spec.replica\""),
        "{out:?}"
    );
    assert!(
        out.stderr.contains(
            "Warning: unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""
        ),
        "{out:?}"
    );
    // The unknown fields are dropped (the last-applied annotation still quotes them, as on a
    // real cluster).
    let spec = env
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.spec}"])
        .await;
    assert!(!spec.contains("imagePullPolicyy"), "{spec}");
    assert!(!spec.contains("\"replica\""), "{spec}");

    // --validate=false: fieldValidation=Ignore, created silently.
    let other = env.write(
        "typo2.yaml",
        &deployment("  replica: 3\n", "").replace("name: web\nspec", "name: web2\nspec"),
    );
    let out = env
        .kubectl(&[
            "apply",
            "--validate=false",
            "-f",
            other.to_str().expect("utf8"),
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("deployment.apps/web2 created"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("Warning"), "{out:?}");

    // A typo in an update (a strategic merge patch) is refused too, and changes nothing.
    let fixed = env.write("fixed.yaml", &deployment("  replicas: 3\n", ""));
    env.ok(&["apply", "-f", fixed.to_str().expect("utf8")])
        .await;
    let typo = env.write(
        "typo3.yaml",
        &deployment("  replicas: 5\n  paused2: true\n", ""),
    );
    let out = env
        .kubectl(&["apply", "-f", typo.to_str().expect("utf8")])
        .await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("strict decoding error: unknown field \"spec.paused2\""),
        "{out:?}"
    );
    let replicas = env
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"])
        .await;
    assert_eq!(replicas, "3");

    // Server-side apply checks the same fields.
    let out = env
        .kubectl(&["apply", "--server-side", "-f", typo.to_str().expect("utf8")])
        .await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains(".spec.paused2: field not declared in schema"),
        "{out:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrongly_typed_value_is_a_bad_request_naming_field_and_type() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let file = env.write(
        "ports.yaml",
        &deployment("", "        ports:\n        - containerPort: \"http\"\n"),
    );
    let path = file.to_str().expect("utf8");
    // --validate=false too: a type error is never just a warning.
    for validate in ["--validate=strict", "--validate=false"] {
        let out = env.kubectl(&["apply", validate, "-f", path]).await;
        assert_ne!(out.code, 0, "{out:?}");
        assert_eq!(
            out.stderr.trim(),
            format!(
                "Error from server (BadRequest): error when creating \"{path}\": Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"
            )
        );
    }
    env.stop().await;
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: routes.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: routes
    singular: route
    kind: Route
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              hosts:
                type: array
                items:
                  type: string
              timeout:
                type: string
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_schema_rejects_unknown_and_wrongly_typed_spec_fields() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let crd = env.write("crd.yaml", CRD);
    env.ok(&["apply", "-f", crd.to_str().expect("utf8")]).await;
    let route = |spec: &str| {
        format!("apiVersion: example.com/v1\nkind: Route\nmetadata:\n  name: r\nspec:\n{spec}")
    };
    let typo = env.write("typo.yaml", &route("  hosts: [a]\n  timeoutt: 5s\n"));
    let path = typo.to_str().expect("utf8");
    let out = env.kubectl(&["apply", "-f", path]).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error from server (BadRequest): error when creating \"{path}\": Route in version \"v1\" cannot be handled as a Route: strict decoding error: unknown field \"spec.timeoutt\""
        )
    );
    let wrong = env.write("wrong.yaml", &route("  hosts: a\n"));
    let out = env
        .kubectl(&["apply", "-f", wrong.to_str().expect("utf8")])
        .await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(
            "Route.example.com \"r\" is invalid: spec.hosts: Invalid value: \"string\": spec.hosts in body must be of type array: \"string\""
        ),
        "{out:?}"
    );
    let good = env.write("good.yaml", &route("  hosts: [a]\n  timeout: 5s\n"));
    let out = env.ok(&["apply", "-f", good.to_str().expect("utf8")]).await;
    assert!(out.contains("route.example.com/r created"), "{out}");
    // An update through a merge patch is checked as well.
    let out = env.kubectl(&["apply", "-f", path]).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("strict decoding error: unknown field \"spec.timeoutt\""),
        "{out:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_istio_sample_manifest_still_applies_under_strict_validation() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let mut files = Vec::new();
    for dir in ["bookinfo/platform/kube", "httpbin", "sleep", "curl"] {
        let dir = Path::new(SAMPLES).join(dir);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        entries.sort();
        files.extend(entries);
    }
    assert!(files.len() > 10, "samples missing: {files:?}");
    for file in &files {
        let out = env
            .kubectl(&["apply", "-f", file.to_str().expect("utf8")])
            .await;
        // Some samples need third-party CRDs (cert-manager); a real cluster without them
        // refuses those kinds the same way. Nothing else may fail.
        let missing_crds = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.contains("no matches for kind") || l == "ensure CRDs are installed first");
        assert!(
            out.code == 0 || missing_crds,
            "{} was rejected: {out:?}",
            file.display()
        );
        assert!(
            !out.stderr.contains("unknown field"),
            "{}: {out:?}",
            file.display()
        );
    }
    env.stop().await;
}

async fn kubectl_edit(env: &Env, editor: &Path, args: &[&str]) -> Out {
    let bin = kubectl_path().expect("kubectl");
    let out = tokio::process::Command::new(bin)
        .args(args)
        .arg(format!("--kubeconfig={}", env.kubeconfig().display()))
        .arg(format!(
            "--cache-dir={}",
            env.home.path().join("cache").display()
        ))
        .env("HOME", env.home.path())
        .env("EDITOR", editor)
        .env("TMPDIR", env.home.path())
        .env_remove("KUBE_EDITOR")
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("kubectl runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn editor_script(env: &Env, name: &str, sed: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = env.write(name, &format!("#!/bin/sh\nset -e\nsed -i '{sed}' \"$1\"\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_edit_changes_a_service_port_and_labels() {
    if kubectl_path().is_none() {
        return;
    }
    let env = Env::start().await;
    let bookinfo = format!("{SAMPLES}/bookinfo/platform/kube/bookinfo.yaml");
    env.ok(&["apply", "-f", &bookinfo]).await;

    let editor = editor_script(
        &env,
        "edit-port.sh",
        "s/^\\(  *\\)port: 9080$/\\1port: 9081/; s/^  labels:$/  labels:\\n    edited: \"yes\"/",
    );
    let out = kubectl_edit(&env, &editor, &["edit", "svc", "productpage"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "service/productpage edited", "{out:?}");
    let port = env
        .ok(&[
            "get",
            "svc",
            "productpage",
            "-o",
            "jsonpath={.spec.ports[*].port}",
        ])
        .await;
    assert_eq!(port, "9081");
    let target = env
        .ok(&[
            "get",
            "svc",
            "productpage",
            "-o",
            "jsonpath={.spec.ports[*].targetPort}",
        ])
        .await;
    assert_eq!(target, "9080");
    let labels = env
        .ok(&["get", "svc", "productpage", "-L", "edited", "--no-headers"])
        .await;
    assert!(labels.split_whitespace().any(|c| c == "yes"), "{labels}");

    // An edit that introduces a typo is refused by the server, and kubectl says so.
    let typo = editor_script(
        &env,
        "edit-typo.sh",
        "s/^  type: ClusterIP$/  typo: ClusterIP/",
    );
    let out = kubectl_edit(&env, &typo, &["edit", "svc", "productpage"]).await;
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("error: services \"productpage\" is invalid"),
        "{out:?}"
    );
    // kubectl keeps the edited copy with the server's reason as a comment.
    let copy = out
        .stderr
        .split('"')
        .find(|s| s.contains("kubectl-edit-"))
        .expect("copy path");
    let copy = std::fs::read_to_string(copy).expect("copy readable");
    assert!(copy.contains("unknown field \"spec.typo\""), "{copy}");
    let svc_type = env
        .ok(&["get", "svc", "productpage", "-o", "jsonpath={.spec.type}"])
        .await;
    assert_eq!(svc_type, "ClusterIP");
    env.stop().await;
}
