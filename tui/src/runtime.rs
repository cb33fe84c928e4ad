//! The event loop: terminal input, ticks and background work in, frames and effects out.
//!
//! [`event_loop`] is generic over the ratatui backend so tests drive the whole app on a
//! `TestBackend` by sending [`Event`]s; [`crate::run`] wires it to the real terminal.

use crate::app::App;
use crate::app::targets::Connect;
use crate::event::{Action, Event};
use crate::strings;
use crate::terminal::panic_message;
use futures::StreamExt as _;
use meshwork_checks::TargetSpec;
use meshwork_checks::check::Context;
use meshwork_checks::course::Check;
use meshwork_checks::course::{ManifestVerb, Solution};
use meshwork_checks::engine::run_checks;
use meshwork_checks::explain::{self, Query};
use meshwork_checks::solve::Runner;
use meshwork_checks::solve::preview;
use meshwork_checks::target::{self, TargetStatus};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// How often [`Event::Tick`] arrives.
pub const TICK: Duration = Duration::from_millis(100);
/// How often the target is looked at again.
pub const PROBE_EVERY: Duration = Duration::from_secs(30);
/// How long one look at the target may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long reading the proxies' logs and configuration for the explain view may take.
pub const EXPLAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Background tasks started by the loop, stopped when it ends.
#[derive(Default)]
pub struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    /// Keeps a task to abort later.
    pub fn push(&mut self, task: JoinHandle<()>) {
        self.0.retain(|t| !t.is_finished());
        self.0.push(task);
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Runs the app until it quits or the event channel closes.
///
/// Draws the first frame before waiting for anything, then redraws after each batch of
/// events that changed something. `copy` carries out [`Action::Copy`].
pub async fn event_loop<B>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut UnboundedReceiver<Event>,
    sender: &UnboundedSender<Event>,
    copy: &mut dyn FnMut(&str) -> io::Result<()>,
) -> io::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let mut tasks = Tasks::default();
    let mut prober = Tasks::default();
    prober.push(spawn_prober(app.context(), sender.clone()));
    draw(terminal, app)?;
    while let Some(event) = events.recv().await {
        handle(app, event, sender, copy, &mut tasks, &mut prober)?;
        while !app.should_quit()
            && let Ok(event) = events.try_recv()
        {
            handle(app, event, sender, copy, &mut tasks, &mut prober)?;
        }
        if app.should_quit() {
            break;
        }
        if app.take_dirty() {
            draw(terminal, app)?;
        }
    }
    Ok(())
}

fn draw<B>(terminal: &mut Terminal<B>, app: &App) -> io::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .map_err(io::Error::other)?;
    Ok(())
}

fn handle(
    app: &mut App,
    event: Event,
    sender: &UnboundedSender<Event>,
    copy: &mut dyn FnMut(&str) -> io::Result<()>,
    tasks: &mut Tasks,
    prober: &mut Tasks,
) -> io::Result<()> {
    match app.update(event) {
        None | Some(Action::Quit) => Ok(()),
        Some(Action::Copy(text)) => copy(&text),
        Some(Action::RunChecks { run, checks }) => {
            tasks.push(spawn_checks(app.context(), run, checks, sender.clone()));
            Ok(())
        }
        Some(Action::SwitchTarget { id, spec }) => {
            if let Some(connect) = app.connector() {
                tasks.push(spawn_switch(&connect, id, spec, sender.clone()));
            }
            Ok(())
        }
        Some(Action::Explain { id, query }) => {
            tasks.push(spawn_explain(app.context(), id, query, sender.clone()));
            Ok(())
        }
        Some(Action::Preview {
            id,
            manifests,
            verb,
        }) => {
            tasks.push(spawn_preview(
                app.context(),
                id,
                manifests,
                verb,
                sender.clone(),
            ));
            Ok(())
        }
        Some(Action::Solve { id, solution }) => {
            match app.runner() {
                Some(runner) => tasks.push(spawn_solve(runner, id, solution, sender.clone())),
                None => {
                    let _ = sender.send(Event::Solved {
                        id,
                        result: Err(strings::SOLVE_UNAVAILABLE.to_string()),
                    });
                }
            }
            Ok(())
        }
        Some(Action::ProbeTarget) => {
            // The old target's prober stops mid-look: its answer would describe the wrong target.
            *prober = Tasks::default();
            prober.push(spawn_prober(app.context(), sender.clone()));
            Ok(())
        }
    }
}

