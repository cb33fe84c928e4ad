//! `meshwork istioctl kube-inject`: Istio's samples come out with the sidecar, from a file or
//! standard input, to stdout or `-o`; broken YAML names the file and line and exits 2.

use crate::util::{Env, stderr, stdout};
use serde::Deserialize;

const HTTPBIN: &str = "/work/shared/istio-samples/samples/httpbin/httpbin.yaml";

fn documents(text: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| serde_json::Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn kind<'a>(docs: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {docs:?}"))
}

fn container_names(deployment: &serde_json::Value) -> Vec<&str> {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect()
}

/// The httpbin sample's path, or `None` (with a note) where the samples are not checked out.
fn httpbin() -> Option<&'static str> {
    if std::path::Path::new(HTTPBIN).exists() {
        Some(HTTPBIN)
    } else {
        eprintln!("skipping: the Istio samples are not under /work/shared/istio-samples");
        None
    }
}

#[test]
fn the_httpbin_sample_comes_out_with_the_sidecar_and_its_service_unchanged() {
    let Some(sample) = httpbin() else { return };
    let env = Env::new();
    let out = env
        .cmd_default_target()
        .args(["istioctl", "kube-inject", "-f", sample])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let docs = documents(&text);
    let original = documents(&std::fs::read_to_string(sample).unwrap());
    assert_eq!(docs.len(), original.len());
    assert_eq!(kind(&docs, "Service"), kind(&original, "Service"));
    assert_eq!(
        kind(&docs, "ServiceAccount"),
        kind(&original, "ServiceAccount")
    );
    let deployment = kind(&docs, "Deployment");
    assert_eq!(container_names(deployment), ["httpbin", "istio-proxy"]);
    let template = &deployment["spec"]["template"];
    assert_eq!(template["spec"]["initContainers"][0]["name"], "istio-init");
    assert_eq!(
        template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"],
        "httpbin"
    );
    assert!(
        template["metadata"]["annotations"]["sidecar.istio.io/status"]
            .as_str()
            .unwrap()
            .contains("\"containers\":[\"istio-proxy\"]")
    );
    assert_eq!(
        template["spec"]["containers"][1]["image"]
            .as_str()
            .unwrap()
            .rsplit_once(':')
            .unwrap()
            .0,
        "docker.io/istio/proxyv2"
    );
    // Each document ends with a separator, as istioctl prints them.
    assert!(text.ends_with("---\n"), "{text}");
}

#[test]
fn standard_input_and_an_output_file_work_too() {
    let Some(sample) = httpbin() else { return };
    let env = Env::new();
    let target = env.path("injected.yaml");
    let out = env
        .cmd_default_target()
        .args(["istioctl", "kube-inject", "--filename", "-", "-o"])
        .arg(&target)
        .pipe_stdin(sample)
        .unwrap()
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let docs = documents(&std::fs::read_to_string(&target).unwrap());
    assert_eq!(
        container_names(kind(&docs, "Deployment")),
        ["httpbin", "istio-proxy"]
    );
}

#[test]
fn an_opted_out_workload_is_printed_unchanged_with_a_note() {
    let env = Env::new();
    let manifest = env.path("optout.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web, sidecar.istio.io/inject: \"false\"}\n    spec:\n      containers:\n      - {name: web, image: nginx}\n",
    )
    .unwrap();
    let out = env
        .cmd_default_target()
        .args(["istioctl", "kube-inject", "-f"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "===> Skipping injection because Deployment \"shop/web\" has sidecar injection disabled\n"
    );
    let docs = documents(&stdout(&out));
    assert_eq!(container_names(&docs[0]), ["web"]);
}

#[test]
fn malformed_yaml_exits_2_naming_the_file_document_and_line() {
    let env = Env::new();
    let manifest = env.path("broken.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n  labels: [oops\n",
    )
    .unwrap();
    let out = env
        .cmd_default_target()
        .args(["istioctl", "kube-inject", "-f"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stdout(&out),
        "",
        "nothing is printed for a manifest that fails"
    );
    let err = stderr(&out);
    let prefix = format!("error: {}:", manifest.display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(err.contains("document 2 is not valid YAML"), "{err}");
    let line: usize = err[prefix.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((10..=11).contains(&line), "line {line}: {err}");
}

#[test]
fn a_missing_file_is_named_with_what_to_do() {
    let env = Env::new();
    env.cmd_default_target()
        .args(["istioctl", "kube-inject", "-f", "no-such.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("failed to read no-such.yaml"))
        .stderr(predicates::str::contains("check the path"));
}
