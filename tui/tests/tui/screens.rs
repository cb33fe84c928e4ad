//! Snapshots of every screen at 100×30, and the same screens at sizes too small to be useful.

use crate::support::{DIFF, Fixture, fixture, result};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meshwork_checks::Outcome;
use meshwork_checks::target::TargetStatus;
use meshwork_tui::{App, Event, Options, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn app_from(
    f: Fixture,
    open: Option<&str>,
    color: bool,
    size: (u16, u16),
) -> (App, tempfile::TempDir) {
    let options = Options {
        course: f.course,
        ctx: f.ctx,
        progress: f.progress,
        open: open.map(str::to_string),
        notice: None,
    };
    (App::new(options, size.0, size.1, Theme::new(color)), f.dir)
}

fn ready() -> Event {
    Event::TargetStatus(TargetStatus::Ready {
        version: "v1.32.4".into(),
        ready_nodes: 3,
    })
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    terminal
}

/// The jason step with its checks run: one pass, one failure with a hint and a diff, one
/// that could not run.
fn jason_with_results(color: bool) -> (App, tempfile::TempDir) {
    let mut f = fixture();
    f.progress.mark_done("request-routing", "all-v1").unwrap();
    let (mut app, dir) = app_from(f, Some("request-routing/jason"), color, (100, 30));
    app.update(ready());
    let Some(meshwork_tui::Action::RunChecks { run, .. }) = app.update(key('c')) else {
        panic!("checks did not start");
    };
    let mut failed = result(
        "jason is routed to v2",
        Outcome::Fail,
        "spec.http[0].route[0].destination.subset is v3, expected v2",
    );
    failed.hint = Some("the match must be on the end-user header, not on the URL".into());
    failed.diff = Some(DIFF.into());
    let results = [
        result(
            "VirtualService reviews exists",
            Outcome::Pass,
            "found default/reviews",
        ),
        failed,
        result(
            "reviews pods are injected",
            Outcome::Error,
            "no answer within 10s: the target is slow or unreachable",
        ),
    ];
    for (index, result) in results.into_iter().enumerate() {
        app.update(Event::CheckResult { run, index, result });
    }
    (app, dir)
}

#[test]
fn home_lists_labs_with_progress_and_the_target() {
    let mut f = fixture();
    f.progress.mark_done("prerequisites", "tools").unwrap();
    f.progress.mark_done("prerequisites", "cluster").unwrap();
    f.progress.mark_done("request-routing", "all-v1").unwrap();
    let (mut app, _dir) = app_from(f, None, true, (100, 30));
    app.update(ready());
    app.update(key('j'));
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn home_before_the_target_answers_and_when_it_is_not_configured() {
    let (mut app, _dir) = app_from(fixture(), None, true, (100, 30));
    let first = draw(&app, 100, 30);
    let header = first
        .backend()
        .buffer()
        .content()
        .iter()
        .take(100)
        .map(|c| c.symbol())
        .collect::<String>();
    assert!(
        header.contains("target: cluster (context kind-meshwork) ◌ checking…"),
        "{header}"
    );
    app.update(Event::TargetStatus(TargetStatus::Unconfigured(
        "no Kubernetes cluster is configured: KUBECONFIG is not set and ~/.kube/config does not exist".into(),
    )));
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn lab_screen_renders_the_step_markdown_and_commands() {
    let mut f = fixture();
    f.progress.mark_done("request-routing", "all-v1").unwrap();
    let (mut app, _dir) = app_from(f, Some("request-routing/jason"), true, (100, 30));
    app.update(ready());
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn lab_screen_scrolled_to_the_commands() {
    let (mut app, _dir) = app_from(fixture(), Some("request-routing/jason"), true, (100, 30));
    app.update(ready());
    app.update(key(']'));
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn check_results_show_failures_with_their_message_and_hint() {
    let (mut app, _dir) = jason_with_results(true);
    app.update(key('h'));
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn the_diff_view_colours_additions_and_removals() {
    let (mut app, _dir) = jason_with_results(true);
    app.update(key('d'));
    let terminal = draw(&app, 100, 30);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let row_of = |needle: &str| {
        (0..30u16)
            .find(|&y| {
                (0..100u16)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .contains(needle)
            })
            .unwrap()
    };
    let plus = row_of("+  - match:");
    let minus = row_of("-    - destination: {host: reviews, subset: v3}");
    let fg_at = |y: u16, ch: &str| {
        (0..100u16)
            .map(|x| &buffer[(x, y)])
            .find(|c| c.symbol() == ch)
            .unwrap()
            .fg
    };
    assert_eq!(fg_at(plus, "+"), Color::Green);
    assert_eq!(fg_at(minus, "-"), Color::Red);
}

#[test]
fn the_solution_window_lists_manifests_and_commands() {
    let (mut app, _dir) = app_from(fixture(), Some("request-routing/jason"), true, (100, 30));
    app.update(ready());
    app.update(key('s'));
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn the_help_lists_every_key() {
    let (mut app, _dir) = app_from(fixture(), Some("request-routing/jason"), true, (100, 40));
    app.update(ready());
    app.update(key('?'));
    insta::assert_snapshot!(draw(&app, 100, 40).backend());
}

#[test]
fn no_color_draws_without_a_single_colour_and_marks_focus_with_thick_borders() {
    let (app, _dir) = jason_with_results(false);
    let terminal = draw(&app, 100, 30);
    insta::assert_snapshot!(terminal.backend());
    let coloured: Vec<_> = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
        .map(|c| c.symbol().to_string())
        .collect();
    assert!(coloured.is_empty(), "coloured cells: {coloured:?}");
    // The same screen with colours does use them (so the check above can fail).
    let (app, _dir) = jason_with_results(true);
    let terminal = draw(&app, 100, 30);
    assert!(
        terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg == Color::Red)
    );
}

#[test]
fn tiny_and_odd_terminal_sizes_never_panic() {
    let sizes = [
        (20, 5),
        (1, 1),
        (0, 0),
        (10, 30),
        (200, 3),
        (45, 12),
        (59, 20),
    ];
    for (w, h) in sizes {
        for keys in [&[][..], &['?'][..], &['s'][..], &['d'][..]] {
            let (mut app, _dir) = jason_with_results(true);
            app.update(Event::Resize(w, h));
            for k in keys {
                app.update(key(*k));
            }
            for _ in 0..3 {
                app.update(Event::Key(KeyEvent::new(
                    KeyCode::PageDown,
                    KeyModifiers::NONE,
                )));
            }
            let _ = draw(&app, w, h);
            let (mut home, _dir) = app_from(fixture(), None, false, (w, h));
            home.update(Event::Resize(w, h));
            let _ = draw(&home, w, h);
        }
    }
}

#[test]
fn a_20_by_5_terminal_still_shows_what_matters() {
    let (mut app, _dir) = app_from(fixture(), Some("request-routing/jason"), true, (20, 5));
    app.update(ready());
    insta::assert_snapshot!(draw(&app, 20, 5).backend());
}

/// The home screen on `kind-meshwork` with the target picker open, `moves` presses of `j` down.
fn picker_open(moves: usize) -> (App, tempfile::TempDir) {
    let f = fixture();
    let current = meshwork_checks::TargetSpec::Cluster {
        context: Some("kind-meshwork".into()),
    };
    let (switch, _) = crate::support::switch(current, f.dir.path());
    let (app, dir) = app_from(f, None, true, (100, 30));
    let mut app = app.with_target_switch(switch);
    app.update(ready());
    app.update(key('t'));
    for _ in 0..moves {
        app.update(key('j'));
    }
    (app, dir)
}

#[test]
fn the_target_picker_marks_the_target_in_use_and_describes_each_choice() {
    let (app, _dir) = picker_open(1);
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn switching_to_a_cluster_names_the_context_before_anything_happens() {
    let (mut app, _dir) = picker_open(1);
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let terminal = draw(&app, 100, 30);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn the_header_says_where_a_switch_is_going_while_it_connects() {
    let (mut app, _dir) = picker_open(1);
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let action = app.update(key('y'));
    assert!(
        matches!(action, Some(meshwork_tui::Action::SwitchTarget { .. })),
        "{action:?}"
    );
    let terminal = draw(&app, 100, 30);
    let header: String = terminal.backend().buffer().content()[..100]
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(header.contains("◌ switching to cluster:prod…"), "{header}");
    assert!(
        header.contains("cluster (context kind-meshwork)"),
        "still on the old target until the new one is in: {header}"
    );
}

#[test]
fn the_explain_view_lists_requests_and_the_chosen_ones_hops() {
    use meshwork_checks::explain::hops::join;
    use meshwork_checks::explain::log::parse;
    use meshwork_checks::explain::{ProxyKind, ProxyRef, Report};
    let lines = [
        (
            "istio-ingressgateway-5d9f",
            ProxyKind::Gateway,
            r#"[2026-11-26T12:26:31.456Z] "GET /nope HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "192.0.2.2" "curl/7.88.1" "a4cc" "bookinfo.example" "-" - - 127.1.131.196:8080 127.0.0.1:58822 - -"#,
        ),
        (
            "istio-ingressgateway-5d9f",
            ProxyKind::Gateway,
            r#"[2026-11-26T12:26:32.000Z] "GET /productpage HTTP/1.1" 504 UT response_timeout - "-" 0 24 500 - "192.0.2.2" "curl/7.88.1" "b779" "bookinfo.example" "127.1.164.223:9080" outbound|9080||productpage.default.svc.cluster.local 127.1.131.196:40000 127.1.131.196:8080 127.0.0.1:37698 - -"#,
        ),
        (
            "productpage-v1-7c9f",
            ProxyKind::Sidecar,
            r#"[2026-11-26T12:26:32.001Z] "GET /productpage HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 499 - "192.0.2.2" "curl/7.88.1" "b779" "bookinfo.example" "127.2.164.223:9080" inbound|9080|| 127.0.0.1:5 127.1.164.223:9080 127.1.131.196:40000 - default"#,
        ),
    ];
    let parsed = lines
        .iter()
        .map(|(pod, kind, line)| {
            let proxy = ProxyRef {
                namespace: if *kind == ProxyKind::Gateway {
                    "istio-system".into()
                } else {
                    "default".into()
                },
                pod: (*pod).into(),
                kind: *kind,
            };
            (proxy, parse(line).unwrap())
        })
        .collect();
    let requests = join(parsed);
    let report = Report {
        target: "reference mesh".into(),
        namespace: "default".into(),
        since_seconds: 120,
        proxies: Vec::new(),
        found: requests.len(),
        requests,
        notice: None,
        problems: Vec::new(),
    };
    let (mut app, _dir) = app_from(fixture(), Some("request-routing/split"), false, (100, 30));
    app.update(ready());
    let Some(meshwork_tui::Action::Explain { id, .. }) = app.update(key('x')) else {
        panic!("x did not start reading the access logs");
    };
    app.update(Event::Explained {
        id,
        result: Ok(Box::new(report)),
    });
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

/// The all-v1 step (its solution is a manifest) on a target with a workshop.
fn learning_app(open: &str) -> (App, tempfile::TempDir) {
    let (app, dir) = app_from(fixture(), Some(open), true, (100, 30));
    let runner = meshwork_checks::solve::Runner::new(
        meshwork_checks::TargetKind::Cluster,
        "/data/workshop",
        None,
        None,
    );
    let app = app.with_workshop(meshwork_tui::Workshop {
        runner,
        second_terminal: "cd /data/workshop && kubectl config use-context kind-meshwork".into(),
    });
    (app, dir)
}

#[test]
fn the_apply_confirmation_lists_the_commands_and_what_each_object_becomes() {
    use meshwork_checks::solve::preview::{Change, ManifestPreview, ObjectChange};
    let (mut app, _dir) = learning_app("request-routing/all-v1");
    app.update(ready());
    let Some(meshwork_tui::Action::Preview { id, manifests, .. }) = app.update(key('a')) else {
        panic!("a must look at the manifest");
    };
    let object = |name: &str, change| ObjectChange {
        kind: "VirtualService".into(),
        name: name.into(),
        namespace: Some("default".into()),
        change,
    };
    let diff = "--- target now: VirtualService/reviews\n+++ after apply: VirtualService/reviews\n\
                @@ -4,4 +4,4 @@\n   - route:\n     - destination:\n         host: reviews\n\
                -        subset: v3\n+        subset: v1\n";
    app.update(Event::Previewed {
        id,
        previews: vec![ManifestPreview {
            path: manifests[0].clone(),
            objects: Ok(vec![
                object("reviews", Change::Update { diff: diff.into() }),
                object("ratings", Change::Create),
                object("details", Change::Unchanged),
            ]),
        }],
    });
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn a_finished_lab_says_what_was_learned_and_what_comes_next() {
    let mut f = fixture();
    f.progress.mark_done("prerequisites", "tools").unwrap();
    let (mut app, _dir) = app_from(f, Some("prerequisites/cluster"), true, (100, 30));
    app.update(ready());
    let Some(meshwork_tui::Action::RunChecks { run, .. }) = app.update(key('c')) else {
        panic!("checks did not start");
    };
    app.update(Event::CheckResult {
        run,
        index: 0,
        result: result("the cluster answers", Outcome::Pass, "3 nodes ready"),
    });
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}

#[test]
fn the_first_step_opens_with_the_line_for_a_second_terminal() {
    let (mut app, _dir) = learning_app("request-routing/all-v1");
    app.update(ready());
    insta::assert_snapshot!(draw(&app, 100, 30).backend());
}
