//! `--version`, `--help`, completions, bench, and `meshwork` without a terminal.

use crate::util::{Env, stderr, stdout};

#[test]
fn version_names_the_program_and_its_version() {
    let env = Env::new();
    env.cmd()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("meshwork {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn help_has_examples_and_exit_codes() {
    let env = Env::new();
    env.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("Examples:\n  meshwork "))
        .stdout(predicates::str::contains("meshwork check 0/2 --json"))
        .stdout(predicates::str::contains(
            "Exit codes: 0 success, 1 a check failed",
        ));
}

#[test]
fn check_help_documents_the_json_schema() {
    let env = Env::new();
    env.cmd()
        .args(["check", "--help"])
        .assert()
        .success()
        .stdout(predicates::str::contains("schema_version  1"))
        .stdout(predicates::str::contains(
            "\"pass\" | \"warn\" | \"fail\" | \"error\" | \"skipped\"",
        ));
}

#[test]
fn without_a_terminal_meshwork_explains_and_prints_help() {
    let env = Env::new();
    let out = env.cmd().assert().code(2).get_output().clone();
    assert!(
        stderr(&out).contains("meshwork's terminal UI needs a terminal"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("Usage: meshwork [OPTIONS] [COMMAND]"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn completions_for_bash_complete_the_subcommands() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .clone();
    let script = stdout(&out);
    assert!(script.contains("_meshwork()"), "{script}");
    assert!(script.contains("complete -F _meshwork"), "{script}");
    for sub in [
        "labs",
        "show",
        "check",
        "hint",
        "progress",
        "lint",
        "completions",
    ] {
        assert!(script.contains(sub), "{sub} missing");
    }
    env.cmd()
        .args(["completions", "zsh"])
        .assert()
        .success()
        .stdout(predicates::str::contains("#compdef meshwork"));
    env.cmd().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn unknown_subcommands_and_conflicting_targets_are_usage_errors() {
    let env = Env::new();
    env.cmd().arg("frobnicate").assert().code(2);
    env.cmd()
        .args(["--target", "cluster", "--context", "a", "labs"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot be used with"));
}

#[test]
fn bench_prints_a_row_per_target() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["bench", "-n", "1"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = stdout(&out);
    for row in [
        "meshwork --version",
        "meshwork labs",
        "load + validate content",
        "TUI first frame (80x24)",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("{row}: {text}"));
        assert!(line.contains(" ms") || line.contains(" µs"), "{line}");
    }
    assert!(
        text.contains("< 20 ms") && text.contains("< 5 ms") && text.contains("< 100 ms"),
        "{text}"
    );
}

#[test]
fn open_is_only_for_the_terminal_ui() {
    let env = Env::new();
    env.cmd()
        .args(["--open", "0", "labs"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "cannot be combined with a subcommand",
        ));
}