/// Builds the target of a switch on a task and reports [`Event::TargetSwitched`], or
/// [`Event::SwitchFailed`] if building it crashed.
pub fn spawn_switch(
    connect: &Connect,
    id: u64,
    spec: TargetSpec,
    sender: UnboundedSender<Event>,
) -> JoinHandle<()> {
    let work = tokio::spawn(connect(spec.clone()));
    tokio::spawn(async move {
        let event = match work.await {
            Ok(switched) => Event::TargetSwitched {
                id,
                spec,
                switched: Box::new(switched),
            },
            Err(e) if e.is_panic() => Event::SwitchFailed {
                id,
                reason: format!("connecting crashed: {}", panic_message(&*e.into_panic())),
            },
            Err(_) => return,
        };
        let _ = sender.send(event);
    })
}

/// Runs checks on a task; each result comes back as [`Event::CheckResult`]. If the task
/// dies (a bug in a check), [`Event::ChecksStopped`] says so instead of a spinner forever.
pub fn spawn_checks(
    ctx: Arc<Context>,
    run: u64,
    checks: Vec<Check>,
    sender: UnboundedSender<Event>,
) -> JoinHandle<()> {
    let results = sender.clone();
    let work = tokio::spawn(async move {
        let _ = results.send(Event::ChecksStarted { run });
        let mut stream = std::pin::pin!(run_checks(ctx, checks));
        while let Some((index, result)) = stream.next().await {
            if results
                .send(Event::CheckResult { run, index, result })
                .is_err()
            {
                return;
            }
        }
    });
    tokio::spawn(async move {
        if let Err(e) = work.await
            && e.is_panic()
        {
            let reason = format!("a check crashed: {}", panic_message(&*e.into_panic()));
            let _ = sender.send(Event::ChecksStopped { run, reason });
        }
    })
}

/// Explains recent requests on a task (the same work as `meshwork explain`) and reports
/// [`Event::Explained`]: the report, or why there is none (the target cannot be asked, no
/// answer within [`EXPLAIN_TIMEOUT`], or the task crashed).
pub fn spawn_explain(
    ctx: Arc<Context>,
    id: u64,
    query: Query,
    sender: UnboundedSender<Event>,
) -> JoinHandle<()> {
    let kind = ctx.target.kind();
    let work = tokio::spawn(async move {
        tokio::time::timeout(EXPLAIN_TIMEOUT, explain::explain(&*ctx.target, &query)).await
    });
    tokio::spawn(async move {
        let result = match work.await {
            Ok(Ok(Ok(report))) => Ok(Box::new(report)),
            Ok(Ok(Err(e))) => Err(strings::explain_error(kind, &e.to_string())),
            Ok(Err(_)) => Err(format!(
                "the proxies gave no answer within {} seconds",
                EXPLAIN_TIMEOUT.as_secs()
            )),
            Err(e) if e.is_panic() => Err(format!(
                "reading the access logs crashed: {}",
                panic_message(&*e.into_panic())
            )),
            Err(_) => return,
        };
        let _ = sender.send(Event::Explained { id, result });
    })
}

/// How long looking up what a solution's manifests change may take.
pub const PREVIEW_TIMEOUT: Duration = Duration::from_secs(20);

