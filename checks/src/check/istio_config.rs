//! `istio_config` checks: the mesh accepted the configuration — no proxy rejected what istiod
//! sent it (a NACK), and (on the reference mesh) no translation warning or malformed Istio
//! resource names a resource of the given namespace. A failure quotes each problem, the
//! resource it names and what to do.
//!
//! istiod is asked through the API server's pod proxy
//! (`/api/v1/namespaces/istio-system/pods/ISTIOD:15014/proxy/…`), on either target: on the
//! reference mesh its `/debug/problemz` (meshwork's istiod lists malformed resources, rejections
//! and warnings there), on a live cluster Istio's own `/debug/syncz`, whose `resources` carry
//! each proxy's last rejection (`lastError`). A real istiod may refuse the proxied request (it
//! answers its debug endpoints only to authenticated or local callers); the check then asks
//! from inside istiod's pod with `pilot-discovery request GET /debug/syncz`.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Context, Finding};
use crate::target::TargetKind;
use crate::target::status::explain;

/// istiod's namespace.
pub const ISTIO_NAMESPACE: &str = "istio-system";

/// istiod's monitoring port, where its debug endpoints answer.
pub const ISTIOD_DEBUG_PORT: u16 = 15014;

/// `istio_config:` as written in `lab.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIstioConfigCheck {
    /// Only problems naming resources (or proxies) of this namespace count (default: all).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `istio_config:` — the mesh accepted the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IstioConfigCheck {
    /// Only problems of this namespace count (`None`: every namespace).
    pub namespace: Option<String>,
}

impl IstioConfigCheck {
    /// Validates the raw check; each problem is (sub-field, what to write).
    pub fn from_raw(raw: &RawIstioConfigCheck) -> Result<Self, Vec<(&'static str, String)>> {
        match &raw.namespace {
            Some(ns) if ns.trim().is_empty() => Err(vec![(
                ".namespace",
                "name a namespace, or leave `namespace` out to check every namespace".into(),
            )]),
            ns => Ok(Self {
                namespace: ns.as_ref().map(|n| n.trim().to_string()),
            }),
        }
    }
}

/// One problem istiod reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `invalid`, `rejected` or `warning`.
    pub kind: String,
    /// What it concerns (`VirtualService default/reviews`).
    pub resource: String,
    /// That resource's namespace.
    #[serde(default)]
    pub namespace: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[serde(default)]
    pub fix: String,
}

/// Proxies connected to istiod and in sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyCounts {
    /// Connected.
    pub connected: usize,
    /// Holding what istiod sent them last.
    pub synced: usize,
}

/// What istiod reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Proxies connected and in sync.
    #[serde(default)]
    pub proxies: ProxyCounts,
    /// Every current problem.
    #[serde(default)]
    pub problems: Vec<Problem>,
    /// Read from Istio's `/debug/syncz`, which knows rejections only (no warnings, no
    /// malformed resources).
    #[serde(skip)]
    pub rejections_only: bool,
}

/// The rejections in Istio's `/debug/syncz` document, and the proxies' counts.
pub fn from_syncz(syncz: &Value) -> Report {
    let mut report = Report {
        rejections_only: true,
        ..Report::default()
    };
    for proxy in syncz.as_array().into_iter().flatten() {
        let id = proxy["proxy"].as_str().unwrap_or("?");
        // Istio's proxy id is `POD.NAMESPACE`.
        let (pod, namespace) = id.rsplit_once('.').unwrap_or((id, ""));
        report.proxies.connected += 1;
        let mut in_sync = true;
        for field in ["cluster", "listener", "route", "endpoint"] {
            let sent = proxy[format!("{field}_sent")].as_str();
            let acked = proxy[format!("{field}_acked")].as_str();
            if sent.is_some() && sent != acked {
                in_sync = false;
            }
        }
        for (type_url, state) in proxy["resources"].as_object().into_iter().flatten() {
            let Some(error) = state["lastError"].as_str().filter(|e| !e.is_empty()) else {
                continue;
            };
            in_sync = false;
            let short = type_url.rsplit('.').next().unwrap_or(type_url);
            report.problems.push(Problem {
                kind: "rejected".into(),
                resource: format!("{short} configuration of pod {namespace}/{pod}"),
                namespace: namespace.to_string(),
                message: format!("Envoy rejected it: {error}"),
                fix: "the Istio resource changed last is the likely cause: fix it and apply it \
                      again (istiod's log says more: kubectl logs -n istio-system deploy/istiod)"
                    .into(),
            });
        }
        if in_sync {
            report.proxies.synced += 1;
        }
    }
    report
}

