//! `meshwork lab test`: the content tests, on the tiny fixture course in
//! `tests/fixtures/lab_test` (ConfigMaps only, so no Envoy is needed), each lab on a scratch
//! reference mesh that the command starts and removes itself.

use crate::util::mesh::{COMMAND_TIMEOUT, Sandbox, has_kubectl};
use crate::util::{fixture, stderr, stdout};
use std::process::Output;

/// `meshwork --content tests/fixtures/lab_test lab test ARGS` in the sandbox, with the real
/// kubectl on PATH and the sandbox's own temp folder (where the scratch meshes live).
fn lab_test(sb: &Sandbox, args: &[&str]) -> Output {
    assert!(
        has_kubectl(),
        "meshwork lab test carries out solutions with the real kubectl at /usr/bin/kubectl"
    );
    std::fs::create_dir_all(sb.env.path("tmp")).unwrap();
    let path = format!("{}:/usr/bin:/bin", sb.env.path("bin").display());
    sb.env
        .cmd_default_target()
        .env("PATH", path)
        .env("TMPDIR", sb.env.path("tmp"))
        .arg("--content")
        .arg(fixture("lab_test"))
        .args(["lab", "test"])
        .args(args)
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap()
}

/// Whatever happened, the scratch meshes are gone and the learner's own mesh was never
/// started.
fn assert_cleaned_up(sb: &Sandbox) {
    let left: Vec<_> = std::fs::read_dir(sb.env.path("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "scratch folders were left behind: {left:?}"
    );
    assert!(
        !sb.env.path("state/meshwork").exists(),
        "the learner's own state directory was touched"
    );
}

fn text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// The test refused to start: exit 2, stderr says each of `reasons`, and nothing was tested.
fn refused(out: &Output, reasons: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    let err = stderr(out);
    for reason in reasons {
        assert!(err.contains(reason), "missing {reason:?} in:\n{err}");
    }
    assert!(
        stdout(out).is_empty(),
        "nothing was tested: {}",
        stdout(out)
    );
}

#[test]
fn a_good_lab_passes_after_its_prerequisite_with_the_exception_it_states() {
    let sb = Sandbox::new();
    let out = lab_test(&sb, &["good"]);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Testing 1 lab, each on a fresh reference mesh"),
        "{text}"
    );
    assert!(
        text.contains("  prerequisites: lab 00 solved (1 step) in "),
        "{text}"
    );
    assert!(
        text.contains(
            "    note: `base-still-there` may pass before its solution: The setup lab created it; \
             this step only makes sure nothing deleted it."
        ),
        "{text}"
    );
    assert!(
        text.contains("  1 blue   before: 1 failing as they should, 1 passing as allowed ("),
        "{text}"
    );
    assert!(
        text.contains("  2 green  before: 1 failing as they should ("),
        "{text}"
    );
    assert!(text.contains("  reset 2 green: "), "{text}");
    assert!(text.contains(" · blue passes again after "), "{text}");
    assert!(text.contains("\n01 A good lab  ok "), "{text}");
    assert!(!text.contains('✘'), "{text}");
    assert_cleaned_up(&sb);
}

#[test]
fn a_check_that_passes_before_its_solution_is_reported_as_broken() {
    let sb = Sandbox::new();
    let out = lab_test(&sb, &["2"]);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "    ✘ 02/three — before the solution: check `base-present` (The base ConfigMap is \
             there) already passes on the unsolved step (a broken check): ✔ passed\n        \
             ConfigMap lt-base in namespace default exists"
        ),
        "{text}"
    );
    assert!(text.contains("\n02 A broken check  1 problem "), "{text}");
    assert!(
        text.contains("\nProblems:\n  02/three — before the solution: check `base-present`"),
        "{text}"
    );
    assert_cleaned_up(&sb);
}

#[test]
fn a_reset_that_does_not_restore_the_earlier_state_is_reported() {
    let sb = Sandbox::new();
    let out = lab_test(&sb, &["no-restore", "--settle", "2"]);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("  1 four  before: 1 failing as they should ("),
        "the step itself is fine: {text}"
    );
    assert!(
        text.contains(
            "    ✘ 03/four — after the reset: check `four-present` (lt-four is there) still passes"
        ),
        "{text}"
    );
    assert!(
        text.contains("(the reset does not restore the earlier state): ✔ passed"),
        "{text}"
    );
    assert_cleaned_up(&sb);
}

#[test]
fn a_failing_solution_command_is_reported_with_what_it_printed() {
    let sb = Sandbox::new();
    let out = lab_test(&sb, &["04-bad-solution"]);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("    ✘ 04/missing — carrying out the solution: the solution failed\n"),
        "{text}"
    );
    assert!(
        text.contains("kubectl label configmap lt-missing tested=yes` failed (exit 1):"),
        "{text}"
    );
    assert!(text.contains("        labelling lt-missing\n"), "{text}");
    assert!(
        text.contains(r#"configmaps "lt-missing" not found"#),
        "kubectl's own message: {text}"
    );
    assert_cleaned_up(&sb);
}

