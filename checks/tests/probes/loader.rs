//! `http` and `exec` checks in lab.yaml: what loads into the model, and the errors that name
//! the line and field of every mistake.

use super::{checks, errors};
use meshwork_checks::check::bookinfo::ReviewsVersion;
use meshwork_checks::check::expect::ReviewsExpect;
use meshwork_checks::course::{CheckSpec, Endpoint, ServiceRef};
use std::time::Duration;

#[test]
fn an_http_check_with_every_field_loads() {
    let loaded = checks(
        r#"      - id: routed
        title: Half the pages show red stars
        http:
          service: {name: productpage, namespace: bookinfo, port: 9080, path: /productpage}
          method: GET
          headers: {end-user: jason}
          count: 40
          from: {pod: app=ratings, namespace: bookinfo, container: ratings}
          expect:
            status: [200, 503]
            body: {contains: Simple Bookstore App, not_contains: [error, Sorry], regex: "<title>.*</title>"}
            bookinfo: {reviews: {v1: 50%, v3: 50, tolerance: 15%}}
            latency: {min: 900ms, max: 1.5s}
"#,
    );
    let CheckSpec::Http(h) = &loaded[0].spec else {
        panic!("not an http check: {:?}", loaded[0].spec);
    };
    assert_eq!(
        h.endpoint,
        Endpoint::Service(ServiceRef {
            name: "productpage".into(),
            namespace: Some("bookinfo".into()),
            port: 9080,
            path: "/productpage".into(),
        })
    );
    assert_eq!(h.headers, [("end-user".to_string(), "jason".to_string())]);
    assert_eq!(h.count, 40);
    let from = h.from.as_ref().unwrap();
    assert!(from.is_selector());
    assert_eq!(from.container.as_deref(), Some("ratings"));
    assert_eq!(h.expect.status, [200, 503]);
    assert_eq!(h.expect.body.contains, ["Simple Bookstore App"]);
    assert_eq!(h.expect.body.not_contains, ["error", "Sorry"]);
    assert_eq!(h.expect.body.regex[0].as_str(), "<title>.*</title>");
    assert_eq!(
        h.expect.reviews,
        Some(ReviewsExpect::Shares {
            shares: vec![(ReviewsVersion::V1, 50.0), (ReviewsVersion::V3, 50.0)],
            tolerance: 15.0
        })
    );
    let band = h.expect.latency.unwrap();
    assert_eq!(band.min, Some(Duration::from_millis(900)));
    assert_eq!(band.max, Some(Duration::from_millis(1500)));
}

#[test]
fn http_defaults_are_one_get_expecting_200() {
    let loaded = checks(
        "      - id: up\n        title: Up\n        http: {url: \"http://127.0.0.1:30080/productpage\"}\n",
    );
    let CheckSpec::Http(h) = &loaded[0].spec else {
        panic!()
    };
    assert_eq!((h.method.as_str(), h.count), ("GET", 1));
    assert_eq!(h.expect.status, [200]);
    assert!(h.from.is_none() && h.expect.reviews.is_none() && h.expect.latency.is_none());
}

#[test]
fn an_exec_check_with_a_script_runs_it_with_sh() {
    let loaded = checks(
        r#"      - id: title
        title: productpage answers from inside the mesh
        exec:
          pod: app=ratings
          container: ratings
          script: curl -sS productpage:9080/productpage | grep -o "<title>.*</title>"
          expect:
            stdout: {contains: <title>Simple Bookstore App</title>}
      - id: any-exit
        title: curl fails as expected
        exec:
          pod: sleep-abc
          command: [curl, -sS, "http://httpbin:8000/status/500"]
          expect: {exit_code: any, stderr: {regex: "^$"}}
"#,
    );
    let CheckSpec::Exec(e) = &loaded[0].spec else {
        panic!()
    };
    assert_eq!(e.command[..2], ["sh", "-c"]);
    assert!(e.command[2].starts_with("curl -sS productpage:9080"));
    assert_eq!(e.expect.exit_code, Some(0));
    assert_eq!(
        e.expect.stdout.contains,
        ["<title>Simple Bookstore App</title>"]
    );
    let CheckSpec::Exec(e) = &loaded[1].spec else {
        panic!()
    };
    assert!(!e.pod.is_selector());
    assert_eq!(e.expect.exit_code, None);
    assert_eq!(loaded[1].spec.kind_name(), "exec");
}

