//! A real browser: headless Chromium opens Bookinfo's product page through a NodePort, as a
//! learner's browser does, and the page it renders carries the book, its details and reviews.
//!
//! Needs `chromium` (`.ci/run` installs it). Set `MESHWORK_SKIP_BROWSER=1` to skip explicitly on
//! a machine without it; otherwise a missing browser fails the test.

use std::path::PathBuf;
use std::time::Duration;

use super::harness::{Env, kubectl_path};

const SAMPLES: &str = "/work/shared/istio-samples/samples";

fn chromium() -> Option<PathBuf> {
    if std::env::var_os("MESHWORK_SKIP_BROWSER").is_some() {
        return None;
    }
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    assert!(
        found.is_some(),
        "chromium is required for the browser test (apt-get install chromium; or set MESHWORK_SKIP_BROWSER=1 to skip it)"
    );
    found
}

/// Runs headless Chromium on `url` and returns the DOM it rendered (and writes a screenshot).
async fn render(browser: &std::path::Path, profile: &std::path::Path, url: &str) -> String {
    let args = |extra: &[String]| {
        let mut a = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            format!("--user-data-dir={}", profile.display()),
            "--window-size=1280,1000".to_owned(),
        ];
        a.extend_from_slice(extra);
        a.push(url.to_owned());
        a
    };
    let dom = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(browser)
            .args(args(&["--dump-dom".to_owned()]))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium renders within a minute")
    .expect("chromium runs");
    let shot = profile.join("productpage.png");
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(browser)
            .args(args(&[format!("--screenshot={}", shot.display())]))
            .kill_on_drop(true)
            .output(),
    )
    .await;
    if let Ok(dir) = std::env::var("MESHWORK_SCREENSHOT_DIR") {
        let _ = std::fs::copy(&shot, PathBuf::from(dir).join("productpage.png"));
    }
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_renders_bookinfo_through_a_node_port() {
    if kubectl_path().is_none() {
        return;
    }
    let Some(browser) = chromium() else { return };
    let env = Env::start().await;
    let bookinfo = format!("{SAMPLES}/bookinfo/platform/kube/bookinfo.yaml");
    let nodeport = format!("{SAMPLES}/bookinfo/platform/kube/productpage-nodeport.yaml");
    env.ok(&["apply", "-f", &bookinfo]).await;
    env.ok(&["apply", "-f", &nodeport]).await;
    env.ok(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=60s",
    ])
    .await;
    let port = env
        .ok(&[
            "get",
            "svc",
            "productpage",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .await;
    let url = format!("http://127.0.0.1:{}/productpage", port.trim());
    let profile = tempfile::tempdir().expect("browser profile");
    let dom = render(&browser, profile.path(), &url).await;
    assert!(
        dom.contains("<title>Simple Bookstore App</title>"),
        "the browser did not render the product page from {url}: {dom}"
    );
    assert!(dom.contains("The Comedy of Errors"), "{dom}");
    assert!(
        !dom.contains("Error fetching product details")
            && !dom.contains("Error fetching product reviews"),
        "details and reviews load: {dom}"
    );
    assert!(dom.contains("ISBN-10"), "the details block renders: {dom}");
    env.stop().await;
}
