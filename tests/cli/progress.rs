//! `meshwork progress` and `meshwork progress reset`.

use crate::util::{Env, stdout};

const TWO_LABS: &str = r#"{"format_version":1,"labs":{
  "basics":{"steps":{"tools":{"completed_at":1700000000,"hints_revealed":1},"cluster":{"hints_revealed":1}}},
  "mesh":{"steps":{"namespace":{"completed_at":1700000001}}}}}"#;

fn with_progress() -> Env {
    let env = Env::new();
    let file = env.progress_file();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, TWO_LABS).unwrap();
    env
}

#[test]
fn progress_shows_every_step_and_revealed_hints() {
    let env = with_progress();
    let out = env
        .course_cmd()
        .arg("progress")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(text.starts_with("Progress on target cluster ("), "{text}");
    assert!(
        text.ends_with(
            "\n\n00 Basics  1/3\n  ✔ tools      Tools in place  (1 hint revealed)\n    cluster    A cluster  (1 hint revealed)\n    missing    A tool nobody has\n\n01 The mesh  1/1\n  ✔ namespace  A namespace for the lab\n"
        ),
        "{text}"
    );
}

#[test]
fn reset_without_a_terminal_needs_yes() {
    let env = with_progress();
    env.course_cmd()
        .args(["progress", "reset"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "Add --yes to reset without asking",
        ));
    assert_eq!(
        std::fs::read_to_string(env.progress_file()).unwrap(),
        TWO_LABS
    );
}

#[test]
fn reset_one_lab_keeps_the_others() {
    let env = with_progress();
    env.course_cmd()
        .args(["progress", "reset", "basics", "--yes"])
        .assert()
        .success()
        .stdout("Reset your progress in 00 Basics on target cluster.\n");
    let text = stdout(
        &env.course_cmd()
            .arg("labs")
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    assert!(
        text.starts_with("  00 Basics    0/3\n✔ 01 The mesh  1/1\n"),
        "{text}"
    );
    env.course_cmd()
        .args(["show", "basics/tools"])
        .assert()
        .stdout(predicates::str::contains("2 hints (0 revealed)"));
}

#[test]
fn reset_all_forgets_everything() {
    let env = with_progress();
    env.course_cmd()
        .args(["progress", "reset", "-y"])
        .assert()
        .success();
    let text = stdout(
        &env.course_cmd()
            .arg("labs")
            .assert()
            .success()
            .get_output()
            .clone(),
    );
    assert!(
        text.starts_with("  00 Basics    0/3\n  01 The mesh  0/1\n"),
        "{text}"
    );
}

#[test]
fn reset_of_an_unknown_lab_changes_nothing() {
    let env = with_progress();
    env.course_cmd()
        .args(["progress", "reset", "routing", "--yes"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no lab called `routing`"));
    assert_eq!(
        std::fs::read_to_string(env.progress_file()).unwrap(),
        TWO_LABS
    );
}