/// Looks up what applying `manifests` changes on a task and reports [`Event::Previewed`]
/// (an object the target did not answer about in time, or a crash, says so in the preview).
pub fn spawn_preview(
    ctx: Arc<Context>,
    id: u64,
    manifests: Vec<String>,
    verb: ManifestVerb,
    sender: UnboundedSender<Event>,
) -> JoinHandle<()> {
    let paths = manifests.clone();
    let work = tokio::spawn(async move {
        tokio::time::timeout(
            PREVIEW_TIMEOUT,
            preview::preview(&*ctx.target, &ctx.content, &paths, verb),
        )
        .await
    });
    tokio::spawn(async move {
        let failed = |why: String| {
            manifests
                .iter()
                .map(|path| preview::ManifestPreview {
                    path: path.clone(),
                    objects: Err(why.clone()),
                })
                .collect()
        };
        let previews = match work.await {
            Ok(Ok(previews)) => previews,
            Ok(Err(_)) => failed(format!(
                "the target gave no answer within {} seconds",
                PREVIEW_TIMEOUT.as_secs()
            )),
            Err(e) if e.is_panic() => failed(format!(
                "looking at the target crashed: {}",
                panic_message(&*e.into_panic())
            )),
            Err(_) => return,
        };
        let _ = sender.send(Event::Previewed { id, previews });
    })
}

/// Carries out a solution on a task: [`Event::SolveProgress`] as each command starts, then
/// [`Event::Solved`] (a failure carries the command and the end of its output).
pub fn spawn_solve(
    runner: Runner,
    id: u64,
    solution: Solution,
    sender: UnboundedSender<Event>,
) -> JoinHandle<()> {
    let progress = sender.clone();
    let work = tokio::spawn(async move {
        let mut index = 0;
        let result = runner
            .run(&solution, |_| {
                let _ = progress.send(Event::SolveProgress { id, index });
                index += 1;
            })
            .await;
        result.map(|_| ()).map_err(|e| e.to_string())
    });
    tokio::spawn(async move {
        let result = match work.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(format!(
                "running the solution crashed: {}",
                panic_message(&*e.into_panic())
            )),
            Err(_) => return,
        };
        let _ = sender.send(Event::Solved { id, result });
    })
}

/// Looks at the target now and every [`PROBE_EVERY`], reporting [`Event::TargetStatus`].
pub fn spawn_prober(ctx: Arc<Context>, sender: UnboundedSender<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let probe_ctx = Arc::clone(&ctx);
            let look = tokio::spawn(async move {
                tokio::time::timeout(PROBE_TIMEOUT, target::probe(&*probe_ctx.target)).await
            });
            let status = match look.await {
                Ok(Ok(status)) => status,
                Ok(Err(_)) => TargetStatus::Unreachable(format!(
                    "no answer within {} seconds",
                    PROBE_TIMEOUT.as_secs()
                )),
                Err(e) if e.is_panic() => TargetStatus::Unreachable(format!(
                    "looking at the target crashed: {}",
                    panic_message(&*e.into_panic())
                )),
                Err(_) => return,
            };
            if sender.send(Event::TargetStatus(status)).is_err() {
                return;
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    })
}

/// Sends [`Event::Tick`] every [`TICK`].
pub fn spawn_ticker(sender: UnboundedSender<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if sender.send(Event::Tick).is_err() {
                return;
            }
        }
    })
}

/// Forwards terminal input as events; reports [`Event::InputClosed`] when it ends.
pub fn spawn_input(sender: UnboundedSender<Event>) -> JoinHandle<()> {
    use crossterm::event::{Event as Term, EventStream};
    tokio::spawn(async move {
        let mut input = EventStream::new();
        while let Some(next) = input.next().await {
            let event = match next {
                Ok(Term::Key(key)) => Event::Key(key),
                Ok(Term::Mouse(mouse)) => Event::Mouse(mouse),
                Ok(Term::Resize(w, h)) => Event::Resize(w, h),
                Ok(_) => continue,
                Err(_) => break,
            };
            if sender.send(event).is_err() {
                return;
            }
        }
        let _ = sender.send(Event::InputClosed);
    })
}
