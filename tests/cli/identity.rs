//! `meshwork istioctl proxy-config secret` on the reference mesh: an injected pod's sidecar
//! holds its SPIFFE certificate (`default`) and the mesh's root (`ROOTCA`) from istiod's SDS,
//! shown in istioctl's table with serial and validity, the SPIFFE id below it, and the root the
//! same one istiod publishes as `istio-ca-root-cert`.

use crate::util::mesh::{Sandbox, sample};
use meshwork_pilot::ca::inspect;

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn proxy_config_secret_shows_the_workload_certificate_and_the_root() {
    let Some(sb) = Sandbox::with_envoy_and_kubectl("deploys httpbin") else {
        return;
    };
    sb.ok(&["istioctl", "install", "-y"]);
    sb.deploy_injected(&[&sample("httpbin/httpbin.yaml")], 1);
    let pod = sb.pod("default", "app=httpbin");

    // The sidecar asks for its secrets when its TLS configuration arrives: wait for both.
    let table = sb.until(&["istioctl", "proxy-config", "secret", &pod], |t| {
        t.lines().filter(|l| l.contains(" ACTIVE ")).count() == 2
    });
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        words(lines[0]),
        [
            "RESOURCE", "NAME", "TYPE", "STATUS", "VALID", "CERT", "SERIAL", "NUMBER", "NOT",
            "AFTER", "NOT", "BEFORE"
        ],
        "{table}"
    );
    let default = lines
        .iter()
        .map(|l| words(l))
        .find(|w| w.first() == Some(&"default"))
        .unwrap_or_else(|| panic!("no default row:\n{table}"));
    assert_eq!(
        default[1..5],
        ["Cert", "Chain", "ACTIVE", "true"],
        "{table}"
    );
    let root_row = lines
        .iter()
        .map(|l| words(l))
        .find(|w| w.first() == Some(&"ROOTCA"))
        .unwrap_or_else(|| panic!("no ROOTCA row:\n{table}"));
    assert_eq!(root_row[1..4], ["CA", "ACTIVE", "true"], "{table}");
    assert!(
        table.contains(
            "default: spiffe://cluster.local/ns/default/sa/httpbin (chain of 2 certificates)"
        ),
        "{table}"
    );

    // The root the sidecar trusts is the one istiod publishes in the namespace.
    let published = sb.kubectl(&[
        "get",
        "configmap",
        "istio-ca-root-cert",
        "-o",
        "jsonpath={.data.root-cert\\.pem}",
    ]);
    let root = &inspect::parse_chain(&published).unwrap()[0];
    assert_eq!(root_row[4], root.serial, "{table}");
    assert_eq!(root_row[5], inspect::rfc3339(root.not_after), "{table}");

    // -o json: Envoy's secrets section as it is.
    let json: serde_json::Value =
        serde_json::from_str(&sb.ok(&["istioctl", "pc", "secret", &pod, "-o", "json"])).unwrap();
    let names: Vec<&str> = json["dynamic_active_secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"default") && names.contains(&"ROOTCA"),
        "{json}"
    );
}
