//! `meshwork lab test [LAB…]`: the content tests, as rustlings proves its exercises.
//!
//! Each lab runs on a fresh reference mesh of its own ([`scratch`]): the solutions of its
//! prerequisite labs are carried out first, then for each step in order its checks must fail
//! (a check that passes on an unsolved step is broken), its solution is carried out and the
//! checks must pass (re-run until they settle: sidecars take a moment to get new config). Then
//! the steps are reset in reverse order: after resetting a step its checks must fail again and
//! the earlier step's checks pass again. Steps and checks carry `lab_test:` exceptions, each
//! with its reason; a check that passed before its solution (as allowed) may pass after the
//! reset too, since the reset restores that state. [`report`] words what was found and closes
//! with a table.
//!
//! Time: a step's checks run concurrently; a check that must fail runs once (before the
//! solution) or until it fails (after a reset), never waiting out the settle time when it
//! already fails, and a several-request `http` check that must fail is first tried with one
//! request judged on what every response must show ([`fail_fast_probe`]).

pub mod report;
pub mod scratch;

use super::spinner::Spinner;
use super::{CmdResult, EXIT_COULD_NOT_RUN, EXIT_FAILED, EXIT_OK, Global, runtime};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use meshwork_checks::check::Context;
use meshwork_checks::check::expect::ReviewsExpect;
use meshwork_checks::course::{Check, CheckSpec, Solution};
use meshwork_checks::engine;
use meshwork_checks::solve::Runner;
use meshwork_checks::{CheckResult, Content, Course, Lab, Outcome, Target, TargetSpec};
use report::{LabOutcome, Phase, Problem, secs};
use scratch::Scratch;
use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shown by `meshwork lab test --help`.
pub const HELP: &str = "\
For each lab, on a fresh reference mesh of its own (in a temporary directory; your own mesh
and progress are not touched): carry out the solutions of its prerequisite labs, then for each
step in order demand that its checks FAIL before the solution (a check that passes on an
unsolved step is broken), carry out the solution and demand that they PASS (re-run until they
settle), and finally reset the steps in reverse order, demanding that each step's checks fail
again and the earlier step's checks pass again. Exceptions are written in lab.yaml with their
reason: a step's `lab_test: {environment: WHY}` (checked once, without a solution, and must
pass) and a check's `lab_test: {may_pass_before: WHY}` / `{may_pass_after_reset: WHY}`.

The test runs on the reference mesh unless --target or --context name a live cluster
(MESHWORK_TARGET and the target chosen in the terminal UI are not used: the test changes
what it runs on).

Examples:
  meshwork lab test                          every lab, in order
  meshwork lab test 5 timeouts-retries       two labs (number, slug or folder)
  meshwork --content . lab test 05           the labs in ./labs, as you write them
  meshwork lab test 05 --keep                leave the scratch mesh up to look around
  meshwork lab test 06 --settle 20           give up sooner on checks that do not settle
  meshwork lab test --target cluster:kind-x --yes    on a throw-away live cluster

Exit codes: 0 every lab as it should be, 1 a problem was found (each is printed with the
check, its outcome, its message and the phase), 2 the test could not run.";

/// How long to wait between re-runs of checks that have not settled yet.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The `meshwork lab` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Test labs: every check fails before its step's solution, passes after it, and fails
    /// again after the step's reset, each lab on a fresh reference mesh
    #[command(after_help = HELP)]
    Test(TestArgs),
}

/// Options of `meshwork lab test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Labs to test (number, slug or folder); default: every lab, in order
    #[arg(value_name = "LAB")]
    pub labs: Vec<String>,
    /// Go ahead on a live cluster (--target cluster…): the labs' solutions and resets change it
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Leave each lab's scratch mesh running and print how to reach it
    #[arg(long)]
    pub keep: bool,
    /// How long checks may take to pass after a solution (or fail after a reset) before that
    /// counts as a problem
    #[arg(long, default_value_t = 90, value_name = "SECONDS")]
    pub settle: u64,
}

/// Carries out a `meshwork lab` subcommand.
pub fn dispatch(global: &Global, command: LabCommand) -> CmdResult {
    match command {
        LabCommand::Test(args) => run(global, &args),
    }
}

