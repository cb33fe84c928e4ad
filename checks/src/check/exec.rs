//! `exec` checks: a command run inside a pod through `pods/exec`, with expectations on its
//! exit code, standard output and standard error.

use super::expect::TextExpect;
use super::{Context, Finding};
use crate::course::ExecCheck;
use crate::target::exec::{self, ExecError, ExecOutput};

/// Evaluates an `exec` check.
pub async fn evaluate(ctx: &Context, check: &ExecCheck) -> Finding {
    let client = match ctx.target.client() {
        Ok(c) => c,
        Err(e) => return Finding::error(e.to_string()),
    };
    let runner = match exec::resolve(client, &check.pod).await {
        Ok(r) => r,
        Err(ExecError::NoPod(why)) => return Finding::fail(why),
        Err(ExecError::Api(why)) => return Finding::error(why),
    };
    let place = format!("`{}` in {}", shown(&check.command), runner.describe());
    match runner.run(&check.command).await {
        Ok(output) => judge(check, &place, &output),
        Err(ExecError::NoPod(why) | ExecError::Api(why)) => Finding::error(why),
    }
}

/// The command as a learner would type it (arguments with spaces quoted).
fn shown(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) || a.contains(['"', '|', '$']) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Judges what the command did.
pub fn judge(check: &ExecCheck, place: &str, output: &ExecOutput) -> Finding {
    let mut problems = Vec::new();
    if let Some(want) = check.expect.exit_code
        && output.exit_code != want
    {
        let mut text = format!("exited with code {}, expected {want}", output.exit_code);
        if output.exit_code == 127 {
            text.push_str(" (127: the command was not found in the container)");
        }
        problems.push(text);
    }
    text_problems(
        "stdout",
        &check.expect.stdout,
        &output.stdout,
        &mut problems,
    );
    text_problems(
        "stderr",
        &check.expect.stderr,
        &output.stderr,
        &mut problems,
    );
    if problems.is_empty() {
        let mut text = format!("{place}: exit code {}", output.exit_code);
        if !check.expect.stdout.is_empty() || !check.expect.stderr.is_empty() {
            text.push_str(", output as expected");
        }
        Finding::pass(text)
    } else {
        let mut text = format!("{place}: {}", problems.join("; "));
        // What the command said helps most when it failed.
        if output.exit_code != 0
            && !output.stderr.trim().is_empty()
            && check.expect.stderr.is_empty()
        {
            text.push_str(&format!(
                " — stderr: {}",
                super::expect::excerpt(&output.stderr, 120, "empty")
            ));
        }
        Finding::fail(text)
    }
}

fn text_problems(stream: &str, expect: &TextExpect, text: &str, problems: &mut Vec<String>) {
    let found = expect.problems(text);
    if found.is_empty() {
        return;
    }
    problems.push(format!(
        "{stream} {} ({stream} was {})",
        found.join(" and "),
        super::expect::excerpt(text, 120, "empty")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course::{ExecExpect, PodRef};
    use crate::engine::Outcome;

    fn check() -> ExecCheck {
        ExecCheck {
            pod: PodRef {
                pod: "app=ratings".into(),
                namespace: Some("default".into()),
                container: Some("ratings".into()),
            },
            command: vec![
                "sh".into(),
                "-c".into(),
                "curl -sS productpage:9080/productpage | grep -o \"<title>.*</title>\"".into(),
            ],
            expect: ExecExpect {
                exit_code: Some(0),
                stdout: TextExpect {
                    contains: vec!["<title>Simple Bookstore App</title>".into()],
                    ..TextExpect::default()
                },
                stderr: TextExpect::default(),
            },
        }
    }

    fn out(code: i32, stdout: &str, stderr: &str) -> ExecOutput {
        ExecOutput {
            stdout: stdout.into(),
            stderr: stderr.into(),
            exit_code: code,
        }
    }

    #[test]
    fn commands_are_shown_as_typed() {
        assert_eq!(
            shown(&check().command),
            "sh -c 'curl -sS productpage:9080/productpage | grep -o \"<title>.*</title>\"'"
        );
    }

    #[test]
    fn a_passing_command() {
        let f = judge(
            &check(),
            "p",
            &out(0, "<title>Simple Bookstore App</title>\n", ""),
        );
        assert_eq!(f.outcome, Outcome::Pass);
        assert_eq!(f.message, "p: exit code 0, output as expected");
    }

    #[test]
    fn a_failing_command_says_what_it_printed() {
        let f = judge(
            &check(),
            "p",
            &out(
                7,
                "",
                "curl: (7) Failed to connect to productpage port 9080: Connection refused\n",
            ),
        );
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "p: exited with code 7, expected 0; stdout does not contain \"<title>Simple Bookstore App</title>\" \
             (stdout was empty) — stderr: \"curl: (7) Failed to connect to productpage port 9080: Connection refused\""
        );
        let f = judge(&check(), "p", &out(127, "", "sh: curl: not found"));
        assert!(
            f.message.contains("127: the command was not found"),
            "{}",
            f.message
        );
    }

    #[test]
    fn any_exit_code_when_none_is_expected() {
        let mut c = check();
        c.expect.exit_code = None;
        c.expect.stdout = TextExpect::default();
        c.expect.stderr.contains = vec!["exit code 56".into()];
        let f = judge(
            &c,
            "p",
            &out(56, "", "command terminated with exit code 56"),
        );
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    }
}
