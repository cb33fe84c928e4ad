//! `meshwork labs`.

use crate::util::{Env, fixture, stderr, stdout};

#[test]
fn labs_lists_every_lab_with_steps_done() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .arg("labs")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(
        text.starts_with("  00 Basics    0/3\n  01 The mesh  0/1\n"),
        "{text}"
    );
    assert!(text.contains("Target: cluster (progress in "), "{text}");
    assert_eq!(stderr(&out), "");
}

#[test]
fn labs_shows_partial_and_complete_labs() {
    let env = Env::new();
    env.course_cmd()
        .args(["check", "basics/tools"])
        .assert()
        .code(0);
    let text = stdout(
        &env.course_cmd()
            .arg("labs")
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    assert!(text.starts_with("◐ 00 Basics    1/3\n"), "{text}");
    std::fs::write(
        env.progress_file(),
        r#"{"format_version":1,"labs":{"mesh":{"steps":{"namespace":{"completed_at":1}}}}}"#,
    )
    .unwrap();
    let text = stdout(
        &env.course_cmd()
            .arg("labs")
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    assert!(text.contains("✔ 01 The mesh  1/1\n"), "{text}");
    assert!(text.contains("  00 Basics    0/3\n"), "{text}");
}

#[test]
fn labs_lists_the_built_in_course() {
    let env = Env::new();
    env.cmd()
        .arg("labs")
        .assert()
        .success()
        .stdout(predicates::str::contains("00 Prerequisites"));
}

#[test]
fn progress_is_kept_per_context() {
    let env = Env::new();
    env.course_cmd()
        .args(["--context", "kind-istio", "check", "basics/tools"])
        .assert()
        .code(0);
    assert!(
        env.path("data/meshwork/progress/cluster-kind-istio.json")
            .is_file()
    );
    assert!(!env.progress_file().exists());
    let other = stdout(
        &env.course_cmd()
            .arg("labs")
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    assert!(other.starts_with("  00 Basics    0/3"), "{other}");
    let same = env
        .course_cmd()
        .env("MESHWORK_TARGET", "cluster:kind-istio")
        .arg("labs")
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout(&same).starts_with("◐ 00 Basics    1/3"),
        "{}",
        stdout(&same)
    );
}

#[test]
fn a_bad_target_in_the_environment_is_explained() {
    let env = Env::new();
    env.course_cmd()
        .env("MESHWORK_TARGET", "minikube")
        .arg("labs")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "MESHWORK_TARGET=minikube is not a target",
        ));
}

#[test]
fn a_folder_that_is_not_content_is_refused() {
    let env = Env::new();
    env.cmd()
        .arg("--content")
        .arg(env.path("home"))
        .arg("labs")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("has no labs/ folder"));
}

#[test]
fn invalid_content_stops_every_command_and_points_at_lint() {
    let env = Env::new();
    env.cmd()
        .arg("--content")
        .arg(fixture("lint_reports_file_line_and_field"))
        .arg("labs")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is not valid (5 problems)"))
        .stderr(predicates::str::contains("run `meshwork lint "));
}
