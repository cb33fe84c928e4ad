//! State transitions, without rendering.

use super::testing::{DIFF, app, ch, fixture, key, result};
use super::*;
use crate::Options;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent};
use meshwork_checks::Outcome;
use meshwork_checks::progress::ProgressStore;

fn at(app: &App) -> (usize, usize) {
    match app.screen() {
        Screen::Lab(v) => (v.lab, v.step),
        Screen::Home => panic!("expected the lab screen"),
    }
}

fn view(app: &App) -> &LabView {
    match app.screen() {
        Screen::Lab(v) => v,
        Screen::Home => panic!("expected the lab screen"),
    }
}

/// Presses `c` and returns the run id and the number of checks.
fn start_checks(app: &mut App) -> (u64, usize) {
    match app.update(ch('c')) {
        Some(Action::RunChecks { run, checks }) => (run, checks.len()),
        other => panic!("expected checks to start, got {other:?}"),
    }
}

#[test]
fn home_selects_the_last_lab_and_enter_resumes_at_the_first_step_not_done() {
    let mut f = fixture();
    f.progress.mark_done("request-routing", "all-v1").unwrap();
    f.progress.set_last("request-routing", "all-v1").unwrap();
    f.progress.set_last("prerequisites", "tools").unwrap();
    f.progress.set_last("request-routing", "all-v1").unwrap();
    let mut t = f.app(None);
    assert!(matches!(t.app.screen(), Screen::Home));
    assert_eq!(t.app.home_selected, 1);
    // The remembered step wins over the first not done.
    t.app.update(key(KeyCode::Enter));
    assert_eq!(at(&t.app), (1, 0));
    t.app.update(key(KeyCode::Esc));
    t.app.update(ch('k'));
    assert_eq!(t.app.home_selected, 0);
    t.app.update(ch('k'));
    assert_eq!(t.app.home_selected, 0, "the selection stops at the top");
    t.app.update(ch('G'));
    assert_eq!(t.app.home_selected, 1);
}

#[test]
fn a_lab_without_a_remembered_step_opens_at_its_first_step_not_done() {
    let mut f = fixture();
    f.progress.mark_done("request-routing", "all-v1").unwrap();
    let mut t = f.app(None);
    t.app.update(ch('j'));
    t.app.update(key(KeyCode::Enter));
    assert_eq!(at(&t.app), (1, 1));
}

#[test]
fn open_goes_straight_to_a_step_and_a_bad_name_says_what_exists() {
    let t = app(Some("request-routing/jason"));
    assert_eq!(at(&t.app), (1, 1));
    assert_eq!(
        t.app.progress().data().last,
        Some(("request-routing".into(), "jason".into()))
    );
    let t = app(Some("1/3"));
    assert_eq!(at(&t.app), (1, 2));
    let t = app(Some("routing"));
    assert!(matches!(t.app.screen(), Screen::Home));
    let status = t.app.status().unwrap();
    assert!(status.error);
    assert!(
        status.text.contains("no lab called `routing`"),
        "{}",
        status.text
    );
    assert!(
        status.text.contains("01 request-routing"),
        "{}",
        status.text
    );
}

#[test]
fn n_and_p_move_between_steps_and_stop_at_the_ends() {
    let mut t = app(Some("request-routing"));
    assert_eq!(at(&t.app), (1, 0));
    t.app.update(ch('p'));
    assert_eq!(at(&t.app), (1, 0));
    t.app.update(ch('n'));
    t.app.update(ch('n'));
    t.app.update(ch('n'));
    assert_eq!(at(&t.app), (1, 2));
    t.app.update(ch('p'));
    assert_eq!(at(&t.app), (1, 1));
}

#[test]
fn moving_between_steps_remembers_the_place_on_disk() {
    let mut t = app(Some("request-routing"));
    t.app.update(ch('n'));
    // Saved at once: a terminal window closed without quitting keeps the place.
    let (again, _) = ProgressStore::open(t.app.progress().path());
    assert_eq!(
        again.data().last,
        Some(("request-routing".into(), "jason".into()))
    );
    t.app.update(ch('q'));
    assert!(matches!(t.app.screen(), Screen::Home));
    assert_eq!(t.app.home_selected, 1);
}

