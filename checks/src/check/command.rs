//! `command` checks: a tool on PATH, optionally recent enough.

use super::Finding;
use crate::course::{CommandCheck, Version};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// How long the version command may run.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

/// Evaluates a `command` check.
///
/// `meshwork` itself is the running binary, wherever it is (a learner may start it with
/// `cargo run` or by its path, so it need not be on PATH).
pub async fn evaluate(check: &CommandCheck) -> Finding {
    if check.name == "meshwork"
        && let Ok(exe) = std::env::current_exe()
    {
        return with_path(check, &exe).await;
    }
    match which::which(&check.name) {
        Ok(path) => with_path(check, &path).await,
        Err(_) => missing(check),
    }
}

fn missing(check: &CommandCheck) -> Finding {
    let install = match &check.install {
        Some(how) => format!("Install it: {how}"),
        None => "Install it and make sure its folder is on your PATH.".to_string(),
    };
    if check.required {
        Finding::fail(format!("{} is not on your PATH. {install}", check.name))
    } else {
        Finding::warn(format!(
            "{} is not on your PATH (optional). {install}",
            check.name
        ))
    }
}

/// What running the version command gave.
enum Run {
    /// It ran (whatever its exit status); stdout then stderr.
    Output(String),
    /// It could not be started.
    Failed(String),
    /// It did not finish in time.
    TimedOut,
}

async fn run_version(path: &Path, args: &[String]) -> Run {
    let mut cmd = tokio::process::Command::new(path);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match tokio::time::timeout(VERSION_TIMEOUT, cmd.output()).await {
        Err(_) => Run::TimedOut,
        Ok(Err(e)) => Run::Failed(e.to_string()),
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            Run::Output(text)
        }
    }
}

