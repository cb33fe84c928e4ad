//! `pods` checks: pods by selector are Ready, injected (container count / named container).
//!
//! Containers are counted like kubectl's READY column: the pod's containers plus native
//! sidecars (init containers with `restartPolicy: Always`, which is how recent Istio versions
//! can inject `istio-proxy`).

use super::{Context, Finding};
use crate::course::PodsCheck;
use crate::target::status::explain;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{Api, ListParams};

/// The sidecar Istio injects.
const SIDECAR: &str = "istio-proxy";

/// Evaluates a `pods` check.
pub async fn evaluate(ctx: &Context, check: &PodsCheck) -> Finding {
    let client = match ctx.target.client() {
        Ok(c) => c.clone(),
        Err(e) => return Finding::error(e.to_string()),
    };
    let mut params = ListParams::default();
    if !check.selector.trim().is_empty() {
        params = params.labels(check.selector.trim());
    }
    let which = selection(check);
    let pods = match Api::<Pod>::namespaced(client, &check.namespace)
        .list(&params)
        .await
    {
        Ok(list) => list.items,
        Err(e) => return Finding::error(format!("cannot list the pods {which}: {}", explain(&e))),
    };
    judge(check, &pods)
}

/// `with app=productpage in default` / `in default`.
fn selection(check: &PodsCheck) -> String {
    match check.selector.trim() {
        "" => format!("in {}", check.namespace),
        s => format!("with {s} in {}", check.namespace),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Evaluates the listed pods against the check.
fn judge(check: &PodsCheck, pods: &[Pod]) -> Finding {
    let which = selection(check);
    let min = usize::try_from(check.min_count).unwrap_or(usize::MAX);
    if pods.len() < min {
        let found = if pods.is_empty() {
            "found none".to_string()
        } else {
            format!("found {}", names(pods.iter()))
        };
        let wanted = plural(min, "pod", "pods");
        return Finding::fail(format!("expected at least {wanted} {which}, {found}"));
    }
    let views: Vec<PodView> = pods.iter().map(PodView::new).collect();
    let mut problems = Vec::new();
    let mut good = Vec::new();

    if check.ready {
        let not_ready: Vec<String> = views
            .iter()
            .filter(|p| !p.ready)
            .map(|p| {
                format!(
                    "{} (READY {}/{}, {})",
                    p.name,
                    p.ready_containers,
                    p.containers.len(),
                    p.status
                )
            })
            .collect();
        if not_ready.is_empty() {
            good.push("all Ready".to_string());
        } else {
            problems.push(format!("not Ready: {}", not_ready.join(", ")));
        }
    }

    if let Some(want) = check.containers {
        let want = usize::try_from(want).unwrap_or(usize::MAX);
        let wrong: Vec<&PodView> = views
            .iter()
            .filter(|p| p.containers.len() != want)
            .collect();
        let injected_note = want == 2;
        if wrong.is_empty() {
            good.push(format!(
                "each with {}{}",
                plural(want, "container", "containers"),
                if injected_note {
                    " (the sidecar is injected)"
                } else {
                    ""
                }
            ));
        } else {
            let listed: Vec<String> = wrong
                .iter()
                .map(|p| {
                    format!(
                        "{} has {} ({})",
                        p.name,
                        p.containers.len(),
                        p.containers.join(", ")
                    )
                })
                .collect();
            let mut text = format!(
                "expected {} per pod, but {}",
                plural(want, "container", "containers"),
                listed.join(", ")
            );
            if injected_note && wrong.iter().all(|p| p.containers.len() == 1) {
                text.push_str(" — the istio-proxy sidecar was not injected");
            }
            problems.push(text);
        }
    }

    if let Some(name) = &check.has_container {
        let missing: Vec<&PodView> = views.iter().filter(|p| !p.has(name)).collect();
        if missing.is_empty() {
            good.push(format!("each has container {name}"));
        } else {
            let mut text = format!("container {name} is missing from {}", names_of(&missing));
            if name == SIDECAR {
                text.push_str(" (the sidecar was not injected)");
            }
            problems.push(text);
        }
    }

    if let Some(name) = &check.lacks_container {
        let present: Vec<&PodView> = views.iter().filter(|p| p.has(name)).collect();
        if present.is_empty() {
            good.push(format!("none has container {name}"));
        } else {
            problems.push(format!(
                "container {name} is still in {}; pods created before a change keep their containers until they are restarted",
                names_of(&present)
            ));
        }
    }

    let counted = plural(pods.len(), "pod", "pods");
    if problems.is_empty() {
        if good.is_empty() {
            Finding::pass(format!("{counted} {which}"))
        } else {
            Finding::pass(format!("{counted} {which}: {}", good.join(", ")))
        }
    } else {
        Finding::fail(format!("{counted} {which}: {}", problems.join("; ")))
    }
}

fn names<'a>(pods: impl Iterator<Item = &'a Pod>) -> String {
    pods.map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(", ")
}

fn names_of(pods: &[&PodView]) -> String {
    pods.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the check needs to know about one pod.
struct PodView {
    name: String,
    /// Containers as kubectl counts them: regular ones plus native sidecars.
    containers: Vec<String>,
    ready_containers: usize,
    /// The pod's Ready condition is True.
    ready: bool,
    /// Like kubectl's STATUS column: a waiting reason, `Init:…`, `Terminating` or the phase.
    status: String,
}

impl PodView {
    fn new(pod: &Pod) -> Self {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let sidecars: Vec<String> = spec
            .and_then(|s| s.init_containers.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"))
            .map(|c| c.name.clone())
            .collect();
        let containers: Vec<String> = spec
            .into_iter()
            .flat_map(|s| s.containers.iter().map(|c| c.name.clone()))
            .chain(sidecars.iter().cloned())
            .collect();
        let status = pod.status.as_ref();
        let regular: &[ContainerStatus] = status
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or_default();
        let init: &[ContainerStatus] = status
            .and_then(|s| s.init_container_statuses.as_deref())
            .unwrap_or_default();
        let ready_containers = regular.iter().filter(|c| c.ready).count()
            + init
                .iter()
                .filter(|c| c.ready && sidecars.contains(&c.name))
                .count();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        Self {
            name,
            containers,
            ready_containers,
            ready,
            status: kubectl_status(pod, regular, init, &sidecars),
        }
    }

    fn has(&self, container: &str) -> bool {
        self.containers.iter().any(|c| c == container)
    }
}

fn kubectl_status(
    pod: &Pod,
    regular: &[ContainerStatus],
    init: &[ContainerStatus],
    sidecars: &[String],
) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let reason = |c: &ContainerStatus| -> Option<String> {
        let state = c.state.as_ref()?;
        let waiting = state.waiting.as_ref().and_then(|w| w.reason.clone());
        let terminated = state.terminated.as_ref().and_then(|t| {
            t.reason
                .clone()
                .or_else(|| Some(format!("ExitCode:{}", t.exit_code)))
        });
        waiting.or(terminated).filter(|r| !r.is_empty())
    };
    let blocked_init = init
        .iter()
        .filter(|c| !sidecars.contains(&c.name))
        .filter(|c| {
            c.state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_none_or(|t| t.exit_code != 0)
        })
        .find_map(reason);
    if let Some(r) = blocked_init {
        return format!("Init:{r}");
    }
    if let Some(r) = regular.iter().find_map(reason) {
        return r;
    }
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.reason.clone())
        .or_else(|| status.and_then(|s| s.phase.clone()))
        .unwrap_or_else(|| "Unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;
    use serde_json::json;

    fn check() -> PodsCheck {
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

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn running(name: &str, containers: &[&str]) -> Pod {
        let specs: Vec<_> = containers
            .iter()
            .map(|c| json!({"name": c, "image": "x"}))
            .collect();
        let statuses: Vec<_> = containers
            .iter()
            .map(|c| json!({"name": c, "ready": true, "restartCount": 0, "image": "x", "imageID": "", "state": {"running": {}}}))
            .collect();
        pod(json!({
            "metadata": {"name": name},
            "spec": {"containers": specs},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": statuses}
        }))
    }

    #[test]
    fn too_few_pods_fail() {
        let f = judge(&check(), &[]);
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "expected at least 1 pod with app=productpage in default, found none"
        );
        let mut two = check();
        two.min_count = 2;
        two.selector = String::new();
        let f = judge(&two, &[running("a", &["app"])]);
        assert_eq!(f.message, "expected at least 2 pods in default, found a");
    }

    #[test]
    fn not_ready_pods_are_listed_like_kubectl() {
        let stuck = pod(json!({
            "metadata": {"name": "productpage-v1-x"},
            "spec": {"containers": [{"name": "productpage"}, {"name": "istio-proxy"}]},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {"name": "productpage", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                     "state": {"waiting": {"reason": "ImagePullBackOff"}}},
                    {"name": "istio-proxy", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
                     "state": {"running": {}}}
                ]
            }
        }));
        let mut c = check();
        c.ready = true;
        let f = judge(&c, &[running("productpage-v1-a", &["productpage"]), stuck]);
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "2 pods with app=productpage in default: not Ready: productpage-v1-x (READY 1/2, ImagePullBackOff)"
        );
    }

    #[test]
    fn init_failures_and_native_sidecars_count_like_kubectl() {
        let p = pod(json!({
            "metadata": {"name": "reviews-v1-x"},
            "spec": {
                "initContainers": [{"name": "istio-init"}, {"name": "istio-proxy", "restartPolicy": "Always"}],
                "containers": [{"name": "reviews"}]
            },
            "status": {
                "phase": "Pending",
                "initContainerStatuses": [
                    {"name": "istio-init", "ready": false, "restartCount": 3, "image": "x", "imageID": "",
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                    {"name": "istio-proxy", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                     "state": {"waiting": {"reason": "PodInitializing"}}}
                ],
                "containerStatuses": [
                    {"name": "reviews", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
                     "state": {"waiting": {"reason": "PodInitializing"}}}
                ]
            }
        }));
        let mut c = check();
        c.ready = true;
        c.containers = Some(2);
        c.has_container = Some("istio-proxy".into());
        let f = judge(&c, &[p]);
        assert_eq!(
            f.message,
            "1 pod with app=productpage in default: not Ready: reviews-v1-x (READY 0/2, Init:CrashLoopBackOff)"
        );
    }

    #[test]
    fn container_count_two_means_injected() {
        let mut c = check();
        c.containers = Some(2);
        let f = judge(&c, &[running("a", &["productpage", "istio-proxy"])]);
        assert_eq!(f.outcome, Outcome::Pass);
        assert_eq!(
            f.message,
            "1 pod with app=productpage in default: each with 2 containers (the sidecar is injected)"
        );
        let f = judge(
            &c,
            &[
                running("a", &["productpage", "istio-proxy"]),
                running("b", &["productpage"]),
            ],
        );
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "2 pods with app=productpage in default: expected 2 containers per pod, but b has 1 (productpage) \
             — the istio-proxy sidecar was not injected"
        );
    }

    #[test]
    fn named_containers_present_or_absent() {
        let mut c = check();
        c.has_container = Some("istio-proxy".into());
        let f = judge(&c, &[running("a", &["productpage"])]);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message.ends_with(
                "container istio-proxy is missing from a (the sidecar was not injected)"
            ),
            "{}",
            f.message
        );
        let mut c = check();
        c.lacks_container = Some("istio-proxy".into());
        let f = judge(&c, &[running("a", &["productpage"])]);
        assert_eq!(f.outcome, Outcome::Pass);
        assert!(
            f.message.ends_with("none has container istio-proxy"),
            "{}",
            f.message
        );
        let f = judge(&c, &[running("a", &["productpage", "istio-proxy"])]);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message.contains("container istio-proxy is still in a"),
            "{}",
            f.message
        );
    }
}