/// Judges istiod's report for the check's namespace.
pub fn judge(check: &IstioConfigCheck, report: &Report, source: &str) -> Finding {
    let scope = match &check.namespace {
        Some(ns) => format!("namespace {ns}"),
        None => "the mesh".to_string(),
    };
    let relevant: Vec<&Problem> = report
        .problems
        .iter()
        .filter(|p| check.namespace.as_ref().is_none_or(|ns| &p.namespace == ns))
        .collect();
    let proxies = format!(
        "{} connected, {} in sync",
        plural(report.proxies.connected, "proxy", "proxies"),
        report.proxies.synced
    );
    if relevant.is_empty() && report.rejections_only {
        return Finding::pass(format!(
            "no proxy of {scope} rejected its configuration ({proxies}; read from {source}, \
             which reports rejections only: `istioctl analyze` finds configuration mistakes)"
        ));
    }
    if relevant.is_empty() {
        return Finding::pass(format!(
            "istiod accepted the configuration of {scope}: no rejected configuration, \
             translation warning or malformed resource ({proxies}; read from {source})"
        ));
    }
    let listed: Vec<String> = relevant
        .iter()
        .map(|p| {
            let what = match p.kind.as_str() {
                "invalid" => "malformed, ignored",
                "rejected" => "rejected by Envoy",
                _ => "warning",
            };
            if p.fix.is_empty() {
                format!("{} ({what}): {}", p.resource, p.message)
            } else {
                format!("{} ({what}): {} — {}", p.resource, p.message, p.fix)
            }
        })
        .collect();
    Finding::fail(format!(
        "istiod reports {} in {scope}: {}",
        plural(relevant.len(), "problem", "problems"),
        listed.join("; ")
    ))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The running istiod pod's name, or a failure that says how to get one.
pub async fn istiod_pod(client: &kube::Client) -> Result<String, Finding> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ISTIO_NAMESPACE);
    let listed = pods
        .list(&ListParams::default().labels("app=istiod"))
        .await
        .map_err(|e| {
            Finding::error(format!(
                "cannot list the pods in {ISTIO_NAMESPACE}: {}",
                explain(&e)
            ))
        })?;
    let mut running: Vec<String> = listed
        .items
        .iter()
        .filter(|p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && p.metadata.deletion_timestamp.is_none()
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    running.sort();
    running.into_iter().next().ok_or_else(|| {
        Finding::fail(
            "Istio's control plane is not running: no running istiod pod (app=istiod) in \
             istio-system; install Istio first (meshwork istioctl install on the reference \
             mesh, istioctl install on a cluster)",
        )
    })
}

/// GETs `path` of istiod's debug port through the API server's pod proxy.
pub async fn istiod_get(client: &kube::Client, istiod: &str, path: &str) -> Result<String, String> {
    let uri = format!(
        "/api/v1/namespaces/{ISTIO_NAMESPACE}/pods/{istiod}:{ISTIOD_DEBUG_PORT}/proxy{path}"
    );
    let request = http::Request::get(&uri)
        .body(Vec::new())
        .map_err(|e| format!("cannot build the request for {uri}: {e}"))?;
    client.request_text(request).await.map_err(|e| {
        let why = explain(&e);
        if why.contains("401") || why.to_lowercase().contains("unauthorized") {
            format!(
                "istiod refused {path} ({why}): its debug endpoints answer only authenticated or \
                 local callers; `istioctl proxy-status` shows the same state"
            )
        } else {
            format!("cannot read {path} from istiod pod {istiod}: {why}")
        }
    })
}

/// `path` of istiod's debug port read inside its pod: `pilot-discovery request GET PATH` in
/// its `discovery` container (through `pods/exec`).
async fn from_inside(client: &kube::Client, istiod: &str, path: &str) -> Result<String, String> {
    let pod = crate::course::PodRef {
        pod: istiod.to_string(),
        namespace: Some(ISTIO_NAMESPACE.to_string()),
        container: Some("discovery".to_string()),
    };
    let runner = crate::target::exec::resolve(client, &pod)
        .await
        .map_err(|e| e.to_string())?;
    let argv: Vec<String> = ["pilot-discovery", "request", "GET", path]
        .iter()
        .map(ToString::to_string)
        .collect();
    let out = runner.run(&argv).await.map_err(|e| e.to_string())?;
    if out.exit_code == 0 {
        Ok(out.stdout)
    } else {
        Err(format!(
            "`{}` exited with code {}: {}",
            argv.join(" "),
            out.exit_code,
            super::expect::excerpt(&out.stderr, 160, "no error output")
        ))
    }
}

/// What istiod reports now, read through the pod proxy: `/debug/problemz` on the reference
/// mesh (`reference`), Istio's `/debug/syncz` otherwise; with the path read.
pub async fn read_report(
    client: &kube::Client,
    istiod: &str,
    reference: bool,
) -> Result<(Report, &'static str), String> {
    let path = if reference {
        "/debug/problemz"
    } else {
        "/debug/syncz"
    };
    let text = match istiod_get(client, istiod, path).await {
        Ok(text) => text,
        // A real istiod answers its debug endpoints only to authenticated or local callers, and
        // the API server's proxy is neither: ask from inside its pod, as its own CLI does.
        Err(why) if !reference => from_inside(client, istiod, path)
            .await
            .map_err(|inside| format!("{why}; from inside the pod: {inside}"))?,
        Err(why) => return Err(why),
    };
    let bad = |e: serde_json::Error| {
        format!(
            "istiod {istiod} {path} is not the JSON expected ({e}): {}",
            super::expect::excerpt(&text, 120, "empty")
        )
    };
    let report = if reference {
        serde_json::from_str::<Report>(&text).map_err(bad)?
    } else {
        from_syncz(&serde_json::from_str::<Value>(&text).map_err(bad)?)
    };
    Ok((report, path))
}