#[test]
fn focus_cycles_and_arrows_act_on_the_focused_pane() {
    let mut t = app(Some("request-routing/jason"));
    assert_eq!(view(&t.app).focus, Focus::Instructions);
    t.app.update(key(KeyCode::Down));
    assert_eq!(view(&t.app).scroll, 1, "down scrolls the instructions");
    assert_eq!(at(&t.app), (1, 1));
    t.app.update(key(KeyCode::BackTab));
    assert_eq!(view(&t.app).focus, Focus::Steps);
    t.app.update(key(KeyCode::Down));
    assert_eq!(at(&t.app), (1, 2), "down moves to the next step");
    assert_eq!(view(&t.app).scroll, 0, "a new step starts at the top");
    t.app.update(key(KeyCode::Left));
    assert_eq!(view(&t.app).focus, Focus::Checks);
    t.app.update(key(KeyCode::Tab));
    assert_eq!(view(&t.app).focus, Focus::Steps);
}

#[test]
fn scrolling_stops_at_the_end_of_the_instructions() {
    let mut t = app(Some("request-routing/jason"));
    for _ in 0..20 {
        t.app.update(key(KeyCode::PageDown));
    }
    let height = t.app.instructions_height();
    let v = view(&t.app);
    assert!(
        v.doc.lines.len() > height,
        "the fixture step is longer than the pane"
    );
    assert_eq!(v.scroll, v.doc.lines.len() - height);
    t.app.update(ch('g'));
    assert_eq!(view(&t.app).scroll, 0);
}

#[test]
fn checks_run_report_and_mark_the_step_done_when_all_pass() {
    let mut t = app(Some("prerequisites/tools"));
    let (run, n) = start_checks(&mut t.app);
    assert_eq!(n, 1);
    assert!(t.app.checks[&(0, 0)].is_running());
    t.app.update(Event::CheckResult {
        run,
        index: 0,
        result: result("kubectl is installed", Outcome::Pass, "kubectl 1.32.4"),
    });
    let checks = &t.app.checks[&(0, 0)];
    assert_eq!(
        checks.verdict,
        Some(checks::Verdict::Passed { last_step: false })
    );
    assert!(t.app.progress().is_done("prerequisites", "tools"));
    let (again, _) = ProgressStore::open(t.app.progress().path());
    assert!(again.is_done("prerequisites", "tools"), "done is saved");
    assert_eq!(t.app.status().unwrap().text, strings::step_saved(false));
}

#[test]
fn failures_are_counted_the_first_one_selected_and_the_step_not_done() {
    let mut t = app(Some("request-routing/jason"));
    let (run, n) = start_checks(&mut t.app);
    assert_eq!(n, 3);
    assert_eq!(
        t.app.update(ch('c')).map(|_| ()),
        None,
        "no second run while one is going"
    );
    assert_eq!(
        t.app.status().unwrap().text,
        strings::CHECKS_ALREADY_RUNNING
    );
    t.app.update(Event::CheckResult {
        run,
        index: 2,
        result: result("pods", Outcome::Error, "no cluster"),
    });
    t.app.update(Event::CheckResult {
        run,
        index: 0,
        result: result("vs", Outcome::Pass, "found"),
    });
    assert!(t.app.checks[&(1, 1)].is_running());
    t.app.update(Event::CheckResult {
        run,
        index: 1,
        result: result("jason", Outcome::Fail, "saw v1"),
    });
    let checks = &t.app.checks[&(1, 1)];
    assert_eq!(
        checks.verdict,
        Some(checks::Verdict::Failed {
            failed: 1,
            errors: 1,
            total: 3
        })
    );
    assert_eq!(view(&t.app).check, 1, "the first problem is selected");
    assert!(!t.app.progress().is_done("request-routing", "jason"));
}

#[test]
fn results_of_an_older_run_are_ignored() {
    let mut t = app(Some("prerequisites/tools"));
    let (first, _) = start_checks(&mut t.app);
    t.app.update(Event::ChecksStopped {
        run: first,
        reason: "a check crashed: boom".into(),
    });
    let slot = &t.app.checks[&(0, 0)].slots[0];
    let lost = slot.result.as_ref().unwrap();
    assert_eq!(lost.outcome, Outcome::Error);
    assert!(
        lost.message.contains("a check crashed: boom"),
        "{}",
        lost.message
    );
    let (second, _) = start_checks(&mut t.app);
    assert_ne!(first, second);
    t.app.update(Event::CheckResult {
        run: first,
        index: 0,
        result: result("old", Outcome::Pass, ""),
    });
    assert!(
        t.app.checks[&(0, 0)].is_running(),
        "a stale result does not finish the new run"
    );
}

