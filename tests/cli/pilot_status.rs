//! Pilot's problems shown by the CLI: `meshwork mesh status` names a malformed VirtualService
//! and a route to an undefined subset with what to fix (and shows nothing once they are fixed),
//! `--json` carries the same, and `meshwork istioctl proxy-status` keeps its table.

use crate::util::fixture;
use crate::util::mesh::{Sandbox, sample};

/// `kubectl apply -f` of one of the fixtures of pilot's problems (shared with the checks' tests).
fn apply_problem(sb: &Sandbox, file: &str) {
    let path = fixture("pilot_problems").join(file);
    sb.kubectl(&["apply", "-f", path.to_str().unwrap()]);
}

#[test]
fn mesh_status_names_what_istiod_cannot_use_and_what_to_fix() {
    let Some(sb) = Sandbox::with_envoy_and_kubectl("applies httpbin") else {
        return;
    };
    sb.ok(&["istioctl", "install", "--set", "profile=minimal", "-y"]);
    sb.deploy_injected(&[&sample("httpbin/httpbin.yaml")], 1);

    // All is well: one line for istiod, no problems listed.
    let clean = sb.until(&["mesh", "status"], |t| {
        t.contains("1 proxy connected, 1 in sync")
    });
    let istiod_line = clean
        .lines()
        .find(|l| l.trim_start().starts_with("istiod "))
        .unwrap_or_else(|| panic!("an istiod line:\n{clean}"));
    assert!(
        istiod_line.contains(": 1 proxy connected, 1 in sync"),
        "{clean}"
    );
    assert!(
        !clean.contains("control plane:"),
        "nothing to report:\n{clean}"
    );

    apply_problem(&sb, "httpbin-bad.yaml");
    apply_problem(&sb, "httpbin-v9.yaml");
    let broken = sb.until(&["mesh", "status"], |t| {
        t.contains("httpbin-bad") && t.contains("httpbin-v9")
    });
    assert!(
        broken.contains("  control plane: 2 problems (istiod keeps serving the rest)\n"),
        "{broken}"
    );
    assert!(
        broken.contains(
            "    VirtualService default/httpbin-bad (malformed, ignored by istiod): field \
             `spec.http[0].route[0].destination.port.number`"
        ),
        "{broken}"
    );
    assert!(
        broken.contains("    VirtualService default/httpbin-v9 (warning): field `http[0].route[0].destination.subset`: subset \"v9\""),
        "{broken}"
    );
    let fixes: Vec<&str> = broken
        .lines()
        .filter(|l| l.trim_start().starts_with("fix: "))
        .collect();
    assert_eq!(fixes.len(), 2, "a fix under each problem:\n{broken}");
    assert!(fixes[1].contains("DestinationRule"), "{broken}");

    // The same in --json.
    let json: serde_json::Value =
        serde_json::from_str(&sb.ok(&["mesh", "status", "--json"])).unwrap();
    let problems = json["control_plane"]["problems"].as_array().unwrap();
    let resources: Vec<&str> = problems
        .iter()
        .filter_map(|p| p["resource"].as_str())
        .collect();
    assert_eq!(
        resources,
        [
            "VirtualService default/httpbin-bad",
            "VirtualService default/httpbin-v9"
        ]
    );
    assert_eq!(problems[0]["kind"], "invalid");
    assert_eq!(problems[1]["kind"], "warning");
    assert!(
        json["control_plane"]["istiod"]
            .as_str()
            .unwrap()
            .starts_with("istiod-")
    );

    // proxy-status still lists httpbin's sidecar (nothing was rejected: all SYNCED).
    let ps = sb.ok(&["istioctl", "proxy-status"]);
    let row = ps
        .lines()
        .find(|l| l.starts_with("httpbin-"))
        .unwrap_or_else(|| panic!("httpbin's row:\n{ps}"));
    assert_eq!(
        row.split_whitespace().nth(2),
        Some("SYNCED"),
        "CDS of httpbin:\n{ps}"
    );

    // Fixed: nothing listed any more.
    sb.kubectl(&["delete", "virtualservice", "httpbin-bad"]);
    apply_problem(&sb, "dr-v9.yaml");
    let fixed = sb.until(&["mesh", "status"], |t| !t.contains("control plane:"));
    assert!(fixed.contains("1 proxy connected, 1 in sync"), "{fixed}");
}
