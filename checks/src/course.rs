//! The validated course model: labs, steps, commands, checks, hints, solutions.
//!
//! - [`raw`]: the `lab.yaml` file format (serde, `deny_unknown_fields`).
//! - [`load`]: turns [`Content`](crate::Content) into a [`Course`], or into
//!   [`LoadErrors`] naming the file, line and field of every problem.
//! - [`lint`]: cross-file checks for `meshwork lint` (manifests, references, unused files).
//! - [`lines`]: finds the line of a field path in a YAML file, for those errors.
//!
//! A lab lives in `labs/NN-slug/`: a `lab.yaml` and one markdown file per step.

pub mod lines;
pub mod lint;
pub mod load;
pub mod raw;

use crate::check::expect::{LatencyBand, ReviewsExpect, TextExpect};
use crate::target::TargetKind;
use std::time::Duration;

pub use load::{LoadError, LoadErrors};

/// Every lab of a course, ordered by number.
#[derive(Debug, Clone)]
pub struct Course {
    /// The labs, ordered by number.
    pub labs: Vec<Lab>,
}

impl Course {
    /// Finds a lab by number (`0`, `00`), slug (`prerequisites`) or folder (`00-prerequisites`).
    pub fn lab(&self, key: &str) -> Option<&Lab> {
        let key = key.trim();
        let number = key.parse::<u32>().ok();
        self.labs.iter().find(|lab| {
            lab.id == key || lab.folder == key || number.is_some_and(|n| n == lab.number)
        })
    }

    /// The labs to finish before `lab`: its prerequisites, theirs, and so on, each once, in
    /// course order (the loader has checked that each exists and comes earlier).
    pub fn prerequisites_of(&self, lab: &Lab) -> Vec<&Lab> {
        let mut seen: Vec<&str> = Vec::new();
        let mut todo: Vec<&str> = lab.prerequisites.iter().map(String::as_str).collect();
        while let Some(id) = todo.pop() {
            if id == lab.id || seen.contains(&id) {
                continue;
            }
            seen.push(id);
            if let Some(found) = self.labs.iter().find(|l| l.id == id) {
                todo.extend(found.prerequisites.iter().map(String::as_str));
            }
        }
        self.labs
            .iter()
            .filter(|l| seen.contains(&l.id.as_str()))
            .collect()
    }

    /// Resolves `LAB` or `LAB/STEP` (step by id or 1-based number).
    pub fn resolve(&self, spec: &str) -> Result<(&Lab, Option<&Step>), String> {
        let (lab_key, step_key) = match spec.split_once('/') {
            Some((l, s)) => (l, Some(s)),
            None => (spec, None),
        };
        let lab = self.lab(lab_key).ok_or_else(|| {
            let known = self
                .labs
                .iter()
                .map(|l| format!("{:02} {}", l.number, l.id))
                .collect::<Vec<_>>()
                .join(", ");
            format!("no lab called `{lab_key}`; the labs are: {known}")
        })?;
        let Some(step_key) = step_key else {
            return Ok((lab, None));
        };
        let step = lab.step(step_key).ok_or_else(|| {
            let known = lab
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{} {}", i + 1, s.id))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "lab {:02} has no step `{step_key}`; its steps are: {known}",
                lab.number
            )
        })?;
        Ok((lab, Some(step)))
    }
}

/// One lab.
#[derive(Debug, Clone)]
pub struct Lab {
    /// Number from the folder name (`00`).
    pub number: u32,
    /// Slug (`prerequisites`).
    pub id: String,
    /// Folder name under `labs/` (`00-prerequisites`).
    pub folder: String,
    /// Title.
    pub title: String,
    /// One or two sentences.
    pub summary: String,
    /// Rough time to complete.
    pub minutes: Option<u32>,
    /// Ids of labs to finish first.
    pub prerequisites: Vec<String>,
    /// Kinds and tools the lab uses.
    pub uses: Vec<String>,
    /// The steps, in order (never empty).
    pub steps: Vec<Step>,
}

