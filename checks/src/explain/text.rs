//! A [`Report`] as text: per request a line, then the tree of its hops with the route rule each
//! matched, the upstream chosen and Envoy's response flags in words.

use super::{Direction, Hop, Report, Request, words_duration};
use std::time::Duration;

/// The whole report; the notice alone when there is nothing to show.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    if let Some(notice) = &report.notice {
        out.push_str(notice);
        out.push('\n');
    } else {
        let shown = report.requests.len();
        out.push_str(&format!(
            "{} from the access logs of {} prox{} ({}{}), last {}:\n",
            if shown == report.found {
                format!("{shown} request{}", plural(shown))
            } else {
                format!("The latest {shown} of {} requests", report.found)
            },
            report.proxies.len(),
            if report.proxies.len() == 1 {
                "y"
            } else {
                "ies"
            },
            report.namespace,
            if report.namespace == super::GATEWAY_NAMESPACE {
                String::new()
            } else {
                format!(" and {}", super::GATEWAY_NAMESPACE)
            },
            words_duration(Duration::from_secs(report.since_seconds)),
        ));
        for request in &report.requests {
            out.push('\n');
            out.push_str(&render_request(request));
        }
    }
    if !report.problems.is_empty() {
        out.push('\n');
        for p in &report.problems {
            out.push_str(&format!("note: {p}\n"));
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One request: its summary line and its hop tree.
pub fn render_request(request: &Request) -> String {
    let mut out = format!(
        "{} {}  {}  {}  at {}  x-request-id {}\n",
        request.method,
        request.path,
        status_words(request.status),
        request
            .duration_ms
            .map_or_else(|| "-".to_owned(), |d| format!("{d} ms")),
        request.start,
        request.id
    );
    let count = request.hops.len();
    for (i, hop) in request.hops.iter().enumerate() {
        render_hop(hop, "", i + 1 == count, &mut out);
    }
    out
}

fn status_words(status: u16) -> String {
    if status == 0 {
        "no response".to_owned()
    } else {
        status.to_string()
    }
}

/// The hop's first line: who, what, and how it ended.
pub fn headline(hop: &Hop) -> String {
    let e = &hop.entry;
    let what = match hop.direction {
        Direction::Inbound => {
            let port = hop
                .cluster
                .as_ref()
                .map(|c| format!(" (to the app on port {})", c.port))
                .unwrap_or_default();
            format!("{} {}{port}", e.method, e.path)
        }
        Direction::Outbound | Direction::Gateway => format!(
            "{} {}{}",
            e.method,
            e.authority.as_deref().unwrap_or("-"),
            e.path
        ),
    };
    let role = match hop.direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Gateway => "gateway",
    };
    let flags = if e.flags.is_empty() {
        String::new()
    } else {
        let codes: Vec<&str> = e.flags.iter().map(|f| f.code.as_str()).collect();
        format!(" [{}]", codes.join(","))
    };
    let took = e.duration_ms.map_or_else(String::new, |d| {
        if e.status == 0 {
            format!(" after {d} ms")
        } else {
            format!(" in {d} ms")
        }
    });
    format!(
        "{role} {}: {what} → {}{flags}{took}",
        hop.proxy.pod,
        status_words(e.status)
    )
}

/// The hop's detail lines: route rule, upstream, flags in words.
pub fn details(hop: &Hop) -> Vec<String> {
    let e = &hop.entry;
    let mut out = Vec::new();
    if e.flags.iter().any(|f| f.code == "NR") {
        out.push(format!(
            "route: none — no route rule of this proxy covers {} {} for host {}",
            e.method,
            e.path,
            e.authority.as_deref().unwrap_or("-")
        ));
    } else if let Some(route) = &hop.route {
        out.push(format!("route: {}", route.summary()));
        if !route.unchecked.is_empty() {
            out.push(format!(
                "  (the access log does not show {}; the rest of the request fits this rule)",
                route.unchecked.join(", ")
            ));
        }
        for alt in &route.alternatives {
            out.push(format!("  or, if that does not hold: {alt}"));
        }
        out.extend(route.settings.iter().cloned());
    } else if let Some(note) = &hop.route_note {
        out.push(format!("route: cannot tell ({note})"));
    }
    if hop.direction != Direction::Inbound
        && let Some(cluster) = &e.upstream_cluster
    {
        let host = match (&e.upstream_host, &hop.upstream_pod) {
            (Some(h), Some(pod)) => format!(", host {h} ({pod})"),
            (Some(h), None) => format!(", host {h}"),
            (None, _) => ", no host reached".to_owned(),
        };
        out.push(format!("upstream: {cluster}{host}"));
    }
    for flag in &e.flags {
        out.push(format!("{}: {}", flag.code, flag.meaning));
    }
    if hop.failed()
        && let Some(detail) = &e.details
        && !RESTATED.contains(&detail.as_str())
    {
        out.push(format!("envoy's detail: {detail}"));
    }
    if let Some(reason) = &e.transport_failure {
        out.push(format!("connection failure: {reason}"));
    }
    out
}

/// Envoy's response code details that only restate the status or a flag already explained.
const RESTATED: [&str; 6] = [
    "via_upstream",
    "downstream_remote_disconnect",
    "route_not_found",
    "fault_filter_abort",
    "response_timeout",
    "upstream_response_timeout",
];

fn render_hop(hop: &Hop, prefix: &str, last: bool, out: &mut String) {
    let (branch, carry) = if last {
        ("└─ ", "   ")
    } else {
        ("├─ ", "│  ")
    };
    out.push_str(&format!("{prefix}{branch}{}\n", headline(hop)));
    let child_prefix = format!("{prefix}{carry}");
    let bar = if hop.hops.is_empty() { "  " } else { "│ " };
    for line in details(hop) {
        out.push_str(&format!("{child_prefix}{bar}{line}\n"));
    }
    let count = hop.hops.len();
    for (i, child) in hop.hops.iter().enumerate() {
        render_hop(child, &child_prefix, i + 1 == count, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::hops::{ProxyKind, ProxyRef, join};
    use crate::explain::log::parse;

    fn report(lines: &[(&str, ProxyKind, &str)]) -> Report {
        let parsed = lines
            .iter()
            .map(|(pod, kind, line)| {
                (
                    ProxyRef {
                        namespace: "default".into(),
                        pod: (*pod).into(),
                        kind: *kind,
                    },
                    parse(line).unwrap(),
                )
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
            problems: vec!["cannot read the configuration of x".into()],
        }
    }

    #[test]
    fn hops_print_as_a_tree_with_flags_in_words() {
        let r = report(&[
            (
                "gw",
                ProxyKind::Gateway,
                r#"[2026-11-26T12:26:31.456Z] "GET /nope HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "192.0.2.2" "curl/7.88.1" "a4cc" "bookinfo.example" "-" - - 127.1.131.196:8080 127.0.0.1:58822 - -"#,
            ),
            (
                "gw",
                ProxyKind::Gateway,
                r#"[2026-11-26T12:26:32.000Z] "GET /productpage HTTP/1.1" 503 URX,UF upstream_reset_before_response_started{remote_connection_failure} - "-" 0 91 31 - "192.0.2.2" "curl/7.88.1" "b779" "bookinfo.example" "127.1.164.223:9080" outbound|9080||productpage.default.svc.cluster.local - 127.1.131.196:8080 127.0.0.1:37698 - -"#,
            ),
            (
                "pp",
                ProxyKind::Sidecar,
                r#"[2026-11-26T12:26:32.001Z] "GET /productpage HTTP/1.1" 503 - via_upstream - "-" 0 91 1 1 "192.0.2.2" "curl/7.88.1" "b779" "bookinfo.example" "127.2.164.223:9080" inbound|9080|| 127.0.0.1:5 127.1.164.223:9080 192.0.2.2:0 - default"#,
            ),
        ]);
        let text = render(&r);
        let expected = [
            "2 requests from the access logs of 0 proxies (default and istio-system), last 2m:",
            "",
            "GET /nope  404  0 ms  at 2026-11-26T12:26:31.456Z  x-request-id a4cc",
            "└─ gateway gw: GET bookinfo.example/nope → 404 [NR] in 0 ms",
            "     route: none — no route rule of this proxy covers GET /nope for host bookinfo.example",
            "     NR: no route: no route rule matched the request (or no filter chain matched the connection)",
            "",
            "GET /productpage  503  31 ms  at 2026-11-26T12:26:32.000Z  x-request-id b779",
            "└─ gateway gw: GET bookinfo.example/productpage → 503 [URX,UF] in 31 ms",
            "   │ upstream: outbound|9080||productpage.default.svc.cluster.local, host 127.1.164.223:9080",
            "   │ URX: retries exhausted: every retry attempt failed",
            "   │ UF: upstream connection failure: the proxy could not connect to the destination",
            "   │ envoy's detail: upstream_reset_before_response_started{remote_connection_failure}",
            "   └─ inbound pp: GET /productpage (to the app on port 9080) → 503 in 1 ms",
            "",
            "note: cannot read the configuration of x",
            "",
        ];
        assert_eq!(text, expected.join("\n"));
    }

    #[test]
    fn a_notice_replaces_the_requests() {
        let mut r = report(&[]);
        r.notice = Some("No access log lines.".into());
        r.problems.clear();
        assert_eq!(render(&r), "No access log lines.\n");
    }
}
