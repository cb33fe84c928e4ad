//! The live-cluster target: a kubeconfig context, reached with the kube crate.
//!
//! [`ClusterTarget::connect`] never fails: when no usable kubeconfig or context exists the
//! target holds a [`TargetError`] that every check reports, so a learner without a cluster
//! reads why and what to do instead of a crash.

use super::{Target, TargetError, TargetKind};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// A live cluster reached through a kubeconfig context.
pub struct ClusterTarget {
    context: Option<String>,
    client: Result<kube::Client, TargetError>,
}

/// Where to look for kubeconfig files: `KUBECONFIG` (a path list) or `~/.kube/config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigSearch {
    /// The value of `KUBECONFIG`, if set.
    pub kubeconfig_env: Option<OsString>,
    /// The home directory holding `.kube/config`.
    pub home: Option<PathBuf>,
}

impl KubeconfigSearch {
    /// What this process's environment says (`KUBECONFIG`, the home directory).
    pub fn from_env() -> Self {
        Self {
            kubeconfig_env: std::env::var_os("KUBECONFIG"),
            home: std::env::home_dir(),
        }
    }

    /// Reads and merges the kubeconfig files (the first file to set a value wins).
    pub fn read(&self) -> Result<Kubeconfig, TargetError> {
        let listed: Vec<PathBuf> = self
            .kubeconfig_env
            .as_deref()
            .map(|v| {
                std::env::split_paths(v)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if listed.is_empty() {
            let default = self.home.as_deref().map_or_else(
                || PathBuf::from("~/.kube/config"),
                |h| h.join(".kube").join("config"),
            );
            if !default.is_file() {
                return Err(TargetError::NotConfigured {
                    searched: default.display().to_string(),
                });
            }
            return read_file(&default);
        }
        // Like kubectl, files named in KUBECONFIG that do not exist are skipped.
        let existing: Vec<&PathBuf> = listed.iter().filter(|p| p.exists()).collect();
        if existing.is_empty() {
            let shown = listed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(TargetError::BadKubeconfig(format!(
                "KUBECONFIG names {shown}, which does not exist. Point KUBECONFIG at your cluster's \
                 kubeconfig, unset it to use ~/.kube/config, or use meshwork's bundled reference mesh \
                 (--target reference)"
            )));
        }
        let mut merged = Kubeconfig::default();
        for path in existing {
            let next = read_file(path)?;
            merged = merged
                .merge(next)
                .map_err(|e| TargetError::BadKubeconfig(format!("{}: {e}", path.display())))?;
        }
        Ok(merged)
    }
}

fn read_file(path: &Path) -> Result<Kubeconfig, TargetError> {
    Kubeconfig::read_from(path).map_err(|e| {
        TargetError::BadKubeconfig(format!(
            "{}: {e}. Fix the file (kubectl config view shows what kubectl makes of it) or point KUBECONFIG at another one",
            path.display()
        ))
    })
}

/// Picks the context to use: the named one, or the kubeconfig's current context.
fn choose_context(config: &Kubeconfig, wanted: Option<String>) -> Result<String, TargetError> {
    let available = || {
        let names: Vec<&str> = config.contexts.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        }
    };
    let exists = |name: &str| config.contexts.iter().any(|c| c.name == name);
    match wanted {
        Some(name) if exists(&name) => Ok(name),
        Some(name) => Err(TargetError::UnknownContext {
            name,
            available: available(),
        }),
        None => match config.current_context.as_deref().filter(|c| !c.is_empty()) {
            Some(name) if exists(name) => Ok(name.to_string()),
            Some(name) => Err(TargetError::BadKubeconfig(format!(
                "its current context `{name}` is not one of its contexts ({}); choose one with \
                 `kubectl config use-context NAME` or pass --target cluster:NAME",
                available()
            ))),
            None => Err(TargetError::BadKubeconfig(format!(
                "it sets no current context; choose one with `kubectl config use-context NAME` \
                 or pass --target cluster:NAME (contexts: {})",
                available()
            ))),
        },
    }
}

impl ClusterTarget {
    /// The target for a kubeconfig context (`None`: the current context), found through
    /// `KUBECONFIG` or `~/.kube/config`. Never fails: problems are kept and reported by checks.
    pub async fn connect(context: Option<String>) -> Self {
        Self::connect_with(&KubeconfigSearch::from_env(), context).await
    }

    /// Like [`connect`](Self::connect), looking for kubeconfig files where `search` says.
    pub async fn connect_with(search: &KubeconfigSearch, context: Option<String>) -> Self {
        let config = match search.read() {
            Ok(c) => c,
            Err(e) => return Self::from_error(e, context),
        };
        let name = match choose_context(&config, context.clone()) {
            Ok(n) => n,
            Err(e) => return Self::from_error(e, context),
        };
        let options = KubeConfigOptions {
            context: Some(name.clone()),
            ..KubeConfigOptions::default()
        };
        let bad = |e: String| TargetError::BadKubeconfig(format!("context `{name}`: {e}"));
        let client = match kube::Config::from_custom_kubeconfig(config, &options).await {
            Ok(cfg) => kube::Client::try_from(cfg).map_err(|e| bad(e.to_string())),
            Err(e) => Err(bad(e.to_string())),
        };
        Self {
            context: Some(name),
            client,
        }
    }

