//! Check kinds: one module each, all evaluated through [`evaluate`].
//!
//! - [`command`]: a tool on PATH, optionally with a minimum version.
//! - [`cluster`]: the API is reachable, its version, Ready nodes, capacity guidance.
//! - [`resource`]: an object of any kind exists / is absent / has field values, with a diff.
//! - [`pods`]: pods by selector are Ready, injected (container count / named container).
//! - [`http`]: HTTP requests from the host or from inside a pod, with expectations on status,
//!   body, Bookinfo reviews versions and latency.
//! - [`exec`]: a command run inside a pod, with expectations on exit code and output.
//! - [`envoy_stat`]: a stat of a pod's sidecar (`pilot-agent request GET stats`) against a number.
//! - [`istio_config`]: the mesh accepted the configuration (no NACK, warning or malformed resource).
//! - [`mtls_matrix`]: the request matrix of Istio's mTLS migration task, client × server.
//! - [`workload_identity`]: the SPIFFE id (and validity) of a workload's certificate.
//! - [`expect`] and [`bookinfo`]: the expectations those two share, and the page classifier.

pub mod bookinfo;
pub mod cluster;
pub mod command;
pub mod envoy_stat;
pub mod exec;
pub mod expect;
pub mod http;
pub mod istio_config;
pub mod mtls_matrix;
pub mod pods;
pub mod resource;
pub mod workload_identity;

use crate::content::Content;
use crate::course::CheckSpec;
use crate::engine::Outcome;
use crate::target::Target;
use std::sync::Arc;

/// What checks need: where to look and the course's files (reference manifests).
#[derive(Clone)]
pub struct Context {
    /// Where to look.
    pub target: Arc<dyn Target>,
    /// The course's files.
    pub content: Arc<Content>,
}

/// What a check kind found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// How it ended.
    pub outcome: Outcome,
    /// For a learner: what was expected, what was found.
    pub message: String,
    /// Unified diff against the reference object.
    pub diff: Option<String>,
}

impl Finding {
    /// A pass.
    pub fn pass(message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Pass,
            message: message.into(),
            diff: None,
        }
    }
    /// A warning.
    pub fn warn(message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Warn,
            message: message.into(),
            diff: None,
        }
    }
    /// A failure.
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Fail,
            message: message.into(),
            diff: None,
        }
    }
    /// Could not run.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Error,
            message: message.into(),
            diff: None,
        }
    }
    /// Attaches a diff.
    #[must_use]
    pub fn with_diff(mut self, diff: Option<String>) -> Self {
        self.diff = diff;
        self
    }
}

/// Evaluates one check against the context's target.
pub async fn evaluate(ctx: &Context, spec: &CheckSpec) -> Finding {
    match spec {
        CheckSpec::Command(c) => command::evaluate(c).await,
        CheckSpec::Cluster(c) => cluster::evaluate(ctx, c).await,
        CheckSpec::Resource(c) => resource::evaluate(ctx, c).await,
        CheckSpec::Pods(c) => pods::evaluate(ctx, c).await,
        CheckSpec::Http(c) => http::evaluate(ctx, c).await,
        CheckSpec::Exec(c) => exec::evaluate(ctx, c).await,
        CheckSpec::EnvoyStat(c) => envoy_stat::evaluate(ctx, c).await,
        CheckSpec::IstioConfig(c) => istio_config::evaluate(ctx, c).await,
        CheckSpec::MtlsMatrix(c) => mtls_matrix::evaluate(ctx, c).await,
        CheckSpec::WorkloadIdentity(c) => workload_identity::evaluate(ctx, c).await,
    }
}
