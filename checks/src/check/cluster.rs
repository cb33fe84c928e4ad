//! `cluster` checks: the API is reachable, its version, Ready nodes, capacity guidance.

use super::{Context, Finding};
use crate::course::{ClusterCheck, Version};
use crate::target::status::{explain, node_is_ready};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};

/// Evaluates a `cluster` check.
pub async fn evaluate(ctx: &Context, check: &ClusterCheck) -> Finding {
    let client = match ctx.target.client() {
        Ok(c) => c.clone(),
        Err(e) => return Finding::error(e.to_string()),
    };
    let where_ = ctx.target.describe();
    let info = match client.apiserver_version().await {
        Ok(i) => i,
        Err(e) => return Finding::error(format!("cannot reach the {where_}: {}", explain(&e))),
    };
    let shown_version = info.git_version.clone();
    if let Some(min) = check.min_version {
        match Version::parse(&info.git_version) {
            Some(v) if v < min => {
                return Finding::fail(format!(
                    "the cluster runs Kubernetes {shown_version}, older than {min} which this course needs; \
                     use a newer cluster (e.g. a recent kind or minikube)"
                ));
            }
            Some(_) => {}
            None => {
                return Finding::warn(format!(
                    "the cluster answered, but its version `{shown_version}` could not be read, so it was not \
                     compared with the {min} this course needs"
                ));
            }
        }
    }
    let nodes = match Api::<Node>::all(client).list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => {
            return Finding::error(format!("cannot list the cluster's nodes: {}", explain(&e)));
        }
    };
    let (ready, not_ready): (Vec<&Node>, Vec<&Node>) = nodes.iter().partition(|n| node_is_ready(n));
    let need = usize::try_from(check.min_ready_nodes).unwrap_or(usize::MAX);
    if ready.len() < need {
        let mut text = format!(
            "{} of {} node{} Ready, expected at least {need}",
            ready.len(),
            nodes.len(),
            if nodes.len() == 1 { " is" } else { "s are" },
        );
        if !not_ready.is_empty() {
            let names: Vec<String> = not_ready.iter().map(|n| describe_not_ready(n)).collect();
            text.push_str(&format!("; not ready: {}", names.join(", ")));
        }
        text.push_str(". Wait a minute and check again; `kubectl describe node NAME` says why a node is not Ready");
        return Finding::fail(text);
    }
    let capacity = Capacity::sum(&nodes);
    let summary = format!(
        "Kubernetes {shown_version}, {} node{} Ready, {} and {} allocatable",
        ready.len(),
        if ready.len() == 1 { "" } else { "s" },
        gib(capacity.memory_bytes),
        cpus(capacity.cpus),
    );
    let short_memory = check
        .recommended_memory_gib
        .is_some_and(|want| capacity.memory_bytes < want * GIB);
    let short_cpu = check
        .recommended_cpus
        .is_some_and(|want| capacity.cpus < want);
    if short_memory || short_cpu {
        let mut wants = Vec::new();
        if let Some(m) = check.recommended_memory_gib {
            wants.push(format!("{} GiB", trim_number(m)));
        }
        if let Some(c) = check.recommended_cpus {
            wants.push(format!(
                "{} CPU{}",
                trim_number(c),
                if (c - 1.0).abs() < f64::EPSILON {
                    ""
                } else {
                    "s"
                }
            ));
        }
        return Finding::warn(format!(
            "Istio's demo profile wants about {}; the cluster has {} and {} allocatable. \
             The labs may still work, but pods can stay Pending; give the cluster more if you can",
            wants.join(" and "),
            gib(capacity.memory_bytes),
            cpus(capacity.cpus),
        ));
    }
    Finding::pass(summary)
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// `node-2 (NotReady: KubeletNotReady)`, or with the condition's status when no reason.
fn describe_not_ready(node: &Node) -> String {
    let name = node.metadata.name.clone().unwrap_or_default();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    match ready {
        Some(c) => match c.reason.as_deref().filter(|r| !r.is_empty()) {
            Some(reason) => format!("{name} (NotReady: {reason})"),
            None => format!("{name} (Ready={})", c.status),
        },
        None => format!("{name} (no Ready condition yet)"),
    }
}

/// Allocatable resources summed over nodes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Capacity {
    memory_bytes: f64,
    cpus: f64,
}