    /// A target around an existing client (tests use a mock service).
    pub fn from_client(client: kube::Client, context: Option<String>) -> Self {
        Self {
            context,
            client: Ok(client),
        }
    }

    /// A target that cannot be used, for the reason given.
    pub fn from_error(error: TargetError, context: Option<String>) -> Self {
        Self {
            context,
            client: Err(error),
        }
    }

    /// The kubeconfig context in use (or asked for), if known.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
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

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CONTEXTS: &str = "\
apiVersion: v1
kind: Config
current-context: kind-istio
clusters:
- name: kind-istio
  cluster: {server: 'https://127.0.0.1:6443'}
- name: prod
  cluster: {server: 'https://127.0.0.1:7443'}
users:
- name: learner
  user: {token: abc}
contexts:
- name: kind-istio
  context: {cluster: kind-istio, user: learner}
- name: prod
  context: {cluster: prod, user: learner, namespace: shop}
";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn error_of(target: &ClusterTarget) -> TargetError {
        target.client().err().cloned().unwrap()
    }

    fn search_for(path: &Path) -> KubeconfigSearch {
        KubeconfigSearch {
            kubeconfig_env: Some(path.as_os_str().to_owned()),
            home: None,
        }
    }

    #[tokio::test]
    async fn current_context_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", TWO_CONTEXTS);
        let target = ClusterTarget::connect_with(&search_for(&path), None).await;
        assert!(target.client().is_ok());
        assert_eq!(target.describe(), "cluster (context kind-istio)");
        let named = ClusterTarget::connect_with(&search_for(&path), Some("prod".into())).await;
        assert_eq!(named.client().unwrap().default_namespace(), "shop");
        assert_eq!(named.describe(), "cluster (context prod)");
    }

    #[tokio::test]
    async fn unknown_context_lists_the_contexts() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "config", TWO_CONTEXTS);
        let target = ClusterTarget::connect_with(&search_for(&path), Some("minikube".into())).await;
        assert_eq!(
            &error_of(&target),
            &TargetError::UnknownContext {
                name: "minikube".into(),
                available: "kind-istio, prod".into()
            }
        );
    }

    #[tokio::test]
    async fn missing_home_kubeconfig_is_not_configured() {
        let home = tempfile::tempdir().unwrap();
        let search = KubeconfigSearch {
            kubeconfig_env: None,
            home: Some(home.path().to_path_buf()),
        };
        let target = ClusterTarget::connect_with(&search, None).await;
        let expected = home
            .path()
            .join(".kube")
            .join("config")
            .display()
            .to_string();
        assert_eq!(
            error_of(&target),
            TargetError::NotConfigured { searched: expected }
        );
    }

    #[tokio::test]
    async fn home_kubeconfig_is_used_when_kubeconfig_is_unset() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".kube")).unwrap();
        write(&home.path().join(".kube"), "config", TWO_CONTEXTS);
        let search = KubeconfigSearch {
            kubeconfig_env: Some(OsString::new()),
            home: Some(home.path().to_path_buf()),
        };
        let target = ClusterTarget::connect_with(&search, None).await;
        assert!(target.client().is_ok(), "{:?}", target.client().err());
    }

    #[tokio::test]
    async fn broken_kubeconfigs_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let bad_yaml = write(dir.path(), "bad", "clusters: [unclosed\n");
        let err = ClusterTarget::connect_with(&search_for(&bad_yaml), None).await;
        let msg = error_of(&err).to_string();
        assert!(msg.starts_with("the kubeconfig cannot be used: "), "{msg}");
        assert!(msg.contains("bad"), "{msg}");

        let no_current = write(
            dir.path(),
            "nocurrent",
            &TWO_CONTEXTS.replace("current-context: kind-istio\n", ""),
        );
        let err = ClusterTarget::connect_with(&search_for(&no_current), None).await;
        let msg = error_of(&err).to_string();
        assert!(msg.contains("sets no current context"), "{msg}");
        assert!(msg.contains("kind-istio, prod"), "{msg}");

        let missing = dir.path().join("nope");
        let err = ClusterTarget::connect_with(&search_for(&missing), None).await;
        let msg = error_of(&err).to_string();
        assert!(msg.contains("which does not exist"), "{msg}");
    }

    #[tokio::test]
    async fn kubeconfig_lists_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", TWO_CONTEXTS);
        let b = write(
            dir.path(),
            "b",
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:8443'}\n\
             contexts:\n- name: extra\n  context: {cluster: c, user: learner}\n",
        );
        let joined = std::env::join_paths([&a, &b]).unwrap();
        let search = KubeconfigSearch {
            kubeconfig_env: Some(joined),
            home: None,
        };
        let target = ClusterTarget::connect_with(&search, Some("extra".into())).await;
        assert!(target.client().is_ok(), "{:?}", target.client().err());
    }
}
