//! The real event loop on a `TestBackend`: first frame, keys, background checks.

use crate::support::fixture;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use meshwork_tui::runtime::event_loop;
use meshwork_tui::{App, Event, Options, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn screen_text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let w = buffer.area.width;
    buffer
        .content()
        .chunks(usize::from(w))
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn app(open: Option<&str>) -> (App, tempfile::TempDir) {
    let f = fixture();
    let options = Options {
        course: f.course,
        ctx: f.ctx,
        progress: f.progress,
        open: open.map(Into::into),
        notice: None,
    };
    (App::new(options, 100, 30, Theme::new(true)), f.dir)
}

#[tokio::test]
async fn the_first_frame_is_drawn_before_any_event_arrives() {
    let (mut app, _dir) = app(None);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (tap, _) = tokio::sync::mpsc::unbounded_channel();
    drop(sender);
    let mut copy = |_: &str| Ok(());
    event_loop(&mut terminal, &mut app, &mut events, &tap, &mut copy)
        .await
        .unwrap();
    let text = screen_text(&terminal);
    assert!(text.contains("meshwork · Istio hands-on"), "{text}");
    assert!(
        text.contains("◌ checking…"),
        "the probe has not answered: {text}"
    );
    assert!(text.contains("01 Request routing"), "{text}");
}

#[tokio::test]
async fn keys_open_a_lab_and_checks_run_in_the_background() {
    let (mut app, _dir) = app(None);
    let mut terminal = Terminal::new(TestBackend::new(100, 40)).unwrap();
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    // Background work reports to `tap`; the driver below forwards it, so it knows when
    // every check has reported without waiting for a fixed time.
    let (tap, mut tapped) = tokio::sync::mpsc::unbounded_channel();
    let press = |code| Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
    let driver = async move {
        sender.send(press(KeyCode::Down)).unwrap();
        sender.send(press(KeyCode::Enter)).unwrap();
        sender.send(press(KeyCode::Char('n'))).unwrap();
        sender.send(press(KeyCode::Char('c'))).unwrap();
        let mut reported = 0;
        while reported < 3 {
            let event = tapped.recv().await.unwrap();
            if matches!(event, Event::CheckResult { .. }) {
                reported += 1;
            }
            sender.send(event).unwrap();
        }
        // Dropping the sender ends the loop after it drew the last results.
    };
    let mut copies = Vec::new();
    let mut copy = |text: &str| {
        copies.push(text.to_string());
        Ok(())
    };
    let (result, ()) = tokio::join!(
        event_loop(&mut terminal, &mut app, &mut events, &tap, &mut copy),
        driver
    );
    result.unwrap();
    let text = screen_text(&terminal);
    assert!(
        text.contains("01 Request routing › 2/3 Route jason to v2"),
        "{text}"
    );
    for title in [
        "VirtualService reviews exists",
        "jason is routed to v2",
        "reviews pods are injected",
    ] {
        assert!(text.contains(title), "{title} missing: {text}");
    }
    assert!(!text.contains("running"), "every check reported: {text}");
}

#[tokio::test]
async fn switching_to_the_reference_mesh_connects_in_the_background_and_shows_it() {
    let f = fixture();
    let current = meshwork_checks::TargetSpec::Cluster {
        context: Some("kind-meshwork".into()),
    };
    let (switch, remembered) = crate::support::switch(current, f.dir.path());
    let options = Options {
        course: f.course,
        ctx: f.ctx,
        progress: f.progress,
        open: None,
        notice: None,
    };
    let mut app = App::new(options, 100, 30, Theme::new(true)).with_target_switch(switch);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (tap, mut tapped) = tokio::sync::mpsc::unbounded_channel();
    let press = |code| Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
    let driver = async move {
        sender.send(press(KeyCode::Char('t'))).unwrap();
        sender.send(press(KeyCode::Char('k'))).unwrap();
        sender.send(press(KeyCode::Enter)).unwrap();
        // Forward background results until the new target has been looked at.
        let mut switched = false;
        loop {
            let event = tapped.recv().await.unwrap();
            let done = switched && matches!(event, Event::TargetStatus(_));
            switched |= matches!(event, Event::TargetSwitched { .. });
            sender.send(event).unwrap();
            if done {
                break;
            }
        }
    };
    let mut copy = |_: &str| Ok(());
    let (result, ()) = tokio::join!(
        event_loop(&mut terminal, &mut app, &mut events, &tap, &mut copy),
        driver
    );
    result.unwrap();
    let text = screen_text(&terminal);
    assert!(text.contains("target: fake reference"), "{text}");
    assert!(text.contains("Now on reference"), "{text}");
    assert_eq!(
        app.target_spec(),
        Some(&meshwork_checks::TargetSpec::Reference)
    );
    assert_eq!(
        *remembered.lock().unwrap(),
        vec![meshwork_checks::TargetSpec::Reference]
    );
}

#[tokio::test]
async fn x_explains_in_the_background_and_says_why_nothing_could_be_read() {
    // The fixture's target has no cluster: the read fails, and the view says why instead of
    // spinning forever.
    let (mut app, _dir) = app(Some("request-routing/split"));
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (tap, mut tapped) = tokio::sync::mpsc::unbounded_channel();
    let driver = async move {
        let x = Event::Key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE));
        sender.send(x).unwrap();
        loop {
            let event = tapped.recv().await.unwrap();
            let done = matches!(event, Event::Explained { .. });
            sender.send(event).unwrap();
            if done {
                break;
            }
        }
    };
    let mut copy = |_: &str| Ok(());
    let (result, ()) = tokio::join!(
        event_loop(&mut terminal, &mut app, &mut events, &tap, &mut copy),
        driver
    );
    result.unwrap();
    let text = screen_text(&terminal);
    assert!(text.contains("Explain · recent requests"), "{text}");
    assert!(
        text.contains("Could not read the proxies' access logs: no Kubernetes cluster is"),
        "{text}"
    );
    assert!(text.contains("Press r to try again"), "{text}");
    assert!(!text.contains("reading the proxies"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_start_benchmark_measures_a_key_press_to_the_running_checks() {
    let f = fixture();
    let options = Options {
        course: f.course,
        ctx: f.ctx,
        progress: f.progress,
        open: Some("request-routing/jason".into()),
        notice: None,
    };
    assert!(
        meshwork_tui::check_start_bench(options, 100, 30)
            .await
            .is_some(),
        "the checks of an open step start"
    );
    let f = fixture();
    let options = Options {
        course: f.course,
        ctx: f.ctx,
        progress: f.progress,
        open: None,
        notice: None,
    };
    assert!(
        meshwork_tui::check_start_bench(options, 100, 30)
            .await
            .is_none(),
        "on the home screen c runs nothing"
    );
}
