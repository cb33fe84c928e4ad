//! `meshwork istioctl proxy-config secret` on the reference mesh: an injected pod's sidecar
//! holds its SPIFFE certificate (`default`) and the mesh's root (`ROOTCA`) from istiod's SDS,
//! shown in istioctl's table with serial and validity, the SPIFFE id below it, and the root the
//! same one istiod publishes as `istio-ca-root-cert`.

use crate::util::mesh::{self, COMMAND_TIMEOUT};
use crate::util::{Env, stderr, stdout};
use meshwork_pilot::ca::inspect;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Istio's httpbin sample (test data, read in place).
const HTTPBIN: &str = "/work/shared/istio-samples/samples/httpbin/httpbin.yaml";

/// A sandbox whose reference mesh is stopped on drop.
struct Sandbox {
    env: Env,
    envoy: PathBuf,
}

impl Sandbox {
    fn meshwork(&self, args: &[&str]) -> Output {
        self.env
            .cmd_default_target()
            .args(args)
            .env("MESHWORK_ENVOY", &self.envoy)
            .timeout(COMMAND_TIMEOUT)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.meshwork(args);
        assert!(
            out.status.success(),
            "meshwork {args:?}: {:?}\n{}{}",
            out.status,
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("/usr/bin/kubectl")
            .args(args)
            .env("KUBECONFIG", self.env.path("state/meshwork/kubeconfig"))
            .env("HOME", self.env.path("home"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        mesh::stop(&self.env);
    }
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn proxy_config_secret_shows_the_workload_certificate_and_the_root() {
    let Some(envoy) = mesh::envoy() else {
        return;
    };
    assert!(
        Path::new("/usr/bin/kubectl").is_file(),
        "this test deploys httpbin with the real kubectl at /usr/bin/kubectl"
    );
    let sb = Sandbox {
        env: Env::new(),
        envoy,
    };
    sb.ok(&["istioctl", "install", "-y"]);
    sb.kubectl(&["label", "namespace", "default", "istio-injection=enabled"]);
    sb.kubectl(&["apply", "-f", HTTPBIN]);
    for _ in 0..240 {
        if !sb.kubectl(&["get", "pods", "-o", "name"]).trim().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    sb.kubectl(&[
        "wait",
        "--for=condition=ready",
        "pod",
        "--all",
        "--timeout=180s",
    ]);
    let pod = sb.kubectl(&[
        "get",
        "pod",
        "-l",
        "app=httpbin",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);

    // The sidecar asks for its secrets when its TLS configuration arrives: wait for both.
    let mut table = String::new();
    for _ in 0..120 {
        table = sb.ok(&["istioctl", "proxy-config", "secret", &pod]);
        if table.lines().filter(|l| l.contains(" ACTIVE ")).count() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
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
