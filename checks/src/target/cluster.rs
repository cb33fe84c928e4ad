//! The live-cluster target (being written).

use super::{Target, TargetError, TargetKind};

/// A live cluster reached through a kubeconfig context.
pub struct ClusterTarget {
    context: Option<String>,
    client: Result<kube::Client, TargetError>,
}

impl ClusterTarget {
    /// A target around an existing client (tests use a mock service).
    pub fn from_client(client: kube::Client, context: Option<String>) -> Self {
        Self { context, client: Ok(client) }
    }
}

impl Target for ClusterTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Cluster
    }
    fn describe(&self) -> String {
        match &self.context {
            Some(c) => format!("cluster (context {c})"),
            None => "cluster".into(),
        }
    }
    fn client(&self) -> Result<&kube::Client, &TargetError> {
        self.client.as_ref()
    }
}