impl Lab {
    /// Finds a step by id or 1-based number.
    pub fn step(&self, key: &str) -> Option<&Step> {
        if let Ok(n) = key.parse::<usize>() {
            return n.checked_sub(1).and_then(|i| self.steps.get(i));
        }
        self.steps.iter().find(|s| s.id == key)
    }

    /// `00 Prerequisites`.
    pub fn label(&self) -> String {
        format!("{:02} {}", self.number, self.title)
    }
}

/// One step of a lab.
#[derive(Debug, Clone)]
pub struct Step {
    /// Slug, unique within the lab.
    pub id: String,
    /// Title.
    pub title: String,
    /// The instructions, markdown.
    pub body: String,
    /// Commands the learner runs.
    pub commands: Vec<Command>,
    /// What is verified (never empty).
    pub checks: Vec<Check>,
    /// Progressive hints.
    pub hints: Vec<String>,
    /// How to reach the expected state.
    pub solution: Solution,
    /// How to undo the step (may be empty).
    pub reset: Solution,
    /// The step checks the learner's machine, not the target: `meshwork lab test` runs its
    /// checks without a solution and demands no failing state first (the reason why).
    pub environment: Option<String>,
}

/// A command, possibly different per target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Shown above the command.
    pub note: Option<String>,
    /// On a live cluster (`None`: not run there).
    pub cluster: Option<String>,
    /// On the reference mesh (`None`: not run there).
    pub reference: Option<String>,
}

impl Command {
    /// The command line for a target, if the command applies there.
    pub fn for_target(&self, kind: TargetKind) -> Option<&str> {
        match kind {
            TargetKind::Cluster => self.cluster.as_deref(),
            TargetKind::Reference => self.reference.as_deref(),
        }
    }
}

/// A solution or a reset.
#[derive(Debug, Clone, Default)]
pub struct Solution {
    /// Markdown explanation.
    pub text: Option<String>,
    /// Manifest paths (under the content root).
    pub manifests: Vec<String>,
    /// Whether the manifests are applied (a solution) or deleted (a reset).
    pub manifest_verb: ManifestVerb,
    /// Commands.
    pub commands: Vec<Command>,
}

/// What a [`Solution`] does with its manifests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ManifestVerb {
    /// `kubectl apply -f` (a step's solution).
    #[default]
    Apply,
    /// `kubectl delete -f … --ignore-not-found` (a step's reset).
    Delete,
}

impl Solution {
    /// Nothing to show or do.
    pub fn is_empty(&self) -> bool {
        self.text.is_none() && self.manifests.is_empty() && self.commands.is_empty()
    }
}

/// One check of a step.
#[derive(Debug, Clone)]
pub struct Check {
    /// Slug, unique within the step.
    pub id: String,
    /// What passing means.
    pub title: String,
    /// Only on this target (`None`: everywhere).
    pub only: Option<TargetKind>,
    /// Give up after this long.
    pub timeout: Duration,
    /// Check-specific hint shown under a failure.
    pub hint: Option<String>,
    /// What to verify.
    pub spec: CheckSpec,
    /// Exceptions for `meshwork lab test`.
    pub lab_test: CheckTest,
}

/// Exceptions to what `meshwork lab test` demands of a check: fail before its step is
/// solved, pass after, fail again after the step's reset. Each carries the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckTest {
    /// Why the check may already pass before its step is solved.
    pub may_pass_before: Option<String>,
    /// Why the check may still pass after the step is reset.
    pub may_pass_after_reset: Option<String>,
}

