//! Test harness: a mesh in a temp dir plus a kubectl wrapper.

use std::path::{Path, PathBuf};

use meshwork_mesh::{Mesh, MeshConfig};

/// A running mesh with its own state dir and a private kubectl HOME.
pub struct Env {
    pub state: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub mesh: Option<Mesh>,
}

/// What one kubectl invocation printed.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn kubectl_path() -> Option<PathBuf> {
    if std::env::var_os("MESHWORK_SKIP_KUBECTL").is_some() {
        return None;
    }
    let p = PathBuf::from("/usr/bin/kubectl");
    assert!(
        p.exists(),
        "/usr/bin/kubectl is required for the conformance tests (set MESHWORK_SKIP_KUBECTL=1 to skip them)"
    );
    Some(p)
}

impl Env {
    pub async fn start() -> Self {
        let state = tempfile::tempdir().expect("state dir");
        let home = tempfile::tempdir().expect("home dir");
        let mesh = meshwork_mesh::start(MeshConfig {
            state_dir: state.path().to_owned(),
            port: None,
        })
        .await
        .expect("mesh starts");
        Self {
            state,
            home,
            mesh: Some(mesh),
        }
    }

    pub fn mesh(&self) -> &Mesh {
        self.mesh.as_ref().expect("mesh running")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.mesh().kubeconfig_path().to_owned()
    }

    /// Stops the mesh and starts a new one on the same state dir.
    pub async fn restart(&mut self) {
        if let Some(m) = self.mesh.take() {
            m.shutdown().await;
        }
        self.mesh = Some(
            meshwork_mesh::start(MeshConfig {
                state_dir: self.state.path().to_owned(),
                port: None,
            })
            .await
            .expect("mesh restarts"),
        );
    }

    pub async fn stop(mut self) {
        if let Some(m) = self.mesh.take() {
            m.shutdown().await;
        }
    }

    pub async fn kubectl_with(&self, kubeconfig: &Path, args: &[&str]) -> Out {
        let bin = kubectl_path().expect("kubectl");
        let out = tokio::process::Command::new(bin)
            .args(args)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.home.path().join("cache").display()
            ))
            .env("HOME", self.home.path())
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

    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_with(&self.kubeconfig(), args).await
    }

    /// Runs kubectl and requires success.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert_eq!(out.code, 0, "kubectl {args:?} failed: {out:?}");
        out.stdout
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.home.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p
    }

    pub async fn kube_client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig parses");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }
}

/// Splits a kubectl table into rows of whitespace-separated cells (headers with spaces, like
/// `NOMINATED NODE`, come out as two cells; compare headers with [`header_line`]).
pub fn header_line(table: &str) -> String {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The row whose first cell is `name`, as cells.
pub fn row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cells| cells.first().is_some_and(|c| c == name))
        .unwrap_or_default()
}
