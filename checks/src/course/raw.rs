//! The `lab.yaml` file format, exactly as written by lab authors.
//!
//! These types mirror the file and nothing more: `deny_unknown_fields` everywhere so a typo
//! is an error, not a silently ignored key. [`super::load`] turns them into the validated
//! types of [`super`].

use serde::Deserialize;
use std::collections::BTreeMap;

/// The `format_version` this build understands.
pub const FORMAT_VERSION: u32 = 1;

/// A whole `lab.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLab {
    /// Must equal [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Short slug (`prerequisites`); the folder is `NN-<id>`.
    pub id: String,
    /// Title shown everywhere.
    pub title: String,
    /// One or two sentences on what the lab teaches.
    pub summary: String,
    /// Rough time to complete.
    #[serde(default)]
    pub minutes: Option<u32>,
    /// Ids of labs to finish first.
    #[serde(default)]
    pub prerequisites: Vec<String>,
    /// Kubernetes/Istio kinds and tools the lab uses (shown on the home screen).
    #[serde(default)]
    pub uses: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<RawStep>,
}

/// One step of a lab.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Slug, unique within the lab.
    pub id: String,
    /// Title shown in the step list.
    pub title: String,
    /// Markdown file with the instructions, relative to the lab folder.
    pub body: String,
    /// Commands the learner runs.
    #[serde(default)]
    pub commands: Vec<RawCommand>,
    /// What is verified.
    #[serde(default)]
    pub checks: Vec<RawCheck>,
    /// Progressive hints, revealed one at a time.
    #[serde(default)]
    pub hints: Vec<String>,
    /// How to reach the expected state.
    #[serde(default)]
    pub solution: Option<RawSolution>,
    /// How to undo the step.
    #[serde(default)]
    pub reset: Option<RawSolution>,
    /// How `meshwork lab test` treats the step.
    #[serde(default)]
    pub lab_test: Option<RawStepTest>,
}

/// `lab_test:` of a step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStepTest {
    /// The step checks the learner's machine (tools installed), so there is no unsolved
    /// state to test and its solution is not run; the reason why.
    #[serde(default)]
    pub environment: Option<String>,
}

/// `lab_test:` of a check: exceptions to "fails before the solution, fails again after reset".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheckTest {
    /// The check may already pass before its step is solved; the reason why.
    #[serde(default)]
    pub may_pass_before: Option<String>,
    /// The check may still pass after the step is reset (counters that never go down); why.
    #[serde(default)]
    pub may_pass_after_reset: Option<String>,
}

/// A command shown to the learner: the same everywhere (`run`) or per target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommand {
    /// The command on every target.
    #[serde(default)]
    pub run: Option<String>,
    /// The command on a live cluster.
    #[serde(default)]
    pub cluster: Option<String>,
    /// The command on the reference mesh.
    #[serde(default)]
    pub reference: Option<String>,
    /// A short note shown above the command.
    #[serde(default)]
    pub note: Option<String>,
}

/// A check: common fields plus exactly one kind-specific table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// Slug, unique within the step.
    pub id: String,
    /// What a passing check means, in the learner's words.
    pub title: String,
    /// Restrict the check to one target (`cluster` or `reference`).
    #[serde(default)]
    pub only: Option<String>,
    /// Seconds before the check gives up (default 10).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Shown under a failure, before the step's hints.
    #[serde(default)]
    pub hint: Option<String>,
    /// Exceptions for `meshwork lab test`.
    #[serde(default)]
    pub lab_test: Option<RawCheckTest>,
    /// A tool on PATH.
    #[serde(default)]
    pub command: Option<RawCommandCheck>,
    /// The cluster itself.
    #[serde(default)]
    pub cluster: Option<RawClusterCheck>,
    /// One object of any kind.
    #[serde(default)]
    pub resource: Option<RawResourceCheck>,
    /// Pods selected by labels.
    #[serde(default)]
    pub pods: Option<RawPodsCheck>,
    /// HTTP requests from the host or from inside a pod.
    #[serde(default)]
    pub http: Option<RawHttpCheck>,
    /// A command run inside a pod.
    #[serde(default)]
    pub exec: Option<RawExecCheck>,
    /// A stat of a pod's sidecar.
    #[serde(default)]
    pub envoy_stat: Option<crate::check::envoy_stat::RawEnvoyStatCheck>,
    /// The mesh accepted the Istio configuration.
    #[serde(default)]
    pub istio_config: Option<crate::check::istio_config::RawIstioConfigCheck>,
    /// The request matrix of Istio's mTLS migration task.
    #[serde(default)]
    pub mtls_matrix: Option<crate::check::mtls_matrix::RawMtlsMatrixCheck>,
    /// The SPIFFE id of a workload's certificate.
    #[serde(default)]
    pub workload_identity: Option<crate::check::workload_identity::RawWorkloadIdentityCheck>,
}