#[test]
fn a_progress_file_that_cannot_be_written_is_reported_not_fatal() {
    let f = fixture();
    let blocker = f.dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let (progress, _) = ProgressStore::open(blocker.join("cluster.json"));
    let options = Options {
        course: f.course,
        ctx: f.ctx,
        progress,
        open: Some("0/1".into()),
        notice: None,
    };
    let mut app = App::new(options, 100, 30, Theme::new(true));
    let (run, _) = start_checks(&mut app);
    app.update(Event::CheckResult {
        run,
        index: 0,
        result: result("kubectl", Outcome::Pass, "ok"),
    });
    let status = app.status().unwrap();
    assert!(status.error);
    assert!(
        status
            .text
            .starts_with("progress not saved: cannot save progress"),
        "{}",
        status.text
    );
    assert_eq!(
        app.checks[&(0, 0)].verdict,
        Some(checks::Verdict::Passed { last_step: false })
    );
}

#[test]
fn hints_are_revealed_one_at_a_time_and_remembered() {
    let mut t = app(Some("request-routing/jason"));
    for n in 1..=3 {
        t.app.update(ch('h'));
        assert_eq!(
            t.app.progress().hints_revealed("request-routing", "jason"),
            n
        );
    }
    t.app.update(ch('h'));
    assert_eq!(
        t.app.progress().hints_revealed("request-routing", "jason"),
        3
    );
    assert!(
        t.app
            .status()
            .unwrap()
            .text
            .contains("All 3 hints are shown")
    );
    let pane = checks::pane(&t.app, 80);
    let text: Vec<String> = pane.lines.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|l| l.starts_with("hint 1/3: Requests carry")),
        "{text:?}"
    );
    assert!(text.iter().any(|l| l.starts_with("hint 3/3: ")), "{text:?}");
    let (again, _) = ProgressStore::open(t.app.progress().path());
    assert_eq!(again.hints_revealed("request-routing", "jason"), 3);

    let mut t = app(Some("request-routing/all-v1"));
    t.app.update(ch('h'));
    assert_eq!(t.app.status().unwrap().text, strings::NO_HINTS);
}

#[test]
fn d_opens_the_diff_of_a_failed_check_or_says_there_is_none() {
    let mut t = app(Some("request-routing/jason"));
    t.app.update(ch('d'));
    assert_eq!(t.app.status().unwrap().text, strings::NO_DIFF);
    let (run, _) = start_checks(&mut t.app);
    let mut failed = result("jason is routed to v2", Outcome::Fail, "subset is v3");
    failed.diff = Some(DIFF.into());
    t.app.update(Event::CheckResult {
        run,
        index: 0,
        result: result("vs", Outcome::Pass, ""),
    });
    t.app.update(Event::CheckResult {
        run,
        index: 1,
        result: failed,
    });
    t.app.update(Event::CheckResult {
        run,
        index: 2,
        result: result("pods", Outcome::Pass, ""),
    });
    t.app.update(ch('d'));
    match t.app.overlay_kind() {
        Some(OverlayKind::Diff { title, diff }) => {
            assert_eq!(title, "jason is routed to v2");
            assert_eq!(diff, DIFF);
        }
        other => panic!("expected the diff, got {other:?}"),
    }
    let o = t.app.overlay.as_ref().unwrap();
    let added = o
        .lines
        .iter()
        .find(|l| l.to_string().starts_with("+  - match"))
        .unwrap();
    assert_eq!(added.spans[0].style, t.app.theme.diff_add);
    t.app.update(key(KeyCode::Esc));
    assert!(t.app.overlay_kind().is_none());
    assert!(
        matches!(t.app.screen(), Screen::Lab(_)),
        "esc closes the window, not the lab"
    );
}

