//! `meshwork bench --labs`: how long the labs' checks take on the reference mesh.
//!
//! Issue 7's target: a check that sends no traffic (command, cluster, resource, pods,
//! istio_config) answers in under 100 ms, median. A scratch reference mesh gets Istio, Bookinfo
//! and the request-routing lab's first steps by the labs' own solutions (the commands a learner
//! types, through [`Runner`]); then every such check of every lab runs `runs` times against it.
//! Whether a check passes does not matter here, only how long it takes to say so. Checks that
//! exec into pods or send requests are timed too and listed apart: their time is the lesson's.
//! Last, for every step, the TUI's time from the `c` key to its checks running (target: 50 ms).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshwork_checks::check::Context;
use meshwork_checks::course::CheckSpec;
use meshwork_checks::engine;
use meshwork_checks::progress::ProgressStore;
use meshwork_checks::{Content, Course, Target, TargetKind};

use super::{ms, us, write_row};
use crate::cmd::lab_test::scratch::Scratch;

/// Labs whose solutions are carried out first, so most checks have something to look at.
const SET_UP: &[(&str, Option<usize>)] = &[
    ("installing-istio", None),
    ("bookinfo", None),
    ("request-routing", Some(2)),
];

/// Kinds that send no traffic and exec into nothing: the 100 ms target applies to them.
fn quiet(spec: &CheckSpec) -> bool {
    matches!(
        spec,
        CheckSpec::Command(_)
            | CheckSpec::Cluster(_)
            | CheckSpec::Resource(_)
            | CheckSpec::Pods(_)
            | CheckSpec::IstioConfig(_)
    )
}

/// Prints the figures; starts and stops its own scratch mesh (as `meshwork lab test` does).
pub fn run(
    out: &mut impl Write,
    exe: &Path,
    runs: u32,
    content: Content,
    course: &Course,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let scratch = Scratch::create("bench")?;
    let measured = measure(out, exe, runs, content, course, rt, &scratch);
    if let Some(problem) = rt.block_on(scratch.teardown()) {
        writeln!(out, "note: {problem}")?;
    }
    measured
}

fn measure(
    out: &mut impl Write,
    exe: &Path,
    runs: u32,
    content: Content,
    course: &Course,
    rt: &tokio::runtime::Runtime,
    scratch: &Scratch,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let target = rt.block_on(scratch.start(exe, || {}))?;
    writeln!(
        out,
        "{:<28} {:>9}",
        "mesh up (scratch)",
        ms(start.elapsed())
    )?;
    let runner = scratch.runner(&content, exe)?;
    let start = Instant::now();
    for (id, steps) in SET_UP {
        let Some(lab) = course.lab(id) else {
            continue;
        };
        for step in lab.steps.iter().take(steps.unwrap_or(usize::MAX)) {
            rt.block_on(runner.run(&step.solution, |_| {}))
                .map_err(|e| anyhow::anyhow!("setting up with {}/{}: {e}", lab.id, step.id))?;
        }
    }
    writeln!(
        out,
        "{:<28} {:>9}   (labs 01, 02 and two steps of 05 by their solutions)",
        "set-up",
        ms(start.elapsed())
    )?;

    let ctx = Context {
        target: Arc::<dyn Target>::clone(&target),
        content: Arc::new(content),
    };
    let mut by_kind: BTreeMap<(bool, &str), Vec<Duration>> = BTreeMap::new();
    let mut per_check_medians = Vec::new();
    for lab in &course.labs {
        for step in &lab.steps {
            for check in &step.checks {
                if check.only == Some(TargetKind::Cluster) {
                    continue;
                }
                let quiet = quiet(&check.spec);
                let n = if quiet { runs } else { runs.min(3) };
                let mut samples = Vec::new();
                for _ in 0..n {
                    let result = rt.block_on(engine::run_check(&ctx, check));
                    samples.push(result.elapsed);
                }
                if quiet && let Some(s) = super::Stats::of(samples.clone()) {
                    per_check_medians.push(s.median);
                }
                by_kind
                    .entry((!quiet, check.spec.kind_name()))
                    .or_default()
                    .extend(samples);
            }
        }
    }
    writeln!(
        out,
        "\nchecks, by kind (every check of every lab, {runs} runs each; traffic kinds 3)"
    )?;
    for ((traffic, kind), samples) in by_kind {
        let target = if traffic {
            "(the lesson's own time)"
        } else {
            "< 100 ms"
        };
        write_row(out, kind, samples, ms, target)?;
    }
    write_row(
        out,
        "non-traffic check (median)",
        per_check_medians,
        ms,
        "< 100 ms",
    )?;

    // The TUI: from pressing `c` on a step to its checks running, for every step.
    let ctx = Arc::new(ctx);
    let progress_file = scratch.root.join("progress.json");
    let mut starts = Vec::new();
    for lab in &course.labs {
        for step in &lab.steps {
            let (progress, _) = ProgressStore::open(&progress_file);
            let options = meshwork_tui::Options {
                course: course.clone(),
                ctx: Arc::clone(&ctx),
                progress,
                open: Some(format!("{}/{}", lab.id, step.id)),
                notice: None,
            };
            if let Some(took) = rt.block_on(meshwork_tui::check_start_bench(options, 120, 40)) {
                starts.push(took);
            }
        }
    }
    write_row(
        out,
        "TUI: c → checks running",
        starts,
        us,
        "< 50 ms (every step once)",
    )?;
    Ok(())
}
