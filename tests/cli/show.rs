//! `meshwork show`.

use crate::util::{Env, stdout};

#[test]
fn show_lab_prints_the_overview() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .args(["show", "basics"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        stdout(&out),
        "00 Basics\n=========\n\nA small course used by meshwork's own tests.\n\nabout 5 minutes · uses: fakectl\n\nSteps:\n    1. tools    Tools in place\n    2. cluster  A cluster\n    3. missing  A tool nobody has\n\nRead a step: meshwork show basics/tools\n"
    );
}

#[test]
fn show_step_prints_body_commands_checks_and_hints() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .args(["show", "basics/tools"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = stdout(&out);
    let expected = "\
00 Basics — step 1 of 3: Tools in place
=======================================

Tools
=====

You need fakectl. See its site (https://example.invalid/fakectl).

    fakectl version

Commands (on the cluster target):
  # Prints the version.
  $ fakectl version
  $ fakectl get nodes

Checks (2):
  • fakectl is installed and recent
  • An optional tool

2 hints (0 revealed): meshwork hint basics/tools
Check your work: meshwork check basics/tools
";
    assert_eq!(text, expected);
}

#[test]
fn steps_can_be_named_by_number() {
    let env = Env::new();
    env.course_cmd()
        .args(["show", "0/2"])
        .assert()
        .success()
        .stdout(predicates::str::starts_with(
            "00 Basics — step 2 of 3: A cluster\n",
        ))
        .stdout(predicates::str::contains(
            "• one node is enough\n• more is fine\n",
        ));
}

#[test]
fn unknown_labs_and_steps_list_what_exists() {
    let env = Env::new();
    env.course_cmd()
        .args(["show", "basics/nope"])
        .assert()
        .code(2)
        .stderr("error: lab 00 has no step `nope`; its steps are: 1 tools, 2 cluster, 3 missing (see `meshwork labs`)\n");
    env.course_cmd()
        .args(["show", "routing"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "no lab called `routing`; the labs are: 00 basics, 01 mesh",
        ));
}

#[test]
fn a_done_step_is_marked_in_the_overview() {
    let env = Env::new();
    env.course_cmd()
        .args(["check", "basics/tools"])
        .assert()
        .code(0);
    env.course_cmd()
        .args(["show", "basics"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "  ✔ 1. tools    Tools in place\n",
        ));
}