#[test]
fn http_mistakes_name_line_and_field() {
    let errs = errors(
        r#"      - id: bad
        title: Bad
        http:
          url: "https://127.0.0.1:30443/"
          method: get
          headers: {"bad header": x}
          count: 0
          expect:
            status: [200, 999]
            body: {regex: ["ok", "(unclosed"]}
            bookinfo: {reviews: {v1: 50%, v4: 50%}}
            latency: {min: 2s, max: soon}
"#,
    );
    let file = "labs/01-probes/lab.yaml";
    let f = "steps[0].checks[0].http";
    assert_eq!(
        errs,
        [
            format!(
                "{file}:13: field `{f}.url`: `https://127.0.0.1:30443/`: requests from the host are plain http; send https requests from a pod (from:)"
            ),
            format!(
                "{file}:14: field `{f}.method`: `get` is not an HTTP method (write e.g. GET, POST, DELETE)"
            ),
            format!(
                "{file}:15: field `{f}.headers.bad header`: `bad header` is not an HTTP header name"
            ),
            format!("{file}:16: field `{f}.count`: 0 requests: send between 1 and 1000"),
            format!(
                "{file}:18: field `{f}.expect.status`: `[200, 999]` is not a status code: write one code (200) or a list ([200, 503]), each between 100 and 599"
            ),
            format!(
                "{file}:19: field `{f}.expect.body.regex[1]`: `(unclosed` is not a regular expression: error: unclosed group"
            ),
            format!(
                "{file}:20: field `{f}.expect.bookinfo.reviews.v4`: `v4` is not a reviews version: write v1, v2, v3 or tolerance"
            ),
            format!(
                "{file}:20: field `{f}.expect.bookinfo.reviews`: the versions' shares add up to 50 %, not 100 % (e.g. {{v1: 50%, v3: 50%}})"
            ),
            format!(
                "{file}:21: field `{f}.expect.latency.max`: `soon` is not a duration (write e.g. 1.5s, 900ms or 2m)"
            ),
        ]
    );
}

#[test]
fn an_http_check_needs_one_endpoint_and_enough_requests_for_a_mix() {
    let errs = errors("      - id: none\n        title: None\n        http: {method: GET}\n");
    assert_eq!(
        errs,
        [
            "labs/01-probes/lab.yaml:12: field `steps[0].checks[0].http`: an http check needs `url:`, `service:` (a Service's name, namespace, port and path) or `ingress:` (a path on the ingress gateway)"
        ]
    );
    let errs = errors(
        "      - id: both\n        title: Both\n        http: {url: http://x/, ingress: /productpage}\n",
    );
    assert_eq!(
        errs,
        [
            "labs/01-probes/lab.yaml:12: field `steps[0].checks[0].http`: write only one of `url:`, `service:` and `ingress:`"
        ]
    );
    let errs = errors(
        "      - id: mix\n        title: Mix\n        http:\n          url: http://x/\n          expect: {bookinfo: {reviews: mix}}\n",
    );
    assert_eq!(
        errs,
        [
            "labs/01-probes/lab.yaml:14: field `steps[0].checks[0].http.expect.bookinfo.reviews`: a mix or distribution of versions needs more than one request: set `count` (e.g. 20)"
        ]
    );
    let errs = errors(
        "      - id: both\n        title: Both\n        http: {url: \"http://x/\", service: {name: a, port: 80, path: x}}\n",
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].ends_with("write only one of `url:`, `service:` and `ingress:`"),
        "{}",
        errs[0]
    );
}