/// The target of the test: `--context`, else `--target`, else the reference mesh (never the
/// target remembered for the learner: the test changes what it runs on).
fn chosen_target(global: &Global) -> anyhow::Result<TargetSpec> {
    if let Some(context) = &global.context {
        return TargetSpec::parse(&format!("cluster:{context}"))
            .map_err(|e| anyhow::anyhow!("--context {context}: {e}"));
    }
    Ok(global.target.clone().unwrap_or(TargetSpec::Reference))
}

/// The labs named by `keys` (all when empty), in course order, each once.
fn select<'c>(course: &'c Course, keys: &[String]) -> anyhow::Result<Vec<&'c Lab>> {
    if keys.is_empty() {
        return Ok(course.labs.iter().collect());
    }
    let mut wanted = HashSet::new();
    for key in keys {
        match course.lab(key) {
            Some(lab) => {
                wanted.insert(lab.id.clone());
            }
            None => {
                let why = match course.resolve(key) {
                    Err(e) => e,
                    Ok(_) => format!("`{key}` names a step; name a whole lab"),
                };
                anyhow::bail!("{why} (see `meshwork labs`)");
            }
        }
    }
    Ok(course
        .labs
        .iter()
        .filter(|l| wanted.contains(&l.id))
        .collect())
}

/// `meshwork lab test …`.
pub fn run(global: &Global, args: &TestArgs) -> CmdResult {
    let target = chosen_target(global)?;
    if let TargetSpec::Cluster { context } = &target
        && !args.yes
    {
        let on = context
            .as_deref()
            .map_or("the current kubeconfig context".to_string(), |c| {
                format!("context `{c}`")
            });
        eprintln!(
            "error: `meshwork lab test` on a live cluster carries out every lab's solutions and \
             resets there ({on}): it installs Istio, deploys and deletes the labs' apps and \
             changes their routing and security. Run it only on a throw-away cluster, and pass \
             --yes to go ahead."
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    let ingress = meshwork_checks::target::reach::INGRESS_ENV;
    if target == TargetSpec::Reference
        && let Some(value) = std::env::var_os(ingress).filter(|v| !v.is_empty())
    {
        eprintln!(
            "error: {ingress}={} would send the ingress checks there instead of to each scratch              mesh's own gateway; run the test without it: `env -u {ingress} meshwork lab test …`",
            value.to_string_lossy()
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    }
    let content = Arc::new(global.content()?);
    let course = crate::content::course(&content)?;
    let labs = select(&course, &args.labs)?;
    let exe = std::env::current_exe()
        .context("failed to find meshwork's own executable to start scratch meshes with")?;
    let rt = runtime()?;
    let current: Arc<Mutex<Option<Scratch>>> = Arc::new(Mutex::new(None));
    let mut tester = Tester {
        course: &course,
        content,
        exe,
        target,
        keep: args.keep,
        settle: Duration::from_secs(args.settle),
        progress: Progress::new(),
        noted: HashSet::new(),
        notes: Vec::new(),
        current: Arc::clone(&current),
    };
    rt.block_on(async {
        tokio::select! {
            code = tester.run_all(&labs) => code,
            _ = tokio::signal::ctrl_c() => {
                tester.progress.clear();
                let scratch = current.lock().ok().and_then(|mut c| c.take());
                if let Some(scratch) = scratch {
                    eprintln!("Interrupted: stopping the scratch mesh and removing {}…", scratch.root.display());
                    if let Some(why) = scratch.teardown().await {
                        eprintln!("warning: {why}");
                    }
                } else {
                    eprintln!("Interrupted.");
                }
                Ok(ExitCode::from(EXIT_COULD_NOT_RUN))
            }
        }
    })
}

/// Stdout lines, and a spinner on stderr (on a terminal) while something runs.
struct Progress {
    spinner: Spinner,
}

impl Progress {
    fn new() -> Self {
        Self {
            spinner: Spinner::new(false),
        }
    }

    fn clear(&mut self) {
        self.spinner.clear();
    }

    /// Prints a line to stdout (erasing the spinner first).
    fn line(&mut self, text: &str) {
        self.spinner.clear();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// Awaits `work`, turning the spinner with `text` meanwhile.
    async fn wait<T>(&mut self, text: &str, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        let mut ticks = tokio::time::interval(Duration::from_millis(120));
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = ticks.tick() => self.spinner.tick(text),
            }
        }
    }
}

/// Where one lab's checks look and its solutions run.
struct Lane {
    ctx: Arc<Context>,
    runner: Runner,
}

/// Checks that ran until they settled, or until time ran out.
struct Settled {
    results: Vec<CheckResult>,
    took: Duration,
    done: bool,
}

struct Tester<'c> {
    course: &'c Course,
    content: Arc<Content>,
    exe: PathBuf,
    target: TargetSpec,
    keep: bool,
    settle: Duration,
    progress: Progress,
    /// The `lab_test` reasons already printed.
    noted: HashSet<String>,
    /// Notes waiting for their step's line to be printed.
    notes: Vec<String>,
    /// The scratch mesh in use, for Ctrl-C to stop.
    current: Arc<Mutex<Option<Scratch>>>,
}

impl Tester<'_> {
    async fn run_all(&mut self, labs: &[&Lab]) -> CmdResult {
        let start = Instant::now();
        let on = match &self.target {
            TargetSpec::Reference => ", each on a fresh reference mesh".to_string(),
            cluster => format!(" on {cluster}"),
        };
        self.progress.line(&format!(
            "Testing {} lab{}{on} (checks may take up to {} to settle)",
            labs.len(),
            super::plural(labs.len()),
            secs(self.settle)
        ));
        let cluster_lane = match &self.target {
            TargetSpec::Reference => None,
            spec => {
                let dir = std::env::temp_dir()
                    .join(format!("meshwork-lab-test-{}-workshop", std::process::id()));
                let connected = match meshwork_checks::solve::write_workshop(&self.content, &dir) {
                    Ok(_) => scratch::cluster(spec, &dir).await,
                    Err(e) => Err(e.into()),
                };
                let (target, runner) = match connected {
                    Ok(pair) => pair,
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(e);
                    }
                };
                let lane = Lane {
                    ctx: self.context(target),
                    runner,
                };
                Some((lane, dir))
            }
        };
        let mut outcomes = Vec::new();
        for lab in labs {
            self.progress.line(&format!("\n{}", lab.label()));
            let lab_start = Instant::now();
            let (problems, error) = match &cluster_lane {
                Some((lane, _)) => (self.test_lab(lab, lane).await, None),
                None => self.on_scratch(lab).await,
            };
            let outcome = LabOutcome {
                label: lab.label(),
                elapsed: lab_start.elapsed(),
                problems,
                error,
            };
            self.progress.line(&format!(
                "  → {} in {}",
                outcome.result(),
                secs(outcome.elapsed)
            ));
            outcomes.push(outcome);
        }
        if let Some((_, dir)) = &cluster_lane {
            let _ = std::fs::remove_dir_all(dir);
        }
        self.progress.line("");
        self.progress
            .line(report::summary(&outcomes, start.elapsed()).trim_end());
        let code = if outcomes.iter().any(|o| o.error.is_some()) {
            EXIT_COULD_NOT_RUN
        } else if outcomes.iter().any(|o| !o.problems.is_empty()) {
            EXIT_FAILED
        } else {
            EXIT_OK
        };
        Ok(ExitCode::from(code))
    }

    fn context(&self, target: Arc<dyn Target>) -> Arc<Context> {
        Arc::new(Context {
            target,
            content: Arc::clone(&self.content),
        })
    }

    /// Tests `lab` on a scratch mesh of its own, torn down afterwards unless `--keep`.
    async fn on_scratch(&mut self, lab: &Lab) -> (Vec<Problem>, Option<String>) {
        let scratch = match Scratch::create(&format!("{:02}", lab.number)) {
            Ok(s) => s,
            Err(e) => return (Vec::new(), Some(format!("{e:#}"))),
        };
        if let Ok(mut current) = self.current.lock() {
            *current = Some(scratch.clone());
        }
        let started = Instant::now();
        let exe = self.exe.clone();
        let mut spinner = Spinner::new(false);
        let target = scratch
            .start(&exe, || spinner.tick("starting a scratch reference mesh…"))
            .await;
        spinner.clear();
        let result = match target {
            Err(e) => (Vec::new(), Some(format!("{e:#}"))),
            Ok(target) => match scratch.runner(&self.content, &exe) {
                Err(e) => (Vec::new(), Some(format!("{e:#}"))),
                Ok(runner) => {
                    self.progress
                        .line(&format!("  scratch mesh up in {}", secs(started.elapsed())));
                    let lane = Lane {
                        ctx: self.context(target),
                        runner,
                    };
                    (self.test_lab(lab, &lane).await, None)
                }
            },
        };
        if self.keep {
            self.progress.line(&format!(
                "  kept the scratch mesh; reach it with:\n    {}",
                scratch.how_to_reach().replace('\n', "\n    ")
            ));
        } else {
            let why = self
                .progress
                .wait("stopping the scratch mesh…", scratch.teardown())
                .await;
            if let Some(why) = why {
                eprintln!("warning: {why}");
            }
        }
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
        result
    }

    /// The whole test of one lab on `lane`; the problems found, printed as they are found.
    async fn test_lab(&mut self, lab: &Lab, lane: &Lane) -> Vec<Problem> {
        let mut problems = Vec::new();
        let prerequisites = self.course.prerequisites_of(lab);
        if !prerequisites.is_empty()
            && !self
                .prerequisites(&prerequisites, lane, &mut problems)
                .await
        {
            return problems;
        }
        // (step index, whether each applicable check passed before the solution)
        let mut solved: Vec<(usize, Vec<bool>)> = Vec::new();
        let width = lab
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{} {}", i + 1, s.id).chars().count())
            .max()
            .unwrap_or(0);
        for (index, step) in lab.steps.iter().enumerate() {
            let place = format!("{:02}/{}", lab.number, step.id);
            let name = format!("  {:<width$}", format!("{} {}", index + 1, step.id));
            let checks = applicable(&step.checks, lane);
            if let Some(why) = &step.environment {
                let results = self
                    .progress
                    .wait(
                        &format!("{place}: checking the machine"),
                        run_set(&lane.ctx, &checks, false),
                    )
                    .await;
                let mut line = format!("{name}  environment: ");
                let bad: Vec<&CheckResult> =
                    results.iter().filter(|r| !r.outcome.is_ok()).collect();
                if bad.is_empty() {
                    line.push_str(&format!(
                        "{} passing without a solution ({why})",
                        count(results.len(), "check")
                    ));
                } else {
                    line.push_str(&format!("{} of {} not passing", bad.len(), results.len()));
                }
                self.step_line(&line);
                for r in bad {
                    self.found(
                        &mut problems,
                        Problem::check(
                            &place,
                            Phase::Environment,
                            "must pass without a solution, and",
                            r,
                        ),
                    );
                }
                continue;
            }

            // 1. Before the solution every check must fail.
            let before = self
                .progress
                .wait(
                    &format!("{place}: checks before the solution"),
                    run_set(&lane.ctx, &checks, true),
                )
                .await;
            let mut passed_before = Vec::with_capacity(checks.len());
            let mut allowed = 0;
            let mut broken = Vec::new();
            for (check, result) in checks.iter().zip(&before) {
                let passed = passing(result.outcome);
                passed_before.push(passed);
                if !passed {
                    continue;
                }
                match &check.lab_test.may_pass_before {
                    Some(why) => {
                        allowed += 1;
                        self.note(&place, check, "may pass before its solution", why);
                    }
                    None => broken.push(Problem::check(
                        &place,
                        Phase::Before,
                        "already passes on the unsolved step (a broken check)",
                        result,
                    )),
                }
            }
            let failing = before.len() - allowed - broken.len();
            let before_took = before.iter().map(|r| r.elapsed).max().unwrap_or_default();
            let mut line = format!("{name}  before: ");
            if broken.is_empty() {
                line.push_str(&format!("{} failing as they should", failing));
                if allowed > 0 {
                    line.push_str(&format!(", {allowed} passing as allowed"));
                }
            } else {
                line.push_str(&format!("{} of {} passing ✘", broken.len(), before.len()));
            }
            line.push_str(&format!(" ({})", secs(before_took)));

            // 2. The solution.
            let solve_start = Instant::now();
            let solved_ok = self
                .carry_out(&lane.runner, &step.solution, &place, "solution")
                .await;
            if let Err(problem) = solved_ok {
                line.push_str(" · solution failed ✘");
                self.step_line(&line);
                for p in broken {
                    self.found(&mut problems, p);
                }
                self.found(&mut problems, problem);
                return problems;
            }
            line.push_str(&format!(" · solution {}", secs(solve_start.elapsed())));

            // 3. After it every check must pass (given time to settle).
            let settled = self
                .progress
                .wait(
                    &format!("{place}: checks after the solution"),
                    settle(
                        &lane.ctx,
                        &checks,
                        |_, r| r.outcome.is_ok(),
                        self.settle,
                        false,
                    ),
                )
                .await;
            if settled.done {
                line.push_str(&format!(" · pass after {}", secs(settled.took)));
            } else {
                let bad = settled
                    .results
                    .iter()
                    .filter(|r| !r.outcome.is_ok())
                    .count();
                line.push_str(&format!(
                    " · {bad} of {} not passing after {} ✘",
                    settled.results.len(),
                    secs(settled.took)
                ));
            }
            self.step_line(&line);
            for p in broken {
                self.found(&mut problems, p);
            }
            for r in settled.results.iter().filter(|r| !r.outcome.is_ok()) {
                let what = format!("did not pass within {} of the solution", secs(self.settle));
                self.found(
                    &mut problems,
                    Problem::check(&place, Phase::After, &what, r),
                );
            }
            solved.push((index, passed_before));
        }

        // 4. Reset in reverse order.
        for pos in (0..solved.len()).rev() {
            let (index, passed_before) = &solved[pos];
            let step = &lab.steps[*index];
            let place = format!("{:02}/{}", lab.number, step.id);
            let checks = applicable(&step.checks, lane);
            let mut line = format!("  reset {} {}: ", index + 1, step.id);
            let reset_start = Instant::now();
            if let Err(problem) = self
                .carry_out(&lane.runner, &step.reset, &place, "reset")
                .await
            {
                line.push_str("failed ✘");
                self.step_line(&line);
                self.found(&mut problems, problem);
                return problems;
            }
            if step.reset.manifests.is_empty() && step.reset.commands.is_empty() {
                line.push_str("(no reset)");
            } else {
                line.push_str(&secs(reset_start.elapsed()));
            }
            let own_wanted = |i: usize, r: &CheckResult| {
                !passing(r.outcome)
                    || passed_before.get(i).copied().unwrap_or(false)
                    || checks[i].lab_test.may_pass_after_reset.is_some()
            };
            let earlier = pos.checked_sub(1).map(|p| &solved[p]).map(|(i, _)| {
                let step = &lab.steps[*i];
                (step, applicable(&step.checks, lane))
            });
            let earlier_checks = earlier.as_ref().map(|(_, c)| c.clone()).unwrap_or_default();
            let (own, again) = self
                .progress
                .wait(&format!("{place}: checks after the reset"), async {
                    tokio::join!(
                        settle(&lane.ctx, &checks, own_wanted, self.settle, true),
                        settle(
                            &lane.ctx,
                            &earlier_checks,
                            |_, r| r.outcome.is_ok(),
                            self.settle,
                            false,
                        ),
                    )
                })
                .await;
            let mut found = Vec::new();
            for (i, r) in own.results.iter().enumerate() {
                if !own_wanted(i, r) {
                    found.push(Problem::check(
                        &place,
                        Phase::AfterReset,
                        &format!(
                            "still passes {} after the reset{} (the reset does not restore the earlier state)",
                            secs(own.took),
                            if step.reset.manifests.is_empty() && step.reset.commands.is_empty() {
                                "; the step has no reset"
                            } else {
                                ""
                            }
                        ),
                        r,
                    ));
                } else if passing(r.outcome)
                    && !passed_before.get(i).copied().unwrap_or(false)
                    && let Some(why) = &checks[i].lab_test.may_pass_after_reset
                {
                    self.note(&place, &checks[i], "may pass after its reset", why);
                }
            }
            if own.done {
                line.push_str(&format!(" · failing again after {}", secs(own.took)));
            } else {
                line.push_str(" · still passing ✘");
            }
            if let Some((earlier_step, _)) = &earlier {
                let earlier_place = format!("{:02}/{}", lab.number, earlier_step.id);
                if again.done {
                    line.push_str(&format!(
                        " · {} passes again after {}",
                        earlier_step.id,
                        secs(again.took)
                    ));
                } else {
                    line.push_str(&format!(" · {} not passing again ✘", earlier_step.id));
                }
                for r in again.results.iter().filter(|r| !r.outcome.is_ok()) {
                    found.push(Problem::check(
                        &earlier_place,
                        Phase::EarlierAfterReset,
                        &format!(
                            "did not pass again within {} of resetting `{}`",
                            secs(self.settle),
                            step.id
                        ),
                        r,
                    ));
                }
            }
            self.step_line(&line);
            for p in found {
                self.found(&mut problems, p);
            }
        }
        problems
    }

    /// Carries out every solution of the prerequisite labs' steps (not the steps that check
    /// the learner's machine); false when one failed (recorded in `problems`).
    async fn prerequisites(
        &mut self,
        labs: &[&Lab],
        lane: &Lane,
        problems: &mut Vec<Problem>,
    ) -> bool {
        let start = Instant::now();
        let mut steps = 0;
        for lab in labs {
            for step in lab.steps.iter().filter(|s| s.environment.is_none()) {
                let place = format!("{:02}/{}", lab.number, step.id);
                match self
                    .carry_out(&lane.runner, &step.solution, &place, "solution")
                    .await
                {
                    Ok(()) => steps += 1,
                    Err(mut problem) => {
                        problem.phase = Phase::Prerequisites;
                        self.progress
                            .line(&format!("  prerequisites: {place} failed ✘"));
                        self.found(problems, problem);
                        return false;
                    }
                }
            }
        }
        let names: Vec<String> = labs.iter().map(|l| format!("{:02}", l.number)).collect();
        let names = format!(
            "{}{} {}",
            "lab",
            super::plural(names.len()),
            names.join(", ")
        );
        if steps == 0 {
            self.progress.line(&format!(
                "  prerequisites: {names} (nothing to carry out: its steps check the learner's machine)"
            ));
        } else {
            self.progress.line(&format!(
                "  prerequisites: {names} solved ({}) in {}",
                count(steps, "step"),
                secs(start.elapsed())
            ));
        }
        true
    }

    /// Carries out a solution or reset, with the spinner naming each command.
    async fn carry_out(
        &mut self,
        runner: &Runner,
        solution: &Solution,
        place: &str,
        what: &str,
    ) -> Result<(), Problem> {
        for action in runner.plan(solution) {
            let text = format!("{place}: {what}: {}", action.command);
            match self.progress.wait(&text, runner.run_action(action)).await {
                Ok(_) => {}
                Err(e) => {
                    return Err(Problem {
                        place: place.to_string(),
                        phase: if what == "reset" {
                            Phase::Reset
                        } else {
                            Phase::Solution
                        },
                        summary: format!("the {what} failed"),
                        detail: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Prints `problem` under the current step and keeps it for the summary.
    fn found(&mut self, problems: &mut Vec<Problem>, problem: Problem) {
        self.progress.line(&problem.render());
        problems.push(problem);
    }

    /// Prints a step's line, then the notes gathered while it ran.
    fn step_line(&mut self, line: &str) {
        self.progress.line(line);
        for note in std::mem::take(&mut self.notes) {
            self.progress.line(&note);
        }
    }

    /// Notes the reason of a `lab_test` exception the first time it is used (printed under
    /// the step's line).
    fn note(&mut self, place: &str, check: &Check, what: &str, why: &str) {
        let key = format!("{place}/{}/{what}", check.id);
        if self.noted.insert(key) {
            self.notes
                .push(format!("    note: `{}` {what}: {why}", check.id));
        }
    }
}

/// The checks that apply on the lane's target.
fn applicable(checks: &[Check], lane: &Lane) -> Vec<Check> {
    let kind = lane.ctx.target.kind();
    checks
        .iter()
        .filter(|c| c.only.is_none_or(|k| k == kind))
        .cloned()
        .collect()
}

/// Pass and Warn let a learner through.
fn passing(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Pass | Outcome::Warn)
}

/// `1 check`, `3 checks`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", super::plural(n))
}

/// For a check that must fail, a quicker check that fails only when it would: one request of
/// a several-request `http` check, judged only on what every response must show (status,
/// body, one reviews version on every page), not on what needs them all (a mix or shares of
/// versions, the median latency). A page that already shows the wrong body decides the check
/// after one request, not after five deliberately slow ones.
fn fail_fast_probe(check: &Check) -> Option<Check> {
    let CheckSpec::Http(http) = &check.spec else {
        return None;
    };
    if http.count <= 1 {
        return None;
    }
    let mut probe = check.clone();
    if let CheckSpec::Http(h) = &mut probe.spec {
        h.count = 1;
        // `only: v2` and `any` are demands on every page; a mix or shares need them all.
        if !matches!(
            h.expect.reviews,
            None | Some(ReviewsExpect::Only(_) | ReviewsExpect::Any)
        ) {
            h.expect.reviews = None;
        }
        h.expect.latency = None;
        // A count over several responses (some 429s) needs them all.
        h.expect.status_count.clear();
    }
    Some(probe)
}

/// Runs one check; with `fail_fast` (it must fail) its [`fail_fast_probe`] first, whose
/// failure is the answer.
async fn run_one(ctx: &Context, check: &Check, fail_fast: bool) -> CheckResult {
    if fail_fast && let Some(probe) = fail_fast_probe(check) {
        let mut result = engine::run_check(ctx, &probe).await;
        if result.outcome == Outcome::Fail {
            result.message = format!("already on the first request: {}", result.message);
            return result;
        }
        let mut full = engine::run_check(ctx, check).await;
        full.elapsed += result.elapsed;
        return full;
    }
    engine::run_check(ctx, check).await
}

/// Runs `checks` concurrently (with `fail_fast` when they must fail); the results in their
/// order.
async fn run_set(ctx: &Arc<Context>, checks: &[Check], fail_fast: bool) -> Vec<CheckResult> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, check) in checks.iter().enumerate() {
        let ctx = Arc::clone(ctx);
        let check = check.clone();
        tasks.spawn(async move { (i, run_one(&ctx, &check, fail_fast).await) });
    }
    let mut slots: Vec<Option<CheckResult>> = vec![None; checks.len()];
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, result)) = joined
            && let Some(slot) = slots.get_mut(i)
        {
            *slot = Some(result);
        }
    }
    checks
        .iter()
        .zip(slots)
        .map(|(check, slot)| {
            slot.unwrap_or_else(|| CheckResult {
                id: check.id.clone(),
                title: check.title.clone(),
                outcome: Outcome::Error,
                message: "the check stopped unexpectedly (meshwork bug)".into(),
                hint: None,
                diff: None,
                elapsed: Duration::ZERO,
            })
        })
        .collect()
}

