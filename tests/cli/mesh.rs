//! `meshwork mesh …` and the `reference` target, with real meshes and the real kubectl.
//!
//! Each test has its own HOME and XDG_STATE_HOME (so its own mesh, state and kubectl cache);
//! [`Sandbox`] stops whatever mesh a test started when it is dropped, even after a failure.
//! The tests that drive kubectl need `/usr/bin/kubectl` (or kubectl on PATH); set
//! `MESHWORK_SKIP_KUBECTL=1` to skip them on a machine without it.

use crate::util::mesh;
use crate::util::{Env, stderr, stdout};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Generous bound so a hung command fails the test instead of hanging CI.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

fn real_kubectl() -> Option<PathBuf> {
    if std::env::var_os("MESHWORK_SKIP_KUBECTL").is_some() {
        return None;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file());
    let found = on_path.or_else(|| {
        let p = PathBuf::from("/usr/bin/kubectl");
        p.is_file().then_some(p)
    });
    assert!(
        found.is_some(),
        "kubectl is required for the reference-mesh CLI tests (set MESHWORK_SKIP_KUBECTL=1 to skip them)"
    );
    found
}

/// One test's world, with the mesh it may have started stopped on drop.
struct Sandbox {
    env: Env,
    kubectl: PathBuf,
}

impl Sandbox {
    /// `None` when kubectl tests are skipped.
    fn new() -> Option<Self> {
        let kubectl = real_kubectl()?;
        let env = Env::new();
        // The lab's `command` check looks for kubectl on the sandbox's PATH.
        std::os::unix::fs::symlink(&kubectl, env.path("bin").join("kubectl")).unwrap();
        Some(Self { env, kubectl })
    }

    fn state_dir(&self) -> PathBuf {
        self.env.path("state/meshwork")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.state_dir().join("kubeconfig")
    }

    /// `meshwork ARGS` with no target chosen (so the default applies).
    fn meshwork(&self, args: &[&str]) -> Output {
        self.env
            .cmd_default_target()
            .args(args)
            .timeout(COMMAND_TIMEOUT)
            .output()
            .unwrap()
    }

    /// `meshwork mesh ARGS`, asserted to exit 0; returns stdout.
    fn mesh_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["mesh"];
        all.extend_from_slice(args);
        let out = self.meshwork(&all);
        assert!(
            out.status.success(),
            "meshwork {}: {:?}\nstdout: {}\nstderr: {}",
            all.join(" "),
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// The pid in server.json, if a mesh says it runs.
    fn server_pid(&self) -> Option<u32> {
        self.env.server_pid()
    }

    /// The real kubectl against the sandbox's mesh, with its own HOME (and so its own cache).
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(&self.kubectl)
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.env.path("home"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            stderr(&out)
        );
        stdout(&out)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // `mesh down`, or the mesh this test started ended by its pid if `down` could not.
        mesh::stop(&self.env);
    }
}

const CONFIG_MAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: survivor
  namespace: default
data:
  color: blue
";

