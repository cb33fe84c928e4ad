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