#[test]
fn y_copies_the_selected_command_for_this_target() {
    let mut t = app(Some("request-routing/jason"));
    match t.app.update(ch('y')) {
        Some(Action::Copy(text)) => {
            assert_eq!(
                text,
                "kubectl apply -f manifests/labs/01/reviews-jason.yaml"
            );
        }
        other => panic!("expected a copy, got {other:?}"),
    }
    assert!(
        t.app
            .status()
            .unwrap()
            .text
            .starts_with("copied to the clipboard")
    );
    t.app.update(ch(']'));
    t.app.update(ch(']'));
    match t.app.update(ch('y')) {
        Some(Action::Copy(text)) => assert_eq!(text, "kubectl get virtualservice reviews -o yaml"),
        other => panic!("expected a copy, got {other:?}"),
    }
    let v = view(&t.app);
    let selected = &v.doc.lines[v.doc.commands[1].lines.start];
    assert!(
        selected.to_string().contains(strings::COPY_HINT),
        "the selected box says how to copy"
    );

    let mut t = app(Some("request-routing/split"));
    assert!(t.app.update(ch('y')).is_none());
    assert_eq!(t.app.status().unwrap().text, strings::NOTHING_TO_COPY);
}

#[test]
fn the_solution_shows_manifests_and_copies_its_commands() {
    let mut t = app(Some("request-routing/jason"));
    t.app.update(ch('s'));
    assert_eq!(t.app.overlay_kind(), Some(&OverlayKind::Solution));
    let text: Vec<String> = t
        .app
        .overlay
        .as_ref()
        .unwrap()
        .lines
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        text[0].starts_with("The first matching rule wins"),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("manifests/labs/01/reviews-jason.yaml"))
    );
    assert!(
        text.iter().any(|l| l.contains("end-user: {exact: jason}")),
        "the manifest is shown"
    );
    match t.app.update(ch('y')) {
        Some(Action::Copy(text)) => assert_eq!(
            text,
            "kubectl apply -f manifests/labs/01/reviews-jason.yaml"
        ),
        other => panic!("expected a copy, got {other:?}"),
    }
}

#[test]
fn help_toggles_overlays_close_and_ctrl_c_quits_from_anywhere() {
    let mut t = app(None);
    t.app.update(ch('?'));
    assert_eq!(t.app.overlay_kind(), Some(&OverlayKind::Help));
    t.app.update(ch('?'));
    assert_eq!(t.app.overlay_kind(), None);
    t.app.update(ch('?'));
    t.app.update(ch('q'));
    assert_eq!(t.app.overlay_kind(), None);
    assert!(!t.app.should_quit(), "q closes the help, it does not quit");
    t.app.update(key(KeyCode::Enter));
    t.app.update(ch('s'));
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(matches!(t.app.update(ctrl_c), Some(Action::Quit)));
    assert!(t.app.should_quit());
}

#[test]
fn q_on_home_quits() {
    let mut t = app(None);
    assert!(matches!(t.app.update(ch('q')), Some(Action::Quit)));
}

#[test]
fn a_notice_is_shown_first_and_any_key_dismisses_it_without_acting() {
    let f = fixture();
    let options = Options {
        course: f.course,
        ctx: f.ctx,
        progress: f.progress,
        open: None,
        notice: Some("progress file was moved aside".into()),
    };
    let mut app = App::new(options, 100, 30, Theme::new(true));
    assert!(matches!(app.overlay_kind(), Some(OverlayKind::Notice(_))));
    assert!(app.update(ch('q')).is_none());
    assert!(!app.should_quit());
    assert_eq!(app.overlay_kind(), None);
}

#[test]
fn resizing_lays_the_instructions_out_again() {
    let mut t = app(Some("request-routing/jason"));
    let wide = view(&t.app).doc.lines.len();
    t.app.update(Event::Resize(50, 20));
    let v = view(&t.app);
    assert!(v.doc.lines.len() > wide, "narrower means more rows");
    let width = usize::from(layout::padded_inner(t.app.lab_layout().instructions).width);
    assert!(v.doc.lines.iter().all(|l| l.width() <= width));
}