#[test]
fn up_status_env_kubectl_check_down() {
    let Some(sb) = Sandbox::new() else { return };
    let text = sb.mesh_ok(&["status"]);
    assert!(
        text.starts_with("The reference mesh is not running. Start it with `meshwork mesh up`."),
        "{text}"
    );

    let text = sb.mesh_ok(&["up"]);
    assert!(
        text.starts_with("The reference mesh is running at https://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("eval \"$(meshwork mesh env)\""), "{text}");
    let pid = sb.server_pid().expect("server.json after up");

    let text = sb.mesh_ok(&["status"]);
    assert!(
        text.starts_with("The reference mesh is running.\n"),
        "{text}"
    );
    assert!(text.contains(&format!("  pid         {pid}\n")), "{text}");
    assert!(
        text.contains(&format!("  kubeconfig  {}\n", sb.kubeconfig().display())),
        "{text}"
    );
    assert!(
        text.contains("  objects     4 namespaces, 0 pods (0 running), 1 service\n"),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&sb.mesh_ok(&["status", "--json"])).unwrap();
    assert_eq!(doc["state"], "running");
    assert_eq!(doc["running"], true);
    assert_eq!(doc["pid"], pid);
    assert_eq!(doc["objects"]["namespaces"], 4);
    assert!(doc.get("exposed").is_none(), "nothing exposed yet: {doc}");

    // A NodePort Service is listed with the URL a browser on this machine opens.
    sb.kubectl_ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports:\n  - port: 80\n    targetPort: 8080\n"),
    );
    let node_port = sb.kubectl_ok(
        &[
            "get",
            "svc",
            "web",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
        None,
    );
    let text = sb.mesh_ok(&["status"]);
    assert!(
        text.contains(&format!(
            "  exposed     http://127.0.0.1:{node_port}  (service default/web port 80)\n"
        )),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&sb.mesh_ok(&["status", "--json"])).unwrap();
    assert_eq!(
        doc["exposed"][0]["url"],
        format!("http://127.0.0.1:{node_port}")
    );
    sb.kubectl_ok(&["delete", "svc", "web"], None);

    assert_eq!(
        sb.mesh_ok(&["env"]),
        format!("export KUBECONFIG={}\n", sb.kubeconfig().display())
    );
    let namespaces = sb.kubectl_ok(&["get", "ns"], None);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(ns), "{namespaces}");
    }

    let out = sb.meshwork(&["check", "prerequisites", "--target", "reference"]);
    let text = stdout(&out);
    assert!(
        text.starts_with("Checking 00 Prerequisites on reference mesh (https://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("  ✔ The reference mesh answers and has a Ready node — Kubernetes v1.32"),
        "{text}"
    );
    assert!(
        text.contains("  - istioctl is installed — only checked on the cluster target"),
        "{text}"
    );
    assert!(!text.contains("Istio's demo profile wants"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    // The check used the running mesh; it did not start another.
    assert!(!stderr(&out).contains("Started the reference mesh"));
    assert_eq!(sb.server_pid(), Some(pid));

    let text = sb.mesh_ok(&["down"]);
    assert_eq!(
        text,
        format!(
            "Stopped the reference mesh (pid {pid}). Its objects are kept; `meshwork mesh up` brings it back.\n"
        )
    );
    assert!(sb.server_pid().is_none());
    assert!(
        sb.mesh_ok(&["status"])
            .starts_with("The reference mesh is not running.")
    );
    assert_eq!(
        sb.mesh_ok(&["down"]),
        "The reference mesh is not running.\n"
    );
    let log = sb.mesh_ok(&["logs"]);
    assert!(log.contains("reference mesh API ready"), "{log}");
    assert!(log.contains("the reference mesh stopped"), "{log}");
}

#[test]
fn up_twice_is_idempotent() {
    let Some(sb) = Sandbox::new() else { return };
    sb.mesh_ok(&["up"]);
    let pid = sb.server_pid().unwrap();
    let text = sb.mesh_ok(&["up"]);
    assert!(
        text.starts_with("The reference mesh is already running at https://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains(&format!("(pid {pid})")), "{text}");
    assert_eq!(sb.server_pid(), Some(pid));
}

#[test]
fn after_kill_9_up_starts_again_with_the_objects() {
    let Some(sb) = Sandbox::new() else { return };
    sb.mesh_ok(&["up"]);
    let created = sb.kubectl_ok(&["create", "-f", "-"], Some(CONFIG_MAP));
    assert_eq!(created, "configmap/survivor created\n");
    let pid = sb.server_pid().unwrap();
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Whatever the parent does with the dead process, status must not call it running.
    let mut text = sb.mesh_ok(&["status"]);
    for _ in 0..200 {
        if !text.starts_with("The reference mesh's process runs") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        text = sb.mesh_ok(&["status"]);
    }
    assert!(
        text.starts_with("The reference mesh is not running: it was stopped without cleaning up"),
        "{text}"
    );

    let text = sb.mesh_ok(&["up"]);
    assert!(
        text.starts_with("The previous mesh had stopped without cleaning up"),
        "{text}"
    );
    assert_ne!(sb.server_pid(), Some(pid));
    let got = sb.kubectl_ok(
        &[
            "get",
            "configmap",
            "survivor",
            "-o",
            "jsonpath={.data.color}",
        ],
        None,
    );
    assert_eq!(got, "blue");
}

#[test]
fn check_starts_the_mesh_when_it_is_not_running() {
    let Some(sb) = Sandbox::new() else { return };
    // No target given: the reference mesh is the default.
    let out = sb.meshwork(&["check", "prerequisites/cluster"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stderr(&out).starts_with("Started the reference mesh at https://127.0.0.1:"),
        "{}",
        stderr(&out)
    );
    assert!(sb.server_pid().is_some());
    assert!(
        sb.env
            .path("data/meshwork/progress/reference.json")
            .is_file()
    );
}

#[test]
fn reset_needs_a_confirmation_and_wipes_the_state() {
    let Some(sb) = Sandbox::new() else { return };
    sb.mesh_ok(&["up"]);
    sb.kubectl_ok(&["create", "-f", "-"], Some(CONFIG_MAP));

    // No terminal and no --yes: refused, nothing touched.
    let out = sb.meshwork(&["mesh", "reset"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert!(sb.server_pid().is_some());

    let pid = sb.server_pid().unwrap();
    let text = sb.mesh_ok(&["reset", "--yes"]);
    assert!(
        text.starts_with(&format!("Stopped the reference mesh (pid {pid}).\nDeleted")),
        "{text}"
    );
    assert!(!sb.state_dir().exists());

    sb.mesh_ok(&["up"]);
    let out = sb.kubectl(&["get", "configmap", "survivor"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("NotFound") || stderr(&out).contains("not found"));
}

#[test]
fn without_a_mesh_env_logs_and_down_say_what_to_do() {
    let env = Env::new();
    let out = env
        .cmd_default_target()
        .args(["mesh", "env", "--shell", "fish"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        format!(
            "set -gx KUBECONFIG '{}'\n",
            env.path("state/meshwork/kubeconfig").display()
        )
    );
    assert!(stderr(&out).contains("run `meshwork mesh up` first"));

    let out = env
        .cmd_default_target()
        .args(["mesh", "logs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no log yet") && stderr(&out).contains("meshwork mesh up"),
        "{}",
        stderr(&out)
    );

    env.cmd_default_target()
        .args(["mesh", "down"])
        .assert()
        .success()
        .stdout("The reference mesh is not running.\n");
}

#[test]
fn the_default_target_is_the_reference_mesh() {
    let env = Env::new();
    let out = env
        .cmd_default_target()
        .arg("labs")
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout(&out).contains("Target: reference (progress in "),
        "{}",
        stdout(&out)
    );
    // Naming the target does not start anything either.
    assert!(!env.path("state/meshwork/server.json").exists());
}