/// Default per-check timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The kind-specific part of a check.
#[derive(Debug, Clone)]
pub enum CheckSpec {
    /// A tool on PATH.
    Command(CommandCheck),
    /// The cluster: reachable, version, nodes, capacity.
    Cluster(ClusterCheck),
    /// One object of any kind.
    Resource(ResourceCheck),
    /// Pods selected by labels.
    Pods(PodsCheck),
    /// HTTP requests from the host or from inside a pod.
    Http(HttpCheck),
    /// A command run inside a pod.
    Exec(ExecCheck),
    /// A stat of a pod's sidecar.
    EnvoyStat(crate::check::envoy_stat::EnvoyStatCheck),
    /// The mesh accepted the Istio configuration.
    IstioConfig(crate::check::istio_config::IstioConfigCheck),
    /// The request matrix of Istio's mTLS migration task.
    MtlsMatrix(crate::check::mtls_matrix::MtlsMatrixCheck),
    /// The SPIFFE id of a workload's certificate.
    WorkloadIdentity(crate::check::workload_identity::WorkloadIdentityCheck),
}

impl CheckSpec {
    /// The kind's name as written in `lab.yaml`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            CheckSpec::Command(_) => "command",
            CheckSpec::Cluster(_) => "cluster",
            CheckSpec::Resource(_) => "resource",
            CheckSpec::Pods(_) => "pods",
            CheckSpec::Http(_) => "http",
            CheckSpec::Exec(_) => "exec",
            CheckSpec::EnvoyStat(_) => "envoy_stat",
            CheckSpec::IstioConfig(_) => "istio_config",
            CheckSpec::MtlsMatrix(_) => "mtls_matrix",
            CheckSpec::WorkloadIdentity(_) => "workload_identity",
        }
    }
}

/// A dotted version, compared numerically (`1.29` < `1.32.4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch (0 when absent).
    pub patch: u64,
}

impl Version {
    /// Parses `1.29`, `v1.32.4`, `1.32.4-gke.100`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('v');
        let mut parts = text.split('.');
        let num = |s: Option<&str>| -> Option<u64> {
            let s = s?;
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        };
        let major = num(parts.next())?;
        let minor = num(parts.next())?;
        let patch = num(parts.next()).unwrap_or(0);
        Some(Self {
            major,
            minor,
            patch,
        })
    }

    /// Finds the first `N.N[.N]` in free text (`Client Version: v1.32.4`).
    pub fn find_in(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()))
            .filter(|&i| i == 0 || bytes[i - 1] != b'.')
            .find_map(|i| {
                let rest = &text[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(rest.len());
                let candidate = rest[..end].trim_end_matches('.');
                candidate
                    .contains('.')
                    .then(|| Self::parse(candidate))
                    .flatten()
            })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `command:` — a tool on PATH, optionally recent enough.
#[derive(Debug, Clone)]
pub struct CommandCheck {
    /// Program name.
    pub name: String,
    /// Arguments printing its version (default `--version`).
    pub version_args: Vec<String>,
    /// Lowest acceptable version.
    pub min_version: Option<Version>,
    /// `false`: missing is a warning, not a failure.
    pub required: bool,
    /// Where to get it.
    pub install: Option<String>,
    /// What the printed version belongs to, when not the program itself.
    pub reports: Option<String>,
}

/// `cluster:` — API reachable, version, nodes Ready, capacity guidance.
#[derive(Debug, Clone)]
pub struct ClusterCheck {
    /// Lowest acceptable Kubernetes version.
    pub min_version: Option<Version>,
    /// Nodes that must be Ready.
    pub min_ready_nodes: u32,
    /// Recommended allocatable memory (GiB) — a warning when below.
    pub recommended_memory_gib: Option<f64>,
    /// Recommended allocatable CPUs — a warning when below.
    pub recommended_cpus: Option<f64>,
}

/// Whether an object should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// It must exist (and match `fields`).
    Present,
    /// It must not exist.
    Absent,
}

/// One step of a field path: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// `.name`
    Key(String),
    /// `[3]`
    Index(usize),
}

