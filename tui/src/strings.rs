//! Every piece of text the UI shows, in one place.

use meshwork_checks::{TargetKind, TargetSpec};

/// The title in the top-left corner.
pub const APP_TITLE: &str = "meshwork · Istio hands-on";

/// Title of the lab list.
pub const LABS: &str = "Labs";
/// Title of the step list.
pub const STEPS: &str = "Steps";
/// Title of the check pane.
pub const CHECKS: &str = "Checks";
/// Heading above the step's commands.
pub const COMMANDS_HEADING: &str = "Commands";
/// Title of the selected command's box.
pub const COPY_HINT: &str = "[y] copy";
/// Shown when the course has no labs at all.
pub const NO_LABS: &str = "This course has no labs.";
/// Check pane, before the first run.
pub const CHECKS_NOT_RUN: &str = "Press c to check this step against the target.";
/// Check pane, before the first run of a step already done.
pub const CHECKS_NOT_RUN_DONE: &str =
    "This step is done. Press c to check it again, n for the next step.";
/// Shown while a check runs.
pub const RUNNING: &str = "running…";
/// The target probe has not answered yet.
pub const TARGET_PROBING: &str = "checking…";

/// Key bar of the home screen: (keys, what they do).
pub const HOME_KEYS: &[(&str, &str)] = &[
    ("↑↓", "move"),
    ("enter", "open"),
    ("t", "target"),
    ("?", "help"),
    ("q", "quit"),
];
/// Key bar of the lab screen.
pub const LAB_KEYS: &[(&str, &str)] = &[
    ("c", "check"),
    ("h", "hint"),
    ("s", "solution"),
    ("a", "apply"),
    ("r", "reset"),
    // Before the keys the help lists anyway: on a narrow terminal the end is cut.
    ("?", "help"),
    ("y", "copy"),
    ("n/p", "step"),
    ("tab", "focus"),
    ("esc", "labs"),
    // Last: on narrow terminals it is the one cut (it is in the help too).
    ("t", "target"),
];
/// The diff key, in the lab key bar when a failed check has a diff.
pub const DIFF_KEY: (&str, &str) = ("d", "diff");
/// The explain key, in the lab key bar when the step checks traffic.
pub const EXPLAIN_KEY: (&str, &str) = ("x", "explain");
/// Key bar of a notice.
pub const NOTICE_KEY: (&str, &str) = ("any key", "continue");
/// Key bar while an overlay is open.
pub const OVERLAY_KEYS: &[(&str, &str)] = &[("↑↓ pgup pgdn", "scroll"), ("esc", "close")];
/// Key bar while the solution is open.
pub const SOLUTION_KEYS: &[(&str, &str)] = &[
    ("↑↓ pgup pgdn", "scroll"),
    ("y", "copy commands"),
    ("esc", "close"),
];

/// Key bar while the explain view is open.
pub const EXPLAIN_KEYS: &[(&str, &str)] = &[
    ("↑↓", "request"),
    ("enter", "its hops"),
    ("pgup pgdn", "scroll"),
    ("r", "read again"),
    ("esc", "close"),
];

/// Key bar of the target picker.
pub const PICKER_KEYS: &[(&str, &str)] = &[("↑↓", "choose"), ("enter", "switch"), ("esc", "close")];
/// Key bar of the question before switching to a cluster.
pub const CONFIRM_KEYS: &[(&str, &str)] = &[("y enter", "switch"), ("n esc", "cancel")];

