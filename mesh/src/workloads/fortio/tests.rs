//! fortio's server, `curl` and `load` driven in-process through `kubectl exec`'s entry point.

use tokio::task::JoinHandle;

use super::*;
use crate::workloads::shell::tests::{Ran, World, converse, listener, run, with_httpbin};

/// A fortio server (the image's default process) behind Service `echo` port 8080.
async fn with_fortio(world: &World) -> (JoinHandle<Termination>, PodContext) {
    let l = listener(8080).await;
    world.service("echo", "10.96.0.90", 8080, l.local_addr().unwrap());
    let mut ctx = world.pod();
    ctx.command = Vec::new();
    let server_ctx = ctx.clone();
    (
        tokio::spawn(async move { run_container(vec![l], server_ctx).await }),
        ctx,
    )
}

/// The `Code N : count (pct %)` lines of a report.
fn code_lines(r: &Ran) -> Vec<&str> {
    r.stdout
        .lines()
        .filter(|l| l.starts_with("Code "))
        .collect()
}

#[tokio::test]
async fn load_reports_fortios_summary() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    let r = run(
        &ctx,
        &[
            "fortio",
            "load",
            "-c",
            "2",
            "-qps",
            "0",
            "-n",
            "20",
            "-loglevel",
            "Warning",
            "http://httpbin:8000/get",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    let out = &r.stdout;
    assert!(out.starts_with("Fortio 1.69.5 running at 0 queries per second, 2->2 procs, for 20 calls: http://httpbin:8000/get\n"), "{out}");
    assert!(out.contains("Starting at max qps with 2 thread(s) [gomax 2] for exactly 20 calls (10 per thread + 0)\n"), "{out}");
    assert!(out.contains("\nEnded after "), "{out}");
    assert!(
        out.contains("\nAggregated Function Time : count 20 avg "),
        "{out}"
    );
    assert!(
        out.contains("\n# range, mid point, percentile, count\n"),
        "{out}"
    );
    for p in ["50%", "75%", "90%", "99%", "99.9%"] {
        assert!(out.contains(&format!("\n# target {p} ")), "{p}: {out}");
    }
    assert!(out.contains("\nError cases : no data\n"), "{out}");
    // One kept-alive connection per worker.
    assert!(
        out.contains("\nSockets used: 2 (for perfect keepalive, would be 2)\n"),
        "{out}"
    );
    assert!(
        out.contains("\nIP addresses distribution:\n10.96.0.80:8000: 2\n"),
        "{out}"
    );
    assert_eq!(code_lines(&r), ["Code 200 : 20 (100.0 %)"]);
    assert!(
        out.contains("\nAll done 20 calls (plus 0 warmup) "),
        "{out}"
    );
    // Warning level: no info lines on stderr.
    assert_eq!(r.stderr, "", "{r:?}");
    server.abort();
}

#[tokio::test]
async fn the_echo_server_answers_the_status_asked_for() {
    let world = World::new();
    let (server, ctx) = with_fortio(&world).await;
    let r = run(
        &ctx,
        &[
            "fortio",
            "load",
            "-c",
            "1",
            "-qps",
            "0",
            "-n",
            "4",
            "-loglevel",
            "Warning",
            "http://echo:8080/echo?status=503",
        ],
    )
    .await;
    assert_eq!(code_lines(&r), ["Code 503 : 4 (100.0 %)"], "{r:?}");
    assert!(
        r.stdout.contains("\nError cases : count 4 avg "),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stderr.matches("\"msg\":\"Non ok http code\"").count(),
        4,
        "{}",
        r.stderr
    );
    // Percentages: every call is counted under one code or the other.
    let r = run(
        &ctx,
        &[
            "fortio",
            "load",
            "-c",
            "2",
            "-qps",
            "0",
            "-n",
            "20",
            "-loglevel",
            "Error",
            "echo:8080/?status=503:50",
        ],
    )
    .await;
    let total: usize = code_lines(&r)
        .iter()
        .map(|l| {
            l.split(" : ")
                .nth(1)
                .and_then(|c| c.split(' ').next())
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, 20, "{r:?}");
    // `close=true`: the server closes each connection, fortio opens a new one per call.
    let r = run(
        &ctx,
        &[
            "fortio",
            "load",
            "-c",
            "1",
            "-qps",
            "0",
            "-n",
            "3",
            "http://echo:8080/?close=true",
        ],
    )
    .await;
    assert!(
        r.stdout
            .contains("Sockets used: 3 (for perfect keepalive, would be 1)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("\"level\":\"info\""),
        "info logs by default: {}",
        r.stderr
    );
    // The server logs each request.
    assert!(
        ctx.log
            .lines()
            .iter()
            .any(|l| l.contains("\"msg\":\"Echo\"")),
        "{:?}",
        ctx.log.lines()
    );
    server.abort();
}

#[tokio::test]
async fn curl_prints_the_raw_response() {
    let world = World::new();
    let (server, ctx) = with_fortio(&world).await;
    let r = run(
        &ctx,
        &[
            "fortio",
            "curl",
            "-quiet",
            "-payload",
            "hello",
            "http://echo:8080/echo",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("HTTP/1.1 200 OK\r\n"),
        "{:?}",
        r.stdout
    );
    assert!(r.stdout.ends_with("\r\n\r\nhello"), "{:?}", r.stdout);
    assert_eq!(r.stderr, "");
    let r = run(&ctx, &["fortio", "curl", "http://echo:8080/?status=418"]).await;
    assert!(
        r.stdout.starts_with("HTTP/1.1 418 I'm a teapot\r\n"),
        "{:?}",
        r.stdout
    );
    assert_eq!(r.code, 1);
    let r = run(
        &ctx,
        &["fortio", "curl", "-H", "X-Lab: 7", "http://echo:8080/debug"],
    )
    .await;
    assert!(r.stdout.contains("X-Lab: 7\n"), "{}", r.stdout);
    server.abort();
}

#[tokio::test]
async fn socket_errors_count_as_code_minus_one() {
    let world = World::new();
    let closed = listener(9999).await;
    let dead = closed.local_addr().unwrap();
    drop(closed);
    world.service("dead", "10.96.0.91", 80, dead);
    let ctx = world.pod();
    let r = run(
        &ctx,
        &[
            "fortio",
            "load",
            "-c",
            "1",
            "-qps",
            "0",
            "-n",
            "3",
            "-loglevel",
            "Critical",
            "http://dead/",
        ],
    )
    .await;
    assert_eq!(code_lines(&r), ["Code -1 : 3 (100.0 %)"], "{r:?}");
}

#[tokio::test]
async fn bad_flags_and_subcommands() {
    let world = World::new();
    let ctx = world.pod();
    let r = run(&ctx, &["fortio", "load", "-bogus", "http://x/"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("flag provided but not defined: -bogus\n"),
        "{}",
        r.stderr
    );
    let r = run(&ctx, &["fortio", "version"]).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "1.69.5\n"));
    let r = run(&ctx, &["fortio", "load"]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("needs a url"), "{}", r.stderr);
}

/// The istio.io circuit-breaking sample's buckets give the percentiles fortio printed there.
#[test]
fn percentiles_interpolate_as_fortio_does() {
    let mut h = load::Histogram::default();
    let values = [
        0.000_499,
        0.0009,
        0.0015,
        0.0035,
        0.0035,
        0.0035,
        0.0035,
        0.0035,
        0.0035,
        0.0045,
        0.0045,
        0.0055,
        0.0065,
        0.0065,
        0.0075,
        0.0075,
        0.0085,
        0.0115,
        0.013,
        0.014_432_9,
    ];
    for v in values {
        h.record(v);
    }
    let report = h.report("Aggregated Function Time", &[50.0, 75.0, 90.0, 99.0, 99.9]);
    let lines: Vec<&str> = report.lines().collect();
    assert!(
        lines[0].starts_with("Aggregated Function Time : count 20 avg "),
        "{report}"
    );
    assert_eq!(lines[1], "# range, mid point, percentile, count");
    assert_eq!(lines[2], ">= 0.000499 <= 0.001 , 0.0007495 , 10.00, 2");
    assert_eq!(lines[3], "> 0.001 <= 0.002 , 0.0015 , 15.00, 1");
    assert_eq!(lines[12], "> 0.014 <= 0.0144329 , 0.0142165 , 100.00, 1");
    assert_eq!(
        &lines[13..],
        [
            "# target 50% 0.0045",
            "# target 75% 0.0075",
            "# target 90% 0.012",
            "# target 99% 0.0143463",
            "# target 99.9% 0.0144242",
        ]
    );
}

/// fortio's echo sets any header asked for, which shows curl's cookie jar and redirects.
#[tokio::test]
async fn curl_follows_redirects_and_saves_cookies_from_the_echo_server() {
    let world = World::new();
    let (server, ctx) = with_fortio(&world).await;
    let r = run(
        &ctx,
        &[
            "curl",
            "-s",
            "-c",
            "/tmp/jar",
            "http://echo:8080/?header=Set-Cookie:session%3Dabc%3B%20Path%3D%2F%3B%20HttpOnly",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(&ctx, &["cat", "/tmp/jar"]).await;
    assert!(
        r.stdout.starts_with("# Netscape HTTP Cookie File\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("#HttpOnly_echo\tFALSE\t/\tFALSE\t0\tsession\tabc\n"),
        "{}",
        r.stdout
    );
    // The jar goes back with -b, as after a Bookinfo login.
    let r = run(
        &ctx,
        &["curl", "-s", "-b", "/tmp/jar", "http://echo:8080/debug"],
    )
    .await;
    assert!(r.stdout.contains("Cookie: session=abc\n"), "{}", r.stdout);
    // -L follows a redirect; without it curl stops at the 302.
    let hop = "http://echo:8080/?status=302&header=Location:/debug";
    let r = run(
        &ctx,
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{num_redirects}",
            hop,
        ],
    )
    .await;
    assert_eq!(r.stdout, "302 0");
    let r = run(
        &ctx,
        &[
            "curl",
            "-sL",
            "-w",
            "\n%{http_code} %{num_redirects} %{url_effective}",
            hop,
        ],
    )
    .await;
    assert!(r.stdout.contains("GET /debug HTTP/1.1"), "{}", r.stdout);
    assert!(
        r.stdout.ends_with("\n200 1 http://echo:8080/debug"),
        "{}",
        r.stdout
    );
    server.abort();
}

/// Ctrl-C stops a load run started with `-t 0`, which still prints its report, on a terminal
/// both when exec'd directly and from an interactive shell.
#[tokio::test]
async fn ctrl_c_ends_a_load_run_with_its_report() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    // Each 418 logs a warning: Ctrl-C is typed once calls have been made.
    let load = [
        "fortio",
        "load",
        "-c",
        "1",
        "-qps",
        "0",
        "-t",
        "0",
        "-loglevel",
        "Warning",
        "http://httpbin:8000/status/418",
    ];
    let r = converse(&ctx, &load, &[("Non ok http code", "\x03")]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("until interrupted: http://httpbin:8000/status/418\r\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("^C\r\n"), "{}", r.stdout);
    assert!(r.stdout.contains("\r\nCode 418 : "), "{}", r.stdout);
    assert!(r.stdout.contains("\r\nAll done "), "{}", r.stdout);
    let r = converse(
        &ctx,
        &["sh"],
        &[
            ("~ $ ", &format!("{}\r", load.join(" "))),
            ("Non ok http code", "\x03"),
            ("All done", ""),
            ("~ $ ", "exit\r"),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("\r\nCode 418 : "), "{}", r.stdout);
    server.abort();
}
