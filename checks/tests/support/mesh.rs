//! A reference mesh for the checks' end-to-end tests: started in process in a scratch state
//! dir, driven with the real kubectl (its own HOME and cache), and checks written as a lab,
//! loaded and run against it.
//!
//! Included by the test binaries that need it (`#[path = "support/mesh.rs"] mod mesh_support;`);
//! each uses part of it.
#![allow(dead_code)]

use meshwork_checks::check::Context;
use meshwork_checks::content::{Content, Origin};
use meshwork_checks::course::load::load;
use meshwork_checks::engine::{CheckResult, run_check};
use meshwork_checks::target::{ClusterTarget, ReferenceTarget, Target};
use meshwork_mesh::{Mesh, MeshConfig, envoy};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Istio's samples (test data, read in place).
pub const SAMPLES: &str = "/work/shared/istio-samples/samples";

/// `/usr/bin/kubectl`, or `None` when told to skip (MESHWORK_SKIP_KUBECTL), as the mesh's
/// conformance tests do.
pub fn kubectl() -> Option<PathBuf> {
    if std::env::var_os("MESHWORK_SKIP_KUBECTL").is_some() {
        return None;
    }
    let p = PathBuf::from("/usr/bin/kubectl");
    assert!(
        p.exists(),
        "/usr/bin/kubectl is required (set MESHWORK_SKIP_KUBECTL=1 to skip)"
    );
    Some(p)
}

/// `/usr/bin/kubectl` for a test that also runs Envoy sidecars, or `None` when told to skip
/// either (MESHWORK_SKIP_KUBECTL, MESHWORK_SKIP_ENVOY); a missing Envoy fails the test.
pub fn kubectl_and_envoy() -> Option<PathBuf> {
    if std::env::var_os("MESHWORK_SKIP_KUBECTL").is_some() {
        return None;
    }
    if envoy::tests_skipped() {
        eprintln!("skipping: MESHWORK_SKIP_ENVOY is set");
        return None;
    }
    if let Err(missing) = envoy::locate() {
        panic!("{missing} (or set MESHWORK_SKIP_ENVOY=1 to turn the Envoy tests off)");
    }
    kubectl()
}

/// A one-step lab whose step has `checks` (list items indented under `checks:`).
pub fn lab(checks: &str) -> Content {
    let yaml = format!(
        "format_version: 1\nid: probes\ntitle: Probes\nsummary: Probe the mesh.\nsteps:\n  - id: one\n    \
         title: One\n    body: 01-one.md\n    checks:\n{checks}    solution:\n      commands: [{{run: \"true\"}}]\n"
    );
    Content::from_files(
        Origin::Embedded,
        [
            ("labs/01-probes/lab.yaml".to_string(), yaml.into_bytes()),
            ("labs/01-probes/01-one.md".to_string(), b"# One\n".to_vec()),
        ],
    )
}

/// A running reference mesh and the real kubectl to drive it.
pub struct MeshEnv {
    pub mesh: Mesh,
    home: tempfile::TempDir,
    _state: tempfile::TempDir,
    kubectl: PathBuf,
}

impl MeshEnv {
    /// Starts a fresh mesh in a scratch state dir, driven with `kubectl`.
    pub async fn start(kubectl: PathBuf) -> Self {
        let state = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let mesh = meshwork_mesh::start(MeshConfig {
            state_dir: state.path().to_owned(),
            port: None,
        })
        .await
        .expect("the mesh starts");
        Self {
            mesh,
            home,
            _state: state,
            kubectl,
        }
    }

    /// Installs Istio from the course's manifests (as `meshwork istioctl install` does) and
    /// waits for istiod.
    pub async fn install_istio(&self) {
        let install = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/istio");
        self.kubectl(&["apply", "-f", install.to_str().unwrap()])
            .await;
        self.ready("istio-system", "app=istiod").await;
    }

    /// `kubectl ARGS` against the mesh, whatever its exit.
    pub async fn kubectl_out(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(&self.kubectl)
            .arg(format!(
                "--kubeconfig={}",
                self.mesh.kubeconfig_path().display()
            ))
            .arg(format!(
                "--cache-dir={}",
                self.home.path().join("cache").display()
            ))
            .args(args)
            .env("HOME", self.home.path())
            .output()
            .await
            .expect("kubectl runs")
    }

    /// `kubectl ARGS`, which must succeed; its stdout.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_out(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f` of `yaml`, written to the file `name` in the test's home.
    pub async fn apply_text(&self, name: &str, yaml: &str) {
        let path = self.home.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        self.kubectl(&["apply", "-f", path.to_str().unwrap()]).await;
    }

    /// Waits until the pods `selector` picks in `namespace` exist and are Ready.
    pub async fn ready(&self, namespace: &str, selector: &str) {
        // `kubectl wait` fails when no pod matches yet: wait for the Deployment's pod first.
        let deadline = Instant::now() + Duration::from_secs(60);
        while self
            .kubectl(&["get", "pods", "-n", namespace, "-l", selector, "-o", "name"])
            .await
            .trim()
            .is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "no pod {selector} in {namespace}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.kubectl(&[
            "wait",
            "--for=condition=ready",
            "pod",
            "-n",
            namespace,
            "-l",
            selector,
            "--timeout=180s",
        ])
        .await;
    }

    /// The mesh as the reference target the TUI uses.
    pub async fn reference(&self) -> Arc<dyn Target> {
        Arc::new(ReferenceTarget::connect(self.mesh.kubeconfig_path()).await)
    }

    /// The mesh's API as a live-cluster target would see it: what the checks do on a cluster.
    pub async fn as_cluster(&self) -> Arc<dyn Target> {
        let reference = ReferenceTarget::connect(self.mesh.kubeconfig_path()).await;
        let client = reference.client().unwrap().clone();
        Arc::new(ClusterTarget::from_client(client, Some("mesh".into())))
    }

    /// Loads `checks` (list items under `checks:`) as a lab and runs each against `target`.
    pub async fn run_all_on(&self, target: Arc<dyn Target>, checks: &str) -> Vec<CheckResult> {
        let content = lab(checks);
        let course = load(&content).unwrap_or_else(|e| panic!("the lab loads:\n{e}"));
        let ctx = Context {
            target,
            content: Arc::new(content),
        };
        let mut results = Vec::new();
        for check in &course.labs[0].steps[0].checks {
            results.push(run_check(&ctx, check).await);
        }
        results
    }

    /// [`MeshEnv::run_all_on`] the reference target.
    pub async fn run_all(&self, checks: &str) -> Vec<CheckResult> {
        self.run_all_on(self.reference().await, checks).await
    }

    /// Loads `check` (one list item under `checks:`) as a lab and runs it against `target`.
    pub async fn run_on(&self, target: Arc<dyn Target>, check: &str) -> CheckResult {
        self.run_all_on(target, check).await.remove(0)
    }

    /// [`MeshEnv::run_on`] the reference target.
    pub async fn run(&self, check: &str) -> CheckResult {
        self.run_on(self.reference().await, check).await
    }

    /// Runs `check` until `done` holds for its result (within 90 s: configuration reaches the
    /// Envoys asynchronously); fails with the last one, saying it waited for `what`.
    pub async fn run_until(
        &self,
        check: &str,
        what: &str,
        done: impl Fn(&CheckResult) -> bool,
    ) -> CheckResult {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let r = self.run(check).await;
            if done(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}: {:?} {}",
                r.outcome,
                r.message
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