impl Capacity {
    fn sum(nodes: &[Node]) -> Self {
        let mut total = Capacity::default();
        for node in nodes {
            let Some(alloc) = node.status.as_ref().and_then(|s| s.allocatable.as_ref()) else {
                continue;
            };
            if let Some(m) = alloc.get("memory").and_then(|q| parse_quantity(&q.0)) {
                total.memory_bytes += m;
            }
            if let Some(c) = alloc.get("cpu").and_then(|q| parse_quantity(&q.0)) {
                total.cpus += c;
            }
        }
        total
    }
}

/// `3.8 GiB`
fn gib(bytes: f64) -> String {
    format!("{} GiB", trim_number((bytes / GIB * 10.0).round() / 10.0))
}

/// `2 CPUs`, `1 CPU`, `1.5 CPUs`
fn cpus(n: f64) -> String {
    let n = (n * 100.0).round() / 100.0;
    format!(
        "{} CPU{}",
        trim_number(n),
        if (n - 1.0).abs() < f64::EPSILON {
            ""
        } else {
            "s"
        }
    )
}

/// `8` rather than `8.0`, `3.75` as is.
fn trim_number(n: f64) -> String {
    let text = format!("{n:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Parses a Kubernetes quantity (`16318480Ki`, `8Gi`, `1500m`, `2`, `1e3`, `1.5G`) into a plain
/// number (bytes for memory, cores for CPU).
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let binary: [(&str, i32); 6] = [
        ("Ki", 1),
        ("Mi", 2),
        ("Gi", 3),
        ("Ti", 4),
        ("Pi", 5),
        ("Ei", 6),
    ];
    for (suffix, power) in binary {
        if let Some(number) = text.strip_suffix(suffix) {
            return parse_number(number).map(|n| n * 1024f64.powi(power));
        }
    }
    // A decimal exponent: 1e3, 2E-3 (but `1E` alone is exa).
    if let Some(at) = text.find(['e', 'E']) {
        let (mantissa, exponent) = (&text[..at], &text[at + 1..]);
        if !exponent.is_empty() {
            let exponent: i32 = exponent.parse().ok()?;
            return parse_number(mantissa).map(|n| scale(n, exponent));
        }
    }
    let decimal: [(&str, i32); 9] = [
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    ];
    for (suffix, power) in decimal {
        if let Some(number) = text.strip_suffix(suffix) {
            return parse_number(number).map(|n| scale(n, power));
        }
    }
    parse_number(text)
}

/// `n × 10^power`, dividing for negative powers so `100n` is exactly `1e-7`.
fn scale(n: f64, power: i32) -> f64 {
    if power < 0 {
        n / 10f64.powi(-power)
    } else {
        n * 10f64.powi(power)
    }
}

/// A signed decimal number without exponent: `12`, `0.5`, `+3`, `-1.25`.
fn parse_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let valid = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|&c| c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    if valid { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse() {
        let q = |s| parse_quantity(s).unwrap();
        assert_eq!(q("16318480Ki"), 16_318_480.0 * 1024.0);
        assert_eq!(q("8Gi"), 8.0 * GIB);
        assert_eq!(q("512Mi"), 512.0 * 1024.0 * 1024.0);
        assert_eq!(q("1Ti"), 1024f64.powi(4));
        assert_eq!(q("2"), 2.0);
        assert_eq!(q("0.5"), 0.5);
        assert_eq!(q("1500m"), 1.5);
        assert_eq!(q("250m"), 0.25);
        assert_eq!(q("1k"), 1000.0);
        assert_eq!(q("4G"), 4e9);
        assert_eq!(q("128M"), 128e6);
        assert_eq!(q("1e3"), 1000.0);
        assert_eq!(q("2E-3"), 0.002);
        assert_eq!(q("1E"), 1e18);
        assert_eq!(q("100n"), 1e-7);
    }

    #[test]
    fn bad_quantities_are_rejected() {
        for bad in [
            "", "Gi", "abc", "1.2.3", "1x", "1e", "e3", "--1", "1ee3", "1Ki2",
        ] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_are_shown_for_people() {
        assert_eq!(gib(3.8 * GIB), "3.8 GiB");
        assert_eq!(gib(16_318_480.0 * 1024.0), "15.6 GiB");
        assert_eq!(gib(8.0 * GIB), "8 GiB");
        assert_eq!(cpus(2.0), "2 CPUs");
        assert_eq!(cpus(1.0), "1 CPU");
        assert_eq!(cpus(1.5), "1.5 CPUs");
        assert_eq!(cpus(3.95), "3.95 CPUs");
    }
}
