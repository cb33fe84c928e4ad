//! The remembered target: chosen with `t` in the TUI, used by the next `meshwork` (the TUI and
//! every subcommand) unless `--context`, `--target` or `MESHWORK_TARGET` say otherwise.

use crate::tui_pty::Tmux;
use crate::util::{Env, stderr, stdout};
use std::time::{Duration, Instant};

/// Two contexts whose API servers are closed loopback ports (nothing answers there).
const TWO_DEAD_CLUSTERS: &str = "\
apiVersion: v1
kind: Config
current-context: alpha
clusters:
- name: alpha
  cluster: {server: 'https://127.0.0.1:9'}
- name: beta
  cluster: {server: 'https://127.0.0.1:7'}
users:
- name: learner
  user: {token: abc}
contexts:
- name: alpha
  context: {cluster: alpha, user: learner}
- name: beta
  context: {cluster: beta, user: learner, namespace: shop}
";

fn settings_file(env: &Env) -> std::path::PathBuf {
    env.path("config/meshwork/settings.json")
}

fn remember(env: &Env, json: &str) {
    let path = settings_file(env);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, json).unwrap();
}

/// `meshwork labs`'s target line.
fn labs_target(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.arg("labs").assert().success().get_output().clone();
    let text = stdout(&out);
    text.lines()
        .find(|l| l.starts_with("Target: "))
        .unwrap_or_else(|| panic!("no target line in {text}"))
        .to_string()
}

#[test]
fn without_a_remembered_target_meshwork_uses_the_reference_mesh() {
    let env = Env::new();
    let line = labs_target(&mut env.cmd_default_target());
    assert!(
        line.starts_with("Target: reference (progress in "),
        "{line}"
    );
}

#[test]
fn the_remembered_target_is_used_with_its_own_progress() {
    let env = Env::new();
    remember(&env, r#"{"target": "cluster:beta"}"#);
    let line = labs_target(&mut env.cmd_default_target());
    assert!(
        line.starts_with("Target: cluster:beta (progress in "),
        "{line}"
    );
    assert!(line.contains("cluster-beta.json"), "{line}");
}

#[test]
fn context_target_and_meshwork_target_all_win_over_the_remembered_target() {
    let env = Env::new();
    remember(&env, r#"{"target": "cluster:beta"}"#);
    let line = labs_target(env.cmd_default_target().env("MESHWORK_TARGET", "reference"));
    assert!(line.starts_with("Target: reference "), "{line}");
    let line = labs_target(env.cmd_default_target().args(["--target", "cluster"]));
    assert!(line.starts_with("Target: cluster "), "{line}");
    let line = labs_target(env.cmd_default_target().args(["--context", "alpha"]));
    assert!(line.starts_with("Target: cluster:alpha "), "{line}");
}

#[test]
fn a_broken_settings_file_is_named_and_the_reference_mesh_used() {
    let env = Env::new();
    remember(&env, r#"{"target": "kind"}"#);
    let out = env
        .cmd_default_target()
        .arg("labs")
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout(&out).contains("Target: reference "),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("settings.json"), "{err}");
    assert!(err.contains("`kind` is not a target"), "{err}");
    assert!(err.contains("using the reference mesh"), "{err}");
}

#[test]
fn a_cluster_chosen_in_the_tui_is_confirmed_remembered_and_used_next_time() {
    let env = Env::new();
    std::fs::write(env.path("kubeconfig"), TWO_DEAD_CLUSTERS).unwrap();
    let tmux = Tmux::start_meshwork(&env, "kubeconfig", &["--context", "alpha"]);
    tmux.wait_for(&["cluster (context alpha)", "t target"]);

    // The picker lists both contexts, alpha in use.
    tmux.keys(&["t"]);
    tmux.wait_for(&[
        "reference mesh",
        "cluster: alpha (in use)",
        "cluster: beta",
        "https://127.0.0.1:7 · namespace shop",
    ]);
    // Choosing beta asks first, naming the context; nothing is remembered yet.
    tmux.keys(&["j", "Enter"]);
    tmux.wait_for(&["Switch to a live cluster?", "objects in context beta."]);
    assert!(!settings_file(&env).exists());
    tmux.keys(&["y"]);
    tmux.wait_for(&["target: cluster (context beta)", "Now on cluster:beta"]);
    // Nothing answers on beta's port: the header says so, the app keeps working.
    tmux.wait_for(&["unreachable"]);
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

    let line = labs_target(
        env.cmd_default_target()
            .env("XDG_CONFIG_HOME", env.path("config"))
            .env("KUBECONFIG", env.path("kubeconfig")),
    );
    assert!(line.starts_with("Target: cluster:beta "), "{line}");
}
