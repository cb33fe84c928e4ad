//! The `http` and `exec` checks against a real reference mesh running Istio's Bookinfo sample,
//! applied unchanged with the real kubectl: requests from the host through productpage's
//! nodePort, from inside the ratings pod with its curl, and commands run through `pods/exec`.

// A test binary: helpers panic with a message, and a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mesh.rs"]
mod mesh_support;

use mesh_support::{MeshEnv, SAMPLES};
use meshwork_checks::engine::Outcome;

const BOOKINFO_APPS: [&str; 4] = ["productpage", "details", "reviews", "ratings"];

/// A fresh mesh with Bookinfo (productpage on a nodePort) and Istio's curl sample; waits
/// until the pods with the given `app` labels are Ready.
async fn bookinfo(apps: &[&str]) -> Option<MeshEnv> {
    let env = MeshEnv::start(mesh_support::kubectl()?).await;
    for file in [
        "bookinfo/platform/kube/bookinfo.yaml",
        "bookinfo/platform/kube/productpage-nodeport.yaml",
        "curl/curl.yaml",
    ] {
        env.kubectl(&["apply", "-f", &format!("{SAMPLES}/{file}")])
            .await;
    }
    for app in apps {
        env.ready("default", &format!("app={app}")).await;
    }
    Some(env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_through_its_node_port_from_the_host_and_an_unknown_command_through_exec() {
    let Some(env) = bookinfo(&BOOKINFO_APPS).await else {
        return;
    };
    let node_port = env
        .kubectl(&[
            "get",
            "svc",
            "productpage",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .await;
    let results = env
        .run_all(
            r#"      - id: all-versions
        title: Every reviews version answers
        timeout: 60
        http:
          service: {name: productpage, port: 9080, path: /productpage}
          count: 30
          expect:
            body: {contains: <title>Simple Bookstore App</title>}
            bookinfo: {reviews: mix}
      - id: only-v1
        title: Only v1 (not yet routed)
        timeout: 60
        http:
          service: {name: productpage, port: 9080, path: /productpage}
          count: 30
          expect:
            bookinfo: {reviews: {v1: 100%}}
      - id: missing-page
        title: A page that is not there
        http:
          service: {name: productpage, port: 9080, path: /nothing-here}
      - id: unknown-command
        title: An unknown command, through pods/exec
        exec: {pod: app=ratings, container: ratings, command: [no-such-tool]}
"#,
        )
        .await;
    let url = format!("http://127.0.0.1:{node_port}/productpage");
    assert_eq!(results[0].outcome, Outcome::Pass, "{}", results[0].message);
    assert!(
        results[0].message.starts_with(&format!(
            "30 × GET {url}: status 200 on all 30; the body is as expected; "
        )),
        "{}",
        results[0].message
    );
    // Round-robin over three pods: v1 is a third of the pages, far from all of them.
    assert_eq!(results[1].outcome, Outcome::Fail, "{}", results[1].message);
    assert!(
        results[1]
            .message
            .starts_with(&format!("30 × GET {url}: no stars (reviews v1) on ")),
        "{}",
        results[1].message
    );
    assert!(
        results[1].message.contains(" of 30 pages (")
            && results[1].message.contains("expected 100 % ± 10"),
        "{}",
        results[1].message
    );
    assert_eq!(results[2].outcome, Outcome::Fail, "{}", results[2].message);
    assert_eq!(
        results[2].message,
        format!("GET http://127.0.0.1:{node_port}/nothing-here: status 404, expected 200")
    );
    assert_eq!(results[3].outcome, Outcome::Fail, "{}", results[3].message);
    assert!(
        results[3]
            .message
            .starts_with("`no-such-tool` in pod ratings-v1-"),
        "{}",
        results[3].message
    );
    assert!(
        results[3].message.contains(
            "(container ratings) in default: exited with code 127, expected 0 (127: the command was not found in the container)"
        ),
        "{}",
        results[3].message
    );
    env.mesh.shutdown().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_from_inside_a_pod_and_commands_through_exec() {
    let Some(env) = bookinfo(&[BOOKINFO_APPS.as_slice(), &["curl"]].concat()).await else {
        return;
    };
    let results = env
        .run_all(
            r#"      - id: from-ratings
        title: productpage answers the ratings pod
        timeout: 60
        http:
          service: {name: productpage, port: 9080, path: /productpage}
          count: 6
          from: {pod: app=ratings, container: ratings}
          expect:
            bookinfo: {reviews: any}
      - id: title
        title: The title, fetched inside the mesh
        exec:
          pod: app=ratings
          container: ratings
          script: curl -sS productpage:9080/productpage | grep -o "<title>.*</title>"
          expect:
            stdout: {contains: <title>Simple Bookstore App</title>}
      - id: no-such-service
        title: A name nothing answers to
        http:
          url: http://nowhere:9080/
          from: {pod: app=curl}
      - id: unknown-command
        title: An unknown command
        exec: {pod: app=curl, command: [no-such-tool]}
"#,
        )
        .await;
    assert_eq!(results[0].outcome, Outcome::Pass, "{}", results[0].message);
    assert!(
        results[0].message.starts_with(
            "6 × GET http://productpage.default:9080/productpage from pod ratings-v1-"
        ),
        "{}",
        results[0].message
    );
    assert!(
        results[0]
            .message
            .contains("(container ratings) in default: status 200 on all 6; "),
        "{}",
        results[0].message
    );
    assert_eq!(results[1].outcome, Outcome::Pass, "{}", results[1].message);
    assert!(
        results[1]
            .message
            .ends_with("in default: exit code 0, output as expected"),
        "{}",
        results[1].message
    );
    assert_eq!(results[2].outcome, Outcome::Fail, "{}", results[2].message);
    assert!(
        results[2].message.ends_with(
            ": no response (could not resolve the host, curl exit code 6), expected 200"
        ),
        "{}",
        results[2].message
    );
    assert_eq!(results[3].outcome, Outcome::Fail, "{}", results[3].message);
    assert!(
        results[3].message.contains(
            "exited with code 127, expected 0 (127: the command was not found in the container)"
        ),
        "{}",
        results[3].message
    );
    env.mesh.shutdown().await;
}
