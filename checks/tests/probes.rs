//! The `http` and `exec` checks end to end: written in a lab.yaml, loaded, and run against a
//! local HTTP server (requests from the host) and a fake API server that answers `pods/exec`
//! over WebSocket like a Kubernetes API server (requests and commands from inside a pod).

// A test binary: helpers panic on broken fixtures, and a panic is a failed test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "probes/fake_api.rs"]
mod fake_api;
#[path = "probes/host.rs"]
mod host;
#[path = "probes/in_pod.rs"]
mod in_pod;
#[path = "probes/loader.rs"]
mod loader;
#[path = "support/ws_exec.rs"]
mod ws_exec;

use meshwork_checks::check::Context;
use meshwork_checks::content::{Content, Origin};
use meshwork_checks::course::Check;
use meshwork_checks::course::load::load;
use meshwork_checks::engine::{CheckResult, run_check};
use meshwork_checks::target::Target;
use std::sync::Arc;

/// A one-step lab whose step has the given checks (indented as list items under `checks:`).
pub fn lab(checks: &str) -> Content {
    let yaml = format!(
        "format_version: 1\nid: probes\ntitle: Probes\nsummary: Probe things.\nsteps:\n  - id: one\n    \
         title: One\n    body: 01-one.md\n    checks:\n{checks}    solution:\n      commands: [{{run: \"true\"}}]\n"
    );
    Content::from_files(
        Origin::Embedded,
        [
            ("labs/01-probes/lab.yaml".to_string(), yaml.into_bytes()),
            ("labs/01-probes/01-one.md".to_string(), b"# One\n".to_vec()),
        ],
    )
}

/// The checks of the lab, which must load.
pub fn checks(yaml: &str) -> Vec<Check> {
    match load(&lab(yaml)) {
        Ok(course) => course.labs[0].steps[0].checks.clone(),
        Err(e) => panic!("the lab should load:\n{e}"),
    }
}

/// The loader's messages for a lab that must not load.
pub fn errors(yaml: &str) -> Vec<String> {
    load(&lab(yaml))
        .expect_err("the lab should be rejected")
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Runs the only check of `yaml` against `target`, as the engine does (with its timeout).
pub async fn run(target: Arc<dyn Target>, yaml: &str) -> CheckResult {
    let check = checks(yaml).remove(0);
    let ctx = Context {
        target,
        content: Arc::new(lab(yaml)),
    };
    run_check(&ctx, &check).await
}