/// `command:` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommandCheck {
    /// Program name looked up on PATH.
    pub name: String,
    /// Arguments that make the program print its version.
    #[serde(default)]
    pub version_args: Option<Vec<String>>,
    /// Lowest acceptable version (`1.29`).
    #[serde(default)]
    pub min_version: Option<String>,
    /// `false` turns a missing tool into a warning.
    #[serde(default)]
    pub required: Option<bool>,
    /// Where to get it, shown when missing.
    #[serde(default)]
    pub install: Option<String>,
    /// What the version printed belongs to, when not the program itself (`meshwork mesh
    /// envoy` reports Envoy's).
    #[serde(default)]
    pub reports: Option<String>,
}

/// `cluster:` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClusterCheck {
    /// Lowest acceptable Kubernetes version.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Nodes that must be Ready (default 1).
    #[serde(default)]
    pub min_ready_nodes: Option<u32>,
    /// Recommended allocatable memory in GiB (a warning when below).
    #[serde(default)]
    pub recommended_memory_gib: Option<f64>,
    /// Recommended allocatable CPUs (a warning when below).
    #[serde(default)]
    pub recommended_cpus: Option<f64>,
}

/// `resource:` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResourceCheck {
    /// `networking.istio.io/v1`, `v1`, …
    pub api_version: String,
    /// `VirtualService`, `Namespace`, …
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Namespace, for namespaced kinds.
    #[serde(default)]
    pub namespace: Option<String>,
    /// `present` (default) or `absent`.
    #[serde(default)]
    pub expect: Option<String>,
    /// Field path (`spec.http[0].route[0].destination.subset`) → expected value.
    #[serde(default)]
    pub fields: BTreeMap<String, serde_yaml::Value>,
    /// Manifest file (under `manifests/`) holding the reference object, for diffs.
    #[serde(default)]
    pub reference: Option<String>,
}

/// `pods:` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPodsCheck {
    /// Namespace of the pods.
    pub namespace: String,
    /// Label selector (`app=productpage`); empty selects all.
    #[serde(default)]
    pub selector: Option<String>,
    /// Fewest pods expected (default 1).
    #[serde(default)]
    pub min_count: Option<u32>,
    /// All selected pods Ready (default true).
    #[serde(default)]
    pub ready: Option<bool>,
    /// Exact number of containers per pod (2 means injected).
    #[serde(default)]
    pub containers: Option<u32>,
    /// A container every pod must have (`istio-proxy`).
    #[serde(default)]
    pub has_container: Option<String>,
    /// A container no pod may have.
    #[serde(default)]
    pub lacks_container: Option<String>,
}

/// `http:` check: `url:`, `service:` or `ingress:`, and what the responses must look like.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpCheck {
    /// The URL, used as written (`http://127.0.0.1:30080/productpage`, `http://httpbin:8000/get`).
    #[serde(default)]
    pub url: Option<String>,
    /// A Service port instead of a URL.
    #[serde(default)]
    pub service: Option<RawServiceRef>,
    /// A path on the Istio ingress gateway instead of a URL (`/productpage`).
    #[serde(default)]
    pub ingress: Option<String>,
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Number of requests (default 1).
    #[serde(default)]
    pub count: Option<u32>,
    /// Send the requests from inside this pod, with its curl.
    #[serde(default)]
    pub from: Option<RawPodRef>,
    /// Sign in first: POST a form, then send its cookies with every request.
    #[serde(default)]
    pub login: Option<RawLogin>,
    /// What the responses must look like (default: status 200).
    #[serde(default)]
    pub expect: Option<RawHttpExpect>,
}

