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

#[test]
fn lint_finds_commands_and_manifests_that_would_fail() {
    let env = Env::new();
    let dir = fixture("lint_finds_commands_and_manifests_that_would_fail");
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
error: labs/00-commands/lab.yaml:10: field `steps[0].commands[0].run`: `kubectl gte pods -n default`: kubectl has no command `gte` (did you mean `get`?); see `kubectl help` for its commands
error: labs/00-commands/lab.yaml:11: field `steps[0].commands[1].reference`: `meshwork mesh upp` is not a meshwork command: unrecognized subcommand 'upp'; tip: a similar subcommand exists: 'up' (see `meshwork mesh --help`)
error: labs/00-commands/lab.yaml:13: field `steps[0].commands[2].run`: `istioctl proxy-status`: the reference mesh has no istioctl of its own; write the command as `cluster: istioctl …` and `reference: meshwork istioctl …` instead of `run:`
error: labs/00-commands/lab.yaml:28: field `steps[0].reset.commands[0].reference`: `kubectl delete -f manifests/commands/missing.yaml --ignore-not-found`: `manifests/commands/missing.yaml` does not exist in the course content (manifests live under manifests/ at the content root)
error: manifests/commands/broken.yaml:8: manifests/commands/broken.yaml, document 2: the object has no kind (e.g. `kind: Service`)

1 lab, 1 step, 1 check: 5 errors
"
    );
    assert_eq!(stdout(&out), expected);
}

#[test]
fn lint_apply_reports_what_the_reference_mesh_refuses_and_leaves_nothing_behind() {
    assert!(
        crate::util::mesh::has_kubectl(),
        "meshwork lint --apply sends manifests with the real kubectl at /usr/bin/kubectl"
    );
    let env = Env::new();
    let tmp = env.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let dir = fixture("lint_apply_reports_what_the_mesh_refuses");
    let out = env
        .cmd()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", env.path("bin").display()),
        )
        .env("TMPDIR", &tmp)
        .args(["lint", "--apply"])
        .arg(&dir)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let expected = format!(
        "Checking the content in {}\n{}",
        dir.display(),
        "\
Applying 2 manifests to a scratch reference mesh with Istio (kubectl apply --dry-run=server)…
error: manifests/apply/route.yaml: the reference mesh refuses it (kubectl apply --dry-run=server): The VirtualService.networking.istio.io \"reviews\" is invalid: spec.tcp: Invalid value: \"string\": spec.tcp in body must be of type array: \"string\"

1 lab, 1 step, 1 check: 1 error
"
    );
    assert_eq!(stdout(&out), expected);
    // The scratch mesh was stopped and its folder removed.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
