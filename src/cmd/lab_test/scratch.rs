//! Where one lab is tested: a fresh reference mesh in a temporary directory of its own (its own
//! `XDG_STATE_HOME`, port, kubeconfig, kubectl cache and workshop folder), or the live cluster
//! the learner named. `meshwork lint --apply` and `meshwork bench --labs` use the same scratch
//! mesh.
//!
//! The learner's own mesh, state and progress are never read or written: everything a scratch
//! mesh holds lives below its directory, which [`Scratch::teardown`] stops and removes.

use anyhow::Context as _;
use meshwork_checks::solve::{self, Runner};
use meshwork_checks::target::{ClusterTarget, ReferenceTarget};
use meshwork_checks::{Content, Target, TargetKind, TargetSpec};
use meshwork_mesh::lifecycle::{self, Stopped};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A scratch reference mesh and the folders around it.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// The temporary directory holding everything below.
    pub root: PathBuf,
    /// What `XDG_STATE_HOME` is set to for the commands (the mesh's state is its `meshwork/`).
    pub state_home: PathBuf,
    /// The mesh's state directory.
    pub state_dir: PathBuf,
    /// Where solutions and resets run (holds the course's `manifests/`).
    pub workshop: PathBuf,
}

impl Scratch {
    /// A fresh, empty directory for `tag` (a lab's number) below the system's temp directory.
    pub fn create(tag: &str) -> anyhow::Result<Self> {
        let root =
            std::env::temp_dir().join(format!("meshwork-lab-test-{}-{tag}", std::process::id()));
        if root.exists() {
            std::fs::remove_dir_all(&root)
                .with_context(|| format!("failed to clear {}", root.display()))?;
        }
        let state_home = root.join("state");
        let state_dir = lifecycle::state_dir_from(Some(state_home.clone().into_os_string()), None)?;
        let workshop = root.join("workshop");
        for dir in [&state_dir, &workshop] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        Ok(Self {
            root,
            state_home,
            state_dir,
            workshop,
        })
    }

    /// The mesh's kubeconfig (written when it starts).
    pub fn kubeconfig(&self) -> PathBuf {
        self.state_dir.join("kubeconfig")
    }

    /// Starts the mesh on a free port (not the learner's usual one) and connects to it;
    /// `tick` is called while it starts.
    pub async fn start(&self, exe: &Path, tick: impl FnMut()) -> anyhow::Result<Arc<dyn Target>> {
        let port = free_port().context("failed to find a free port for the scratch mesh")?;
        lifecycle::remember_port(&self.state_dir, port)?;
        lifecycle::ensure_running(exe, &self.state_dir, lifecycle::START_TIMEOUT, tick)
            .await
            .context("the scratch reference mesh did not start")?;
        Ok(Arc::new(ReferenceTarget::connect(&self.kubeconfig()).await))
    }

    /// A runner whose commands reach this mesh: its kubeconfig, `meshwork` with its state
    /// directory, a kubectl cache of its own.
    pub fn runner(&self, content: &Content, exe: &Path) -> anyhow::Result<Runner> {
        solve::write_workshop(content, &self.workshop)?;
        let exe = crate::cmd::workshop::named_meshwork(exe, &self.root.join("bin"))?;
        Ok(Runner::new(
            TargetKind::Reference,
            &self.workshop,
            Some(&self.kubeconfig()),
            Some(&exe),
        )
        .with_env("XDG_STATE_HOME", &self.state_home)
        .with_env("MESHWORK_TARGET", "reference")
        .with_env("KUBECACHEDIR", self.root.join("kube-cache")))
    }

    /// Stops the mesh and removes the directory; says what went wrong, if anything did.
    pub async fn teardown(&self) -> Option<String> {
        let mut problems = Vec::new();
        match lifecycle::stop(&self.state_dir, lifecycle::STOP_TIMEOUT).await {
            Ok(Stopped::Killed(info)) => problems.push(format!(
                "the scratch mesh (pid {}) did not stop within {} s and was killed",
                info.pid,
                lifecycle::STOP_TIMEOUT.as_secs()
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("the scratch mesh could not be stopped: {e}")),
        }
        // Envoys and workloads may still be writing their last lines for a moment.
        for attempt in 0..5 {
            match std::fs::remove_dir_all(&self.root) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if attempt == 4 => {
                    problems.push(format!("{} could not be removed: {e}", self.root.display()))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// The lines that reach a kept scratch mesh from a shell.
    pub fn how_to_reach(&self) -> String {
        let state = super::super::mesh::sh_quote(&self.state_home.to_string_lossy());
        let workshop = super::super::mesh::sh_quote(&self.workshop.to_string_lossy());
        format!(
            "export XDG_STATE_HOME={state} && eval \"$(meshwork mesh env)\" && cd {workshop}\n\
             stop it with: XDG_STATE_HOME={state} meshwork mesh down && rm -rf {}",
            super::super::mesh::sh_quote(&self.root.to_string_lossy())
        )
    }
}

/// A port of 127.0.0.1 that nothing listens on right now.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// Connects to the live cluster of `spec` and builds a runner for it working in `workshop`.
pub async fn cluster(
    spec: &TargetSpec,
    workshop: &Path,
) -> anyhow::Result<(Arc<dyn Target>, Runner)> {
    let TargetSpec::Cluster { context } = spec else {
        anyhow::bail!("not a cluster target: {spec}");
    };
    let target: Arc<dyn Target> = Arc::new(ClusterTarget::connect(context.clone()).await);
    if let Err(e) = target.client() {
        anyhow::bail!("{e}");
    }
    let runner = super::super::workshop::runner(spec, workshop)?;
    Ok((target, runner))
}
