//! The course loader on valid and invalid labs: every error names file, line and field.

// Helpers of a test may panic with a message, like the tests themselves.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use meshwork_checks::TargetKind;
use meshwork_checks::content::{Content, Origin};
use meshwork_checks::course::load::load;
use meshwork_checks::course::{CheckSpec, Presence};

const VALID: &str = r#"format_version: 1
id: routing
title: Request routing
summary: Route requests.
minutes: 20
uses: [VirtualService]
steps:
  - id: all-v1
    title: All traffic to v1
    body: 01-all-v1.md
    commands:
      - run: kubectl apply -f manifests/vs.yaml
      - cluster: istioctl install -y
        reference: meshwork istioctl install
    checks:
      - id: vs
        title: The VirtualService exists
        resource:
          api_version: networking.istio.io/v1
          kind: VirtualService
          name: reviews
          namespace: default
          fields:
            spec.http[0].route[0].destination.subset: v1
          reference: manifests/vs.yaml
      - id: pods
        title: Pods are injected
        only: cluster
        timeout: 2.5
        pods:
          namespace: default
          selector: app=reviews
          containers: 2
    hints: [first, second]
    solution:
      manifests: [manifests/vs.yaml]
    reset:
      manifests: [manifests/vs.yaml]
"#;

fn content(files: &[(&str, &str)]) -> Content {
    Content::from_files(
        Origin::Embedded,
        files
            .iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec())),
    )
}

/// A course of one lab `01-routing` whose lab.yaml is `yaml`.
fn one_lab(yaml: &str) -> Content {
    content(&[
        ("labs/01-routing/lab.yaml", yaml),
        ("labs/01-routing/01-all-v1.md", "# All to v1\n"),
        (
            "manifests/vs.yaml",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\n",
        ),
    ])
}

fn errors(yaml: &str) -> Vec<String> {
    load(&one_lab(yaml))
        .expect_err("the lab should be rejected")
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_lab_loads_into_the_model() {
    let course = load(&one_lab(VALID)).unwrap();
    let lab = course.lab("1").unwrap();
    assert_eq!(
        (lab.number, lab.id.as_str(), lab.folder.as_str()),
        (1, "routing", "01-routing")
    );
    assert_eq!(lab.minutes, Some(20));
    let step = &lab.steps[0];
    assert_eq!(step.body, "# All to v1\n");
    assert_eq!(
        step.commands[0].for_target(TargetKind::Reference),
        Some("kubectl apply -f manifests/vs.yaml")
    );
    assert_eq!(
        step.commands[1].for_target(TargetKind::Cluster),
        Some("istioctl install -y")
    );
    assert_eq!(
        step.commands[1].for_target(TargetKind::Reference),
        Some("meshwork istioctl install")
    );
    let CheckSpec::Resource(r) = &step.checks[0].spec else {
        panic!("resource check expected")
    };
    assert_eq!(r.expect, Presence::Present);
    assert_eq!(
        r.fields[0].0.text,
        "spec.http[0].route[0].destination.subset"
    );
    assert_eq!(r.fields[0].1, serde_json::json!("v1"));
    let pods = &step.checks[1];
    assert_eq!(pods.only, Some(TargetKind::Cluster));
    assert_eq!(pods.timeout.as_millis(), 2500);
    assert_eq!(step.hints, ["first", "second"]);
    assert_eq!(step.solution.manifests, ["manifests/vs.yaml"]);
}

#[test]
fn labs_resolve_by_number_slug_folder_and_steps_by_id_or_number() {
    let course = load(&one_lab(VALID)).unwrap();
    for key in ["1", "01", "routing", "01-routing"] {
        assert!(course.lab(key).is_some(), "{key}");
    }
    let (_, step) = course.resolve("routing/1").unwrap();
    assert_eq!(step.unwrap().id, "all-v1");
    let (_, step) = course.resolve("01/all-v1").unwrap();
    assert_eq!(step.unwrap().id, "all-v1");
    assert_eq!(
        course.resolve("nope").unwrap_err(),
        "no lab called `nope`; the labs are: 01 routing"
    );
    assert_eq!(
        course.resolve("1/9").unwrap_err(),
        "lab 01 has no step `9`; its steps are: 1 all-v1"
    );
}

#[test]
fn an_unknown_field_names_file_line_and_field() {
    let yaml = VALID.replace(
        "        only: cluster\n",
        "        only: cluster\n        colour: red\n",
    );
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(
            "labs/01-routing/lab.yaml:29: field `steps[0].checks[1]`: unknown field `colour`"
        ),
        "{}",
        errs[0]
    );
}

#[test]
fn a_missing_field_and_a_wrong_type_are_reported_by_serde_with_lines() {
    let errs = errors(&VALID.replace("title: Request routing\n", ""));
    assert_eq!(errs, ["labs/01-routing/lab.yaml:1: missing field `title`"]);
    let errs = errors(&VALID.replace("minutes: 20", "minutes: twenty"));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(
            "labs/01-routing/lab.yaml:5: field `minutes`: invalid type: string \"twenty\""
        ),
        "{}",
        errs[0]
    );
}