/// Runs `checks`, then re-runs those whose result is not `wanted` until all are, or until
/// `within` has passed since the start (`fail_fast` when they must fail).
async fn settle(
    ctx: &Arc<Context>,
    checks: &[Check],
    wanted: impl Fn(usize, &CheckResult) -> bool,
    within: Duration,
    fail_fast: bool,
) -> Settled {
    let start = Instant::now();
    let mut results = run_set(ctx, checks, fail_fast).await;
    loop {
        let pending: Vec<usize> = (0..results.len())
            .filter(|&i| !wanted(i, &results[i]))
            .collect();
        if pending.is_empty() || start.elapsed() >= within {
            return Settled {
                results,
                took: start.elapsed(),
                done: pending.is_empty(),
            };
        }
        tokio::time::sleep(RETRY_PAUSE).await;
        let again: Vec<Check> = pending.iter().map(|&i| checks[i].clone()).collect();
        for (i, result) in pending
            .into_iter()
            .zip(run_set(ctx, &again, fail_fast).await)
        {
            results[i] = result;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course() -> Course {
        let files = [
            (
                "labs/00-a/lab.yaml",
                "format_version: 1\nid: a\ntitle: A\nsummary: s\nsteps:\n  - id: one\n    title: One\n    body: 1.md\n    solution: {commands: [{run: \"true\"}]}\n    checks:\n      - {id: c, title: C, command: {name: sh}}\n",
            ),
            ("labs/00-a/1.md", "# One\n"),
            (
                "labs/01-b/lab.yaml",
                "format_version: 1\nid: b\ntitle: B\nsummary: s\nprerequisites: [a]\nsteps:\n  - id: one\n    title: One\n    body: 1.md\n    solution: {commands: [{run: \"true\"}]}\n    checks:\n      - {id: c, title: C, command: {name: sh}}\n",
            ),
            ("labs/01-b/1.md", "# One\n"),
            (
                "labs/02-c/lab.yaml",
                "format_version: 1\nid: c\ntitle: C\nsummary: s\nprerequisites: [b]\nsteps:\n  - id: one\n    title: One\n    body: 1.md\n    solution: {commands: [{run: \"true\"}]}\n    checks:\n      - {id: c, title: C, command: {name: sh}}\n",
            ),
            ("labs/02-c/1.md", "# One\n"),
        ];
        let content = Content::from_files(
            meshwork_checks::content::Origin::Embedded,
            files.map(|(p, t)| (p.to_string(), t.as_bytes().to_vec())),
        );
        crate::content::course(&content).unwrap()
    }

    #[test]
    fn a_must_fail_http_check_is_probed_with_one_request_on_what_each_response_must_show() {
        let yaml = "format_version: 1\nid: a\ntitle: A\nsummary: s\nsteps:\n  - id: one\n    title: One\n    body: 1.md\n    solution: {commands: [{run: \"true\"}]}\n    checks:\n      - id: many\n        title: Many\n        http:\n          url: http://127.0.0.1:9/\n          count: 5\n          expect:\n            status: 200\n            body: {contains: Sorry}\n            latency: {min: 800ms, max: 1.6s}\n      - id: mix\n        title: Mix\n        http:\n          url: http://127.0.0.1:9/\n          count: 20\n          expect: {bookinfo: {reviews: mix}}\n      - id: v2\n        title: V2\n        http:\n          url: http://127.0.0.1:9/\n          count: 9\n          expect: {bookinfo: {reviews: v2}}\n      - id: once\n        title: Once\n        http: {url: http://127.0.0.1:9/}\n      - {id: c, title: C, command: {name: sh}}\n";
        let content = Content::from_files(
            meshwork_checks::content::Origin::Embedded,
            [
                ("labs/00-a/lab.yaml".to_string(), yaml.as_bytes().to_vec()),
                ("labs/00-a/1.md".to_string(), b"# One\n".to_vec()),
            ],
        );
        let course = crate::content::course(&content).unwrap();
        let checks = &course.labs[0].steps[0].checks;
        let probe = fail_fast_probe(&checks[0]).unwrap();
        let (CheckSpec::Http(full), CheckSpec::Http(one)) = (&checks[0].spec, &probe.spec) else {
            panic!("http checks");
        };
        assert_eq!((full.count, one.count), (5, 1));
        assert!(full.expect.latency.is_some() && one.expect.latency.is_none());
        assert!(one.expect.reviews.is_none());
        assert_eq!(one.expect.status, [200]);
        assert!(
            !one.expect.body.is_empty(),
            "the body is judged on every response"
        );
        let reviews = |i: usize| match fail_fast_probe(&checks[i]).unwrap().spec {
            CheckSpec::Http(h) => h.expect.reviews,
            _ => panic!("an http check"),
        };
        assert!(reviews(1).is_none(), "a mix needs every page");
        assert!(
            matches!(reviews(2), Some(ReviewsExpect::Only(_))),
            "v2 on every page is judged page by page"
        );
        assert!(fail_fast_probe(&checks[3]).is_none(), "one request already");
        assert!(fail_fast_probe(&checks[4]).is_none(), "not an http check");
    }

    #[test]
    fn prerequisites_are_followed_transitively_in_course_order() {
        let course = course();
        let c = course.lab("c").unwrap();
        let ids: Vec<&str> = course
            .prerequisites_of(c)
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(course.prerequisites_of(course.lab("a").unwrap()).is_empty());
    }

    #[test]
    fn labs_are_selected_in_course_order_once_and_unknown_ones_are_named() {
        let course = course();
        let keys = ["c".to_string(), "0".to_string(), "00-a".to_string()];
        let ids: Vec<&str> = select(&course, &keys)
            .unwrap()
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "c"]);
        let err = select(&course, &["nope".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no lab called `nope`"), "{err}");
        let err = select(&course, &["a/one".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("names a step"), "{err}");
    }
}
