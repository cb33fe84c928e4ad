//! The explain view: opening it, what it shows for a report, a reason or an error, and its
//! keys — state and drawing on a `TestBackend`.

use super::super::testing::{TestApp, app, ch, key, result};
use super::*;
use crate::event::Event;
use crossterm::event::{KeyCode, MouseEvent, MouseEventKind};
use meshwork_checks::Outcome;
use meshwork_checks::explain::hops::join;
use meshwork_checks::explain::log::parse;
use meshwork_checks::explain::{ProxyKind, ProxyRef};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const NOPE: &str = r#"[2026-11-26T12:26:31.456Z] "GET /nope HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "192.0.2.2" "curl/7.88.1" "a4cc" "bookinfo.example" "-" - - 127.1.131.196:8080 127.0.0.1:58822 - -"#;
const FAILED_GATEWAY: &str = r#"[2026-11-26T12:26:32.000Z] "GET /productpage HTTP/1.1" 503 URX,UF upstream_reset_before_response_started{remote_connection_failure} - "-" 0 91 31 - "192.0.2.2" "curl/7.88.1" "b779" "bookinfo.example" "127.1.164.223:9080" outbound|9080||productpage.default.svc.cluster.local - 127.1.131.196:8080 127.0.0.1:37698 - -"#;
const FAILED_SIDECAR: &str = r#"[2026-11-26T12:26:32.001Z] "GET /productpage HTTP/1.1" 503 - via_upstream - "-" 0 91 1 1 "192.0.2.2" "curl/7.88.1" "b779" "bookinfo.example" "127.2.164.223:9080" inbound|9080|| 127.0.0.1:5 127.1.164.223:9080 192.0.2.2:0 - default"#;

/// A report of the given access log lines, as `explain` would return it.
fn report(lines: &[(&str, ProxyKind, String)]) -> Report {
    let parsed = lines
        .iter()
        .map(|(pod, kind, line)| {
            let proxy = ProxyRef {
                namespace: "default".into(),
                pod: (*pod).into(),
                kind: *kind,
            };
            (proxy, parse(line).expect("an access log line"))
        })
        .collect();
    let requests = join(parsed);
    Report {
        target: "reference mesh".into(),
        namespace: "default".into(),
        since_seconds: 120,
        proxies: Vec::new(),
        found: requests.len(),
        requests,
        notice: None,
        problems: Vec::new(),
    }
}

/// A gateway that answered /nope with NR, then /productpage failing behind it.
fn two_requests() -> Report {
    report(&[
        ("gw", ProxyKind::Gateway, NOPE.into()),
        ("gw", ProxyKind::Gateway, FAILED_GATEWAY.into()),
        ("pp", ProxyKind::Sidecar, FAILED_SIDECAR.into()),
    ])
}

/// `n` fine requests through the gateway, a second apart.
fn many_requests(n: usize) -> Report {
    let lines: Vec<(&str, ProxyKind, String)> = (0..n)
        .map(|i| {
            let line = format!(
                r#"[2026-11-26T12:{:02}:{:02}.000Z] "GET /page{i} HTTP/1.1" 200 - via_upstream - "-" 0 10 3 2 "192.0.2.2" "curl/7.88.1" "id{i}" "bookinfo.example" "127.1.164.223:9080" outbound|9080||productpage.default.svc.cluster.local 127.1.131.196:40000 127.1.131.196:8080 127.0.0.1:37698 - -"#,
                i / 60,
                i % 60
            );
            ("gw", ProxyKind::Gateway, line)
        })
        .collect();
    report(&lines)
}

fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("terminal");
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    buffer
        .content()
        .chunks(usize::from(buffer.area.width))
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Opens the split step (it has a traffic check) and presses `x`; returns the read's id.
fn opened() -> (TestApp, u64) {
    let mut t = app(Some("request-routing/split"));
    match t.app.update(ch('x')) {
        Some(Action::Explain { id, query }) => {
            // meshwork explain's defaults, narrowed to the step's traffic check: the namespace
            // its requests come from and their path.
            let expected = Query {
                namespace: Some("shop".into()),
                path: Some("/productpage".into()),
                ..Query::default()
            };
            assert_eq!(query, expected);
            (t, id)
        }
        other => panic!("expected a read of the access logs, got {other:?}"),
    }
}

fn deliver(app: &mut App, id: u64, report: Report) {
    app.update(Event::Explained {
        id,
        result: Ok(Box::new(report)),
    });
}

