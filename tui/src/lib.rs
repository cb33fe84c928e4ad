//! meshwork-tui: the terminal UI a learner sees first.
//!
//! Elm style: one [`App`] state, one [`Event`] enum, [`App::update`] as the only way state
//! changes, and drawing as a read-only function of the state (`impl Widget for &App`).
//! Checks, target probes and the explain view's reading of the proxies' access logs run on
//! tokio tasks and come back as events; the UI never waits for them.
//!
//! - [`app`]: the state and `update` (with the step document, check runs, overlays and the
//!   explain view).
//! - [`event`]: [`Event`]s in, [`Action`]s out.
//! - [`keys`]: every key binding, in one function.
//! - [`view`]: drawing the screens.
//! - [`layout`]: where panes go, shared by drawing and `update`.
//! - [`markdown`]: step instructions rendered into styled, wrapped lines.
//! - [`runtime`]: the event loop (generic over the backend) and background tasks.
//! - [`terminal`]: raw mode, alternate screen, mouse capture and the panic hook.
//! - [`strings`], [`theme`], [`text`], [`clipboard`]: UI text, styles (`NO_COLOR`),
//!   wrapping, OSC 52.

// The test fixtures in tests/tui/support.rs are shared with the unit tests and name this
// crate's types as an outside crate would.
#[cfg(test)]
extern crate self as meshwork_tui;

pub mod app;
pub mod clipboard;
pub mod event;
pub mod keys;
pub mod layout;
pub mod markdown;
pub mod runtime;
pub mod strings;
pub mod terminal;
pub mod text;
pub mod theme;
pub mod view;

pub use app::App;
pub use app::solve::Workshop;
pub use app::targets::{Connect, Remember, Switched, TargetChoice, TargetSwitch};
pub use event::{Action, Event};
pub use theme::Theme;

use meshwork_checks::Course;
use meshwork_checks::check::Context;
use meshwork_checks::progress::ProgressStore;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::io::{self, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything the TUI needs from the binary.
pub struct Options {
    /// The labs.
    pub course: Course,
    /// Where checks look, and the course's files.
    pub ctx: Arc<Context>,
    /// The learner's progress on this target.
    pub progress: ProgressStore,
    /// `LAB` or `LAB/STEP` to open directly; otherwise the home screen with the last lab
    /// selected.
    pub open: Option<String>,
    /// A message to show once at start (e.g. the progress file was moved aside).
    pub notice: Option<String>,
}

/// Runs the TUI on the real terminal until the learner quits.
///
/// Call it from the runtime's main future: the UI's own work runs there, checks, target
/// probes and target switches on spawned tasks. With `switch`, key `t` switches targets; with
/// `workshop`, keys `a` and `r` apply and reset steps and the lab screen shows the
/// second-terminal line. `NO_COLOR` turns colours off.
pub async fn run(
    options: Options,
    switch: Option<TargetSwitch>,
    workshop: Option<Workshop>,
) -> io::Result<()> {
    terminal::UiScope::new(run_inner(options, switch, workshop)).await
}

async fn run_inner(
    options: Options,
    switch: Option<TargetSwitch>,
    workshop: Option<Workshop>,
) -> io::Result<()> {
    let theme = Theme::from_env();
    let mut session = terminal::enter()?;
    let result = async {
        let size = session.terminal.size()?;
        let mut app = App::new(options, size.width, size.height, theme);
        if let Some(switch) = switch {
            app = app.with_target_switch(switch);
        }
        if let Some(workshop) = workshop {
            app = app.with_workshop(workshop);
        }
        let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
        let mut tasks = runtime::Tasks::default();
        tasks.push(runtime::spawn_input(sender.clone()));
        tasks.push(runtime::spawn_ticker(sender.clone()));
        let mut copy = |text: &str| {
            let mut out = io::stdout();
            out.write_all(clipboard::osc52(text).as_bytes())?;
            out.flush()
        };
        runtime::event_loop(
            &mut session.terminal,
            &mut app,
            &mut events,
            &sender,
            &mut copy,
        )
        .await
    }
    .await;
    terminal::leave(session);
    result
}

/// How long from pressing `c` on the step `options.open` names until the task evaluating its
/// checks runs, through the same path as the real loop (the key's update, the task spawned,
/// the frame drawn); `None` when `open` names no step or the task never started.
///
/// For `meshwork bench`: nothing slow (connecting, reading files) may sit on this path; the
/// target is connected (and kept warm by the prober) before any key arrives.
pub async fn check_start_bench(options: Options, width: u16, height: u16) -> Option<Duration> {
    let mut app = App::new(options, width, height, Theme::from_env());
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    let _ = terminal.draw(|frame| frame.render_widget(&app, frame.area()));
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let c = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('c'),
        crossterm::event::KeyModifiers::NONE,
    );
    let start = Instant::now();
    let Some(Action::RunChecks { run, checks }) = app.update(Event::Key(c)) else {
        return None;
    };
    let _task = runtime::spawn_checks(app.context(), run, checks, sender);
    let _ = terminal.draw(|frame| frame.render_widget(&app, frame.area()));
    let started = async {
        while let Some(event) = events.recv().await {
            if matches!(event, Event::ChecksStarted { run: r } if r == run) {
                return Some(start.elapsed());
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .ok()
        .flatten()
}

/// Builds the app and draws its first frame on an in-memory terminal; returns the time taken.
///
/// For `meshwork bench`: this is what stands between starting the TUI and seeing it (the
/// target probe runs in the background and is not waited for).
pub fn first_frame_bench(options: Options, width: u16, height: u16) -> Duration {
    let start = Instant::now();
    let app = App::new(options, width, height, Theme::from_env());
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    let _ = terminal.draw(|frame| frame.render_widget(&app, frame.area()));
    start.elapsed()
}