/// A parsed field path such as `spec.http[0].route[0].destination.subset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// As written.
    pub text: String,
    /// Parsed segments.
    pub segments: Vec<PathSegment>,
}

impl FieldPath {
    /// Parses `a.b[0].c`; keys with dots can be quoted: `metadata.labels["app.kubernetes.io/name"]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut rest = text;
        let mut expect_key = true;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('[') {
                let close = r
                    .find(']')
                    .ok_or_else(|| format!("`{text}`: `[` without a closing `]`"))?;
                let inner = &r[..close];
                if let Some(q) = inner.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
                    segments.push(PathSegment::Key(q.to_string()));
                } else {
                    let i = inner.parse::<usize>().map_err(|_| {
                        format!("`{text}`: `[{inner}]` is not a list index (use [0], [1], … or [\"key\"])")
                    })?;
                    segments.push(PathSegment::Index(i));
                }
                rest = &r[close + 1..];
                expect_key = false;
            } else if let Some(r) = rest.strip_prefix('.') {
                if expect_key {
                    return Err(format!("`{text}`: empty key"));
                }
                rest = r;
                expect_key = true;
            } else {
                if !expect_key {
                    return Err(format!("`{text}`: expected `.` or `[` after `]`"));
                }
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                segments.push(PathSegment::Key(rest[..end].to_string()));
                rest = &rest[end..];
                expect_key = false;
            }
        }
        if segments.is_empty() || expect_key {
            return Err(format!(
                "`{text}`: not a field path (write e.g. spec.hosts[0])"
            ));
        }
        Ok(Self {
            text: text.to_string(),
            segments,
        })
    }

    /// Looks the path up in a JSON value.
    pub fn lookup<'a>(&self, value: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.segments.iter().try_fold(value, |v, seg| match seg {
            PathSegment::Key(k) => v.get(k.as_str()),
            PathSegment::Index(i) => v.get(*i),
        })
    }
}

/// `resource:` — one object of any kind.
#[derive(Debug, Clone)]
pub struct ResourceCheck {
    /// `group/version` or `v1`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace for namespaced kinds.
    pub namespace: Option<String>,
    /// Exists or not.
    pub expect: Presence,
    /// Expected field values.
    pub fields: Vec<(FieldPath, serde_json::Value)>,
    /// Manifest holding the reference object (for the diff).
    pub reference: Option<String>,
}

/// `pods:` — pods by selector.
#[derive(Debug, Clone)]
pub struct PodsCheck {
    /// Namespace.
    pub namespace: String,
    /// Label selector (empty: all pods).
    pub selector: String,
    /// Fewest pods.
    pub min_count: u32,
    /// All Ready.
    pub ready: bool,
    /// Exact containers per pod.
    pub containers: Option<u32>,
    /// Container every pod has.
    pub has_container: Option<String>,
    /// Container no pod has.
    pub lacks_container: Option<String>,
}

/// A pod to exec into: by name or by label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// A pod name (`ratings-v1-5f9c…`) or a label selector (`app=ratings`).
    pub pod: String,
    /// Namespace (`None`: the target's default namespace).
    pub namespace: Option<String>,
    /// Container (`None`: the pod's first container).
    pub container: Option<String>,
}

impl PodRef {
    /// `pod` is a label selector rather than a name.
    pub fn is_selector(&self) -> bool {
        self.pod.contains(['=', ',', '!']) || self.pod.contains(" in ")
    }
}

/// A Service port, turned into a URL by the target (`service:` of an `http` check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    /// Service name.
    pub name: String,
    /// Namespace (`None`: the target's default namespace).
    pub namespace: Option<String>,
    /// The Service's port (not the nodePort).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Where an `http` check sends its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A URL, used as written.
    Url(String),
    /// A Service: its nodePort on a node's address from the host, its cluster DNS name from a pod.
    Service(ServiceRef),
    /// A path on Istio's ingress gateway (`/productpage`): from the host its load-balancer
    /// address on a live cluster, else its nodePort (or `MESHWORK_INGRESS`); from a pod the
    /// gateway Service's DNS name.
    Ingress(String),
}