#[test]
fn a_live_cluster_is_only_changed_with_yes() {
    let sb = Sandbox::new();
    let out = sb
        .env
        .cmd_default_target()
        .args(["--content"])
        .arg(fixture("lab_test"))
        .args(["--context", "prod", "lab", "test"])
        .output()
        .unwrap();
    refused(
        &out,
        &[
            "on a live cluster carries out every lab's solutions and resets there (context `prod`)",
            "pass --yes to go ahead",
        ],
    );
}

#[test]
fn an_unknown_lab_is_refused_with_the_list_of_labs() {
    let sb = Sandbox::new();
    let out = lab_test(&sb, &["good", "nope"]);
    refused(
        &out,
        &["no lab called `nope`; the labs are: 00 setup, 01 good"],
    );
}

#[test]
fn ctrl_c_stops_the_scratch_mesh_and_removes_its_folder() {
    use std::os::unix::process::CommandExt as _;
    use std::time::Duration;
    assert!(
        has_kubectl(),
        "meshwork lab test carries out solutions with the real kubectl at /usr/bin/kubectl"
    );
    let sb = Sandbox::new();
    let tmp = sb.env.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // Its own process group, as a shell gives a foreground job: Ctrl-C reaches the group.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_meshwork"))
        .env("HOME", sb.env.path("home"))
        .env("XDG_DATA_HOME", sb.env.path("data"))
        .env("XDG_STATE_HOME", sb.env.path("state"))
        .env("XDG_CONFIG_HOME", sb.env.path("config"))
        .env("KUBECONFIG", sb.env.path("no-such-kubeconfig"))
        .env("PATH", "/usr/bin:/bin")
        .env("TMPDIR", &tmp)
        .env("NO_COLOR", "1")
        .env_remove("MESHWORK_TARGET")
        .arg("--content")
        .arg(fixture("lab_test"))
        .args(["lab", "test", "slow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    // The solution announces itself in the scratch workshop, then sleeps for a minute.
    let started = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .any(|e| e.unwrap().path().join("workshop/solution-started").exists())
    };
    for _ in 0..600 {
        if started() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started(), "the slow solution never started");
    let pid: u32 = std::fs::read_dir(&tmp)
        .unwrap()
        .find_map(|e| {
            let server = e.unwrap().path().join("state/meshwork/server.json");
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(server).ok()?).ok()?;
            doc["pid"].as_u64().and_then(|p| u32::try_from(p).ok())
        })
        .expect("the scratch mesh's server.json names its pid");
    let status = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("Interrupted: stopping the scratch mesh and removing "),
        "{text}"
    );
    // Gone, or a zombie waiting for init to reap it (meshwork, its parent, has exited).
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state.rsplit(") ").next().unwrap_or("").chars().next();
    assert!(
        matches!(state, None | Some('Z' | 'X')),
        "the scratch mesh (pid {pid}) still runs: state {state:?}"
    );
    assert_cleaned_up(&sb);
}

/// A scratch mesh left running by `--keep`, stopped and removed when the test ends.
struct Kept(std::path::PathBuf);

impl Drop for Kept {
    fn drop(&mut self) {
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_meshwork"))
            .args(["mesh", "down"])
            .env("XDG_STATE_HOME", self.0.join("state"))
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn keep_leaves_the_scratch_mesh_up_and_says_how_to_reach_it() {
    let sb = Sandbox::new();
    let out = lab_test(&sb, &["setup", "--keep"]);
    let kept: Vec<Kept> = std::fs::read_dir(sb.env.path("tmp"))
        .unwrap()
        .map(|e| Kept(e.unwrap().path()))
        .collect();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(kept.len(), 1, "one scratch folder is kept: {text}");
    let root = kept[0].0.display().to_string();
    assert!(
        text.contains(&format!(
            "  kept the scratch mesh; reach it with:\n    export XDG_STATE_HOME={root}/state && \
             eval \"$(meshwork mesh env)\" && cd {root}/workshop\n"
        )),
        "{text}"
    );
    // The line works: the kept mesh answers with the state the resets left (lt-base deleted).
    let kubeconfig = format!("{root}/state/meshwork/kubeconfig");
    let get = std::process::Command::new("/usr/bin/kubectl")
        .args(["get", "configmaps", "-n", "default", "-o", "name"])
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", sb.env.path("home"))
        .output()
        .unwrap();
    assert!(get.status.success(), "{}", stderr(&get));
    assert!(!stdout(&get).contains("lt-base"), "{}", stdout(&get));
}

#[test]
fn an_ingress_override_is_refused_on_scratch_meshes() {
    let sb = Sandbox::new();
    let out = sb
        .env
        .cmd_default_target()
        .env("MESHWORK_INGRESS", "http://127.0.0.1:31380")
        .arg("--content")
        .arg(fixture("lab_test"))
        .args(["lab", "test", "good"])
        .output()
        .unwrap();
    refused(
        &out,
        &["MESHWORK_INGRESS=http://127.0.0.1:31380 would send the ingress checks there"],
    );
}

#[test]
fn a_live_cluster_that_cannot_be_reached_stops_the_test_and_leaves_nothing_behind() {
    let sb = Sandbox::new();
    let out = lab_test(&sb, &["--target", "cluster", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: the kubeconfig cannot be used"),
        "{err}"
    );
    assert_cleaned_up(&sb);
}
