//! What happens to the app ([`Event`]) and what it asks the outside world to do ([`Action`]).

use crate::app::targets::Switched;
use crossterm::event::{KeyEvent, MouseEvent};
use meshwork_checks::course::Check;
use meshwork_checks::course::{ManifestVerb, Solution};
use meshwork_checks::explain::{Query, Report};
use meshwork_checks::solve::preview::ManifestPreview;
use meshwork_checks::target::TargetStatus;
use meshwork_checks::{CheckResult, TargetSpec};

/// Everything the app reacts to: terminal input, time, and results of background work.
#[derive(Debug)]
pub enum Event {
    /// Time passed (drives spinners and expires status messages).
    Tick,
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse scrolled or clicked.
    Mouse(MouseEvent),
    /// The terminal is now this many columns and rows.
    Resize(u16, u16),
    /// The task of a run began evaluating its checks ([`Action::RunChecks`]); what the
    /// key-to-checks benchmark waits for.
    ChecksStarted {
        /// The run.
        run: u64,
    },
    /// One check of a run finished.
    CheckResult {
        /// The run it belongs to (see [`Action::RunChecks`]).
        run: u64,
        /// Index of the check in the step.
        index: usize,
        /// What it found.
        result: CheckResult,
    },
    /// A run ended before every check reported (its task failed).
    ChecksStopped {
        /// The run.
        run: u64,
        /// Why, for the learner.
        reason: String,
    },
    /// A look at the target finished.
    TargetStatus(TargetStatus),
    /// A target asked for with [`Action::SwitchTarget`] is ready to use.
    TargetSwitched {
        /// The switch it answers.
        id: u64,
        /// The target that was asked for.
        spec: TargetSpec,
        /// The connected target and its progress.
        switched: Box<Switched>,
    },
    /// Building the target for a switch failed (its task crashed).
    SwitchFailed {
        /// The switch.
        id: u64,
        /// Why, for the learner.
        reason: String,
    },
    /// Reading the proxies' access logs for [`Action::Explain`] finished.
    Explained {
        /// The read it answers (see [`Action::Explain`]).
        id: u64,
        /// The requests found, or why they could not be read (for the learner).
        result: Result<Box<Report>, String>,
    },
    /// Looking at what a solution's manifests will change ([`Action::Preview`]) finished.
    Previewed {
        /// The solution run it belongs to.
        id: u64,
        /// One entry per manifest.
        previews: Vec<ManifestPreview>,
    },
    /// A solution's action (by index in its plan) started.
    SolveProgress {
        /// The solution run.
        id: u64,
        /// Index of the action in the plan.
        index: usize,
    },
    /// A solution ([`Action::Solve`]) finished.
    Solved {
        /// The solution run.
        id: u64,
        /// `Err`: what failed, with the end of its output, for the learner.
        result: Result<(), String>,
    },
    /// The terminal's input closed: nothing more can be typed.
    InputClosed,
}

/// Work the app cannot do itself; the runtime carries it out.
#[derive(Debug, Clone)]
pub enum Action {
    /// Leave the app.
    Quit,
    /// Run these checks in the background and report each as [`Event::CheckResult`].
    RunChecks {
        /// Identifies the run in the results.
        run: u64,
        /// The step's checks.
        checks: Vec<Check>,
    },
    /// Put this text on the clipboard.
    Copy(String),
    /// Connect to this target in the background and report [`Event::TargetSwitched`].
    SwitchTarget {
        /// Identifies the switch in the result.
        id: u64,
        /// The target to connect to.
        spec: TargetSpec,
    },
    /// The target changed: look at the new one now and from then on.
    ProbeTarget,
    /// Explain recent requests in the background and report [`Event::Explained`].
    Explain {
        /// Identifies the read in the result.
        id: u64,
        /// Which requests.
        query: Query,
    },
    /// Look at what applying these manifests will change, and report [`Event::Previewed`].
    Preview {
        /// The solution run it belongs to.
        id: u64,
        /// The manifests' paths in the course content.
        manifests: Vec<String>,
        /// Applied (a solution) or deleted (a reset).
        verb: ManifestVerb,
    },
    /// Carry out a solution (or reset) with the app's runner in the background, reporting
    /// [`Event::SolveProgress`] per action and [`Event::Solved`] at the end.
    Solve {
        /// Identifies the run in the events.
        id: u64,
        /// What to carry out.
        solution: Solution,
    },
}