/// `login:` of an `http` check: `{path: /login, form: {username: jason}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    /// Path of the login form on the check's host and port (`/login`).
    pub path: String,
    /// Form fields, sent url-encoded; each value a text or number.
    #[serde(default)]
    pub form: BTreeMap<String, serde_yaml::Value>,
}

/// `service:` of an `http` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceRef {
    /// Service name.
    pub name: String,
    /// Namespace (default: the target's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The Service's port.
    pub port: u16,
    /// Path and query (default `/`).
    #[serde(default)]
    pub path: Option<String>,
}

/// `from:` of an `http` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPodRef {
    /// Pod name or label selector (`app=ratings`).
    pub pod: String,
    /// Namespace (default: the target's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Container (default: the pod's first).
    #[serde(default)]
    pub container: Option<String>,
}

/// `expect:` of an `http` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttpExpect {
    /// A status code or a list of them (default 200).
    #[serde(default)]
    pub status: Option<serde_yaml::Value>,
    /// Expectations on every body.
    #[serde(default)]
    pub body: Option<RawTextExpect>,
    /// Bookinfo product page expectations.
    #[serde(default)]
    pub bookinfo: Option<RawBookinfo>,
    /// Band for the median latency.
    #[serde(default)]
    pub latency: Option<RawLatency>,
    /// How many responses had a status: `{"429": "> 0"}`.
    #[serde(default)]
    pub status_count: Option<serde_yaml::Value>,
}

/// Expectations on a text: each a string or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTextExpect {
    /// Must appear.
    #[serde(default)]
    pub contains: Option<serde_yaml::Value>,
    /// Must not appear.
    #[serde(default)]
    pub not_contains: Option<serde_yaml::Value>,
    /// Regular expressions that must match.
    #[serde(default)]
    pub regex: Option<serde_yaml::Value>,
}

/// `bookinfo:` expectations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBookinfo {
    /// `v1`, `v2`, `v3`, `any`, `mix`, or a distribution `{v1: 50%, v3: 50%, tolerance: 10%}`.
    pub reviews: serde_yaml::Value,
}

/// `latency:` band on the median.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatency {
    /// Fastest acceptable median (`0.9s`, `900ms`, or seconds).
    #[serde(default)]
    pub min: Option<serde_yaml::Value>,
    /// Slowest acceptable median.
    #[serde(default)]
    pub max: Option<serde_yaml::Value>,
}

/// `exec:` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecCheck {
    /// Pod name or label selector (`app=ratings`).
    pub pod: String,
    /// Namespace (default: the target's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Container (default: the pod's first).
    #[serde(default)]
    pub container: Option<String>,
    /// The argv to run.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// A shell script, run as `sh -c SCRIPT`.
    #[serde(default)]
    pub script: Option<String>,
    /// What the command must do (default: exit code 0).
    #[serde(default)]
    pub expect: Option<RawExecExpect>,
}

/// `expect:` of an `exec` check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecExpect {
    /// Exit code (default 0), or `any`.
    #[serde(default)]
    pub exit_code: Option<serde_yaml::Value>,
    /// Expectations on standard output.
    #[serde(default)]
    pub stdout: Option<RawTextExpect>,
    /// Expectations on standard error.
    #[serde(default)]
    pub stderr: Option<RawTextExpect>,
}

/// `solution:` or `reset:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSolution {
    /// Markdown explanation.
    #[serde(default)]
    pub text: Option<String>,
    /// Manifests (paths under the content root) to apply, or to delete for a reset.
    #[serde(default)]
    pub manifests: Vec<String>,
    /// Commands to run.
    #[serde(default)]
    pub commands: Vec<RawCommand>,
}
