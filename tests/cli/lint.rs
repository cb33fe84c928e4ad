//! `meshwork lint`.

use crate::util::{Env, fixture, stdout};

#[test]
fn lint_accepts_valid_content() {
    let env = Env::new();
    let out = env
        .cmd()
        .arg("lint")
        .arg(fixture("basic_course"))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(text.starts_with("Checking the content in "), "{text}");
    assert!(
        text.ends_with("\n2 labs, 4 steps, 6 checks: all good\n"),
        "{text}"
    );
}

#[test]
fn lint_reports_file_line_and_field() {
    let env = Env::new();
    let dir = fixture("lint_reports_file_line_and_field");
    let out = env
        .cmd()
        .arg("lint")
        .arg(&dir)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let expected = format!(
        "Checking the content in {}\n{}",
        dir.display(),
        "\
error: labs/00-broken/lab.yaml:8: field `steps[0].body`: step file `missing.md` does not exist in labs/00-broken/
error: labs/00-broken/lab.yaml:14: field `steps[0].checks[0].command.min_version`: `one` is not a version (write e.g. 1.29 or 1.32.4)
error: labs/00-broken/lab.yaml:23: field `steps[1].checks`: every step needs at least one check
error: labs/00-broken/lab.yaml:26: field `steps[1].solution`: a solution needs manifests or commands, not only text
error: labs/01-typo/lab.yaml:3: unknown field `titel`, expected one of `format_version`, `id`, `title`, `summary`, `minutes`, `prerequisites`, `uses`, `steps`

5 problems found: fix them and run `meshwork lint` again.
"
    );
    assert_eq!(stdout(&out), expected);
}

#[test]
fn lint_checks_the_built_in_course_by_default() {
    let env = Env::new();
    env.cmd()
        .arg("lint")
        .assert()
        .code(0)
        .stdout(predicates::str::starts_with(
            "Checking the built-in content\n",
        ))
        .stdout(predicates::str::is_match(r"\n\d+ labs?, \d+ steps?, \d+ checks?: ").unwrap());
}

#[test]
fn lint_uses_the_content_option_when_no_folder_is_given() {
    let env = Env::new();
    env.cmd()
        .arg("--content")
        .arg(fixture("lint_reports_file_line_and_field"))
        .arg("lint")
        .assert()
        .code(1)
        .stdout(predicates::str::contains("5 problems found"));
}

#[test]
fn lint_of_a_folder_without_labs_cannot_run() {
    let env = Env::new();
    env.cmd()
        .arg("lint")
        .arg(env.path("home"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "does not look like meshwork content",
        ));
}