#[test]
fn semantic_errors_are_all_collected_with_lines() {
    let yaml = VALID
        .replace("body: 01-all-v1.md", "body: 01-missing.md")
        .replace("        only: cluster\n", "        only: laptop\n")
        .replace(
            "      manifests: [manifests/vs.yaml]\n    reset",
            "      manifests: [manifests/nope.yaml]\n    reset",
        )
        .replace(
            "spec.http[0].route[0].destination.subset: v1",
            "spec.http[x]: v1",
        );
    let errs = errors(&yaml);
    assert_eq!(
        errs,
        [
            "labs/01-routing/lab.yaml:10: field `steps[0].body`: step file `01-missing.md` does not exist in labs/01-routing/",
            "labs/01-routing/lab.yaml:24: field `steps[0].checks[0].resource.fields.spec.http[x]`: `spec.http[x]`: `[x]` is not a list index (use [0], [1], … or [\"key\"])",
            "labs/01-routing/lab.yaml:28: field `steps[0].checks[1].only`: unknown target `laptop`: write `cluster` or `reference`",
            "labs/01-routing/lab.yaml:36: field `steps[0].solution.manifests[0]`: manifest `manifests/nope.yaml` does not exist (paths start at the content root, e.g. manifests/…)",
        ]
    );
}

#[test]
fn a_check_needs_exactly_one_kind() {
    let yaml = VALID.replace(
        "        pods:\n",
        "        command: {name: kubectl}\n        pods:\n",
    );
    let errs = errors(&yaml);
    assert_eq!(
        errs,
        [
            "labs/01-routing/lab.yaml:26: field `steps[0].checks[1]`: a check needs exactly one of `command`, `cluster`, `resource`, `pods`, `http`, `exec`, `envoy_stat`, `istio_config`, `mtls_matrix`, `workload_identity` (found command and pods)"
        ]
    );
}

#[test]
fn a_step_needs_checks_and_a_solution() {
    let start = VALID.find("    checks:").unwrap();
    let end = VALID.find("    hints:").unwrap();
    let mut yaml = format!("{}{}", &VALID[..start], &VALID[end..]);
    let sol = yaml.find("    solution:").unwrap();
    let reset = yaml.find("    reset:").unwrap();
    yaml.replace_range(sol..reset, "");
    let errs = errors(&yaml);
    assert_eq!(
        errs,
        [
            "labs/01-routing/lab.yaml:8: field `steps[0].checks`: every step needs at least one check",
            "labs/01-routing/lab.yaml:8: field `steps[0].solution`: every step needs a solution (manifests to apply and/or commands)",
        ]
    );
}

#[test]
fn format_version_folder_names_and_ids_are_validated() {
    assert_eq!(
        errors(&VALID.replace("format_version: 1", "format_version: 7")),
        [
            "labs/01-routing/lab.yaml:1: field `format_version`: format_version 7 is not supported; this meshwork reads format_version 1"
        ]
    );
    assert_eq!(
        errors(&VALID.replace("id: routing", "id: routes")),
        [
            "labs/01-routing/lab.yaml:2: field `id`: id `routes` does not match the folder name `01-routing` (expected `routing`)"
        ]
    );
    let bad_folder = content(&[("labs/routing/lab.yaml", VALID)]);
    assert_eq!(
        load(&bad_folder).unwrap_err().to_string(),
        "labs/routing/lab.yaml: lab folder `routing` must be named NN-slug, e.g. 05-request-routing"
    );
}

#[test]
fn duplicate_ids_and_bad_prerequisites_are_caught_across_labs() {
    let second = VALID
        .replace("id: routing", "id: faults")
        .replace("uses:", "prerequisites: [routing, nowhere]\nuses:");
    let mut c = vec![
        ("labs/01-routing/lab.yaml", VALID.to_string()),
        ("labs/01-routing/01-all-v1.md", "x".to_string()),
        ("labs/01-faults/lab.yaml", second),
        ("labs/01-faults/01-all-v1.md", "x".to_string()),
        ("manifests/vs.yaml", "x".to_string()),
    ];
    c.sort();
    let content = Content::from_files(
        Origin::Embedded,
        c.into_iter().map(|(p, t)| (p, t.into_bytes())),
    );
    let errs: Vec<String> = load(&content)
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "labs/01-routing/lab.yaml: lab number 01 is also used by labs/01-faults",
            "labs/01-faults/lab.yaml: field `prerequisites[0]`: `routing` is lab 01, which comes after this lab; a prerequisite must come earlier",
            "labs/01-faults/lab.yaml: field `prerequisites[1]`: no lab has id `nowhere`",
        ]
    );
}

#[test]
fn malformed_yaml_never_panics_and_names_the_line() {
    for text in [
        "",
        "{{{",
        "steps: [",
        "format_version: 1\nid: routing\n  bad: indent\n",
        "- a\n- b\n",
        "\u{0}",
    ] {
        let errs = errors(text);
        assert!(!errs.is_empty());
        assert!(errs[0].starts_with("labs/01-routing/lab.yaml"), "{errs:?}");
    }
    let errs = errors("format_version: 1\nid: routing\n  bad: indent\n");
    assert!(
        errs[0].starts_with("labs/01-routing/lab.yaml:3:"),
        "{errs:?}"
    );
}

#[test]
fn the_project_content_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let content = Content::from_dir(&root).unwrap();
    let course = load(&content).unwrap_or_else(|e| panic!("{e}"));
    assert!(course.lab("prerequisites").is_some());
}