/// Title of the help overlay.
pub const HELP_TITLE: &str = "Keys";
/// The help overlay: sections of (keys, what they do).
pub const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("?", "show or hide this help"),
            ("esc", "close a window, or go back to the labs"),
            ("ctrl-c", "quit"),
        ],
    ),
    (
        "Labs",
        &[
            ("↑ ↓  j k", "select a lab"),
            ("g G  home end", "first / last lab"),
            ("enter → l", "open the lab where you left off"),
            ("t", "switch target: the reference mesh or a cluster"),
            ("q", "quit"),
        ],
    ),
    (
        "Lab",
        &[
            ("tab ← →", "focus steps, instructions or checks"),
            ("↑ ↓  j k", "move in the focused pane"),
            ("pgup pgdn", "scroll the instructions"),
            ("n p", "next / previous step"),
            ("[ ]", "select the previous / next command"),
            ("y", "copy the selected command (OSC 52)"),
            ("c", "run the step's checks"),
            ("h", "reveal the next hint"),
            ("d", "diff of the selected failed check"),
            ("s", "show the solution"),
            (
                "a",
                "apply the solution: shows what will change, asks, runs it, checks again",
            ),
            (
                "r",
                "reset the step to how it was before it (asks first), checks again",
            ),
            (
                "x",
                "explain recent requests hop by hop, from the proxies' access logs",
            ),
            ("t", "switch target: the reference mesh or a cluster"),
            ("esc q", "back to the labs"),
        ],
    ),
    (
        "Windows",
        &[
            ("↑ ↓ pgup pgdn", "scroll"),
            ("y", "copy the solution's commands"),
            ("esc q", "close"),
        ],
    ),
    (
        "Apply and reset",
        &[
            ("y enter", "go ahead"),
            ("n esc", "cancel: nothing changes"),
            ("esc", "while it runs: hide the window (it keeps running)"),
        ],
    ),
    (
        "Lab complete",
        &[("enter", "open the next lab"), ("esc q", "close")],
    ),
    (
        "Explain",
        &[
            ("↑ ↓  j k", "choose a request; its hops show below the list"),
            ("enter", "scroll to the chosen request's hops"),
            ("r", "read the access logs again"),
            ("esc x q", "close"),
        ],
    ),
    (
        "Mouse",
        &[
            ("wheel", "scroll"),
            ("click", "select a lab, step or check"),
        ],
    ),
];

/// Title of the explain view.
pub const EXPLAIN_TITLE: &str = "Explain · recent requests";
/// The explain view while the access logs are read.
pub const EXPLAIN_READING: &str = "reading the proxies' access logs…";
/// The explain view while the access logs are read again (the last answer stays below).
pub const EXPLAIN_READING_AGAIN: &str = "reading the proxies' access logs again…";
/// Under the explain view's reason for showing nothing.
pub const EXPLAIN_READ_AGAIN: &str =
    "Press r to read the logs again once traffic went through the mesh.";
/// Heading above the chosen request's hops.
pub const EXPLAIN_HOPS: &str = "Hops";
/// The line under a failed traffic check that points at the explain view.
pub const EXPLAIN_FAILED_CHECK: (&str, &str, &str) = (
    "press ",
    "x",
    " to see why: the recent requests, hop by hop",
);

/// The explain view when the logs could not be read.
pub fn explain_failed(reason: &str) -> String {
    format!("Could not read the proxies' access logs: {reason}.")
}

/// Why the explain view could not read the logs: the explain error, said for the reference mesh
/// as `meshwork explain` says it when the mesh does not answer.
pub fn explain_error(kind: TargetKind, error: &str) -> String {
    if kind == TargetKind::Reference && error.contains("connection refused") {
        "the reference mesh is not running, so no request went through it; start it with \
         `meshwork mesh up` (or press t to choose a cluster), install Istio (`meshwork istioctl \
         install`) and send some traffic first"
            .to_owned()
    } else {
        error.to_owned()
    }
}

/// Under the explain view's error.
pub const EXPLAIN_TRY_AGAIN: &str = "Press r to try again.";

/// `Hops of request 2 of 3 · x-request-id 4a3d…`.
pub fn explain_hops(index: usize, total: usize, id: &str) -> String {
    format!("{EXPLAIN_HOPS} of request {index} of {total} · x-request-id {id}")
}

/// Title of the notice overlay.
pub const NOTICE_TITLE: &str = "Notice";
/// Footer of the notice overlay.
pub const NOTICE_DISMISS: &str = "Press any key to continue.";

/// `Diff · <check>`.
pub fn diff_title(check: &str) -> String {
    format!("Diff · {check}")
}

/// `Solution · <step>`.
pub fn solution_title(step: &str) -> String {
    format!("Solution · {step}")
}

/// Heading of the solution's manifest list.
pub const SOLUTION_MANIFESTS: &str = "Manifests to apply";
/// Heading of the solution's commands.
pub const SOLUTION_COMMANDS: &str = "Commands";
/// A solution with nothing for this target.
pub fn solution_nothing_for(kind: TargetKind) -> String {
    format!("This solution has no commands for the {kind} target.")
}

