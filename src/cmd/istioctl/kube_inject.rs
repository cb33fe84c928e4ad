//! `meshwork istioctl kube-inject`: Istio's manual sidecar injection. Reads Kubernetes
//! manifests (files or standard input, any number of YAML documents), adds the sidecar to the
//! pod template of every Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and Pod
//! with the same code the reference mesh's injector runs ([`meshwork_mesh::inject`]), passes
//! other kinds through unchanged and prints the result for `kubectl apply -f -`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use meshwork_mesh::inject::{self, DocumentOutcome, Settings};
use serde::Deserialize;

use crate::cmd::CmdResult;

/// Examples shown under `--help`.
pub const EXAMPLES: &str = "\
Examples:
  meshwork istioctl kube-inject -f samples/httpbin/httpbin.yaml | kubectl apply -f -
  kubectl apply -f <(meshwork istioctl kube-inject -f deployment.yaml)
  cat app.yaml | meshwork istioctl kube-inject -f - -o app-injected.yaml

The injected pods run Istio's sidecar in any namespace, labelled for injection or not.
Objects other than workloads (Services, ServiceAccounts …) are printed unchanged.";

/// `kube-inject`'s options (istioctl's names).
#[derive(Debug, Clone, clap::Args)]
pub struct KubeInjectArgs {
    /// Manifest to inject (`-` reads standard input); may be given more than once
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
    pub filename: Vec<String>,
    /// Write the injected manifest to FILE instead of standard output
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Why a manifest could not be injected.
#[derive(Debug)]
pub enum InjectError {
    /// A document is not valid YAML (or not a Kubernetes object's shape).
    Yaml {
        /// The file (`<stdin>` for standard input).
        source_name: String,
        /// 1-based document number within the file.
        document: usize,
        /// 1-based line in the file.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The injected object could not be written back as YAML.
    Write {
        /// The file.
        source_name: String,
        /// 1-based document number.
        document: usize,
        /// The serializer's message.
        message: String,
    },
}

impl std::fmt::Display for InjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Yaml {
                source_name,
                document,
                line,
                column,
                message,
            } => write!(
                f,
                "{source_name}:{line}:{column}: document {document} is not valid YAML: {message}; \
                 fix the manifest and run kube-inject again"
            ),
            Self::Write {
                source_name,
                document,
                message,
            } => write!(
                f,
                "{source_name}: document {document} could not be written as YAML: {message}"
            ),
        }
    }
}

impl std::error::Error for InjectError {}

/// Injects every document of one manifest; returns the output (each document followed by
/// `---`, as istioctl prints it) and istioctl's "Skipping injection" notes.
pub fn inject_text(
    source_name: &str,
    text: &str,
    settings: &Settings,
) -> Result<(String, Vec<String>), InjectError> {
    let mut out = String::new();
    let mut notes = Vec::new();
    for (i, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let number = i + 1;
        let mut value = serde_json::Value::deserialize(document).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            // The parser's message repeats the position; keep only what went wrong.
            let message = e.to_string();
            let message = message
                .split_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m)
                .to_owned();
            InjectError::Yaml {
                source_name: source_name.to_owned(),
                document: number,
                line,
                column,
                message,
            }
        })?;
        if value.is_null() {
            continue;
        }
        if let DocumentOutcome::Skipped(note) = inject::inject_document(&mut value, settings) {
            notes.push(note);
        }
        let yaml = serde_yaml::to_string(&value).map_err(|e| InjectError::Write {
            source_name: source_name.to_owned(),
            document: number,
            message: e.to_string(),
        })?;
        out.push_str(&yaml);
        out.push_str("---\n");
    }
    Ok((out, notes))
}

fn read_source(name: &str) -> anyhow::Result<(String, String)> {
    if name == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("failed to read the manifest from standard input")?;
        return Ok(("<stdin>".to_owned(), text));
    }
    let text = std::fs::read_to_string(name).with_context(|| {
        format!("failed to read {name}; check the path (or use `-f -` to read standard input)")
    })?;
    Ok((name.to_owned(), text))
}

/// Runs `meshwork istioctl kube-inject`.
pub fn run(args: &KubeInjectArgs) -> CmdResult {
    let settings = Settings::default();
    let mut output = String::new();
    for name in &args.filename {
        let (source_name, text) = read_source(name)?;
        let (injected, notes) = inject_text(&source_name, &text, &settings)?;
        for note in notes {
            eprintln!("{note}");
        }
        output.push_str(&injected);
    }
    match &args.output {
        Some(path) => std::fs::write(path, output).with_context(|| {
            format!(
                "failed to write the injected manifest to {}",
                path.display()
            )
        })?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(output.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: docker.io/library/nginx:1.27
---
";

    fn docs(out: &str) -> Vec<serde_json::Value> {
        serde_yaml::Deserializer::from_str(out)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .filter(|v| !v.is_null())
            .collect()
    }

    #[test]
    fn workloads_get_the_sidecar_and_other_kinds_pass_through() {
        let (out, notes) = inject_text("app.yaml", APP, &Settings::default()).unwrap();
        assert!(notes.is_empty());
        let docs = docs(&out);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["kind"], "Service");
        assert_eq!(
            docs[0]["spec"],
            serde_json::json!({"ports": [{"port": 80}]})
        );
        let containers = &docs[1]["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[1]["name"], "istio-proxy");
        assert!(out.ends_with("---\n"));
    }

    #[test]
    fn injected_output_injects_to_the_same_manifest() {
        let (once, _) = inject_text("app.yaml", APP, &Settings::default()).unwrap();
        let (twice, _) = inject_text("app.yaml", &once, &Settings::default()).unwrap();
        assert_eq!(once, twice);
    }

    #[test]
    fn malformed_yaml_names_the_file_document_and_line() {
        let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Pod\nmetadata:\n  name: [unclosed\n";
        let err = inject_text("bad.yaml", bad, &Settings::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml:"), "{text}");
        assert!(text.contains("document 2 is not valid YAML"), "{text}");
        let InjectError::Yaml { line, .. } = err else {
            panic!("a YAML error")
        };
        assert!((5..=8).contains(&line), "line {line}");
    }

    #[test]
    fn an_opted_out_workload_is_printed_unchanged_with_istioctls_note() {
        let text = APP.replace(
            "labels: {app: web}\n    spec",
            "labels: {app: web, sidecar.istio.io/inject: \"false\"}\n    spec",
        );
        let (out, notes) = inject_text("app.yaml", &text, &Settings::default()).unwrap();
        assert_eq!(
            notes,
            ["===> Skipping injection because Deployment \"web\" has sidecar injection disabled"]
        );
        assert!(!out.contains("istio-proxy"));
    }
}
