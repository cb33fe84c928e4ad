//! The reference-mesh target: meshwork's bundled mesh, reached with the kube crate through the
//! kubeconfig the mesh writes into its state directory.
//!
//! Starting the mesh is not this module's business: the binary makes sure it runs (with
//! `meshwork_mesh::lifecycle`) and hands over the kubeconfig, or the reason it could not. That
//! keeps the check engine free of process management and of the mesh's server code, and lets
//! tests point a [`ReferenceTarget`] at any API server.

use super::{Target, TargetError, TargetKind};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::Path;

/// The bundled reference mesh.
pub struct ReferenceTarget {
    url: Option<String>,
    client: Result<kube::Client, TargetError>,
}

impl ReferenceTarget {
    /// A target for the mesh whose kubeconfig is at `kubeconfig` (its current context).
    /// Never fails: a kubeconfig that cannot be used is kept as the reason every check reports.
    pub async fn connect(kubeconfig: &Path) -> Self {
        let bad = |e: String| {
            TargetError::MeshUnavailable(format!(
                "its kubeconfig {} cannot be used ({e}); run `meshwork mesh down` and \
                 `meshwork mesh up` to write a fresh one",
                kubeconfig.display()
            ))
        };
        let config = match Kubeconfig::read_from(kubeconfig) {
            Ok(c) => c,
            Err(e) => return Self::from_error(bad(e.to_string())),
        };
        let url = config
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone());
        let client =
            match kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await
            {
                Ok(cfg) => kube::Client::try_from(cfg).map_err(|e| bad(e.to_string())),
                Err(e) => Err(bad(e.to_string())),
            };
        Self { url, client }
    }

    /// A target that cannot be used, for the reason given (e.g. the mesh did not start).
    pub fn from_error(error: TargetError) -> Self {
        Self {
            url: None,
            client: Err(error),
        }
    }

    /// The mesh's API address, when known.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

impl Target for ReferenceTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Reference
    }
    fn describe(&self) -> String {
        match &self.url {
            Some(url) => format!("reference mesh ({url})"),
            None => "reference mesh".into(),
        }
    }
    fn client(&self) -> Result<&kube::Client, &TargetError> {
        self.client.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_kubeconfig_names_the_mesh_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: meshwork\nclusters:\n- name: meshwork\n  \
             cluster: {server: 'https://127.0.0.1:17443', insecure-skip-tls-verify: true}\nusers:\n- name: m\n  \
             user: {token: t}\ncontexts:\n- name: meshwork\n  context: {cluster: meshwork, user: m}\n",
        )
        .unwrap();
        let target = ReferenceTarget::connect(&path).await;
        assert!(target.client().is_ok(), "{:?}", target.client().err());
        assert_eq!(target.kind(), TargetKind::Reference);
        assert_eq!(
            target.describe(),
            "reference mesh (https://127.0.0.1:17443)"
        );
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_says_how_to_get_a_fresh_one() {
        let dir = tempfile::tempdir().unwrap();
        let target = ReferenceTarget::connect(&dir.path().join("nope")).await;
        let err = target.client().err().unwrap().to_string();
        assert!(
            err.starts_with("the reference mesh is not available: its kubeconfig "),
            "{err}"
        );
        assert!(err.contains("meshwork mesh up"), "{err}");
        assert_eq!(target.describe(), "reference mesh");
    }
}
