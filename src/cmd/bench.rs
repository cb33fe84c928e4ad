//! `meshwork bench`: figures for the performance targets of the foundation issue.
//!
//! It measures and prints; it asserts nothing. Targets: `meshwork --version` and
//! `meshwork labs` under 20 ms, loading and validating all content under 5 ms, the TUI's
//! first frame under 100 ms. With `--mesh` it measures the reference mesh instead (see
//! [`mesh`]); `--rotation` runs only the mesh's certificate rotation under load; `--labs` the
//! labs' checks on a scratch mesh ([`labs`]).

mod identity;
mod labs;
mod mesh;

use super::{CmdResult, Global, runtime};
use crate::content;
use anyhow::Context as _;
use meshwork_checks::check::Context;
use meshwork_checks::progress::ProgressStore;
use std::io::Write;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Minimum, median and maximum of some durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Fastest.
    pub min: Duration,
    /// Middle value (the mean of the two middle ones for an even count).
    pub median: Duration,
    /// Slowest.
    pub max: Duration,
}

impl Stats {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        samples.sort();
        let n = samples.len();
        let median = match n {
            0 => return None,
            n if n % 2 == 1 => samples[n / 2],
            n => (samples[n / 2 - 1] + samples[n / 2]) / 2,
        };
        Some(Self {
            min: samples[0],
            median,
            max: samples[n - 1],
        })
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1_000_000.0)
}

/// Runs each measurement `runs` times and prints min/median/max next to its target; with
/// `mesh`, the reference mesh's measurements instead; with `rotation`, only certificate
/// rotation under load (see [`mesh::rotation`]).
pub fn run(global: &Global, runs: u32, mesh: bool, rotation: bool, labs: bool) -> CmdResult {
    let exe = std::env::current_exe().context("failed to find meshwork's own executable")?;
    if labs {
        let mut out = std::io::stdout().lock();
        let content = content::open(global.content.as_deref())?;
        let course = content::course(&content)?;
        writeln!(
            out,
            "meshwork bench --labs: the labs' checks on a scratch reference mesh ({})",
            exe.display()
        )?;
        writeln!(
            out,
            "{:<28} {:>9} {:>9} {:>9}   target",
            "", "min", "median", "max"
        )?;
        labs::run(&mut out, &exe, runs, content, &course, &runtime()?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rotation {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "meshwork bench --rotation: one run ({})",
            exe.display()
        )?;
        mesh::rotation::run(&mut out, &exe)?;
        return Ok(ExitCode::SUCCESS);
    }
    if mesh {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "meshwork bench --mesh: mesh up {} times, bookinfo {} times, kubectl {} times ({})",
            runs.clamp(1, 5),
            runs.clamp(1, 3),
            runs.clamp(3, 15),
            exe.display()
        )?;
        writeln!(
            out,
            "{:<28} {:>9} {:>9} {:>9}   target",
            "", "min", "median", "max"
        )?;
        let rt = runtime()?;
        mesh::run(&mut out, &exe, runs, &rt)?;
        identity::run(&mut out, runs, &rt)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut pass_through: Vec<String> = Vec::new();
    if let Some(dir) = &global.content {
        pass_through.push("--content".into());
        pass_through.push(dir.display().to_string());
    }
    pass_through.push("--target".into());
    pass_through.push(global.target()?.to_string());

    let mut out = std::io::stdout().lock();
    writeln!(out, "meshwork bench: {runs} runs each ({})", exe.display())?;
    writeln!(
        out,
        "{:<28} {:>9} {:>9} {:>9}   target",
        "", "min", "median", "max"
    )?;

    let spawn = |args: &[String]| -> anyhow::Result<Duration> {
        let start = Instant::now();
        let status = std::process::Command::new(&exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("failed to run {} {}", exe.display(), args.join(" ")))?;
        let elapsed = start.elapsed();
        anyhow::ensure!(
            status.success(),
            "`meshwork {}` exited with {status}; run it by hand to see why",
            args.join(" ")
        );
        Ok(elapsed)
    };
    let version = vec!["--version".to_string()];
    let mut labs = pass_through.clone();
    labs.push("labs".into());
    for (name, args) in [("meshwork --version", &version), ("meshwork labs", &labs)] {
        let samples = (0..runs)
            .map(|_| spawn(args))
            .collect::<anyhow::Result<Vec<_>>>()?;
        write_row(&mut out, name, samples, ms, "< 20 ms")?;
    }

    let mut samples = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let content = content::open(global.content.as_deref())?;
        content::course(&content)?;
        samples.push(start.elapsed());
    }
    write_row(&mut out, "load + validate content", samples, us, "< 5 ms")?;
    let rt = runtime()?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        samples.push(first_frame(global, &rt)?);
    }
    write_row(&mut out, "TUI first frame (80x24)", samples, ms, "< 100 ms")?;
    writeln!(
        out,
        "\nThe first frame counts loading the content, opening progress, configuring the target\n\
         and drawing the home screen off-screen; the target's own answer is not waited for."
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Time from nothing to the TUI's first frame, as far as it can be measured off-screen.
fn first_frame(global: &Global, rt: &tokio::runtime::Runtime) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let content = content::open(global.content.as_deref())?;
    let course = content::course(&content)?;
    // Progress from a file that does not exist: reading a real one costs about the same and
    // a bench must not move a learner's file aside.
    let scratch = std::env::temp_dir().join(format!("meshwork-bench-{}", std::process::id()));
    let (progress, _) = ProgressStore::open(scratch.join("progress.json"));
    let spec = global.target()?;
    let _guard = rt.enter();
    // Configuring the target is measured; starting the reference mesh is not (it is `mesh up`'s).
    let target = rt.block_on(super::connect_target(&spec, false));
    let ctx = Arc::new(Context {
        target,
        content: Arc::new(content),
    });
    let options = meshwork_tui::Options {
        course,
        ctx,
        progress,
        open: None,
        notice: None,
    };
    meshwork_tui::first_frame_bench(options, 80, 24);
    Ok(start.elapsed())
}

fn write_row(
    out: &mut impl Write,
    name: &str,
    samples: Vec<Duration>,
    unit: fn(Duration) -> String,
    target: &str,
) -> std::io::Result<()> {
    match Stats::of(samples) {
        Some(s) => writeln!(
            out,
            "{name:<28} {:>9} {:>9} {:>9}   {target}",
            unit(s.min),
            unit(s.median),
            unit(s.max)
        ),
        None => writeln!(out, "{name:<28} (no samples)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_take_the_middle_of_sorted_samples() {
        let d = Duration::from_millis;
        let s = Stats::of(vec![d(9), d(1), d(5)]).unwrap();
        assert_eq!((s.min, s.median, s.max), (d(1), d(5), d(9)));
        let even = Stats::of(vec![d(4), d(1), d(2), d(10)]).unwrap();
        assert_eq!(even.median, Duration::from_millis(3));
        assert_eq!(Stats::of(Vec::new()), None);
    }
}
