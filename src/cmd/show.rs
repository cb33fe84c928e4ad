//! `meshwork show LAB[/STEP]`: a lab's overview or one step, as plain text.

use super::{CmdResult, Global, Session, plural, resolve, step_ref};
use crate::text::markdown_to_text;
use meshwork_checks::course::Command;
use meshwork_checks::progress::ProgressStore;
use meshwork_checks::{Lab, Step, TargetKind};
use std::io::Write;
use std::process::ExitCode;

/// Prints the lab overview, or the step with its commands for the target, its checks and
/// how many hints it has.
pub fn run(global: &Global, what: &str) -> CmdResult {
    let session = Session::open(global)?;
    let (lab, step) = resolve(&session.course, what)?;
    let text = match step {
        None => lab_text(lab, &session.progress),
        Some(step) => step_text(lab, step, session.target.kind(), &session.progress),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn underline(title: &str, rule: char) -> String {
    format!(
        "{title}\n{}\n",
        rule.to_string().repeat(title.chars().count())
    )
}

/// The lab overview: title, summary, facts, the steps with their status.
pub fn lab_text(lab: &Lab, progress: &ProgressStore) -> String {
    let mut s = underline(&lab.label(), '=');
    s.push('\n');
    s.push_str(&lab.summary);
    s.push('\n');
    let mut facts = Vec::new();
    if let Some(minutes) = lab.minutes {
        facts.push(format!("about {minutes} minutes"));
    }
    if !lab.prerequisites.is_empty() {
        facts.push(format!("do first: {}", lab.prerequisites.join(", ")));
    }
    if !lab.uses.is_empty() {
        facts.push(format!("uses: {}", lab.uses.join(", ")));
    }
    if !facts.is_empty() {
        s.push('\n');
        s.push_str(&facts.join(" · "));
        s.push('\n');
    }
    s.push_str("\nSteps:\n");
    let width = lab
        .steps
        .iter()
        .map(|st| st.id.chars().count())
        .max()
        .unwrap_or(0);
    for (i, step) in lab.steps.iter().enumerate() {
        let mark = if progress.is_done(&lab.id, &step.id) {
            '✔'
        } else {
            ' '
        };
        s.push_str(&format!(
            "  {mark} {}. {:<width$}  {}\n",
            i + 1,
            step.id,
            step.title
        ));
    }
    if let Some(first) = lab.steps.first() {
        s.push_str(&format!(
            "\nRead a step: meshwork show {}\n",
            step_ref(lab, first)
        ));
    }
    s
}

/// One step: its instructions, the commands for `kind`, the checks and the hint count.
pub fn step_text(lab: &Lab, step: &Step, kind: TargetKind, progress: &ProgressStore) -> String {
    let number = lab
        .steps
        .iter()
        .position(|s| s.id == step.id)
        .map_or(0, |i| i + 1);
    let done = if progress.is_done(&lab.id, &step.id) {
        "  ✔ done"
    } else {
        ""
    };
    let mut s = underline(
        &format!(
            "{} — step {number} of {}: {}{done}",
            lab.label(),
            lab.steps.len(),
            step.title
        ),
        '=',
    );
    let body = markdown_to_text(&step.body);
    if !body.is_empty() {
        s.push('\n');
        s.push_str(&body);
    }
    s.push('\n');
    s.push_str(&commands_text(&step.commands, kind));
    s.push_str(&format!("\nChecks ({}):\n", step.checks.len()));
    for check in &step.checks {
        let only = match check.only {
            Some(only) if only != kind => format!(" (only on the {only} target)"),
            _ => String::new(),
        };
        s.push_str(&format!("  • {}{only}\n", check.title));
    }
    let reference = step_ref(lab, step);
    let hints = step.hints.len();
    let revealed = progress.hints_revealed(&lab.id, &step.id).min(hints);
    s.push('\n');
    if hints == 0 {
        s.push_str("This step has no hints.\n");
    } else {
        s.push_str(&format!(
            "{hints} hint{} ({revealed} revealed): meshwork hint {reference}\n",
            plural(hints)
        ));
    }
    s.push_str(&format!("Check your work: meshwork check {reference}\n"));
    s
}

fn commands_text(commands: &[Command], kind: TargetKind) -> String {
    let applicable: Vec<(&Command, &str)> = commands
        .iter()
        .filter_map(|c| c.for_target(kind).map(|line| (c, line)))
        .collect();
    if applicable.is_empty() {
        return String::new();
    }
    let mut s = format!("Commands (on the {kind} target):\n");
    for (command, line) in applicable {
        if let Some(note) = &command.note {
            for note_line in note.trim().lines() {
                s.push_str(&format!("  # {note_line}\n"));
            }
        }
        for (i, part) in line.trim_end().lines().enumerate() {
            let lead = if i == 0 { "  $ " } else { "    " };
            s.push_str(&format!("{lead}{part}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(note: Option<&str>, cluster: Option<&str>, reference: Option<&str>) -> Command {
        Command {
            note: note.map(String::from),
            cluster: cluster.map(String::from),
            reference: reference.map(String::from),
        }
    }

    #[test]
    fn commands_are_shown_for_the_target_kind_only() {
        let commands = [
            command(
                Some("See your nodes"),
                Some("kubectl get nodes"),
                Some("kubectl get nodes"),
            ),
            command(
                None,
                Some("istioctl install -y\n  --set profile=demo"),
                None,
            ),
            command(None, None, Some("meshwork mesh up")),
        ];
        assert_eq!(
            commands_text(&commands, TargetKind::Cluster),
            "Commands (on the cluster target):\n  # See your nodes\n  $ kubectl get nodes\n  $ istioctl install -y\n      --set profile=demo\n"
        );
        assert_eq!(
            commands_text(&commands, TargetKind::Reference),
            "Commands (on the reference target):\n  # See your nodes\n  $ kubectl get nodes\n  $ meshwork mesh up\n"
        );
        assert_eq!(commands_text(&commands[2..], TargetKind::Cluster), "");
    }
}