/// A manifest named in the solution is not in the content.
pub fn manifest_missing(path: &str) -> String {
    format!("{path} is not in this course's content")
}

/// Status: the step's commands, none of which applies to this target.
pub fn commands_other_target(n: usize, kind: TargetKind) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{n} command{s} of this step do not apply to the {kind} target.")
}

/// Status after copying.
pub fn copied(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    format!("copied to the clipboard (OSC 52): {first}")
}

/// Status: nothing to copy.
pub const NOTHING_TO_COPY: &str = "This step has no command to copy.";
/// Status: the solution has no commands to copy.
pub const SOLUTION_NOTHING_TO_COPY: &str = "The solution has no commands to copy for this target.";
/// Status: checks already running.
pub const CHECKS_ALREADY_RUNNING: &str = "The checks are still running…";
/// Status: no diff for the selected check.
pub const NO_DIFF: &str =
    "No diff to show: select a failed check that compares an object (↑↓ in the check pane).";
/// Status: the step has no hints.
pub const NO_HINTS: &str = "This step has no hints; press s to see the solution.";

/// Status: every hint is shown.
pub fn all_hints_shown(n: usize) -> String {
    format!("All {n} hints are shown; press s to see the solution.")
}

/// `hint 1/3: …` label.
pub fn hint_label(i: usize, n: usize) -> String {
    format!("hint {i}/{n}: ")
}

/// Status: a progress save failed.
pub fn save_failed(err: &dyn std::fmt::Display) -> String {
    format!(
        "progress not saved: {err}. Check that the folder is writable; your work on the target is unaffected."
    )
}

/// Status and check-pane verdict when every check passed.
pub fn step_passed(last_step: bool) -> &'static str {
    if last_step {
        "All checks pass: step done, and that completes the lab! Esc goes back to the labs."
    } else {
        "All checks pass: step done. Press n for the next step."
    }
}

/// Status line when a passed step was saved.
pub fn step_saved(last_step: bool) -> &'static str {
    if last_step {
        "✔ lab complete, progress saved"
    } else {
        "✔ step done, progress saved"
    }
}

/// Verdict when some checks failed.
pub fn step_failed(failed: usize, errors: usize, total: usize) -> String {
    match (failed, errors) {
        (0, e) => format!("{e} of {total} checks could not run: see the messages above."),
        (f, 0) => {
            format!("{f} of {total} checks failed: read the messages, fix, and press c again.")
        }
        (f, e) => format!("{f} of {total} checks failed and {e} could not run."),
    }
}

/// A check task stopped without reporting.
pub fn check_lost(reason: &str) -> String {
    format!("this check stopped without a result ({reason}); press c to try again")
}

/// The `open` option named nothing known.
pub fn open_failed(err: &str) -> String {
    format!("cannot open {err}")
}

/// The target line: `● ready · v1.32.4 · 3 nodes`.
pub fn target_ready(version: &str, nodes: usize) -> String {
    let s = if nodes == 1 { "" } else { "s" };
    format!("ready · {version} · {nodes} node{s}")
}

/// Target state words.
pub const TARGET_UNREACHABLE: &str = "unreachable";
/// Target state words.
pub const TARGET_UNCONFIGURED: &str = "not configured";
/// Details panel heading for a target problem.
pub const TARGET_HEADING: &str = "Target";

/// Details panel labels.
pub const NEEDS: &str = "Needs";
/// Details panel labels.
pub const TIME: &str = "Time";
/// Details panel labels.
pub const USES: &str = "You will use";
/// Details panel labels.
pub const PROGRESS: &str = "Progress";

/// `about 20 minutes`.
pub fn minutes(m: u32) -> String {
    format!("about {m} minutes")
}

/// `2 of 4 steps done`.
pub fn steps_done(done: usize, total: usize) -> String {
    format!("{done} of {total} steps done")
}

/// Title of the target picker.
pub const TARGET_PICKER_TITLE: &str = "Target";
/// Above the target choices.
pub const TARGET_PICKER_INTRO: &str =
    "Where checks look. Your progress is kept per target; meshwork remembers the choice.";