/// Evaluates an `istio_config` check.
pub async fn evaluate(ctx: &Context, check: &IstioConfigCheck) -> Finding {
    let client = match ctx.target.client() {
        Ok(c) => c,
        Err(e) => return Finding::error(e.to_string()),
    };
    let istiod = match istiod_pod(client).await {
        Ok(name) => name,
        Err(finding) => return finding,
    };
    let reference = ctx.target.kind() == TargetKind::Reference;
    match read_report(client, &istiod, reference).await {
        Ok((report, path)) => judge(check, &report, &format!("istiod {istiod} {path}")),
        Err(why) => Finding::error(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;
    use serde_json::json;

    fn problemz() -> Report {
        serde_json::from_value(json!({
            "serving": true,
            "proxies": {"connected": 3, "synced": 2},
            "problems": [
                {"kind": "invalid", "resource": "VirtualService bookinfo/bad", "namespace": "bookinfo",
                 "message": "field `spec.hosts`: expected a list", "fix": "correct the field"},
                {"kind": "warning", "resource": "VirtualService default/reviews", "namespace": "default",
                 "message": "field `http[0].route[0].destination.subset`: subset \"v9\" is not defined by any DestinationRule",
                 "fix": "define that subset", "proxies": ["default/productpage-v1-abc"]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn problems_of_the_namespace_fail_quoting_them() {
        let check = IstioConfigCheck {
            namespace: Some("default".into()),
        };
        let f = judge(&check, &problemz(), "istiod x /debug/problemz");
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "istiod reports 1 problem in namespace default: VirtualService default/reviews \
             (warning): field `http[0].route[0].destination.subset`: subset \"v9\" is not \
             defined by any DestinationRule — define that subset"
        );
        let all = judge(&IstioConfigCheck::default(), &problemz(), "s");
        assert!(all.message.starts_with("istiod reports 2 problems in the mesh: VirtualService bookinfo/bad (malformed, ignored): field `spec.hosts`"), "{}", all.message);
    }

    #[test]
    fn other_namespaces_problems_do_not_count() {
        let check = IstioConfigCheck {
            namespace: Some("shop".into()),
        };
        let f = judge(&check, &problemz(), "istiod x /debug/problemz");
        assert_eq!(f.outcome, Outcome::Pass);
        assert_eq!(
            f.message,
            "istiod accepted the configuration of namespace shop: no rejected configuration, \
             translation warning or malformed resource (3 proxies connected, 2 in sync; read \
             from istiod x /debug/problemz)"
        );
    }

    #[test]
    fn istios_syncz_gives_rejections_by_proxy() {
        let syncz = json!([
            {"proxy": "productpage-v1-abc.default", "cluster_sent": "n1", "cluster_acked": "n1",
             "route_sent": "n3", "route_acked": "n2",
             "resources": {"type.googleapis.com/envoy.config.route.v3.RouteConfiguration":
                {"sent": "n3", "acked": "n2", "lastError": "invalid timeout"}}},
            {"proxy": "istio-ingressgateway-x.istio-system", "cluster_sent": "n1", "cluster_acked": "n1",
             "resources": {}}
        ]);
        let report = from_syncz(&syncz);
        assert_eq!(
            report.proxies,
            ProxyCounts {
                connected: 2,
                synced: 1
            }
        );
        assert_eq!(report.problems.len(), 1);
        let p = &report.problems[0];
        assert_eq!(
            p.resource,
            "RouteConfiguration configuration of pod default/productpage-v1-abc"
        );
        assert_eq!(p.namespace, "default");
        assert_eq!(p.message, "Envoy rejected it: invalid timeout");
        let f = judge(
            &IstioConfigCheck {
                namespace: Some("default".into()),
            },
            &report,
            "s",
        );
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(f.message.contains("rejected by Envoy"), "{}", f.message);
        let empty = from_syncz(&json!([]));
        assert!(empty.problems.is_empty() && empty.rejections_only);
        let f = judge(
            &IstioConfigCheck::default(),
            &empty,
            "istiod x /debug/syncz",
        );
        assert_eq!(f.outcome, Outcome::Pass);
        assert!(
            f.message.starts_with("no proxy of the mesh rejected its configuration (0 proxies connected, 0 in sync; read from istiod x /debug/syncz, which reports rejections only"),
            "{}",
            f.message
        );
    }

    #[test]
    fn raw_checks_are_validated() {
        let ok = IstioConfigCheck::from_raw(&RawIstioConfigCheck {
            namespace: Some(" default ".into()),
        })
        .unwrap();
        assert_eq!(ok.namespace.as_deref(), Some("default"));
        let err = IstioConfigCheck::from_raw(&RawIstioConfigCheck {
            namespace: Some(String::new()),
        })
        .unwrap_err();
        assert_eq!(err[0].0, ".namespace");
    }
}
