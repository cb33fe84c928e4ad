//! `meshwork check`: text and JSON output, exit codes, progress.

use crate::util::{Env, stderr, stdout};
use serde_json::Value;

#[test]
fn a_passing_step_exits_0_and_is_recorded() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .args(["check", "basics/tools"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(text.starts_with("Checking 00 Basics on cluster"), "{text}");
    assert!(
        text.contains("\nStep 1/3 tools: Tools in place\n"),
        "{text}"
    );
    assert!(
        text.contains("  ✔ fakectl is installed and recent — fakectl 1.30.2 is installed at "),
        "{text}"
    );
    assert!(
        text.contains(
            "  ! An optional tool — meshwork-test-no-such-tool is not on your PATH (optional)"
        ),
        "{text}"
    );
    assert!(text.contains("  → step done\n"), "{text}");
    assert!(
        text.ends_with("\n2 checks: 1 passed, 1 with a warning. 1 of 1 step done.\n"),
        "{text}"
    );
    let saved = std::fs::read_to_string(env.progress_file()).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert!(
        saved["labs"]["basics"]["steps"]["tools"]["completed_at"].is_u64(),
        "{saved}"
    );
}

#[test]
fn a_failing_check_exits_1_with_its_hint_and_the_way_to_more() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .args(["check", "0/3"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(
        text.contains(
            "  ✘ The missing tool is installed — meshwork-test-missing-tool is not on your PATH. Install it: https://example.invalid/install\n      hint: It cannot be installed; this step is meant to fail.\n"
        ),
        "{text}"
    );
    assert!(!text.contains("→ step done"), "{text}");
    assert!(
        !text.contains("There is no such tool"),
        "step hints are not revealed by check: {text}"
    );
    assert!(
        text.ends_with("Stuck? `meshwork hint basics/missing` reveals a hint (0 of 1 revealed).\n"),
        "{text}"
    );
    assert!(
        !env.progress_file().exists(),
        "nothing passed, nothing recorded"
    );
}

#[test]
fn without_a_cluster_the_cluster_check_explains_and_command_checks_still_run() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .env_remove("KUBECONFIG")
        .args(["check", "basics/cluster"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(
        text.contains("  ? The cluster answers — no Kubernetes cluster is configured: KUBECONFIG is not set and "),
        "{text}"
    );
    assert!(
        text.contains("  ✔ fakectl still there — fakectl 1.30.2 is installed at "),
        "{text}"
    );
    assert!(
        text.contains("2 checks: 1 passed, 1 could not run. 0 of 1 step done."),
        "{text}"
    );
}

#[test]
fn a_kubeconfig_that_does_not_exist_is_named() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .args(["check", "basics/cluster"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = stdout(&out);
    let missing = env.path("no-such-kubeconfig");
    assert!(
        text.contains(&format!("KUBECONFIG names {}", missing.display())),
        "{text}"
    );
}

#[test]
fn json_output_follows_the_documented_schema() {
    let env = Env::new();
    let out = env
        .course_cmd()
        .args(["check", "basics", "--json"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["target"], "cluster");
    assert!(
        doc["target_description"]
            .as_str()
            .unwrap()
            .starts_with("cluster")
    );
    assert_eq!(
        doc["lab"],
        serde_json::json!({"id": "basics", "number": 0, "title": "Basics"})
    );
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(
        doc["summary"],
        serde_json::json!({"pass": 2, "warn": 1, "fail": 1, "error": 1, "skipped": 0})
    );
    let steps = doc["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["tools", "cluster", "missing"]);
    let passed: Vec<bool> = steps
        .iter()
        .map(|s| s["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(passed, [true, false, false]);
    let outcomes: Vec<Vec<&str>> = steps
        .iter()
        .map(|s| {
            s["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["outcome"].as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        outcomes,
        [vec!["pass", "warn"], vec!["error", "pass"], vec!["fail"]]
    );
    for step in steps {
        assert!(step["title"].is_string());
        for r in step["results"].as_array().unwrap() {
            let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            for key in ["id", "title", "outcome", "message", "elapsed_ms"] {
                assert!(keys.contains(&key), "{key} missing in {r}");
            }
            assert!(r["elapsed_ms"].is_u64());
            assert!(
                keys.iter().all(|k| [
                    "id",
                    "title",
                    "outcome",
                    "message",
                    "elapsed_ms",
                    "hint",
                    "diff"
                ]
                .contains(k)),
                "{r}"
            );
        }
    }
    let failed = &steps[2]["results"][0];
    assert_eq!(
        failed["hint"],
        "It cannot be installed; this step is meant to fail."
    );
    assert!(steps[0]["results"][0].get("hint").is_none());
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_whole_lab_records_each_step_that_passed() {
    let env = Env::new();
    env.course_cmd().args(["check", "basics"]).assert().code(2);
    env.course_cmd()
        .arg("progress")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "00 Basics  1/3\n  ✔ tools      Tools in place\n    cluster    A cluster\n",
        ));
}

#[test]
fn the_built_in_prerequisites_explain_a_missing_cluster() {
    let env = Env::new();
    env.fake_tool("kubectl", "echo 'Client Version: v1.32.4'");
    env.fake_tool("istioctl", "echo 'client version: 1.24.0'");
    let out = env
        .cmd()
        .env_remove("KUBECONFIG")
        .args(["check", "prerequisites", "--json"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let results: Vec<&Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["results"].as_array().unwrap())
        .collect();
    let kubectl = results
        .iter()
        .find(|r| r["message"].as_str().unwrap().contains("kubectl 1.32.4"))
        .unwrap();
    assert_eq!(kubectl["outcome"], "pass");
    let errors: Vec<&&Value> = results.iter().filter(|r| r["outcome"] == "error").collect();
    assert!(!errors.is_empty());
    for e in errors {
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("no Kubernetes cluster is configured"),
            "{e}"
        );
    }
    assert!(doc["steps"][0]["passed"].as_bool().unwrap(), "{doc}");
}

#[test]
fn progress_survives_and_stale_temporary_files_are_ignored() {
    let env = Env::new();
    let dir = env.path("data/meshwork/progress");
    std::fs::create_dir_all(&dir).unwrap();
    // What a write interrupted by kill -9 leaves behind: a torn temporary file.
    std::fs::write(
        dir.join("cluster.json.tmp-4242"),
        b"{\"format_version\": 1, \"labs\": {\"bas",
    )
    .unwrap();
    let out = env
        .course_cmd()
        .args(["check", "basics/tools"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert_eq!(stderr(&out), "");
    for _ in 0..2 {
        let out = env
            .course_cmd()
            .arg("labs")
            .assert()
            .success()
            .get_output()
            .clone();
        assert!(
            stdout(&out).starts_with("◐ 00 Basics    1/3"),
            "{}",
            stdout(&out)
        );
        assert_eq!(stderr(&out), "");
    }
}

#[test]
fn a_corrupt_progress_file_is_set_aside_with_a_warning() {
    let env = Env::new();
    let file = env.progress_file();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"{ this is not json").unwrap();
    let out = env
        .course_cmd()
        .args(["check", "basics/tools"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let warning = stderr(&out);
    assert!(warning.starts_with("warning: progress file "), "{warning}");
    assert!(warning.contains("could not be read"), "{warning}");
    assert!(warning.contains("cluster.json.corrupt-"), "{warning}");
    // The check still ran and its result was saved in a fresh file.
    assert!(stdout(&out).contains("→ step done"));
    let out = env
        .course_cmd()
        .arg("labs")
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(stderr(&out), "");
    assert!(stdout(&out).starts_with("◐ 00 Basics    1/3"));
}

#[test]
fn check_needs_an_existing_lab() {
    let env = Env::new();
    env.course_cmd()
        .args(["check", "99", "--json"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains("no lab called `99`"));
}

/// A kubeconfig with two contexts whose API server address has nothing listening.
fn dead_cluster_kubeconfig(env: &Env) -> std::path::PathBuf {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let path = env.path("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: dead-ctx\n  context: {{cluster: dead, user: u}}\n- name: other\n  context: {{cluster: dead, user: u}}\ncurrent-context: dead-ctx\nusers:\n- name: u\n  user: {{token: abc}}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_cluster_that_does_not_answer_is_named_with_its_context() {
    let env = Env::new();
    let kubeconfig = dead_cluster_kubeconfig(&env);
    let out = env
        .course_cmd()
        .env("KUBECONFIG", &kubeconfig)
        .args(["check", "basics/cluster"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = stdout(&out);
    assert!(
        text.starts_with("Checking 00 Basics on cluster (context dead-ctx)\n"),
        "{text}"
    );
    assert!(
        text.contains("  ? The cluster answers — cannot reach the cluster (context dead-ctx)"),
        "{text}"
    );
    assert!(text.contains("  ✔ fakectl still there"), "{text}");
}

#[test]
fn an_unknown_context_lists_the_known_ones() {
    let env = Env::new();
    let kubeconfig = dead_cluster_kubeconfig(&env);
    env.course_cmd()
        .env("KUBECONFIG", &kubeconfig)
        .args(["--context", "prod", "check", "basics/cluster"])
        .assert()
        .code(2)
        .stdout(predicates::str::contains(
            "  ? The cluster answers — the kubeconfig has no context `prod`; its contexts are: dead-ctx, other\n",
        ));
}