#[test]
fn exec_mistakes_name_line_and_field() {
    let errs = errors(
        r#"      - id: bad
        title: Bad
        exec:
          pod: ""
          command: []
          expect:
            exit_code: 300
            stdout: {contains: {a: b}}
"#,
    );
    let file = "labs/01-probes/lab.yaml";
    let f = "steps[0].checks[0].exec";
    assert_eq!(
        errs,
        [
            format!(
                "{file}:13: field `{f}.pod`: name a pod, or select one by labels (e.g. app=ratings)"
            ),
            format!(
                "{file}:14: field `{f}.command`: give the program and its arguments, e.g. [curl, -sS, http://httpbin:8000/get]"
            ),
            format!(
                "{file}:16: field `{f}.expect.exit_code`: `300` is not an exit code: write a number from 0 to 255, or `any`"
            ),
            format!(
                "{file}:17: field `{f}.expect.stdout.contains`: write a text, or a list of texts"
            ),
        ]
    );
    let errs = errors(
        "      - id: both\n        title: Both\n        exec: {pod: a, command: [ls], script: ls}\n",
    );
    assert!(
        errs[0].ends_with(
            "write either `command:` (an argv list) or `script:` (run with sh -c), not both"
        ),
        "{errs:?}"
    );
}

#[test]
fn unknown_fields_in_the_new_kinds_are_errors() {
    let errs = errors(
        "      - id: typo\n        title: Typo\n        http:\n          url: http://x/\n          expect: {stauts: 200}\n",
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("labs/01-probes/lab.yaml:14: field `steps[0].checks[0].http.expect`: unknown field `stauts`"), "{}", errs[0]);
}

#[test]
fn a_login_and_status_counts_load() {
    let loaded = checks(
        r#"      - id: jason
        title: Signed in as jason
        http:
          service: {name: productpage, port: 9080, path: /productpage}
          count: 15
          login: {path: /login, form: {username: jason, remember: 1}}
          expect:
            status: [200, 429]
            status_count: {"429": "> 0", 200: ">= 5"}
"#,
    );
    let CheckSpec::Http(h) = &loaded[0].spec else {
        panic!("not an http check: {:?}", loaded[0].spec);
    };
    let login = h.login.as_ref().unwrap();
    assert_eq!(login.path, "/login");
    assert_eq!(
        login.form,
        [
            ("remember".to_string(), "1".to_string()),
            ("username".to_string(), "jason".to_string())
        ]
    );
    let counts: Vec<(u16, String)> = h
        .expect
        .status_count
        .iter()
        .map(|(code, want)| (*code, want.to_string()))
        .collect();
    assert_eq!(
        counts,
        [(429, "> 0".to_string()), (200, ">= 5".to_string())]
    );
}

#[test]
fn login_and_status_count_mistakes_name_line_and_field() {
    let errs = errors(
        r#"      - id: bad
        title: Bad
        http:
          url: http://127.0.0.1:30080/productpage
          headers: {Cookie: session=x}
          login: {path: login, form: {}}
          expect:
            status: 200
            status_count: {"429": "> 0", "200": "lots", "42": "== 1"}
"#,
    );
    let file = "labs/01-probes/lab.yaml";
    let f = "steps[0].checks[0].http";
    assert_eq!(errs.len(), 6, "{errs:#?}");
    let has = |tail: &str| {
        assert!(
            errs.iter()
                .any(|e| e.starts_with(file) && e.ends_with(tail)),
            "no error ending in {tail:?}: {errs:#?}"
        );
    };
    has(&format!(
        "field `{f}.login.path`: `login` must be a path starting with `/` on the check's own host and port (e.g. /login)"
    ));
    has(&format!(
        "field `{f}.login.form`: a login needs the form's fields, e.g. `form: {{username: jason}}`"
    ));
    has(&format!(
        "field `{f}.headers.Cookie`: the login's session cookies are sent as the Cookie header; drop this header, or drop `login:` and send the cookie yourself"
    ));
    has(&format!(
        "field `{f}.expect.status_count.429`: 429 is not an accepted status, so every 429 already fails the check; add it to `status` (e.g. status: [200, 429])"
    ));
    has(&format!(
        "field `{f}.expect.status_count.200`: `lots` is not an expectation: write an operator and a whole number, e.g. \"> 0\", \">= 3\", \"== 0\", \"< 5\""
    ));
    has(&format!(
        "field `{f}.expect.status_count`: `42` is not a status code (between 100 and 599, e.g. \"429\")"
    ));
    let errs = errors(
        "      - id: t\n        title: T\n        http:\n          url: http://x/\n          login: {path: /login, form: {username: jason}, method: GET}\n",
    );
    assert!(
        errs.len() == 1 && errs[0].contains("unknown field `method`"),
        "{errs:?}"
    );
}