#[test]
fn the_mouse_scrolls_the_pane_under_it_and_clicks_select_steps() {
    let mut t = app(Some("request-routing/jason"));
    let l = t.app.lab_layout();
    let inst = l.instructions;
    let wheel = |kind, x, y| {
        Event::Mouse(MouseEvent {
            kind,
            column: x,
            row: y,
            modifiers: KeyModifiers::NONE,
        })
    };
    t.app
        .update(wheel(MouseEventKind::ScrollDown, inst.x + 5, inst.y + 3));
    assert_eq!(view(&t.app).scroll, WHEEL_ROWS);
    let steps = l.steps.unwrap();
    // Row 1 inside the border is step 1.
    t.app.update(wheel(
        MouseEventKind::Down(MouseButton::Left),
        steps.x + 3,
        steps.y + 1,
    ));
    assert_eq!(at(&t.app), (1, 0));
    assert_eq!(view(&t.app).focus, Focus::Steps);
}

#[test]
fn status_messages_expire_after_a_while() {
    let mut t = app(Some("request-routing/split"));
    t.app.update(ch('y'));
    assert!(t.app.status().is_some());
    for _ in 0..=INFO_TICKS {
        t.app.update(Event::Tick);
    }
    assert!(t.app.status().is_none());
}

#[test]
fn the_input_closing_quits() {
    let mut t = app(None);
    assert!(matches!(
        t.app.update(Event::InputClosed),
        Some(Action::Quit)
    ));
}

mod target_switch {
    use super::*;
    use crate::app::targets::Switched;
    use crate::app::testing::{FakeTarget, Remembered};
    use crate::keys::KeyContext;
    use meshwork_checks::{TargetKind, TargetSpec};

    fn alpha() -> TargetSpec {
        TargetSpec::Cluster {
            context: Some("kind-meshwork".into()),
        }
    }

    fn prod() -> TargetSpec {
        TargetSpec::Cluster {
            context: Some("prod".into()),
        }
    }

    fn on_alpha(open: Option<&str>) -> (TestApp, Remembered) {
        fixture().app_with_switch(open, alpha())
    }

    use crate::app::testing::TestApp;

    fn picker_selection(app: &App) -> usize {
        match app.overlay_kind() {
            Some(OverlayKind::Targets { selected }) => *selected,
            other => panic!("expected the target picker, got {other:?}"),
        }
    }

    fn switch_to(app: &mut App) -> (u64, TargetSpec) {
        match app.update(key(KeyCode::Enter)) {
            Some(Action::SwitchTarget { id, spec }) => (id, spec),
            other => panic!("expected a switch, got {other:?}"),
        }
    }

    /// What the runtime would send back for a switch: a fake target and progress in `dir`.
    fn switched(spec: &TargetSpec, dir: &std::path::Path) -> Switched {
        let (progress, notice) = ProgressStore::open(dir.join(format!("{}.json", spec.key())));
        Switched {
            target: Arc::new(FakeTarget::new(spec.kind(), &format!("fake {spec}"))),
            progress,
            notice,
            workshop: None,
        }
    }

    #[test]
    fn t_opens_the_picker_on_the_target_in_use_and_esc_closes_it() {
        let (mut t, _) = on_alpha(None);
        t.app.update(ch('t'));
        assert_eq!(picker_selection(&t.app), 1, "kind-meshwork is in use");
        assert_eq!(t.app.key_context(), KeyContext::Picker);
        t.app.update(ch('j'));
        assert_eq!(picker_selection(&t.app), 2);
        t.app.update(ch('j'));
        assert_eq!(
            picker_selection(&t.app),
            2,
            "the selection stops at the end"
        );
        t.app.update(ch('g'));
        assert_eq!(picker_selection(&t.app), 0);
        t.app.update(key(KeyCode::Esc));
        assert_eq!(t.app.overlay_kind(), None);
        assert!(
            matches!(t.app.screen(), Screen::Home),
            "esc only closed the picker"
        );
    }

    #[test]
    fn a_bare_cluster_target_marks_the_kubeconfigs_current_context() {
        let (mut t, _) = fixture().app_with_switch(None, TargetSpec::Cluster { context: None });
        t.app.update(ch('t'));
        assert_eq!(picker_selection(&t.app), 1);
    }

    #[test]
    fn the_picker_opens_on_the_lab_screen_too_and_the_lab_stays() {
        let (mut t, _) = on_alpha(Some("request-routing/jason"));
        t.app.update(ch('t'));
        assert_eq!(picker_selection(&t.app), 1);
        t.app.update(ch('q'));
        assert_eq!(t.app.overlay_kind(), None);
        assert_eq!(at(&t.app), (1, 1));
    }

