//! `meshwork hint`.

use crate::util::{Env, stdout};

#[test]
fn hints_are_revealed_one_at_a_time_and_remembered() {
    let env = Env::new();
    let first = env
        .course_cmd()
        .args(["hint", "basics/tools"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        stdout(&first),
        "Hints for 00 Basics — Tools in place:\n\n1. First hint about tools.\n\n1 more hint left: run this command again.\n"
    );
    let second = env
        .course_cmd()
        .args(["hint", "0/1"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        stdout(&second),
        "Hints for 00 Basics — Tools in place:\n\n1. First hint about tools.\n\n2. Second hint about tools.\n\nThat was the last hint.\n"
    );
    let third = env
        .course_cmd()
        .args(["hint", "basics/tools"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        stdout(&third)
            .ends_with("\n2. Second hint about tools.\n\nNo hints left: all 2 are shown above.\n")
    );
    env.course_cmd()
        .args(["show", "basics/tools"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "2 hints (2 revealed): meshwork hint basics/tools",
        ));
    // Other steps are untouched.
    env.course_cmd()
        .args(["show", "basics/cluster"])
        .assert()
        .success()
        .stdout(predicates::str::contains("1 hint (0 revealed)"));
}

#[test]
fn hint_needs_a_step() {
    let env = Env::new();
    env.course_cmd()
        .args(["hint", "basics"])
        .assert()
        .code(2)
        .stderr("error: `meshwork hint` needs a step, not a whole lab: one of basics/tools, basics/cluster, basics/missing\n");
}
