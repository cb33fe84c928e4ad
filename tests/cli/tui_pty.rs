//! The real binary in a real pseudo-terminal (tmux), driven the way a learner drives it:
//! open lab 0, run its first step's checks, see them pass, quit, and find the progress saved.

use crate::util::Env;
use crate::util::mesh::{Sandbox, StopMesh, sample};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server (its own socket), killed when the test ends however it ends.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(crate) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Self {
            socket: format!("meshwork-e2e-{}-{nanos}", std::process::id()),
        }
    }

    /// Starts `meshwork ARGS` in a 110x32 tmux session whose environment is only the test's
    /// sandbox (HOME, XDG dirs, PATH = the sandbox's bin/, KUBECONFIG = `kubeconfig` in it).
    pub(crate) fn start_meshwork(env: &Env, kubeconfig: &str, meshwork_args: &[&str]) -> Self {
        let tmux = Self::new();
        let sandbox = |var: &str, rel: &str| format!("{var}={}", env.path(rel).display());
        let mut command = vec![
            "/usr/bin/env".to_string(),
            "-i".into(),
            "TERM=xterm-256color".into(),
            sandbox("HOME", "home"),
            sandbox("XDG_DATA_HOME", "data"),
            sandbox("XDG_STATE_HOME", "state"),
            sandbox("XDG_CONFIG_HOME", "config"),
            sandbox("KUBECONFIG", kubeconfig),
            sandbox("PATH", "bin"),
            env!("CARGO_BIN_EXE_meshwork").into(),
        ];
        command.extend(meshwork_args.iter().map(ToString::to_string));
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "110",
            "-y",
            "32",
            "--",
        ];
        args.extend(command.iter().map(String::as_str));
        let started = tmux.run(&args);
        assert!(
            started.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&started.stderr)
        );
        tmux
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux must be installed for the end-to-end test (.ci/run installs it)")
    }

    pub(crate) fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// Waits until the screen shows every one of `texts` at once (a capture may catch a frame
    /// half drawn); on a miss, fails showing the last screen.
    pub(crate) fn wait_for(&self, texts: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never saw all of {texts:?}; the screen was:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "e2e"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn a_learner_opens_lab_0_runs_its_checks_and_quits() {
    let env = Env::new();
    env.fake_tool("kubectl", "echo 'Client Version: v1.32.4'");
    let tmux = Tmux::start_meshwork(&env, "no-such-kubeconfig", &["--target", "cluster"]);

    // Home: the lab list, and the target named with its state.
    tmux.wait_for(&[
        "meshwork · Istio hands-on",
        "00 Prerequisites",
        "not configured",
    ]);

    // Open lab 0: the first step's instructions and its command.
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Step 1 of 3", "kubectl version --client"]);

    // Run the checks: the fake kubectl is recent enough, so the step passes and is saved.
    tmux.keys(&["c"]);
    tmux.wait_for(&[
        "All checks pass",
        "✔ kubectl is installed and recent",
        "kubectl 1.32.4",
    ]);

    // The next step fails without a cluster, and says why.
    tmux.keys(&["n"]);
    tmux.wait_for(&["Step 2 of 3"]);
    tmux.keys(&["c"]);
    tmux.wait_for(&[
        "? The cluster answers and has Ready nodes",
        "no-such-kubeconfig",
    ]);

    // Back to the lab list (which now shows 1/3), then quit.
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["◐ 00 Prerequisites", "1/3"]);
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive() {
        assert!(
            Instant::now() < deadline,
            "meshwork did not quit on q:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let progress = std::fs::read_to_string(env.progress_file()).unwrap();
    let progress: serde_json::Value = serde_json::from_str(&progress).unwrap();
    let steps = &progress["labs"]["prerequisites"]["steps"];
    assert!(steps["kubectl"]["completed_at"].is_u64(), "{progress}");
    assert!(steps["cluster"]["completed_at"].is_null(), "{progress}");
}

#[test]
fn x_on_the_reference_mesh_without_istio_says_there_is_no_proxy_to_read() {
    let env = Env::new();
    let _stop = StopMesh(&env);
    // No target chosen: the TUI starts the bundled reference mesh, where Istio is not installed.
    let tmux = Tmux::start_meshwork(&env, "no-such-kubeconfig", &["--open", "0/2"]);
    tmux.wait_for(&["00 Prerequisites", "Step 2 of 3", "● ready"]);

    // x opens the explain view; the real explain finds no sidecar and no gateway, and says what
    // to do as `meshwork explain` does.
    tmux.keys(&["x"]);
    tmux.wait_for(&[
        "Explain · recent requests",
        // (fragments that line wrapping cannot split)
        "No proxy to read:",
        "istio-injection=enabled",
        "Press r to read the logs again",
    ]);

    // Esc closes the view and leaves the step on screen.
    tmux.keys(&["Escape"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.screen().contains("Explain · recent requests") {
        assert!(
            Instant::now() < deadline,
            "Esc did not close the explain view:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.wait_for(&["Step 2 of 3"]);
    tmux.keys(&["q", "q"]);
}

/// `GET path` to 127.0.0.1:port; the status (0 when nothing answered).
fn get(port: u16, path: &str) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: httpbin.example\r\nUser-Agent: meshwork-test\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn x_shows_a_request_through_the_gateway_hop_by_hop() {
    let Some(sb) = Sandbox::with_envoy() else {
        return;
    };
    // Istio's httpbin sample, injected, behind its gateway (the samples applied unchanged).
    sb.ok(&["mesh", "up"]);
    sb.ok(&["istioctl", "install", "-y"]);
    sb.deploy_injected(
        &[
            &sample("httpbin/httpbin.yaml"),
            &sample("httpbin/httpbin-gateway.yaml"),
        ],
        1,
    );
    let port = sb.ingress_port();
    // Until the gateway has its route, it answers 404; then httpbin's own 418 comes through.
    let mut status = 0;
    for _ in 0..240 {
        status = get(port, "/status/418");
        if status == 418 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(status, 418, "the gateway never routed to httpbin");

    // The TUI on the running mesh: x shows the request with the gateway's hop and httpbin's
    // sidecar below it (access log lines reach the log a moment after the answer: r reads again).
    let tmux = Tmux::start_meshwork(&sb.env, "no-such-kubeconfig", &["--open", "0/2"]);
    tmux.wait_for(&["Step 2 of 3", "● ready"]);
    tmux.keys(&["x"]);
    let expected = [
        "GET /status/418  418",
        "Hops of request",
        "└─ gateway istio-ingressgateway",
        "GET httpbin.example/status/418 → 418",
        "inbound httpbin-",
    ];
    for _ in 0..60 {
        let screen = tmux.screen();
        if expected.iter().all(|t| screen.contains(t)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1000));
        if !tmux.screen().contains("reading the proxies") {
            tmux.keys(&["r"]);
        }
    }
    tmux.wait_for(&expected);
    tmux.keys(&["Escape", "q", "q"]);
}

/// Waits until the screen no longer shows `text`; on a timeout, fails showing the screen.
fn wait_until_gone(tmux: &Tmux, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tmux.screen().contains(text) {
        assert!(
            Instant::now() < deadline,
            "{text:?} never went away:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_applies_a_steps_manifest_after_showing_what_it_creates_and_the_checks_pass() {
    let Some(sb) = Sandbox::with_envoy_and_kubectl("applies a lab's solution from the TUI") else {
        return;
    };
    sb.ok(&["mesh", "up"]);
    sb.ok(&["istioctl", "install", "-y"]);
    // The solution runs `kubectl apply` through sh, as a learner would type it; the TUI's PATH
    // is only the sandbox's bin/.
    for (name, real) in [("kubectl", "/usr/bin/kubectl"), ("sh", "/bin/sh")] {
        std::os::unix::fs::symlink(real, sb.env.path("bin").join(name)).unwrap();
    }

    let tmux = Tmux::start_meshwork(&sb.env, "no-such-kubeconfig", &["--open", "05/1"]);
    // The first step opens with the line for a second terminal.
    tmux.wait_for(&[
        "Name the versions with DestinationRules",
        "● ready",
        "In a second terminal",
        "eval \"$(meshwork mesh env)\"",
    ]);
    tmux.keys(&["c"]);
    tmux.wait_for(&["2 of 2 checks failed"]);

    // a: the plan and what it creates, nothing applied yet.
    tmux.keys(&["a"]);
    tmux.wait_for(&[
        "Apply the solution · Name the versions with DestinationRules",
        "1. kubectl apply -f manifests/05-request-routing/destination-rules.yaml",
        "+ creates DestinationRule reviews in default",
        "+ creates DestinationRule ratings in default",
        "[y] apply",
    ]);
    let before = sb.kubectl_output(&["get", "destinationrule", "reviews"]);
    assert!(!before.status.success(), "nothing is applied before y");

    // y: it runs, the window closes, and the step's checks pass.
    tmux.keys(&["y"]);
    tmux.wait_for(&["All checks pass", "✔ step done"]);
    sb.kubectl(&["get", "destinationrule", "reviews"]);

    // Asked again, the preview knows the objects are already as written; n changes nothing.
    tmux.keys(&["a"]);
    tmux.wait_for(&["DestinationRule reviews in default is already like this (unchanged)"]);
    tmux.keys(&["n"]);
    wait_until_gone(&tmux, "Apply the solution ·");

    // r puts the step back: the checks fail again.
    tmux.keys(&["r"]);
    tmux.wait_for(&[
        "Reset · Name the versions with DestinationRules",
        "kubectl delete -f manifests/05-request-routing/destination-rules.yaml",
    ]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["2 of 2 checks failed"]);
    let after = sb.kubectl_output(&["get", "destinationrule", "reviews"]);
    assert!(
        !after.status.success(),
        "the reset deleted the DestinationRules"
    );
    tmux.keys(&["q", "q"]);
}