/// Next to the target in use.
pub const TARGET_CURRENT: &str = "in use";
/// Next to the target being connected.
pub const TARGET_SWITCHING: &str = "connecting…";
/// The reference mesh's line in the picker.
pub const REFERENCE_DESCRIPTION: &str =
    "meshwork's bundled mesh on this machine, started when needed; safe to break";
/// Status: there is no target switch (the binary did not offer one).
pub const TARGET_SWITCH_UNAVAILABLE: &str =
    "Switching targets is not available here; start meshwork with --target.";
/// Status: checks wait while a switch connects.
pub const CHECKS_WAIT_FOR_SWITCH: &str =
    "Switching target: press c again once the new target is shown at the top.";

/// A target's name in the picker: `reference mesh`, `cluster: kind-istio`.
pub fn target_label(spec: &TargetSpec) -> String {
    match spec {
        TargetSpec::Reference => "reference mesh".into(),
        TargetSpec::Cluster { context: None } => "cluster: kubeconfig's current context".into(),
        TargetSpec::Cluster { context: Some(c) } => format!("cluster: {c}"),
    }
}

/// Title of the question before switching to a live cluster.
pub const CONFIRM_CLUSTER_TITLE: &str = "Switch to a live cluster?";
/// The question, around the context's name.
pub const CONFIRM_CLUSTER: (&str, &str) = (
    "meshwork will read from and, when you apply solutions, change objects in context ",
    ".",
);
/// Why to think twice.
pub const CONFIRM_CLUSTER_CARE: &str = "The labs touch only their own namespaces and resources, \
     but switch only if this is a cluster you may use for learning, not one that matters.";
/// The confirmation's yes.
pub const CONFIRM_YES: &str = "switch";
/// The confirmation's no.
pub const CONFIRM_NO: &str = "cancel";

/// Status and header while a switch connects.
pub fn switching_to(spec: &TargetSpec) -> String {
    format!("switching to {spec}…")
}

/// Status: the chosen target is the one in use.
pub fn already_on(label: &str) -> String {
    format!("Already on {label}.")
}

/// Status after a switch.
pub fn switched_to(spec: &TargetSpec) -> String {
    format!("Now on {spec}; meshwork will start on it next time.")
}

/// Status: switched, but the choice could not be saved.
pub fn switch_not_remembered(spec: &TargetSpec, err: &str) -> String {
    format!(
        "Now on {spec}, but the choice was not saved ({err}); next time meshwork starts on its default."
    )
}

/// Status: a switch could not be carried out.
pub fn switch_failed(spec: &TargetSpec, reason: &str) -> String {
    format!("Could not switch to {spec}: {reason}. Still on the previous target.")
}

/// Key bar of the confirmation before applying or resetting.
pub fn solve_confirm_keys(reset: bool) -> Vec<(&'static str, &'static str)> {
    let yes = if reset { "reset" } else { "apply" };
    vec![("y enter", yes), ("↑↓", "scroll"), ("n esc", "cancel")]
}
/// Key bar while a solution runs or after it failed.
pub const SOLVE_RUNNING_KEYS: &[(&str, &str)] = &[("↑↓ pgup pgdn", "scroll"), ("esc", "close")];
/// Key bar of the completion window with a next lab.
pub const COMPLETE_KEYS: &[(&str, &str)] = &[("enter", "next lab"), ("esc", "close")];
/// Key bar of the completion window when no lab is left.
pub const COMPLETE_LAST_KEYS: &[(&str, &str)] = &[("esc", "close")];

/// Title of the confirmation and progress window: `Apply the solution · <step>`.
pub fn solve_title(reset: bool, step: &str) -> String {
    if reset {
        format!("Reset · {step}")
    } else {
        format!("Apply the solution · {step}")
    }
}

