//! `http` checks sent from inside a pod, and `exec` checks, through `pods/exec` over WebSocket
//! against the fake API server (whose containers have a tiny curl and shell).

use super::fake_api::{Behaviour, FakeApi, Run, World, fake_curl, pod};
use super::run;
use meshwork_checks::engine::Outcome;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const V2: &str = include_str!("../fixtures/bookinfo/new-v2.html");
const V3: &str = include_str!("../fixtures/bookinfo/new-v3.html");
const RATINGS_DOWN: &str = include_str!("../fixtures/bookinfo/ratings-unavailable.html");

fn world() -> World {
    World {
        pods: vec![
            pod(
                "ratings-v1-old",
                json!({"app": "ratings"}),
                &["ratings"],
                "Pending",
            ),
            pod(
                "ratings-v1-abc",
                json!({"app": "ratings"}),
                &["ratings", "istio-proxy"],
                "Running",
            ),
            pod("sleep-xyz", json!({"app": "sleep"}), &["sleep"], "Running"),
        ],
        ..World::default()
    }
}

/// Containers whose curl reaches `productpage.default` (v2 and v3 in turn; ratings down for
/// jason) and whose shell knows one pipeline.
fn bookinfo_pods() -> Behaviour {
    let n = Arc::new(AtomicUsize::new(0));
    Arc::new(
        move |argv: &[String], _container: &str| match argv[0].as_str() {
            "curl" => fake_curl(argv, &|url: &str, headers: &BTreeMap<String, String>| {
                if url != "http://productpage.default:9080/productpage" {
                    return None;
                }
                if headers.get("end-user").map(String::as_str) == Some("jason") {
                    return Some((200, RATINGS_DOWN.to_string()));
                }
                let i = n.fetch_add(1, Ordering::SeqCst);
                Some((200, if i.is_multiple_of(2) { V2 } else { V3 }.to_string()))
            }),
            "sh" if argv[2].contains("grep -o") => Run {
                stdout: "<title>Simple Bookstore App</title>\n".into(),
                stderr: String::new(),
                exit: Some(0),
            },
            "sh" => Run {
                stdout: String::new(),
                stderr: "sh: nope: not found\n".into(),
                exit: Some(127),
            },
            _ => Run {
                stdout: String::new(),
                stderr: String::new(),
                exit: None,
            },
        },
    )
}

const FROM_RATINGS: &str = "          from: {pod: app=ratings, container: ratings}\n";

#[tokio::test]
async fn requests_from_a_pod_go_through_its_curl() {
    let api = FakeApi::start(world(), bookinfo_pods()).await;
    let yaml = format!(
        "      - id: mix\n        title: Mix\n        http:\n          service: {{name: productpage, port: 9080, path: /productpage}}\n          count: 4\n{FROM_RATINGS}          expect:\n            bookinfo: {{reviews: {{v2: 50%, v3: 50%}}}}\n            latency: {{max: 1s}}\n"
    );
    let r = run(api.target(), &yaml).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert_eq!(
        r.message,
        "4 × GET http://productpage.default:9080/productpage from pod ratings-v1-abc (container ratings) in default: \
         status 200 on all 4; black stars (reviews v2) on 2 of 4, red stars (reviews v3) on 2 of 4; \
         median latency 4.2 ms over 4 answers"
    );
    let execs = api.execs.lock().unwrap();
    assert_eq!(execs.len(), 4);
    // The running pod was chosen, in the named container.
    assert_eq!(
        (execs[0].0.as_str(), execs[0].1.as_str()),
        ("ratings-v1-abc", "ratings")
    );
    assert_eq!(execs[0].2[..2], ["curl", "-sS"]);
}

