//! `meshwork istioctl …` on the reference mesh (each test in its own sandbox with its own mesh,
//! stopped when the test ends) and its refusals: a live cluster target, no terminal to confirm
//! on, unknown profiles and options.

use crate::util::mesh::{self, COMMAND_TIMEOUT, Sandbox};
use crate::util::{Env, stderr, stdout};
use std::process::Output;

/// The real kubectl against the sandbox's mesh, when there is one on this machine (and
/// MESHWORK_SKIP_KUBECTL does not say to do without).
fn kubectl(sb: &Sandbox, args: &[&str]) -> Option<Output> {
    if !mesh::has_kubectl() || std::env::var_os("MESHWORK_SKIP_KUBECTL").is_some() {
        return None;
    }
    Some(sb.kubectl_output(args))
}

#[test]
fn install_prints_istioctls_progress_and_istio_runs() {
    let sb = Sandbox::new();
    let out = sb.meshwork(&["istioctl", "install", "--set", "profile=minimal", "-y"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{:?}\nstdout: {text}\nstderr: {}",
        out.status,
        stderr(&out)
    );
    assert_eq!(
        text,
        "✔ Istio core installed ⛵️\n✔ Istiod installed 🧠\n✔ Installation complete\n"
    );
    // The mesh was started for the install, and says so.
    assert!(
        stderr(&out).contains("Started the reference mesh"),
        "{}",
        stderr(&out)
    );

    let version = sb.meshwork(&["istioctl", "version"]);
    let text = stdout(&version);
    assert!(version.status.success(), "{text}{}", stderr(&version));
    assert_eq!(
        text,
        "client version: 1.24.0\ncontrol plane version: 1.24.0\ndata plane version: none\n"
    );

    if let Some(pods) = kubectl(&sb, &["get", "pods", "-n", "istio-system"]) {
        let pods = stdout(&pods);
        let istiod = pods
            .lines()
            .find(|l| l.starts_with("istiod-"))
            .unwrap_or_default();
        assert!(
            istiod.contains(" 1/1 ") && istiod.contains(" Running "),
            "{pods}"
        );
        // Applied as istioctl applies: server-side, by its field manager.
        let managers = stdout(
            &kubectl(
                &sb,
                &[
                    "get",
                    "deploy",
                    "istiod",
                    "-n",
                    "istio-system",
                    "--show-managed-fields",
                    "-o",
                    "jsonpath={.metadata.managedFields[*].manager}",
                ],
            )
            .unwrap(),
        );
        assert!(managers.contains("istio-operator"), "{managers}");
    }

    // Installing again is harmless: the same objects, applied again.
    let again = sb.meshwork(&["istioctl", "install", "--set", "profile=minimal", "-y"]);
    assert!(again.status.success(), "{}", stderr(&again));

    let gone = sb.meshwork(&["istioctl", "uninstall", "--purge", "-y"]);
    let text = stdout(&gone);
    assert!(gone.status.success(), "{text}{}", stderr(&gone));
    assert!(
        text.contains("  Removed Deployment:istio-system:istiod.\n"),
        "{text}"
    );
    assert!(
        text.contains("  Removed CustomResourceDefinition::virtualservices.networking.istio.io.\n"),
        "{text}"
    );
    assert!(text.ends_with("✔ Uninstall complete\n"), "{text}");
    let version = stdout(&sb.meshwork(&["istioctl", "version"]));
    assert!(
        version.contains("Istio is not present in the cluster"),
        "{version}"
    );
}

#[test]
fn install_demo_runs_istiod_and_both_gateways() {
    // The gateways run the real Envoy, which must be there unless Envoy tests are off.
    let Some(sb) = Sandbox::with_envoy() else {
        return;
    };
    let out = sb.meshwork(&["istioctl", "install", "--set", "profile=demo", "-y"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(
        text,
        "✔ Istio core installed ⛵️\n✔ Istiod installed 🧠\n✔ Ingress gateways installed 🛬\n\
         ✔ Egress gateways installed 🛫\n✔ Installation complete\n"
    );
    let version = stdout(&sb.meshwork(&["istioctl", "version"]));
    assert!(
        version.ends_with("data plane version: 1.24.0 (2 proxies)\n"),
        "{version}"
    );
}

/// Copies a directory tree.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_control_plane_that_does_not_start_is_reported_with_the_pods_reason() {
    let sb = Sandbox::new();
    // A course whose istiod names an image the reference mesh cannot run.
    let content = sb.env.path("content");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["labs", "manifests", "slides"] {
        copy_tree(&root.join(dir), &content.join(dir));
    }
    let istiod = content.join("manifests/istio/istiod.yaml");
    let text = std::fs::read_to_string(&istiod).unwrap();
    std::fs::write(
        &istiod,
        text.replace("docker.io/istio/pilot:", "example.invalid/pilot:"),
    )
    .unwrap();
    let out = sb.meshwork(&[
        "istioctl",
        "install",
        "--content",
        content.to_str().unwrap(),
        "--set",
        "profile=minimal",
        "-y",
        "--readiness-timeout",
        "3s",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "✔ Istio core installed ⛵️", "{text}");
    assert_eq!(
        lines[1],
        "✘ Istiod encountered an error: failed to wait for resource: resources not ready after \
         3s: context deadline exceeded",
        "{text}"
    );
    assert!(
        lines[2].starts_with("  Deployment/istio-system/istiod (container failed to start: ")
            && (lines[2].contains("ErrImagePull") || lines[2].contains("ImagePullBackOff")),
        "{text}"
    );
    assert_eq!(
        lines[3], "✘ Installation incomplete: The following components are not ready: [Istiod]",
        "{text}"
    );
    assert!(
        stderr(&out).contains("kubectl get pods -n istio-system"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn install_asks_first_and_without_a_terminal_refuses() {
    let sb = Sandbox::new();
    let out = sb.meshwork(&["istioctl", "install"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("This will install the Istio 1.24.0 \"default\" profile (with components: Istio core, Istiod, and Ingress gateways)"),
        "{err}"
    );
    assert!(err.contains("pass -y (--skip-confirmation)"), "{err}");
    assert!(
        sb.env.server_pid().is_none(),
        "nothing may start before the answer"
    );
}

#[test]
fn unknown_profiles_and_settings_are_refused_with_what_exists() {
    let sb = Sandbox::new();
    let out = sb.meshwork(&["istioctl", "install", "--set", "profile=nope", "-y"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("unknown profile \"nope\"; the profiles are: default, demo, minimal"),
        "{err}"
    );
    let out = sb.meshwork(&["istioctl", "install", "--set", "values.global.hub=x", "-y"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`values.global.hub` cannot be set"),
        "{}",
        stderr(&out)
    );
    let out = sb.meshwork(&["istioctl", "uninstall", "-y"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--purge"), "{}", stderr(&out));
    // Without a mesh, version and uninstall have nothing to look at, and start nothing.
    let out = sb.meshwork(&["istioctl", "version"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "client version: 1.24.0\n");
    assert!(
        stderr(&out).contains("the reference mesh is not running"),
        "{}",
        stderr(&out)
    );
    let out = sb.meshwork(&["istioctl", "uninstall", "--purge", "-y"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("meshwork mesh up"),
        "{}",
        stderr(&out)
    );
    assert!(sb.env.server_pid().is_none());
}

#[test]
fn a_live_cluster_target_is_left_to_the_real_istioctl() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["istioctl", "install", "-y"])
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("works on the reference mesh only"), "{err}");
    assert!(err.contains("use the real istioctl"), "{err}");
}

#[test]
fn help_shows_examples() {
    let env = Env::new();
    let out = env.cmd().args(["istioctl", "--help"]).output().unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("meshwork istioctl install --set profile=demo -y"),
        "{text}"
    );
    let out = env
        .cmd()
        .args(["istioctl", "install", "--help"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("--skip-confirmation"), "{text}");
    assert!(text.contains("Profiles: default"), "{text}");
}

#[test]
fn on_a_terminal_install_asks_and_does_what_the_answer_says() {
    use crate::tui_pty::Tmux;
    let sb = Sandbox::new();
    let args = ["istioctl", "install", "--set", "profile=minimal"];

    // No: nothing is installed, nothing is started.
    let tmux = Tmux::start_meshwork(&sb.env, "no-such-kubeconfig", &args);
    // Keep the screen once the command has ended, to read its last words.
    tmux.run(&["set-option", "-t", "e2e", "remain-on-exit", "on"]);
    tmux.wait_for(&[
        "This will install the Istio 1.24.0 \"minimal\" profile (with components: Istio core,",
        "Proceed? (y/N)",
    ]);
    tmux.keys(&["n", "Enter"]);
    tmux.wait_for(&["Cancelled."]);
    assert!(
        sb.env.server_pid().is_none(),
        "a cancelled install started the mesh"
    );
    drop(tmux);

    // Yes: installed, with the spinner cleared from the lines that stay.
    let tmux = Tmux::start_meshwork(&sb.env, "no-such-kubeconfig", &args);
    tmux.run(&["set-option", "-t", "e2e", "remain-on-exit", "on"]);
    tmux.wait_for(&["Proceed? (y/N)"]);
    tmux.keys(&["y", "Enter"]);
    tmux.wait_for(&[
        "✔ Istio core installed",
        "✔ Istiod installed",
        "✔ Installation complete",
    ]);
    let screen = tmux.screen();
    assert!(!screen.contains("Processing resources"), "{screen}");
}