#[test]
fn x_opens_the_view_with_a_spinner_while_the_logs_are_read() {
    let (mut t, _) = opened();
    assert_eq!(t.app.overlay_kind(), Some(&OverlayKind::Explain));
    let text = screen(&t.app);
    assert!(text.contains("Explain · recent requests"), "{text}");
    assert!(
        text.contains("⠋ reading the proxies' access logs…"),
        "{text}"
    );
    assert!(
        text.contains("r read again"),
        "the key bar offers r: {text}"
    );
    // The spinner turns with the ticks, and the app asks to be redrawn for it.
    t.app.take_dirty();
    t.app.update(Event::Tick);
    assert!(t.app.take_dirty());
    assert!(screen(&t.app).contains("⠙ reading"), "{}", screen(&t.app));
}

#[test]
fn requests_show_as_headlines_and_the_chosen_ones_hops_below() {
    let (mut t, id) = opened();
    deliver(&mut t.app, id, two_requests());
    let text = screen(&t.app);
    for expected in [
        "2 requests from the access logs of 0 proxies (default and istio-system), last 2m",
        "  12:26:31  GET /nope  404  0 ms  no route (NR)",
        // The most recent failed request is chosen first; its flags are said in words.
        "▶ 12:26:32  GET /productpage  503  31 ms  retries exhausted (URX), upstream connection",
        "Hops of request 2 of 2 · x-request-id b779",
        "└─ gateway gw: GET bookinfo.example/productpage → 503 [URX,UF] in 31 ms",
        "   │ UF: upstream connection failure: the proxy could not connect to the destination",
        "   └─ inbound pp: GET /productpage (to the app on port 9080) → 503 in 1 ms",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("reading the proxies"), "{text}");

    // Up chooses the older request: its hops replace the others.
    t.app.update(ch('k'));
    let text = screen(&t.app);
    assert!(text.contains("▶ 12:26:31  GET /nope"), "{text}");
    assert!(
        text.contains("Hops of request 1 of 2 · x-request-id a4cc"),
        "{text}"
    );
    assert!(
        text.contains("route: none — no route rule of this proxy covers GET /nope"),
        "{text}"
    );
    assert!(!text.contains("[URX,UF]"), "{text}");
    // The selection stops at the ends.
    t.app.update(ch('k'));
    assert_eq!(t.app.explain.as_ref().map(|s| s.selected), Some(0));
    t.app.update(ch('G'));
    assert_eq!(t.app.explain.as_ref().map(|s| s.selected), Some(1));

    t.app.update(key(KeyCode::Esc));
    assert_eq!(t.app.overlay_kind(), None);
    assert!(!screen(&t.app).contains("Explain ·"));
}

#[test]
fn nothing_to_explain_shows_the_reason_and_how_to_read_again() {
    let (mut t, id) = opened();
    let mut nothing = report(&[]);
    nothing.notice = Some(
        "No proxy to read: no running pod in namespace default has an istio-proxy sidecar.".into(),
    );
    deliver(&mut t.app, id, nothing);
    let text = screen(&t.app);
    assert!(
        text.contains("No proxy to read: no running pod in namespace default"),
        "{text}"
    );
    assert!(text.contains("Press r to read the logs again"), "{text}");

    // A read that failed says why; r tries again.
    let id = match t.app.update(ch('r')) {
        Some(Action::Explain { id: again, .. }) => {
            assert!(again > id, "a new read");
            again
        }
        other => panic!("r must read again, got {other:?}"),
    };
    t.app.update(Event::Explained {
        id,
        result: Err("cluster is not configured: no kubeconfig found".into()),
    });
    let text = screen(&t.app);
    assert!(
        text.contains("Could not read the proxies' access logs: cluster is not configured"),
        "{text}"
    );
    assert!(text.contains("Press r to try again"), "{text}");
}

#[test]
fn reading_again_keeps_the_last_answer_and_ignores_a_stale_one() {
    let (mut t, first) = opened();
    deliver(&mut t.app, first, two_requests());
    let Some(Action::Explain { id: second, .. }) = t.app.update(ch('r')) else {
        panic!("r must read again");
    };
    let text = screen(&t.app);
    assert!(
        text.contains("reading the proxies' access logs again…"),
        "{text}"
    );
    assert!(text.contains("GET /nope"), "the last answer stays: {text}");
    // An answer to the first read arriving late is not shown as the new one.
    deliver(&mut t.app, first, many_requests(3));
    assert!(screen(&t.app).contains("reading the proxies' access logs again…"));
    deliver(&mut t.app, second, many_requests(3));
    let text = screen(&t.app);
    assert!(!text.contains("reading the proxies"), "{text}");
    assert!(text.contains("▶ 12:00:02  GET /page2  200  3 ms"), "{text}");
}

