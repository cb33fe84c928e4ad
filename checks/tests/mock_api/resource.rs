//! `resource` checks through discovery and the dynamic API.

use crate::server::{get, get_only, run};
use meshwork_checks::Outcome;
use meshwork_checks::course::{CheckSpec, FieldPath, Presence, ResourceCheck};
use serde_json::{Value, json};

const DISCOVERY: &str = "/apis/networking.istio.io/v1";
const REVIEWS: &str = "/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews";

fn reviews(expect: Presence, fields: &[(&str, Value)]) -> ResourceCheck {
    ResourceCheck {
        api_version: "networking.istio.io/v1".into(),
        kind: "VirtualService".into(),
        name: "reviews".into(),
        namespace: Some("default".into()),
        expect,
        fields: fields
            .iter()
            .map(|(p, v)| (FieldPath::parse(p).unwrap(), v.clone()))
            .collect(),
        reference: Some("manifests/reviews-v1.yaml".into()),
    }
}

fn not_found() -> crate::server::Exchange {
    get_only(REVIEWS).status(
        404,
        "NotFound",
        "virtualservices.networking.istio.io \"reviews\" not found",
    )
}

#[tokio::test]
async fn present_object_with_expected_fields_passes() {
    let script = vec![
        get(DISCOVERY, "networking_istio_io_v1"),
        get(REVIEWS, "virtualservice_reviews_v2"),
    ];
    let check = reviews(
        Presence::Present,
        &[
            ("spec.hosts[0]", json!("reviews")),
            (
                "spec.http[0].route[0].destination.port.number",
                json!(9080.0),
            ),
        ],
    );
    let f = run(script, CheckSpec::Resource(check)).await;
    assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
    assert_eq!(
        f.message,
        "VirtualService reviews in namespace default exists and its 2 checked fields have the expected values"
    );
    assert_eq!(f.diff, None);
}

#[tokio::test]
async fn field_mismatch_fails_with_a_diff_against_the_reference() {
    let script = vec![
        get(DISCOVERY, "networking_istio_io_v1"),
        get(REVIEWS, "virtualservice_reviews_v2"),
    ];
    let check = reviews(
        Presence::Present,
        &[
            ("spec.http[0].route[0].destination.subset", json!("v1")),
            ("spec.http[0].route[0].weight", json!(100)),
        ],
    );
    let f = run(script, CheckSpec::Resource(check)).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert_eq!(
        f.message,
        "VirtualService reviews in namespace default is not as expected: \
         spec.http[0].route[0].destination.subset is v2, expected v1; \
         spec.http[0].route[0].weight is not set, expected 100"
    );
    let diff = f.diff.expect("a diff against manifests/reviews-v1.yaml");
    let changed: Vec<&str> = diff.lines().filter(|l| l.starts_with(['-', '+'])).collect();
    assert_eq!(
        changed,
        [
            "--- reference: manifests/reviews-v1.yaml",
            "+++ cluster: VirtualService/reviews",
            "-        subset: v1",
            "+        subset: v2",
        ],
        "server-populated fields must not show up:\n{diff}"
    );
}

#[tokio::test]
async fn missing_object_fails_and_absent_expectation_passes() {
    let script = vec![get(DISCOVERY, "networking_istio_io_v1"), not_found()];
    let f = run(script, CheckSpec::Resource(reviews(Presence::Present, &[]))).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert_eq!(
        f.message,
        "there is no VirtualService reviews in namespace default"
    );

    let script = vec![get(DISCOVERY, "networking_istio_io_v1"), not_found()];
    let f = run(script, CheckSpec::Resource(reviews(Presence::Absent, &[]))).await;
    assert_eq!(f.outcome, Outcome::Pass);
    assert_eq!(
        f.message,
        "there is no VirtualService reviews in namespace default, as expected"
    );
}

#[tokio::test]
async fn object_that_should_be_gone_fails() {
    let script = vec![
        get(DISCOVERY, "networking_istio_io_v1"),
        get(REVIEWS, "virtualservice_reviews_v2"),
    ];
    let f = run(script, CheckSpec::Resource(reviews(Presence::Absent, &[]))).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert!(f.message.contains("still exists"), "{}", f.message);
}

#[tokio::test]
async fn unknown_kind_asks_whether_istio_is_installed() {
    // Without Istio's CRDs the group version is not served: a plain-text 404, as kube-apiserver answers.
    let script = vec![get_only(DISCOVERY).answer(404, "404 page not found\n")];
    let f = run(script, CheckSpec::Resource(reviews(Presence::Present, &[]))).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert_eq!(
        f.message,
        "the API server does not know kind VirtualService in networking.istio.io/v1 — is Istio (its CRDs) installed?"
    );
}

#[tokio::test]
async fn cluster_scoped_kinds_are_read_without_a_namespace() {
    let script = vec![
        get("/api/v1", "api_v1"),
        get("/api/v1/namespaces/default", "namespace_default"),
    ];
    let check = ResourceCheck {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        name: "default".into(),
        namespace: None,
        expect: Presence::Present,
        fields: vec![(
            FieldPath::parse(r#"metadata.labels["istio-injection"]"#).unwrap(),
            json!("enabled"),
        )],
        reference: None,
    };
    let f = run(script, CheckSpec::Resource(check)).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert_eq!(
        f.message,
        "Namespace default is not as expected: metadata.labels[\"istio-injection\"] is not set, expected enabled"
    );
    assert_eq!(f.diff, None, "no reference, no diff");
}

#[tokio::test]
async fn a_broken_reference_is_named_instead_of_a_diff() {
    let script = vec![
        get(DISCOVERY, "networking_istio_io_v1"),
        get(REVIEWS, "virtualservice_reviews_v2"),
    ];
    let mut check = reviews(
        Presence::Present,
        &[("spec.http[0].route[0].destination.subset", json!("v1"))],
    );
    check.reference = Some("manifests/reviews-v3.yaml".into());
    let f = run(script, CheckSpec::Resource(check)).await;
    assert_eq!(f.outcome, Outcome::Fail);
    assert!(
        f.message.ends_with(
            "(no diff with the reference: manifests/reviews-v3.yaml does not exist in the course content)"
        ),
        "{}",
        f.message
    );
    assert_eq!(f.diff, None);
}

#[tokio::test]
async fn an_unreachable_cluster_is_an_error_not_an_unknown_kind() {
    let script = vec![get_only(DISCOVERY).refuse()];
    let f = run(script, CheckSpec::Resource(reviews(Presence::Absent, &[]))).await;
    assert_eq!(f.outcome, Outcome::Error, "{}", f.message);
    assert!(
        f.message
            .starts_with("cannot reach the cluster (context mock): connection refused"),
        "{}",
        f.message
    );
}