    #[test]
    fn choosing_a_cluster_asks_first_and_cancel_goes_back_to_the_picker() {
        let (mut t, remembered) = on_alpha(None);
        t.app.update(ch('t'));
        t.app.update(ch('j'));
        assert!(t.app.update(key(KeyCode::Enter)).is_none(), "no switch yet");
        assert_eq!(
            t.app.overlay_kind(),
            Some(&OverlayKind::ConfirmTarget { choice: 2 })
        );
        // Keys that are not an answer do nothing.
        assert!(t.app.update(ch('x')).is_none());
        assert!(t.app.update(ch('n')).is_none());
        assert_eq!(picker_selection(&t.app), 2, "back on the same choice");
        t.app.update(key(KeyCode::Esc));
        assert_eq!(t.app.overlay_kind(), None);
        assert!(t.app.switching().is_none());
        assert!(remembered.lock().unwrap().is_empty());
        assert_eq!(t.app.target_spec(), Some(&alpha()));
    }

    #[test]
    fn confirming_a_cluster_switches_in_the_background_and_checks_wait() {
        let (mut t, _) = on_alpha(Some("request-routing/jason"));
        t.app.update(ch('t'));
        t.app.update(ch('j'));
        t.app.update(key(KeyCode::Enter));
        let action = t.app.update(ch('y'));
        let Some(Action::SwitchTarget { spec, .. }) = action else {
            panic!("expected a switch, got {action:?}");
        };
        assert_eq!(spec, prod());
        assert_eq!(t.app.overlay_kind(), None);
        assert_eq!(t.app.switching().map(|s| &s.spec), Some(&prod()));
        // Until the new target is in, checks would run on the old one: they wait.
        assert!(t.app.update(ch('c')).is_none());
        assert_eq!(
            t.app.status().unwrap().text,
            strings::CHECKS_WAIT_FOR_SWITCH
        );
        // The target in use is still the old one.
        assert_eq!(t.app.target_spec(), Some(&alpha()));
        assert_eq!(t.app.kind(), TargetKind::Cluster);
    }

    #[test]
    fn choosing_the_reference_mesh_needs_no_confirmation() {
        let (mut t, _) = on_alpha(None);
        t.app.update(ch('t'));
        t.app.update(ch('k'));
        let (_, spec) = switch_to(&mut t.app);
        assert_eq!(spec, TargetSpec::Reference);
    }

    #[test]
    fn choosing_the_target_in_use_does_nothing_but_say_so() {
        let (mut t, _) = on_alpha(None);
        t.app.update(ch('t'));
        assert!(t.app.update(key(KeyCode::Enter)).is_none());
        assert_eq!(t.app.overlay_kind(), None);
        assert!(t.app.switching().is_none());
        assert_eq!(
            t.app.status().unwrap().text,
            "Already on cluster: kind-meshwork."
        );
    }

    #[test]
    fn a_switch_swaps_target_and_progress_clears_results_and_is_remembered() {
        let (mut t, remembered) = on_alpha(Some("request-routing/jason"));
        t.app
            .progress
            .mark_done("request-routing", "all-v1")
            .unwrap();
        let (run, _) = start_checks(&mut t.app);
        t.app.update(Event::CheckResult {
            run,
            index: 0,
            result: result("VirtualService reviews exists", Outcome::Pass, "found"),
        });
        t.app.update(Event::TargetStatus(TargetStatus::Unreachable(
            "down".into(),
        )));
        assert!(!t.app.checks.is_empty());

        t.app.update(ch('t'));
        t.app.update(ch('k'));
        let (id, spec) = switch_to(&mut t.app);
        let other = tempfile::tempdir().unwrap();
        let action = t.app.update(Event::TargetSwitched {
            id,
            spec: spec.clone(),
            switched: Box::new(switched(&spec, other.path())),
        });
        assert!(matches!(action, Some(Action::ProbeTarget)), "{action:?}");
        assert_eq!(t.app.kind(), TargetKind::Reference);
        assert_eq!(t.app.ctx.target.describe(), "fake reference");
        assert_eq!(t.app.target_spec(), Some(&TargetSpec::Reference));
        assert!(t.app.switching().is_none());
        assert_eq!(
            t.app.target, None,
            "the header looks at the new target again"
        );
        assert!(
            t.app.checks.is_empty(),
            "results of the old target are gone"
        );
        assert_eq!(
            t.app.progress().path(),
            other.path().join("reference.json"),
            "progress is per target"
        );
        assert!(!t.app.progress().is_done("request-routing", "all-v1"));
        assert_eq!(*remembered.lock().unwrap(), vec![TargetSpec::Reference]);
        assert_eq!(at(&t.app), (1, 1), "the learner stays on the step");
        assert_eq!(
            t.app.progress().data().last,
            Some(("request-routing".into(), "jason".into())),
            "the place is kept on the new target"
        );
        assert!(t.app.status().unwrap().text.starts_with("Now on reference"));

        // A late result of the old target's run is dropped.
        t.app.update(Event::CheckResult {
            run,
            index: 1,
            result: result("jason is routed to v2", Outcome::Fail, "old"),
        });
        assert!(t.app.checks.is_empty());
    }

