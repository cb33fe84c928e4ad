//! The learning flow's state machine: `a` and `r` with their confirmation, the run and the
//! checks after it, the completion window, the second-terminal line and `x` after `a`.

use super::super::testing::{TestApp, app, ch, fixture, key, result};
use super::*;
use crate::app::Screen;
use crate::event::Event;
use crossterm::event::KeyCode;
use meshwork_checks::Outcome;
use meshwork_checks::TargetKind;
use meshwork_checks::course::ManifestVerb;
use meshwork_checks::solve::preview::ObjectChange;

const LINE: &str = "cd /data/workshop && eval \"$(meshwork mesh env)\"";

fn workshop() -> Workshop {
    Workshop {
        runner: Runner::new(TargetKind::Cluster, "/data/workshop", None, None),
        second_terminal: LINE.to_string(),
    }
}

/// The app at `open`, able to apply and reset.
fn learning(open: &str) -> TestApp {
    let mut t = app(Some(open));
    t.app = t.app.with_workshop(workshop());
    t
}

/// Everything the window on top says.
fn window(app: &App) -> String {
    app.overlay
        .as_ref()
        .map(|o| {
            o.lines
                .iter()
                .map(|l| {
                    l.spans
                        .iter()
                        .map(|s| s.content.as_ref())
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn status(app: &App) -> String {
    app.status().map(|s| s.text.clone()).unwrap_or_default()
}

/// Presses `a` on a step whose solution is a manifest; returns the run's id.
fn ask_to_apply(t: &mut TestApp) -> u64 {
    match t.app.update(ch('a')) {
        Some(Action::Preview {
            id,
            manifests,
            verb,
        }) => {
            assert_eq!(manifests, ["manifests/labs/01/vs-all-v1.yaml"]);
            assert_eq!(verb, ManifestVerb::Apply);
            id
        }
        other => panic!("expected the manifest to be looked up, got {other:?}"),
    }
}

fn created(kind: &str, name: &str) -> ObjectChange {
    ObjectChange {
        kind: kind.into(),
        name: name.into(),
        namespace: Some("default".into()),
        change: Change::Create,
    }
}

#[test]
fn a_asks_first_showing_the_commands_and_what_each_object_becomes() {
    let mut t = learning("request-routing/all-v1");
    let id = ask_to_apply(&mut t);
    assert_eq!(t.app.overlay_kind(), Some(&OverlayKind::Solve));
    let text = window(&t.app);
    assert!(
        text.contains("1. kubectl apply -f manifests/labs/01/vs-all-v1.yaml"),
        "{text}"
    );
    assert!(text.contains(strings::PREVIEW_LOADING), "{text}");
    assert!(text.contains("[y] apply   [n] cancel"), "{text}");

    let update = ObjectChange {
        change: Change::Update {
            diff: "--- target now: VirtualService/reviews\n+++ after apply: VirtualService/reviews\n-        subset: v3\n+        subset: v1\n".into(),
        },
        ..created("VirtualService", "reviews")
    };
    t.app.update(Event::Previewed {
        id,
        previews: vec![ManifestPreview {
            path: "manifests/labs/01/vs-all-v1.yaml".into(),
            objects: Ok(vec![created("DestinationRule", "reviews"), update]),
        }],
    });
    let text = window(&t.app);
    assert!(!text.contains(strings::PREVIEW_LOADING), "{text}");
    assert!(
        text.contains("+ creates DestinationRule reviews in default"),
        "{text}"
    );
    assert!(
        text.contains("~ changes VirtualService reviews in default:"),
        "{text}"
    );
    assert!(text.contains("+        subset: v1"), "{text}");
    // A preview for an older question is not shown.
    t.app.update(Event::Previewed {
        id: id + 100,
        previews: Vec::new(),
    });
    assert!(window(&t.app).contains("creates DestinationRule"));
}

#[test]
fn cancelling_changes_nothing() {
    for no in [ch('n'), key(KeyCode::Esc)] {
        let mut t = learning("request-routing/all-v1");
        ask_to_apply(&mut t);
        assert!(t.app.update(no).is_none(), "cancelling runs nothing");
        assert_eq!(t.app.overlay_kind(), None);
        assert!(t.app.solve_state().is_none());
        assert_eq!(status(&t.app), strings::SOLVE_CANCELLED);
        // A stray key in the question does not apply either.
        ask_to_apply(&mut t);
        assert!(t.app.update(ch('x')).is_none());
        assert_eq!(t.app.solve_state().map(|s| &s.phase), Some(&Phase::Confirm));
    }
}

#[test]
fn yes_runs_the_solution_with_progress_then_checks_the_step_again() {
    let mut t = learning("request-routing/all-v1");
    let id = ask_to_apply(&mut t);
    let Some(Action::Solve { id: run, solution }) = t.app.update(ch('y')) else {
        panic!("y must run the solution");
    };
    assert_eq!(run, id);
    assert_eq!(solution.manifests, ["manifests/labs/01/vs-all-v1.yaml"]);
    t.app.update(Event::SolveProgress { id, index: 0 });
    let text = window(&t.app);
    assert!(text.contains("running 1 of 1…"), "{text}");
    // Keys that would start another run are refused while it runs.
    t.app.update(key(KeyCode::Esc));
    assert_eq!(t.app.overlay_kind(), None, "esc hides the window");
    assert!(t.app.update(ch('a')).is_none());
    assert_eq!(status(&t.app), strings::SOLVE_BUSY);

    let after = t.app.update(Event::Solved { id, result: Ok(()) });
    let Some(Action::RunChecks { run, checks }) = after else {
        panic!("the step's checks run again after the solution, got {after:?}");
    };
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].id, "vs");
    assert!(t.app.solve_state().is_none());
    assert_eq!(status(&t.app), strings::solved(false));
    t.app.update(Event::CheckResult {
        run,
        index: 0,
        result: result("VirtualService reviews exists", Outcome::Pass, ""),
    });
    assert!(t.app.progress().is_done("request-routing", "all-v1"));
}

#[test]
fn enter_also_confirms_and_a_failing_command_shows_its_output_and_checks_nothing() {
    let mut t = learning("request-routing/all-v1");
    let id = ask_to_apply(&mut t);
    assert!(matches!(
        t.app.update(key(KeyCode::Enter)),
        Some(Action::Solve { .. })
    ));
    t.app.update(Event::SolveProgress { id, index: 0 });
    t.app.update(key(KeyCode::Esc));
    let why = "`kubectl apply -f manifests/labs/01/vs-all-v1.yaml` failed (exit 1):\n\
               error: resource mapping not found for kind \"VirtualService\"";
    let after = t.app.update(Event::Solved {
        id,
        result: Err(why.into()),
    });
    assert!(after.is_none(), "nothing to check after a failure");
    assert_eq!(
        t.app.overlay_kind(),
        Some(&OverlayKind::Solve),
        "the hidden window comes back to show the failure"
    );
    let text = window(&t.app);
    assert!(text.contains("✘ kubectl apply -f"), "{text}");
    assert!(text.contains("It stopped here:"), "{text}");
    assert!(text.contains("resource mapping not found"), "{text}");
    assert!(t.app.status().is_some_and(|s| s.error));
    t.app.update(key(KeyCode::Esc));
    assert_eq!(t.app.overlay_kind(), None);
    assert!(t.app.solve_state().is_none());
}

#[test]
fn r_resets_after_asking_and_a_step_without_a_reset_says_so() {
    let mut t = learning("request-routing/all-v1");
    t.app
        .progress
        .mark_done("request-routing", "all-v1")
        .unwrap();
    assert!(
        t.app.update(ch('r')).is_none(),
        "a reset of commands has nothing to preview"
    );
    assert_eq!(
        t.app.overlay.as_ref().map(|o| o.kind.title(&t.app)),
        Some("Reset · All traffic to v1".to_string())
    );
    let text = window(&t.app);
    assert!(
        text.contains("1. kubectl delete -f manifests/labs/01/vs-all-v1.yaml --ignore-not-found"),
        "{text}"
    );
    assert!(text.contains("[y] reset   [n] cancel"), "{text}");
    let Some(Action::Solve { id, solution }) = t.app.update(ch('y')) else {
        panic!("y must run the reset");
    };
    assert!(solution.manifests.is_empty());
    assert!(matches!(
        t.app.update(Event::Solved { id, result: Ok(()) }),
        Some(Action::RunChecks { .. })
    ));
    assert_eq!(status(&t.app), strings::solved(true));
    assert!(
        !t.app.progress.is_done("request-routing", "all-v1"),
        "a reset step is not done any more"
    );

    let mut t = learning("request-routing/jason");
    assert!(t.app.update(ch('r')).is_none());
    assert_eq!(t.app.overlay_kind(), None);
    assert_eq!(status(&t.app), strings::NO_RESET);
}

#[test]
fn without_a_runner_a_says_why_and_a_solution_for_another_target_is_not_run() {
    let mut t = app(Some("request-routing/all-v1"));
    assert!(t.app.update(ch('a')).is_none());
    assert_eq!(status(&t.app), strings::SOLVE_UNAVAILABLE);

    // A solution whose only command is for the other target has nothing to run here.
    let mut t = learning("prerequisites/tools");
    let mut step = t.app.course.labs[0].steps[0].solution.clone();
    step.commands[0].cluster = None;
    t.app.course.labs[0].steps[0].solution = step;
    assert!(t.app.update(ch('a')).is_none());
    assert_eq!(
        status(&t.app),
        strings::nothing_to_run(false, TargetKind::Cluster)
    );
}

#[test]
fn the_second_terminal_line_opens_the_first_step_and_closes_the_others() {
    let mut t = learning("request-routing/all-v1");
    let Screen::Lab(view) = t.app.screen() else {
        panic!("lab screen");
    };
    assert_eq!(view.doc.commands[0].text, LINE);
    assert_eq!(view.doc.commands.len(), 2);
    // y copies it: the first thing to do in a lab.
    assert!(matches!(t.app.update(ch('y')), Some(Action::Copy(text)) if text == LINE));
    t.app.update(ch('n'));
    let Screen::Lab(view) = t.app.screen() else {
        panic!("lab screen");
    };
    let texts: Vec<&str> = view.doc.commands.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts.last(), Some(&LINE));
    assert_eq!(
        texts[0],
        "kubectl apply -f manifests/labs/01/reviews-jason.yaml"
    );
    let rendered: String = view
        .doc
        .lines
        .iter()
        .flat_map(|l| l.spans.iter().map(|s| s.content.to_string()))
        .collect();
    assert!(rendered.contains("In a second terminal"), "{rendered}");
}

/// Passes every check of the step on screen.
fn pass_step(t: &mut TestApp) {
    let Some(Action::RunChecks { run, checks }) = t.app.update(ch('c')) else {
        panic!("c must run the checks");
    };
    for (index, check) in checks.iter().enumerate() {
        t.app.update(Event::CheckResult {
            run,
            index,
            result: result(&check.title, Outcome::Pass, ""),
        });
    }
}

#[test]
fn finishing_a_lab_shows_what_was_learned_and_enter_opens_the_next_lab() {
    let mut f = fixture();
    f.progress.mark_done("prerequisites", "tools").unwrap();
    let mut t = f.app(Some("prerequisites/cluster"));
    pass_step(&mut t);
    assert_eq!(
        t.app.overlay_kind(),
        Some(&OverlayKind::Complete { lab: 0 })
    );
    let text = window(&t.app);
    for expected in [
        "You finished 00 Prerequisites",
        "What you learned",
        "Check that the tools and a cluster are ready",
        "✔ Tools on your PATH",
        "✔ A cluster to talk to",
        "You used: kubectl, docker",
        "What comes next",
        "01 Request routing",
        "Press enter to open it",
    ] {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    t.app.update(key(KeyCode::Enter));
    assert_eq!(t.app.overlay_kind(), None);
    let Screen::Lab(view) = t.app.screen() else {
        panic!("enter opens the next lab");
    };
    assert_eq!((view.lab, view.step), (1, 0));

    // Passing a step of a lab already complete does not show it again.
    let mut t = app(Some("prerequisites/tools"));
    t.app
        .progress
        .mark_done("prerequisites", "cluster")
        .unwrap();
    pass_step(&mut t);
    assert_eq!(
        t.app.overlay_kind(),
        Some(&OverlayKind::Complete { lab: 0 })
    );
    t.app.update(key(KeyCode::Esc));
    pass_step(&mut t);
    assert_eq!(t.app.overlay_kind(), None);
}

#[test]
fn the_last_lab_done_says_all_labs_are_done() {
    let mut f = fixture();
    f.progress.mark_done("prerequisites", "tools").unwrap();
    f.progress.mark_done("prerequisites", "cluster").unwrap();
    f.progress.mark_done("request-routing", "all-v1").unwrap();
    f.progress.mark_done("request-routing", "jason").unwrap();
    let mut t = f.app(Some("request-routing/split"));
    pass_step(&mut t);
    let text = window(&t.app);
    assert!(text.contains("What comes next"), "{text}");
    assert!(text.contains("All labs done"), "{text}");
    assert_eq!(t.app.next_lab(1), None);
    // Enter with nothing next only closes the window.
    t.app.update(key(KeyCode::Enter));
    assert_eq!(t.app.overlay_kind(), None);
}

#[test]
fn a_finished_labs_prerequisites_are_not_offered_next_even_if_never_checked() {
    // Prerequisites done outside meshwork (progress empty): finishing request-routing shows
    // they are in place, so going back to lab 00 is not what comes next.
    let mut f = fixture();
    f.progress.mark_done("request-routing", "all-v1").unwrap();
    f.progress.mark_done("request-routing", "jason").unwrap();
    let mut t = f.app(Some("request-routing/split"));
    pass_step(&mut t);
    assert_eq!(t.app.next_lab(1), None);
    // Lab 00 itself still leads on to request-routing.
    assert_eq!(t.app.next_lab(0), None, "request-routing is complete");
}

#[test]
fn a_failed_traffic_check_says_press_x_and_x_explains_after_a() {
    let mut t = learning("request-routing/split");
    let Some(Action::Solve { id, .. }) = ({
        t.app.update(ch('a'));
        t.app.update(ch('y'))
    }) else {
        panic!("a then y runs the solution");
    };
    let Some(Action::RunChecks { run, .. }) = t.app.update(Event::Solved { id, result: Ok(()) })
    else {
        panic!("checks run after the solution");
    };
    t.app.update(Event::CheckResult {
        run,
        index: 0,
        result: result("reviews splits 50/50", Outcome::Pass, ""),
    });
    t.app.update(Event::CheckResult {
        run,
        index: 1,
        result: result(
            "the product page answers",
            Outcome::Fail,
            "3 of 4 answered 503",
        ),
    });
    let pane: String = crate::app::checks::pane(&t.app, 80)
        .lines
        .iter()
        .map(|l| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(pane.contains("press x to see why"), "{pane}");
    assert_eq!(
        pane.matches("press x to see why").count(),
        1,
        "only under the traffic check"
    );
    assert!(matches!(
        t.app.update(ch('x')),
        Some(Action::Explain { .. })
    ));
    assert_eq!(t.app.overlay_kind(), Some(&OverlayKind::Explain));
}

#[tokio::test]
async fn the_runtime_reports_each_command_and_a_failures_output() {
    use meshwork_checks::course::Command as Cmd;
    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::new(TargetKind::Reference, dir.path(), None, None);
    let both = |line: &str| Cmd {
        note: None,
        cluster: Some(line.into()),
        reference: Some(line.into()),
    };
    let solution = Solution {
        commands: vec![
            both("touch first"),
            both("echo 'no such object' >&2; exit 3"),
            both("touch never"),
        ],
        ..Solution::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    crate::runtime::spawn_solve(runner, 7, solution, tx);
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(format!("{event:?}"));
    }
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        events[0].contains("SolveProgress { id: 7, index: 0 }"),
        "{events:?}"
    );
    assert!(
        events[1].contains("SolveProgress { id: 7, index: 1 }"),
        "{events:?}"
    );
    assert!(events[2].contains("exit 3"), "{events:?}");
    assert!(events[2].contains("no such object"), "{events:?}");
    assert!(dir.path().join("first").exists());
    assert!(!dir.path().join("never").exists());
}