#[test]
fn enter_brings_the_hops_into_view_and_the_wheel_scrolls_without_choosing() {
    let (mut t, id) = opened();
    deliver(&mut t.app, id, many_requests(40));
    // The newest request is chosen and its headline is in view.
    let text = screen(&t.app);
    assert!(text.contains("▶ 12:00:39  GET /page39"), "{text}");
    t.app.update(ch('g'));
    let text = screen(&t.app);
    assert!(text.contains("▶ 12:00:00  GET /page0 "), "{text}");
    assert!(
        !text.contains("Hops of request"),
        "the hops are below: {text}"
    );
    t.app.update(key(KeyCode::Enter));
    let text = screen(&t.app);
    assert!(
        text.contains("Hops of request 1 of 40 · x-request-id id0"),
        "{text}"
    );
    assert!(
        text.contains("└─ gateway gw: GET bookinfo.example/page0 → 200 in 3 ms"),
        "{text}"
    );
    let before = t.app.overlay.as_ref().map(|o| o.scroll);
    t.app.update(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: 50,
        row: 15,
        modifiers: crossterm::event::KeyModifiers::NONE,
    }));
    let after = t.app.overlay.as_ref().map(|o| o.scroll);
    assert!(
        after < before,
        "the wheel scrolled up: {before:?} → {after:?}"
    );
    assert_eq!(t.app.explain.as_ref().map(|s| s.selected), Some(0));
}

#[test]
fn a_failed_traffic_check_points_at_x_and_the_key_bar_offers_it() {
    let mut t = app(Some("request-routing/split"));
    let text = screen(&t.app);
    assert!(
        text.contains("x explain"),
        "a step with a traffic check: {text}"
    );
    let Some(Action::RunChecks { run, .. }) = t.app.update(ch('c')) else {
        panic!("checks did not start");
    };
    t.app.update(Event::CheckResult {
        run,
        index: 0,
        result: result(
            "reviews splits 50/50 between v1 and v3",
            Outcome::Fail,
            "no VirtualService reviews",
        ),
    });
    t.app.update(Event::CheckResult {
        run,
        index: 1,
        result: result(
            "the product page answers through the gateway",
            Outcome::Fail,
            "4 of 4 requests got 503",
        ),
    });
    let text = screen(&t.app);
    assert!(text.contains("4 of 4 requests got 503"), "{text}");
    assert_eq!(
        text.matches("press x to see why").count(),
        1,
        "only under the traffic check: {text}"
    );

    // A step without traffic checks still explains on x, but its key bar stays short.
    let mut t = app(Some("request-routing/jason"));
    assert!(!screen(&t.app).contains("x explain"));
    match t.app.update(ch('x')) {
        Some(Action::Explain { query, .. }) => assert_eq!(query, Query::default()),
        other => panic!("x must explain on every step, got {other:?}"),
    }
}

#[test]
fn the_help_lists_the_explain_keys() {
    let (mut t, _) = opened();
    t.app.update(ch('?'));
    assert_eq!(t.app.overlay_kind(), Some(&OverlayKind::Help));
    let text: Vec<String> = t
        .app
        .overlay
        .as_ref()
        .map(|o| o.lines.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let text = text.join("\n");
    assert!(
        text.contains("explain recent requests hop by hop"),
        "{text}"
    );
    assert!(text.contains("read the access logs again"), "{text}");
}

#[test]
fn a_reference_mesh_that_does_not_answer_is_said_as_meshwork_explain_says_it() {
    use meshwork_checks::TargetKind;
    let refused = "cannot list the pods in namespace default: connection refused: nothing is \
                   listening at the API server's address";
    let reference = strings::explain_error(TargetKind::Reference, refused);
    assert!(
        reference.contains("the reference mesh is not running"),
        "{reference}"
    );
    assert!(reference.contains("meshwork mesh up"), "{reference}");
    // A live cluster keeps the API's own words (they name the cluster's problem).
    assert_eq!(
        strings::explain_error(TargetKind::Cluster, refused),
        refused
    );
    let other = "cannot list the pods in namespace default: the API server answered 500";
    assert_eq!(strings::explain_error(TargetKind::Reference, other), other);
}

#[test]
fn an_answer_about_another_target_is_not_shown_again() {
    let (mut t, id) = opened();
    let mut other = two_requests();
    other.target = "cluster (context prod)".into();
    deliver(&mut t.app, id, other);
    assert!(screen(&t.app).contains("GET /nope"));
    t.app.update(key(KeyCode::Esc));
    t.app.update(ch('x'));
    let text = screen(&t.app);
    assert!(text.contains("reading the proxies' access logs…"), "{text}");
    assert!(!text.contains("GET /nope"), "{text}");

    // The same target's last answer stays while reading again.
    let (mut t, id) = opened();
    let mut same = two_requests();
    same.target = t.app.ctx.target.describe();
    deliver(&mut t.app, id, same);
    t.app.update(key(KeyCode::Esc));
    t.app.update(ch('x'));
    let text = screen(&t.app);
    assert!(
        text.contains("reading the proxies' access logs again…"),
        "{text}"
    );
    assert!(text.contains("GET /nope"), "{text}");
}
