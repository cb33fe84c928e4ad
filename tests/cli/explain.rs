//! `meshwork explain` on the reference mesh with Istio, Bookinfo injected from Istio's samples
//! and the real Envoys: jason's page through the ingress gateway with reviews-test-v2 and
//! ratings-test-delay is shown hop by hop (gateway → productpage → reviews v2 → ratings) with the
//! rules matched and the DI flag in words, a 0.5 s reviews timeout gives UT, and an unrouted
//! path NR. Also what it says when there is nothing to explain.

use crate::util::mesh::{COMMAND_TIMEOUT, Sandbox, sample};
use crate::util::{Env, stderr, stdout};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Waits until the Envoy of `pod` (`name` in default, or `name.namespace`) configuration
/// contains every one of `texts`.
fn envoy_has(sb: &Sandbox, pod: &str, texts: &[&str]) {
    let (pod, namespace) = pod.split_once('.').unwrap_or((pod, "default"));
    for _ in 0..120 {
        let dump = sb.kubectl(&[
            "exec",
            "-n",
            namespace,
            pod,
            "-c",
            "istio-proxy",
            "--",
            "pilot-agent",
            "request",
            "GET",
            "config_dump",
        ]);
        if texts.iter().all(|t| dump.contains(t)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the Envoy of {pod} never got {texts:?}");
}

/// `meshwork explain ARGS -o json`, until `done` finds what it needs in the report (access
/// log lines reach the log a moment after the response).
fn explain_until<T>(sb: &Sandbox, args: &[&str], done: impl Fn(&Value) -> Option<T>) -> T {
    let mut all = vec!["explain", "--since", "10m", "-o", "json"];
    all.extend_from_slice(args);
    let mut last = Value::Null;
    for _ in 0..60 {
        let out = sb.meshwork(&all);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "meshwork {all:?}: {code:?}\n{}",
            stderr(&out)
        );
        last = serde_json::from_str(&stdout(&out)).unwrap();
        if let Some(v) = done(&last) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("meshwork {all:?} never showed what was expected; last report:\n{last:#}");
}

/// One HTTP/1.1 exchange with 127.0.0.1:port: the status and the response's head.
fn http(
    port: u16,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: bookinfo.example\r\nUser-Agent: meshwork-test\r\nConnection: close\r\n"
    );
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    let body = form.unwrap_or_default();
    if form.is_some() {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    (status, head)
}

/// Hops of a request (JSON), depth first.
fn hops(request: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for h in list.as_array().into_iter().flatten() {
            out.push(h);
            walk(&h["hops"], out);
        }
    }
    let mut out = Vec::new();
    walk(&request["hops"], &mut out);
    out
}

fn flags(hop: &Value) -> Vec<&str> {
    hop["entry"]["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str())
        .collect()
}

#[test]
fn explain_shows_jasons_hops_rules_and_flags_through_the_gateway() {
    let Some(sb) = Sandbox::with_envoy_and_kubectl("applies Bookinfo") else {
        return;
    };
    sb.ok(&["istioctl", "install", "-y"]);

    // Before any traffic there is nothing to explain, and meshwork says what to do.
    let none = sb.meshwork(&["explain"]);
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
    let said = stderr(&none);
    assert!(said.contains("No access log lines from the "), "{said}");
    assert!(said.contains("Send a request through the mesh"), "{said}");

    let file = |rel: &str| sample(&format!("bookinfo/{rel}"));
    sb.deploy_injected(&[&file("platform/kube/bookinfo.yaml")], 6);
    for rel in [
        "networking/bookinfo-gateway.yaml",
        "networking/destination-rule-all.yaml",
        "networking/virtual-service-reviews-test-v2.yaml",
        "networking/virtual-service-ratings-test-delay.yaml",
    ] {
        sb.kubectl(&["apply", "-f", &file(rel)]);
    }
    let port = sb.ingress_port();
    let productpage = sb.pod("default", "app=productpage,version=v1");
    let reviews_v2 = sb.pod("default", "app=reviews,version=v2");
    envoy_has(&sb, &productpage, &["outbound|9080|v2|reviews", "jason"]);
    envoy_has(&sb, &reviews_v2, &["fixed_delay", "jason"]);
    let gateway = sb.pod("istio-system", "istio=ingressgateway");
    envoy_has(&sb, &format!("{gateway}.istio-system"), &["/productpage"]);

    // jason signs in through the gateway, then opens the page (reviews gives up on the 7 s
    // ratings delay, productpage on reviews after its two 3 s attempts).
    let (status, head) = http(
        port,
        "POST",
        "/login",
        None,
        Some("username=jason&passwd=jason"),
    );
    assert!((300..400).contains(&status), "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie").then_some(value)
        })
        .and_then(|v| v.trim().split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {head}"))
        .to_owned();
    let (status, _) = http(port, "GET", "/productpage", Some(&cookie), None);
    assert_eq!(status, 200);

    let request = explain_until(&sb, &["--path", "/productpage"], |report| {
        report["requests"]
            .as_array()?
            .iter()
            .rev()
            .find(|r| {
                let all = hops(r);
                // productpage's inbound line is written last (its response ends after all
                // its calls), so wait until it is there too.
                r["hops"][0]["direction"] == "gateway"
                    && r["hops"][0]["hops"][0]["direction"] == "inbound"
                    && all.iter().any(|h| flags(h).contains(&"DI"))
                    && all.iter().filter(|h| h["direction"] == "inbound").count() >= 3
            })
            .cloned()
    });
    // The tree: gateway → productpage inbound → productpage's call to reviews → reviews v2
    // inbound → reviews' call to ratings, delayed.
    let gw = &request["hops"][0];
    assert_eq!(gw["proxy"]["kind"], "gateway", "{request:#}");
    assert_eq!(gw["proxy"]["namespace"], "istio-system");
    assert_eq!(
        gw["route"]["virtual_service"], "default/bookinfo",
        "{request:#}"
    );
    assert_eq!(gw["route"]["rule"], 0);
    assert_eq!(gw["route"]["conditions"][0], "uri exact \"/productpage\"");
    let pp_in = &gw["hops"][0];
    assert_eq!(pp_in["direction"], "inbound");
    assert_eq!(pp_in["proxy"]["pod"], productpage.as_str());
    let to_reviews = pp_in["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["entry"]["path"] == "/reviews/0")
        .unwrap_or_else(|| panic!("productpage calls reviews: {request:#}"));
    assert_eq!(to_reviews["direction"], "outbound");
    assert_eq!(to_reviews["route"]["virtual_service"], "default/reviews");
    assert_eq!(to_reviews["route"]["rule"], 0);
    assert_eq!(to_reviews["cluster"]["subset"], "v2");
    assert_eq!(to_reviews["upstream_pod"], reviews_v2.as_str());
    let rv2_in = &to_reviews["hops"][0];
    assert_eq!(rv2_in["proxy"]["pod"], reviews_v2.as_str(), "{request:#}");
    let to_ratings = &rv2_in["hops"][0];
    assert_eq!(to_ratings["entry"]["path"], "/ratings/0", "{request:#}");
    assert!(flags(to_ratings).contains(&"DI"), "{to_ratings:#}");
    assert_eq!(to_ratings["route"]["virtual_service"], "default/ratings");
    assert_eq!(
        to_ratings["route"]["rule"], 0,
        "the delay rule: {to_ratings:#}"
    );
    // Every hop carries the id the gateway generated.
    let id = request["id"].as_str().unwrap();
    for h in hops(&request) {
        assert_eq!(h["entry"]["request_id"], id);
    }

    // The same as text a learner reads.
    let text = sb.ok(&["explain", "--since", "10m", "--id", id]);
    for expected in [
        &format!("gateway {gateway}: GET bookinfo.example/productpage → 200"),
        "route: VirtualService default/bookinfo rule 1, match 1 (http[0].match[0]): uri exact \"/productpage\" → productpage.default",
        &format!("inbound {productpage}: GET /productpage"),
        "route: VirtualService default/reviews rule 1 (http[0]): headers end-user exact \"jason\" → reviews.default subset v2",
        &format!("({reviews_v2})"),
        "route: VirtualService default/ratings rule 1 (http[0]): headers end-user exact \"jason\" → ratings.default subset v1",
        "fault injection: delay 7s for 100 % of requests",
        "DI: delay injected: fault injection held the request before forwarding it",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(text.matches(id).count(), 1, "one request:\n{text}");

    // A 0.5 s route timeout on reviews with a 2 s ratings delay for everyone: UT.
    sb.apply(
        "timeout",
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  \
         hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v2}\n    timeout: 0.5s\n\
         ---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings}\nspec:\n  \
         hosts: [ratings]\n  http:\n  - fault:\n      delay: {percentage: {value: 100}, fixedDelay: 2s}\n    \
         route:\n    - destination: {host: ratings, subset: v1}\n",
    );
    envoy_has(&sb, &productpage, &["0.500s"]);
    envoy_has(&sb, &reviews_v2, &["\"2s\""]);
    let (status, _) = http(port, "GET", "/productpage", None, None);
    assert_eq!(status, 200);
    let timed_out = explain_until(&sb, &["--failed", "--path", "/productpage"], |report| {
        report["requests"].as_array()?.iter().rev().find_map(|r| {
            hops(r)
                .into_iter()
                .find(|h| flags(h).contains(&"UT"))
                .map(|h| (r["id"].as_str().unwrap_or_default().to_owned(), h.clone()))
        })
    });
    let (ut_id, ut) = timed_out;
    assert_eq!(ut["entry"]["status"], 504, "{ut:#}");
    assert_eq!(ut["route"]["virtual_service"], "default/reviews");
    let text = sb.ok(&["explain", "--since", "10m", "--failed", "--id", &ut_id]);
    for expected in [
        "→ 504 [UT]",
        "route: VirtualService default/reviews rule 1 (http[0]): any request → reviews.default subset v2",
        "timeout 0.5s",
        "UT: upstream timeout: the answer did not come within the route's timeout",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // An unrouted path: the gateway answers 404 with NR.
    let (status, _) = http(port, "GET", "/no-such-page", None, None);
    assert_eq!(status, 404);
    explain_until(&sb, &["--path", "/no-such-page"], |report| {
        report["requests"].as_array()?.first().map(|_| ())
    });
    let text = sb.ok(&["explain", "--since", "10m", "--path", "/no-such-page"]);
    for expected in [
        "GET /no-such-page  404",
        "→ 404 [NR]",
        "route: none — no route rule of this proxy covers GET /no-such-page for host bookinfo.example",
        "NR: no route: no route rule matched the request",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // `meshwork check` follows a failed traffic check with the latest of its requests, as
    // the proxies saw it: here a check through the ingress gateway (its nodePort) to the
    // unrouted path.
    let fixture = env!("CARGO_MANIFEST_DIR").to_owned() + "/tests/fixtures/why";
    let out = sb.meshwork(&["--content", &fixture, "check", "why/unrouted"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "/no-such-page: status 404, expected 200",
        "The latest of those requests that went wrong, as the proxies saw it (more: `meshwork explain --path /no-such-page`):",
        "GET /no-such-page  404",
        "NR: no route: no route rule matched the request",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Filters that keep nothing say so.
    let out = sb.meshwork(&["explain", "--since", "10m", "--path", "/nothing-here"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("none with --path /nothing-here"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn explain_without_a_running_mesh_says_how_to_start_one() {
    let env = Env::new();
    let out = env
        .cmd_default_target()
        .args(["explain"])
        .timeout(COMMAND_TIMEOUT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("the reference mesh is not running"), "{err}");
    assert!(err.contains("meshwork mesh up"), "{err}");
}

#[test]
fn explain_refuses_a_bad_duration_with_an_example() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["explain", "--since", "two minutes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("write e.g. 30s, 2m, 1h"),
        "{}",
        stderr(&out)
    );
}
