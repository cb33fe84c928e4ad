//! Where checks look: the [`Target`] seam.
//!
//! A target is a Kubernetes API (through the kube crate). Exec into pods ([`exec`]) and the
//! URL of a Service ([`reach`]) go through that same API, so checks are written once against
//! this trait and run unchanged on a live cluster and on the bundled reference mesh.
//!
//! - [`cluster`]: the live-cluster target (a kubeconfig context).
//! - [`reference`]: the bundled reference mesh, reached through the kubeconfig it writes.
//! - [`exec`]: running a command in a pod through the API (`pods/exec`), on either target.
//! - [`logs`]: a container's log through the API (`pods/log`), on either target.
//! - [`reach`]: the URL of a Service from the host (nodePort) or from a pod (DNS name).

pub mod cluster;
pub mod exec;
pub mod logs;
pub mod reach;
pub mod reference;

use std::fmt;

pub use cluster::ClusterTarget;
pub use reference::ReferenceTarget;

/// The two kinds of target a course supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKind {
    /// A live Kubernetes cluster where the learner installs real Istio.
    Cluster,
    /// meshwork's bundled reference mesh.
    Reference,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Cluster => "cluster",
            TargetKind::Reference => "reference",
        })
    }
}

/// A target as chosen on the command line: `reference`, `cluster` or `cluster:CONTEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// meshwork's bundled reference mesh (the default).
    Reference,
    /// A live cluster; `None` means the kubeconfig's current context.
    Cluster {
        /// kubeconfig context name.
        context: Option<String>,
    },
}

impl TargetSpec {
    /// Parses `reference`, `cluster`, `cluster:CONTEXT`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (kind, rest) = match text.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (text, None),
        };
        match (kind, rest) {
            ("cluster", None) => Ok(TargetSpec::Cluster { context: None }),
            ("cluster", Some("")) => Err("`cluster:` needs a context name after the colon, e.g. cluster:kind-istio".into()),
            ("cluster", Some(ctx)) => Ok(TargetSpec::Cluster {
                context: Some(ctx.to_string()),
            }),
            ("reference", None) => Ok(TargetSpec::Reference),
            ("reference", Some(_)) => Err(
                "`reference` takes nothing after it: there is one reference mesh (write `reference`)".into(),
            ),
            (other, _) => Err(format!(
                "unknown target `{other}`: write `reference` (the bundled mesh), `cluster` (current kubeconfig context) or `cluster:CONTEXT`"
            )),
        }
    }

    /// The kind of target.
    pub fn kind(&self) -> TargetKind {
        match self {
            TargetSpec::Reference => TargetKind::Reference,
            TargetSpec::Cluster { .. } => TargetKind::Cluster,
        }
    }

    /// A stable key for per-target files (progress): `reference`, `cluster`, `cluster-kind-istio`.
    pub fn key(&self) -> String {
        match self {
            TargetSpec::Reference => "reference".into(),
            TargetSpec::Cluster { context: None } => "cluster".into(),
            TargetSpec::Cluster { context: Some(c) } => {
                let safe: String = c
                    .chars()
                    .map(|ch| {
                        if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                            ch
                        } else {
                            '_'
                        }
                    })
                    .collect();
                format!("cluster-{safe}")
            }
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSpec::Reference => f.write_str("reference"),
            TargetSpec::Cluster { context: None } => f.write_str("cluster"),
            TargetSpec::Cluster { context: Some(c) } => write!(f, "cluster:{c}"),
        }
    }
}

/// Why a target cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// No kubeconfig anywhere.
    #[error(
        "no Kubernetes cluster is configured: KUBECONFIG is not set and {searched} does not exist. \
         Point kubectl at a cluster (kind, minikube, a cloud cluster), or use meshwork's bundled reference mesh (--target reference)"
    )]
    NotConfigured {
        /// The default path that was looked at.
        searched: String,
    },
    /// The kubeconfig could not be read or used.
    #[error("the kubeconfig cannot be used: {0}")]
    BadKubeconfig(String),
    /// The requested context is not in the kubeconfig.
    #[error("the kubeconfig has no context `{name}`; its contexts are: {available}")]
    UnknownContext {
        /// What was asked for.
        name: String,
        /// What exists, comma separated.
        available: String,
    },
    /// The reference mesh is not running and could not be started.
    #[error("the reference mesh is not available: {0}")]
    MeshUnavailable(String),
}

/// Where checks look.
pub trait Target: Send + Sync {
    /// Cluster or reference.
    fn kind(&self) -> TargetKind;

    /// Human description: `cluster (context kind-istio)`.
    fn describe(&self) -> String;

    /// A Kubernetes client, or why there is none.
    fn client(&self) -> Result<&kube::Client, &TargetError>;
}

/// What a quick look at a target found (shown next to the target's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetStatus {
    /// There is nothing to connect to (no kubeconfig, unknown context); says why.
    Unconfigured(String),
    /// Configured but not answering; says why.
    Unreachable(String),
    /// Answering.
    Ready {
        /// Server version (`v1.32.4`).
        version: String,
        /// Ready nodes.
        ready_nodes: usize,
    },
}

pub mod status;
pub use status::probe;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for text in ["reference", "cluster", "cluster:kind-istio"] {
            assert_eq!(TargetSpec::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(TargetSpec::parse("reference").unwrap().key(), "reference");
        assert_eq!(
            TargetSpec::parse("reference").unwrap().kind(),
            TargetKind::Reference
        );
        assert_eq!(
            TargetSpec::parse("cluster:a/b").unwrap().key(),
            "cluster-a_b"
        );
    }

    #[test]
    fn bad_targets_say_what_to_write() {
        let err = TargetSpec::parse("reference:x").unwrap_err();
        assert!(err.contains("write `reference`"), "{err}");
        let err = TargetSpec::parse("kind").unwrap_err();
        assert!(err.contains("unknown target `kind`"), "{err}");
        assert!(err.contains("`reference`"), "{err}");
    }
}