/// What the responses of an `http` check must look like.
#[derive(Debug, Clone)]
pub struct HttpExpect {
    /// Acceptable status codes (never empty; default 200).
    pub status: Vec<u16>,
    /// Expectations on every body.
    pub body: TextExpect,
    /// Bookinfo reviews version(s) on the product pages.
    pub reviews: Option<ReviewsExpect>,
    /// Band for the median latency.
    pub latency: Option<LatencyBand>,
    /// How many responses must have had a status (`429` on `> 0`), in order.
    pub status_count: Vec<(u16, crate::check::envoy_stat::Comparison)>,
}

/// `http:` — requests from the learner's host or from inside a pod.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// Where to send them.
    pub endpoint: Endpoint,
    /// `GET`, `POST`, …
    pub method: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Option<String>,
    /// How many requests (at least 1).
    pub count: u32,
    /// Send them from inside this pod (with its curl) instead of from the host.
    pub from: Option<PodRef>,
    /// Sign in first and send the session's cookies with every request (boxed: rare, and
    /// it keeps [`CheckSpec`] small).
    pub login: Option<Box<HttpLogin>>,
    /// What the responses must look like.
    pub expect: HttpExpect,
}

/// `login:` of an `http` check: a form POSTed before the requests, on the same host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLogin {
    /// Path (and query) of the form's action, starting with `/`.
    pub path: String,
    /// The form's fields, in order, sent as `application/x-www-form-urlencoded`.
    pub form: Vec<(String, String)>,
}

/// What an `exec` check's command must do.
#[derive(Debug, Clone, Default)]
pub struct ExecExpect {
    /// Exit code (`None`: any).
    pub exit_code: Option<i32>,
    /// Expectations on standard output.
    pub stdout: TextExpect,
    /// Expectations on standard error.
    pub stderr: TextExpect,
}

/// `exec:` — a command run inside a pod.
#[derive(Debug, Clone)]
pub struct ExecCheck {
    /// Where to run it.
    pub pod: PodRef,
    /// The argv (a `script:` becomes `sh -c SCRIPT`).
    pub command: Vec<String>,
    /// What it must do.
    pub expect: ExecExpect,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("1.29") < v("1.32.4"));
        assert!(v("v1.10.0") > v("1.9.9"));
        assert_eq!(v("1.32.4-gke.100").patch, 4);
        assert_eq!(Version::parse("latest"), None);
    }

    #[test]
    fn versions_are_found_in_tool_output() {
        let find = |s| Version::find_in(s).map(|v| v.to_string());
        assert_eq!(
            find("Client Version: v1.32.4\nKustomize Version: v5.5.0"),
            Some("1.32.4".into())
        );
        assert_eq!(
            find("Docker version 28.2.2, build e6534b4"),
            Some("28.2.2".into())
        );
        assert_eq!(find("1.24.0"), Some("1.24.0".into()));
        assert_eq!(find("no version here 42"), None);
    }

    #[test]
    fn field_paths_parse_and_look_up() {
        let p = FieldPath::parse("spec.http[0].route[1].destination.subset").unwrap();
        let v =
            serde_json::json!({"spec":{"http":[{"route":[{}, {"destination":{"subset":"v3"}}]}]}});
        assert_eq!(p.lookup(&v), Some(&serde_json::json!("v3")));
        let q = FieldPath::parse(r#"metadata.labels["istio-injection"]"#).unwrap();
        assert_eq!(q.segments.len(), 3);
        assert!(
            FieldPath::parse("spec..hosts")
                .unwrap_err()
                .contains("empty key")
        );
        assert!(
            FieldPath::parse("spec.hosts[x]")
                .unwrap_err()
                .contains("not a list index")
        );
        assert!(FieldPath::parse("").is_err());
    }
}