    #[test]
    fn only_the_latest_switch_counts() {
        let (mut t, remembered) = on_alpha(None);
        t.app.update(ch('t'));
        t.app.update(ch('k'));
        let (first, reference) = switch_to(&mut t.app);
        t.app.update(ch('t'));
        t.app.update(ch('G'));
        t.app.update(key(KeyCode::Enter));
        let Some(Action::SwitchTarget { id: second, .. }) = t.app.update(ch('y')) else {
            panic!("expected a second switch");
        };
        let dir = tempfile::tempdir().unwrap();
        let late = t.app.update(Event::TargetSwitched {
            id: first,
            spec: reference.clone(),
            switched: Box::new(switched(&reference, dir.path())),
        });
        assert!(late.is_none());
        assert_eq!(
            t.app.kind(),
            TargetKind::Cluster,
            "the superseded switch is ignored"
        );
        assert!(remembered.lock().unwrap().is_empty());
        t.app.update(Event::TargetSwitched {
            id: second,
            spec: prod(),
            switched: Box::new(switched(&prod(), dir.path())),
        });
        assert_eq!(t.app.target_spec(), Some(&prod()));
        assert_eq!(*remembered.lock().unwrap(), vec![prod()]);
    }

    #[test]
    fn a_failed_switch_keeps_the_old_target_and_says_why() {
        let (mut t, remembered) = on_alpha(None);
        t.app.update(ch('t'));
        t.app.update(ch('k'));
        let (id, _) = switch_to(&mut t.app);
        t.app.update(Event::SwitchFailed {
            id,
            reason: "connecting crashed: boom".into(),
        });
        assert!(t.app.switching().is_none());
        assert_eq!(t.app.target_spec(), Some(&alpha()));
        let status = t.app.status().unwrap();
        assert!(status.error);
        assert!(status.text.contains("boom"), "{}", status.text);
        assert!(remembered.lock().unwrap().is_empty());
    }

    #[test]
    fn a_choice_that_cannot_be_saved_is_still_used_and_the_learner_is_told() {
        let f = fixture();
        let (mut target_switch, _) = crate::app::testing::switch(alpha(), f.dir.path());
        target_switch.remember = Box::new(|_| Err("read-only file system".into()));
        let mut t = f.app(None);
        t.app = t.app.with_target_switch(target_switch);
        t.app.update(ch('t'));
        t.app.update(ch('k'));
        let (id, spec) = switch_to(&mut t.app);
        let dir = tempfile::tempdir().unwrap();
        t.app.update(Event::TargetSwitched {
            id,
            spec: spec.clone(),
            switched: Box::new(switched(&spec, dir.path())),
        });
        assert_eq!(t.app.kind(), TargetKind::Reference);
        let status = t.app.status().unwrap();
        assert!(status.error);
        assert!(
            status.text.contains("read-only file system"),
            "{}",
            status.text
        );
    }

    #[test]
    fn without_a_switch_t_explains() {
        let mut t = app(None);
        t.app.update(ch('t'));
        assert_eq!(t.app.overlay_kind(), None);
        assert_eq!(
            t.app.status().unwrap().text,
            strings::TARGET_SWITCH_UNAVAILABLE
        );
    }
}
