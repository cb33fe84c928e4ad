//! `pods` checks: listing by selector, readiness, injection.

use crate::server::{get, run};
use meshwork_checks::Outcome;
use meshwork_checks::course::{CheckSpec, PodsCheck};

const PODS: &str = "/api/v1/namespaces/default/pods";
const SELECTOR: &str = "labelSelector=app%3Dproductpage";

fn productpage() -> PodsCheck {
    PodsCheck {
        namespace: "default".into(),
        selector: "app=productpage".into(),
        min_count: 1,
        ready: false,
        containers: None,
        has_container: None,
        lacks_container: None,
    }
}

async fn check(fixture: &str, spec: PodsCheck) -> meshwork_checks::check::Finding {
    run(
        vec![get(PODS, fixture).query(SELECTOR)],
        CheckSpec::Pods(spec),
    )
    .await
}

#[tokio::test]
async fn injected_ready_pods_pass() {
    let spec = PodsCheck {
        ready: true,
        containers: Some(2),
        has_container: Some("istio-proxy".into()),
        ..productpage()
    };
    let f = check("pods_productpage_injected", spec).await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert_eq!(
        f.message,
        "1 pod with app=productpage in default: all Ready, each with 2 containers (the sidecar is injected), \
         each has container istio-proxy"
    );
}

#[tokio::test]
async fn image_pull_backoff_is_not_ready() {
    let spec = PodsCheck {
        ready: true,
        ..productpage()
    };
    let f = check("pods_productpage_image_pull", spec).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert_eq!(
        f.message,
        "1 pod with app=productpage in default: not Ready: productpage-v1-5b9c8f7d4-x2x7q (READY 0/1, ImagePullBackOff)"
    );
}

#[tokio::test]
async fn one_container_means_no_sidecar() {
    let spec = PodsCheck {
        containers: Some(2),
        ..productpage()
    };
    let f = check("pods_productpage_image_pull", spec).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert!(
        f.message
            .ends_with("— the istio-proxy sidecar was not injected"),
        "{}",
        f.message
    );
}

#[tokio::test]
async fn istio_proxy_present_and_absent() {
    let has = PodsCheck {
        has_container: Some("istio-proxy".into()),
        ..productpage()
    };
    let f = check("pods_productpage_image_pull", has.clone()).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert!(
        f.message
            .contains("container istio-proxy is missing from productpage-v1-5b9c8f7d4-x2x7q"),
        "{}",
        f.message
    );
    assert_eq!(
        check("pods_productpage_injected", has).await.outcome,
        Outcome::Pass
    );

    let lacks = PodsCheck {
        lacks_container: Some("istio-proxy".into()),
        ..productpage()
    };
    let f = check("pods_productpage_injected", lacks.clone()).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert!(
        f.message
            .contains("container istio-proxy is still in productpage-v1-7d6cfb7dfd-5mc96"),
        "{}",
        f.message
    );
    assert_eq!(
        check("pods_productpage_image_pull", lacks).await.outcome,
        Outcome::Pass
    );
}

#[tokio::test]
async fn no_matching_pods_fail() {
    let empty =
        serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []});
    let script = vec![
        crate::server::get_only(PODS)
            .query(SELECTOR)
            .answer(200, serde_json::to_vec(&empty).unwrap()),
    ];
    let f = run(script, CheckSpec::Pods(productpage())).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert_eq!(
        f.message,
        "expected at least 1 pod with app=productpage in default, found none"
    );
}
