//! `meshwork lint [DIR] [--apply]`: validates course content and names every problem's file
//! and line.
//!
//! Besides the content itself, every `meshwork …` command a step shows or runs must parse with
//! meshwork's own command line (the clap definition main.rs passes in). With `--apply`, every
//! manifest the course uses is sent to a scratch reference mesh with Istio installed, as a
//! server-side dry run, so what the API server would refuse is found before a learner applies it.

use super::lab_test::scratch::Scratch;
use super::mesh::sh_quote;
use super::{CmdResult, EXIT_FAILED, Global, plural};
use crate::content;
use anyhow::Context as _;
use meshwork_checks::Content;
use meshwork_checks::course::lint::{self, LintIssue, Options, Severity};
use meshwork_checks::course::{Course, LoadError, load};
use meshwork_checks::manifest;
use meshwork_checks::solve::{Action, Runner, SolveError};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Loads `dir` (else `--content`, else the built-in content), prints every error and
/// warning, and exits with 1 when there are errors. `cli` parses `meshwork …` command lines;
/// `apply` also dry-runs every manifest on a scratch reference mesh.
pub fn run(global: &Global, dir: Option<&Path>, apply: bool, cli: &clap::Command) -> CmdResult {
    let dir = dir.or(global.content.as_deref());
    let content = content::open(dir)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Checking the {}", content.origin())?;
    let course = match load::load(&content) {
        Ok(course) => course,
        Err(errors) => {
            for error in &errors.0 {
                writeln!(out, "error: {error}")?;
            }
            let n = errors.0.len();
            writeln!(
                out,
                "\n{n} problem{} found: fix {} and run `meshwork lint` again.",
                plural(n),
                if n == 1 { "it" } else { "them" }
            )?;
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    let parse = |args: &[String]| meshwork_args(cli, args);
    let options = Options {
        meshwork: Some(&parse),
    };
    let mut issues = lint::lint_with(&content, &course, options);
    for issue in &issues {
        writeln!(out, "{issue}")?;
    }
    if apply {
        let manifests = applicable(&content, &course);
        writeln!(
            out,
            "Applying {} manifest{} to a scratch reference mesh with Istio (kubectl apply --dry-run=server)…",
            manifests.len(),
            plural(manifests.len())
        )?;
        out.flush()?;
        let rejected = dry_run(&content, &manifests)?;
        for issue in &rejected {
            writeln!(out, "{issue}")?;
        }
        issues.extend(rejected);
    }
    let errors = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    let warnings = issues.len() - errors;
    let labs = course.labs.len();
    let steps: usize = course.labs.iter().map(|l| l.steps.len()).sum();
    let checks: usize = course
        .labs
        .iter()
        .flat_map(|l| &l.steps)
        .map(|s| s.checks.len())
        .sum();
    let verdict = match (errors, warnings) {
        (0, 0) => "all good".to_string(),
        (0, w) => format!("{w} warning{}", plural(w)),
        (e, 0) => format!("{e} error{}", plural(e)),
        (e, w) => format!("{e} error{}, {w} warning{}", plural(e), plural(w)),
    };
    if !issues.is_empty() {
        writeln!(out)?;
    }
    writeln!(
        out,
        "{labs} lab{}, {steps} step{}, {checks} check{}: {verdict}",
        plural(labs),
        plural(steps),
        plural(checks)
    )?;
    Ok(ExitCode::from(if errors > 0 { EXIT_FAILED } else { 0 }))
}

/// Why `meshwork ARGS` does not parse, or `None` when it does (asking for help counts).
fn meshwork_args(cli: &clap::Command, args: &[String]) -> Option<String> {
    use clap::error::ErrorKind;
    let argv = std::iter::once("meshwork".to_string()).chain(args.iter().cloned());
    let error = match cli.clone().try_get_matches_from(argv) {
        Ok(_) => return None,
        Err(e) => e,
    };
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    // clap's text: `error: …`, tips, usage; keep the error and the tips.
    let text = error.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(first) = line.strip_prefix("error: ") {
            parts.push(first.to_string());
        } else if line.starts_with("tip: ") {
            parts.push(line.to_string());
        }
    }
    let topic = args
        .iter()
        .take_while(|a| !a.starts_with('-'))
        .take(2)
        .filter(|a| {
            cli.find_subcommand(a.as_str()).is_some()
                || cli
                    .get_subcommands()
                    .any(|s| s.find_subcommand(a.as_str()).is_some())
        })
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let help = if topic.is_empty() {
        "meshwork --help".to_string()
    } else {
        format!("meshwork {topic} --help")
    };
    Some(format!("{} (see `{help}`)", parts.join("; ")))
}

/// The manifests `--apply` sends: every one the course uses that parses (the others are
/// already reported).
fn applicable(content: &Content, course: &Course) -> Vec<String> {
    lint::used_manifests(content, course)
        .into_iter()
        .filter(|m| manifest::objects(content, m).is_ok())
        .collect()
}

/// Starts a scratch reference mesh (as `meshwork lab test` does), installs Istio, creates the
/// namespaces the manifests name, and dry-runs each manifest from its workshop folder; returns
/// one error per manifest the API server refuses. The mesh is stopped and removed afterwards.
fn dry_run(content: &Content, manifests: &[String]) -> anyhow::Result<Vec<LintIssue>> {
    if manifests.is_empty() {
        return Ok(Vec::new());
    }
    let exe = std::env::current_exe()
        .context("failed to find meshwork's own executable to start the scratch mesh with")?;
    let runtime = super::runtime()?;
    let scratch = Scratch::create("lint")?;
    let rejected = runtime.block_on(async {
        scratch
            .start(&exe, || {})
            .await
            .context("failed to start a scratch reference mesh for --apply")?;
        let runner = scratch.runner(content, &exe)?;
        send(&runner, content, manifests).await
    });
    if let Some(problem) = runtime.block_on(scratch.teardown()) {
        eprintln!("warning: {problem}");
    }
    rejected
}

/// One shell command through the scratch mesh's runner: what it printed, or why it failed.
async fn sh(runner: &Runner, command: String) -> Result<String, SolveError> {
    let action = Action {
        command,
        manifest: None,
    };
    runner.run_action(action).await.map(|done| done.output)
}

async fn send(
    runner: &Runner,
    content: &Content,
    manifests: &[String],
) -> anyhow::Result<Vec<LintIssue>> {
    sh(runner, "kubectl version --client".into())
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "`meshwork lint --apply` sends the manifests with kubectl, which does not run: {e}"
            )
        })?;
    // The minimal profile (istiod and Istio's kinds) needs no Envoy; the gateways would.
    sh(
        runner,
        "meshwork istioctl install --set profile=minimal -y".into(),
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "Istio could not be installed on the scratch reference mesh, so Istio's kinds cannot \
             be checked: {e}"
        )
    })?;
    // A dry run cannot create in a namespace that does not exist yet (an earlier manifest or
    // step would have made it), so make every namespace the manifests name first.
    let mut namespaces = BTreeSet::new();
    for path in manifests {
        for object in manifest::objects(content, path).unwrap_or_default() {
            if let Some(ns) = manifest::namespace(&object) {
                namespaces.insert(ns.to_string());
            }
            if object.get("kind").and_then(|k| k.as_str()) == Some("Namespace") {
                namespaces.insert(manifest::name(&object).to_string());
            }
        }
    }
    for ns in namespaces {
        match sh(
            runner,
            format!("kubectl create namespace {}", sh_quote(&ns)),
        )
        .await
        {
            Ok(_) => {}
            Err(SolveError::Failed { output, .. }) if output.contains("AlreadyExists") => {}
            Err(e) => anyhow::bail!("failed to create namespace {ns} on the scratch mesh: {e}"),
        }
    }
    let mut rejected = Vec::new();
    for path in manifests {
        let command = format!("kubectl apply --dry-run=server -f {}", sh_quote(path));
        let said = match sh(runner, command).await {
            Ok(_) => continue,
            Err(SolveError::Failed { output, .. }) => output,
            Err(e) => return Err(e.into()),
        };
        rejected.push(LintIssue {
            severity: Severity::Error,
            problem: LoadError {
                file: path.clone(),
                line: None,
                field: None,
                message: format!(
                    "the reference mesh refuses it (kubectl apply --dry-run=server): {said}"
                ),
            },
        });
    }
    Ok(rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn judge(line: &str) -> Option<String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        meshwork_args(&crate::Cli::command(), &args)
    }

    #[test]
    fn meshwork_command_lines_are_parsed_with_meshworks_own_definition() {
        for good in [
            "mesh up",
            "mesh env",
            "istioctl install --set profile=demo -y",
            "istioctl proxy-config routes deploy/productpage-v1",
            "--target cluster check 5/2",
            "--help",
            "istioctl --help",
        ] {
            assert_eq!(judge(good), None, "{good}");
        }
        assert_eq!(
            judge("mesh upp").unwrap(),
            "unrecognized subcommand 'upp'; tip: a similar subcommand exists: 'up' (see `meshwork mesh --help`)"
        );
        let missing = judge("check").unwrap();
        assert!(
            missing.starts_with("the following required arguments were not provided")
                && missing.ends_with("(see `meshwork check --help`)"),
            "{missing}"
        );
        let flag = judge("istioctl install --profile demo").unwrap();
        assert!(
            flag.starts_with("unexpected argument '--profile' found")
                && flag.ends_with("(see `meshwork istioctl install --help`)"),
            "{flag}"
        );
    }
}