#[tokio::test]
async fn headers_reach_the_pods_curl_and_failures_are_described() {
    let api = FakeApi::start(world(), bookinfo_pods()).await;
    let yaml = format!(
        "      - id: jason\n        title: Jason\n        http:\n          url: http://productpage.default:9080/productpage\n          headers: {{end-user: jason}}\n{FROM_RATINGS}          expect:\n            bookinfo: {{reviews: v3}}\n"
    );
    let r = run(api.target(), &yaml).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        "GET http://productpage.default:9080/productpage from pod ratings-v1-abc (container ratings) in default: \
         expected red stars (reviews v3) on the page, saw reviews without ratings (\"Ratings service is currently unavailable\")"
    );
    let r = run(
        api.target(),
        &format!("      - id: dns\n        title: DNS\n        http:\n          url: http://nowhere:9080/\n          count: 2\n{FROM_RATINGS}"),
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(
        r.message.ends_with(
            ": no response (could not resolve the host, curl exit code 6) on 2 of 2 requests, expected 200"
        ),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_missing_pod_or_curl_is_reported() {
    let api = FakeApi::start(world(), bookinfo_pods()).await;
    let r = run(
        api.target(),
        "      - id: p\n        title: P\n        http:\n          url: http://productpage:9080/\n          from: {pod: app=nothing}\n",
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        "cannot send the request from there: there is no pod with app=nothing in namespace default"
    );
    // A container without curl: the runtime cannot start it.
    let no_curl: super::fake_api::Behaviour = Arc::new(|_: &[String], _: &str| Run {
        stdout: String::new(),
        stderr: String::new(),
        exit: None,
    });
    let api = FakeApi::start(world(), no_curl).await;
    let r = run(
        api.target(),
        "      - id: p\n        title: P\n        http:\n          url: http://productpage:9080/\n          from: {pod: sleep-xyz}\n",
    )
    .await;
    assert_eq!(r.outcome, Outcome::Error);
    assert!(
        r.message.contains(
            "pod sleep-xyz in default has no curl (exit code 127: OCI runtime exec failed"
        ),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn an_exec_check_passes_on_the_expected_output() {
    let api = FakeApi::start(world(), bookinfo_pods()).await;
    let r = run(
        api.target(),
        r#"      - id: title
        title: Title
        exec:
          pod: app=ratings
          container: ratings
          script: curl -sS productpage:9080/productpage | grep -o "<title>.*</title>"
          expect:
            stdout: {contains: <title>Simple Bookstore App</title>}
"#,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert_eq!(
        r.message,
        "`sh -c 'curl -sS productpage:9080/productpage | grep -o \"<title>.*</title>\"'` in pod ratings-v1-abc \
         (container ratings) in default: exit code 0, output as expected"
    );
    let execs = api.execs.lock().unwrap();
    assert_eq!(execs[0].2[..2], ["sh", "-c"]);
}

#[tokio::test]
async fn an_exec_check_fails_on_the_exit_code_with_stderr() {
    let api = FakeApi::start(world(), bookinfo_pods()).await;
    let r = run(
        api.target(),
        "      - id: nope\n        title: Nope\n        exec: {pod: sleep-xyz, script: nope}\n",
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert_eq!(
        r.message,
        "`sh -c nope` in pod sleep-xyz in default: exited with code 127, expected 0 \
         (127: the command was not found in the container) — stderr: \"sh: nope: not found\""
    );
}

#[tokio::test]
async fn an_exec_check_names_a_missing_pod_or_container() {
    let api = FakeApi::start(world(), bookinfo_pods()).await;
    let r = run(
        api.target(),
        "      - id: gone\n        title: Gone\n        exec: {pod: ratings-v1-gone, command: [env]}\n",
    )
    .await;
    assert_eq!(
        (r.outcome, r.message.as_str()),
        (
            Outcome::Fail,
            "there is no pod ratings-v1-gone in namespace default"
        )
    );
    let r = run(
        api.target(),
        "      - id: pending\n        title: Pending\n        exec: {pod: ratings-v1-old, command: [env]}\n",
    )
    .await;
    assert_eq!(
        r.message,
        "pod ratings-v1-old in namespace default is Pending, not Running"
    );
    let r = run(
        api.target(),
        "      - id: c\n        title: C\n        exec: {pod: app=ratings, container: reviews, command: [env]}\n",
    )
    .await;
    assert_eq!(
        r.message,
        "pod ratings-v1-abc in namespace default has no container reviews; its containers are ratings, istio-proxy"
    );
    assert!(api.execs.lock().unwrap().is_empty(), "nothing was run");
}

/// productpage behind a login: `POST /login` with `username=jason` (asked with `-i`, so the
/// cookie can be read) sets a session; the page shows black stars (v2) to the session only.
fn login_pods() -> Behaviour {
    Arc::new(|argv: &[String], _container: &str| match argv[0].as_str() {
        "curl" => fake_curl(
            argv,
            &|url: &str, headers: &BTreeMap<String, String>| match url {
                "http://productpage.default:9080/login" => {
                    let user = headers
                        .get(":data")
                        .and_then(|d| d.strip_prefix("username="))
                        .filter(|u| !u.is_empty());
                    let cookie = match user {
                        Some(user) => format!("session={user}-token; HttpOnly; Path=/"),
                        None => "session=; Max-Age=0; Path=/".into(),
                    };
                    let head = if headers.contains_key(":include") {
                        format!("HTTP/1.1 302 FOUND\r\nSet-Cookie: {cookie}\r\n\r\n")
                    } else {
                        String::new()
                    };
                    Some((302, format!("{head}Redirecting...")))
                }
                "http://productpage.default:9080/productpage" => {
                    let jason =
                        headers.get("cookie").map(String::as_str) == Some("session=jason-token");
                    Some((200, if jason { V2 } else { V3 }.to_string()))
                }
                _ => None,
            },
        ),
        _ => Run {
            stdout: String::new(),
            stderr: String::new(),
            exit: None,
        },
    })
}

#[tokio::test]
async fn a_login_from_a_pod_sends_its_session_with_every_request() {
    let api = FakeApi::start(world(), login_pods()).await;
    let check = |form: &str| {
        format!(
            "      - id: jason\n        title: Jason\n        http:\n          service: {{name: productpage, port: 9080, path: /productpage}}\n          count: 3\n          login: {{path: /login, form: {form}}}\n{FROM_RATINGS}          expect:\n            bookinfo: {{reviews: v2}}\n"
        )
    };
    let r = run(api.target(), &check("{username: jason}")).await;
    assert_eq!(r.outcome, Outcome::Pass, "{}", r.message);
    assert!(
        r.message.starts_with(
            "3 × GET http://productpage.default:9080/productpage from pod ratings-v1-abc \
             (container ratings) in default, signed in with POST /login: status 200 on all 3; \
             black stars (reviews v2) on"
        ),
        "{}",
        r.message
    );
    {
        let execs = api.execs.lock().unwrap();
        // One login, then three requests, each its own exec carrying the cookie.
        assert_eq!(execs.len(), 4);
        assert!(execs[0].2.contains(&"username=jason".to_string()));
        for exec in &execs[1..] {
            assert!(
                exec.2.contains(&"Cookie: session=jason-token".to_string()),
                "{:?}",
                exec.2
            );
        }
    }
    // A login form the page does not know clears the session: said plainly, no request sent.
    let r = run(api.target(), &check("{name: jason}")).await;
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(
        r.message.ends_with(
            "signed in with POST /login: the login (POST http://productpage.default:9080/login) \
             answered status 302 but set no cookie (it cleared session), so the requests would \
             not be signed in; check the form's fields (name=jason)"
        ),
        "{}",
        r.message
    );
    assert_eq!(api.execs.lock().unwrap().len(), 5);
}