/// Above the plan: what will happen and where.
pub fn solve_intro(reset: bool, target: &str) -> String {
    if reset {
        format!(
            "Resetting puts the target back as it was before this step. On {target}, meshwork will run:"
        )
    } else {
        format!("On {target}, meshwork will run these commands, as you would type them:")
    }
}
/// Under the plan, before confirming.
pub const SOLVE_THEN_CHECK: &str = "Then the step's checks run again.";
/// The confirmation's yes and no.
pub fn solve_question(reset: bool) -> (&'static str, &'static str) {
    (if reset { "reset" } else { "apply" }, "cancel")
}
/// Under a manifest while its objects are looked up.
pub const PREVIEW_LOADING: &str = "looking at what this changes on the target…";
/// A manifest object that will be created.
pub fn preview_create(object: &str) -> String {
    format!("creates {object}")
}
/// A manifest object that will change (its diff follows).
pub fn preview_update(object: &str) -> String {
    format!("changes {object}:")
}
/// A manifest object that will not change.
pub fn preview_unchanged(object: &str) -> String {
    format!("{object} is already like this (unchanged)")
}
/// A manifest object a reset will delete.
pub fn preview_delete(object: &str) -> String {
    format!("deletes {object}")
}
/// A manifest object a reset would delete that is not there.
pub fn preview_absent(object: &str) -> String {
    format!("{object} is already gone")
}
/// A manifest object the target could not tell about: why.
pub fn preview_unknown(object: &str, reason: &str) -> String {
    format!("{object}: {reason}")
}
/// A manifest that cannot be read.
pub fn preview_bad_manifest(reason: &str) -> String {
    format!("cannot read this manifest: {reason}")
}
/// While the solution runs: `running 2 of 3…`.
pub fn solve_running(index: usize, total: usize) -> String {
    format!("running {index} of {total}…")
}
/// The window after a failure: what failed, then what to do.
pub const SOLVE_FAILED: &str = "It stopped here:";
/// Under a failure.
pub const SOLVE_FAILED_NEXT: &str = "Nothing after it ran. Read the output above, fix what it names (or press t for another target), and press a or r again.";
/// Status: the solution is running in a hidden window.
pub const SOLVE_HIDDEN: &str = "Still running in the background; the checks run when it is done.";
/// Status: a solution is already running.
pub const SOLVE_BUSY: &str = "A solution is still running; wait for it to finish.";
/// Status: cancelled before anything ran.
pub const SOLVE_CANCELLED: &str = "Cancelled: nothing was changed.";
/// Status after a solution or reset ran.
pub fn solved(reset: bool) -> &'static str {
    if reset {
        "Step reset; checking it again…"
    } else {
        "Solution applied; checking the step…"
    }
}
/// Status: it failed (the window shows why).
pub fn solve_failed(reset: bool) -> &'static str {
    if reset {
        "The reset failed: the window shows the command and its output."
    } else {
        "Applying the solution failed: the window shows the command and its output."
    }
}
/// Status: the step has no reset.
pub const NO_RESET: &str =
    "This step has no reset: nothing it does needs undoing (or it cannot be undone automatically).";
/// Status: the solution has nothing to run on this target.
pub fn nothing_to_run(reset: bool, kind: TargetKind) -> String {
    if reset {
        format!("This step's reset has nothing to run on the {kind} target.")
    } else {
        format!("This step's solution has nothing to run on the {kind} target; press s to read it.")
    }
}
/// Status: applying needs the binary's runner, which this app was not given.
pub const SOLVE_UNAVAILABLE: &str = "Applying solutions is not available here: meshwork could not prepare its workshop folder (see the message at start).";
/// Status: no solution while switching targets.
pub const SOLVE_WAIT_FOR_SWITCH: &str =
    "Switching target: press a or r again once the new target is shown at the top.";

/// The lab screen's line above the second-terminal command.
pub const SECOND_TERMINAL_NOTE: &str = "In a second terminal, go to the workshop folder and point kubectl at this target; type the commands there:";

/// Title of the completion window.
pub fn complete_title(lab: &str) -> String {
    format!("Lab complete · {lab}")
}
/// The completion window's first line.
pub fn complete_headline(lab: &str) -> String {
    format!("✔ You finished {lab}.")
}
/// Heading of what the lab taught.
pub const COMPLETE_LEARNED: &str = "What you learned";
/// Before the lab's `uses`.
pub const COMPLETE_USED: &str = "You used: ";
/// Heading of what comes next.
pub const COMPLETE_NEXT: &str = "What comes next";
/// Under the next lab: how to open it.
pub const COMPLETE_OPEN_NEXT: &str = "Press enter to open it, esc to stay here.";
/// No lab is left.
pub const COMPLETE_ALL_DONE: &str = "All labs done: that is the whole workshop. Go back to any lab (esc, then esc again) to try it on another target with t, or break things on purpose and use x to see why.";