async fn with_path(check: &CommandCheck, path: &Path) -> Finding {
    let name = &check.name;
    let shown = path.display();
    let command_line = std::iter::once(name.as_str())
        .chain(check.version_args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let run = run_version(path, &check.version_args).await;
    let found = match &run {
        Run::Output(text) => Version::find_in(text),
        _ => None,
    };
    if let Some(what) = &check.reports {
        return reported(check, what, &command_line, found, &run);
    }
    let Some(min) = check.min_version else {
        return Finding::pass(match found {
            Some(v) => format!("{name} {v} is installed at {shown}"),
            None => format!("{name} is installed at {shown}"),
        });
    };
    match (found, run) {
        (Some(v), _) if v >= min => Finding::pass(format!(
            "{name} {v} is installed at {shown} (needs {min} or newer)"
        )),
        (Some(v), _) => {
            let install = check
                .install
                .as_deref()
                .map(|how| format!(" Install a newer one: {how}"))
                .unwrap_or_default();
            let text = format!(
                "{name} at {shown} is version {v}, older than {min} which this course needs.{install}"
            );
            if check.required {
                Finding::fail(text)
            } else {
                Finding::warn(text)
            }
        }
        (None, Run::Output(text)) => Finding::warn(format!(
            "{name} is installed at {shown}, but its version could not be read: `{command_line}` printed {}",
            excerpt(&text)
        )),
        (None, Run::Failed(why)) => Finding::warn(format!(
            "{name} is installed at {shown}, but `{command_line}` could not be run ({why}), so its version is unknown"
        )),
        (None, Run::TimedOut) => Finding::warn(format!(
            "{name} is installed at {shown}, but `{command_line}` did not finish within {} s, so its version is unknown",
            VERSION_TIMEOUT.as_secs()
        )),
    }
}

/// A check of something another program reports on (`meshwork mesh envoy` → Envoy).
fn reported(
    check: &CommandCheck,
    what: &str,
    command_line: &str,
    found: Option<Version>,
    run: &Run,
) -> Finding {
    let install = check
        .install
        .as_deref()
        .map(|how| format!(" Install it: {how}"))
        .unwrap_or_default();
    let verdict = |text: String| {
        if check.required {
            Finding::fail(text)
        } else {
            Finding::warn(text)
        }
    };
    match (found, check.min_version) {
        (Some(v), Some(min)) if v < min => verdict(format!(
            "`{command_line}` reports {what} {v}, older than {min} which this course needs.{install}"
        )),
        (Some(v), Some(min)) => Finding::pass(format!(
            "{what} {v}, as `{command_line}` reports (needs {min} or newer)"
        )),
        (Some(v), None) => Finding::pass(format!("{what} {v}, as `{command_line}` reports")),
        (None, _) => {
            let said = match run {
                Run::Output(text) => format!("it printed {}", excerpt(text)),
                Run::Failed(why) => format!("it could not be run ({why})"),
                Run::TimedOut => {
                    format!("it did not finish within {} s", VERSION_TIMEOUT.as_secs())
                }
            };
            verdict(format!(
                "`{command_line}` found no {what}: {said}.{install}"
            ))
        }
    }
}

/// The first non-empty line of a program's output, quoted and shortened.
fn excerpt(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    match line {
        None => "nothing".to_string(),
        Some(l) if l.chars().count() > 120 => {
            format!("\"{}…\"", l.chars().take(120).collect::<String>())
        }
        Some(l) => format!("\"{l}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;
    use std::os::unix::fs::PermissionsExt;

    fn check(name: &str, args: &[&str], min: Option<&str>) -> CommandCheck {
        CommandCheck {
            name: name.to_string(),
            version_args: args.iter().map(|s| s.to_string()).collect(),
            min_version: min.and_then(Version::parse),
            required: true,
            install: Some("https://kubernetes.io/docs/tasks/tools/".into()),
            reports: None,
        }
    }

    /// A shell script standing in for a tool, so tests do not depend on what is installed.
    fn fake_tool(dir: &Path, name: &str, body: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    #[tokio::test]
    async fn missing_tool_fails_with_install_advice() {
        let f = evaluate(&check("meshwork-no-such-tool", &["--version"], None)).await;
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "meshwork-no-such-tool is not on your PATH. Install it: https://kubernetes.io/docs/tasks/tools/"
        );
        let mut optional = check("meshwork-no-such-tool", &[], None);
        optional.required = false;
        optional.install = None;
        let f = evaluate(&optional).await;
        assert_eq!(f.outcome, Outcome::Warn);
        assert!(f.message.contains("(optional)"), "{}", f.message);
    }

    #[tokio::test]
    async fn recent_enough_tool_passes_naming_path_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let tool = fake_tool(
            dir.path(),
            "kubectl",
            "echo 'Client Version: v1.33.2'; echo 'Kustomize Version: v5.6.0'",
        );
        let f = evaluate(&check(&tool, &["version", "--client"], Some("1.29"))).await;
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
        assert_eq!(
            f.message,
            format!("{tool} 1.33.2 is installed at {tool} (needs 1.29.0 or newer)")
        );
    }

    #[tokio::test]
    async fn a_version_another_program_reports_is_named_after_what_it_belongs_to() {
        let dir = tempfile::tempdir().unwrap();
        let tool = fake_tool(
            dir.path(),
            "meshwork",
            "echo 'Envoy 1.40.0 at /opt/envoy (from $MESHWORK_ENVOY)'",
        );
        let mut envoy = check(&tool, &["mesh", "envoy"], Some("1.40"));
        envoy.reports = Some("Envoy".into());
        envoy.install = Some("meshwork mesh install-envoy".into());
        let f = evaluate(&envoy).await;
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
        assert_eq!(
            f.message,
            format!("Envoy 1.40.0, as `{tool} mesh envoy` reports (needs 1.40.0 or newer)")
        );
        let fake = format!("{tool}-none");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'error: Envoy is not installed' >&2; exit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        envoy.name = fake.clone();
        let f = evaluate(&envoy).await;
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            format!(
                "`{fake} mesh envoy` found no Envoy: it printed \"error: Envoy is not installed\". Install it: meshwork mesh install-envoy"
            )
        );
    }

    #[tokio::test]
    async fn version_on_stderr_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let tool = fake_tool(
            dir.path(),
            "istioctl",
            "echo 'client version: 1.26.1' >&2; exit 1",
        );
        let f = evaluate(&check(&tool, &["version"], Some("1.26"))).await;
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    }

    #[tokio::test]
    async fn old_tool_fails_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let tool = fake_tool(dir.path(), "kubectl", "echo 'Client Version: v1.27.3'");
        let f = evaluate(&check(&tool, &["version", "--client"], Some("1.29"))).await;
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message.contains("is version 1.27.3, older than 1.29.0"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("Install a newer one: https://"),
            "{}",
            f.message
        );
    }

    #[tokio::test]
    async fn unreadable_version_warns_with_what_was_printed() {
        let dir = tempfile::tempdir().unwrap();
        let tool = fake_tool(
            dir.path(),
            "docker",
            "echo 'permission denied while trying to connect'",
        );
        let f = evaluate(&check(&tool, &["--version"], Some("20.10"))).await;
        assert_eq!(f.outcome, Outcome::Warn);
        assert!(
            f.message
                .ends_with("printed \"permission denied while trying to connect\""),
            "{}",
            f.message
        );
    }

    #[tokio::test]
    async fn without_min_version_any_install_passes() {
        let dir = tempfile::tempdir().unwrap();
        let tool = fake_tool(
            dir.path(),
            "docker",
            "echo 'unknown flag: --version'; exit 2",
        );
        let f = evaluate(&check(&tool, &["--version"], None)).await;
        assert_eq!(f.outcome, Outcome::Pass);
        assert_eq!(f.message, format!("{tool} is installed at {tool}"));
    }
}
