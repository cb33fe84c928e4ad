//! A sandbox with its own reference mesh, for the tests that start one: `meshwork` on the
//! default target (with the real Envoy when the test needs sidecars), the real kubectl with the
//! mesh's kubeconfig, waits for what a command shows, and the mesh stopped when the test ends.

use super::{Env, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Generous bound so a hung command fails the test instead of hanging CI.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(240);

/// Istio's samples (test data, read in place, never copied).
const SAMPLES: &str = "/work/shared/istio-samples/samples";

/// The real kubectl the mesh tests drive.
const KUBECTL: &str = "/usr/bin/kubectl";

/// The real Envoy for a test that runs sidecars or gateways: `None` when
/// `MESHWORK_SKIP_ENVOY` turns the Envoy tests off; a missing Envoy fails the test saying how
/// to install it.
pub fn envoy() -> Option<PathBuf> {
    if meshwork_mesh::envoy::tests_skipped() {
        return None;
    }
    let envoy = meshwork_mesh::envoy::locate().unwrap_or_else(|m| {
        panic!("{m} (or set MESHWORK_SKIP_ENVOY=1 to turn the Envoy tests off)")
    });
    Some(envoy.path)
}

/// The path of Istio's sample file `rel` (e.g. `httpbin/httpbin.yaml`).
pub fn sample(rel: &str) -> String {
    format!("{SAMPLES}/{rel}")
}

/// Whether the real kubectl is on this machine.
pub fn has_kubectl() -> bool {
    Path::new(KUBECTL).is_file()
}

/// Stops the sandbox's reference mesh, if one runs: `meshwork mesh down`, then its pid if
/// `down` could not.
pub fn stop(env: &Env) {
    let pid = env.server_pid();
    let _ = env
        .cmd_default_target()
        .args(["mesh", "down"])
        .timeout(COMMAND_TIMEOUT)
        .output();
    if let Some(pid) = pid
        && Path::new(&format!("/proc/{pid}")).exists()
    {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// The reference mesh a test started in `env` (itself or through the binary), stopped when
/// the test ends however it ends.
pub struct StopMesh<'a>(pub &'a Env);

impl Drop for StopMesh<'_> {
    fn drop(&mut self) {
        stop(self.0);
    }
}

/// A sandbox whose reference mesh is stopped on drop.
pub struct Sandbox {
    pub env: Env,
    envoy: Option<PathBuf>,
}

impl Sandbox {
    /// A fresh sandbox; `meshwork` runs with whatever Envoy the environment names.
    pub fn new() -> Self {
        Self {
            env: Env::new(),
            envoy: None,
        }
    }

    /// A fresh sandbox whose `meshwork` runs the real Envoy; `None` when Envoy tests are off
    /// (see [`envoy`]).
    pub fn with_envoy() -> Option<Self> {
        Some(Self {
            env: Env::new(),
            envoy: Some(envoy()?),
        })
    }

    /// [`Sandbox::with_envoy`] for a test that also drives the real kubectl, which must be
    /// there: `doing` says what the test does with it.
    pub fn with_envoy_and_kubectl(doing: &str) -> Option<Self> {
        let sb = Self::with_envoy()?;
        assert!(
            has_kubectl(),
            "this test {doing} with the real kubectl at {KUBECTL}"
        );
        Some(sb)
    }

    /// `meshwork ARGS` on the default target (the reference mesh), stdin not a terminal.
    pub fn meshwork(&self, args: &[&str]) -> Output {
        let mut cmd = self.env.cmd_default_target();
        cmd.args(args).timeout(COMMAND_TIMEOUT);
        if let Some(envoy) = &self.envoy {
            cmd.env("MESHWORK_ENVOY", envoy);
        }
        cmd.output().unwrap()
    }

    /// `meshwork ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.meshwork(args);
        assert!(
            out.status.success(),
            "meshwork {args:?}: {:?}\n{}{}",
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Runs `meshwork ARGS` until `done` holds for its stdout (Envoy takes pushes a moment
    /// after the API accepts an object); the last stdout.
    pub fn until(&self, args: &[&str], done: impl Fn(&str) -> bool) -> String {
        let mut text = String::new();
        for _ in 0..120 {
            text = self.ok(args);
            if done(&text) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("meshwork {args:?} never showed what was expected; last output:\n{text}");
    }

    /// The real kubectl against the sandbox's mesh, with the sandbox's HOME (and so its own
    /// cache), whatever its exit.
    pub fn kubectl_output(&self, args: &[&str]) -> Output {
        Command::new(KUBECTL)
            .args(args)
            .env("KUBECONFIG", self.env.path("state/meshwork/kubeconfig"))
            .env("HOME", self.env.path("home"))
            .output()
            .unwrap()
    }

    /// `kubectl ARGS`, which must succeed; its stdout.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// `kubectl apply -f` of `yaml`, written to `NAME.yaml` in the sandbox.
    pub fn apply(&self, name: &str, yaml: &str) {
        let path = self.env.path(&format!("{name}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        self.kubectl(&["apply", "-f", path.to_str().unwrap()]);
    }

    /// Labels `default` for injection and applies `files` (Istio's samples, unchanged), then
    /// waits for `pods` pods in it, all ready (see [`Sandbox::wait_for_pods`]).
    pub fn deploy_injected(&self, files: &[&str], pods: usize) {
        self.kubectl(&["label", "namespace", "default", "istio-injection=enabled"]);
        for file in files {
            self.kubectl(&["apply", "-f", file]);
        }
        self.wait_for_pods(pods);
    }

    /// Waits until `default` has at least `count` pods (their controllers create them a moment
    /// after the apply), then until every one of them is ready.
    pub fn wait_for_pods(&self, count: usize) {
        for _ in 0..240 {
            if self.kubectl(&["get", "pods", "-o", "name"]).lines().count() >= count {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        self.kubectl(&[
            "wait",
            "--for=condition=ready",
            "pod",
            "--all",
            "--timeout=180s",
        ]);
    }

    /// The name of the first pod in `namespace` that `selector` picks.
    pub fn pod(&self, namespace: &str, selector: &str) -> String {
        self.kubectl(&[
            "get",
            "pod",
            "-n",
            namespace,
            "-l",
            selector,
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
    }

    /// The node port of the ingress gateway's `http2` port, where the host reaches it.
    pub fn ingress_port(&self) -> u16 {
        let port = self.kubectl(&[
            "get",
            "svc",
            "-n",
            "istio-system",
            "istio-ingressgateway",
            "-o",
            r#"jsonpath={.spec.ports[?(@.name=="http2")].nodePort}"#,
        ]);
        port.trim()
            .parse()
            .unwrap_or_else(|_| panic!("the ingress gateway's http2 node port: {port:?}"))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        stop(&self.env);
    }
}
