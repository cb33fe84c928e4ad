//! Cluster DNS names: which fully qualified names a pod's resolver tries for a name, and what
//! record a name in the cluster zone stands for.
//!
//! A pod's `/etc/resolv.conf` on Kubernetes reads
//! `search <ns>.svc.cluster.local svc.cluster.local cluster.local` and `options ndots:5`: a
//! name with fewer than five dots is tried with each search suffix first, then as given; a
//! name ending in `.` is tried only as given. The cluster zone holds:
//! - `<service>.<ns>.svc.cluster.local`: the Service (its ClusterIP, or for a headless Service
//!   the IPs of its ready endpoints);
//! - `<hostname>.<service>.<ns>.svc.cluster.local`: a pod under a headless Service (a
//!   StatefulSet's `db-0.db.default.svc.cluster.local`);
//! - `<a-b-c-d>.<ns>.pod.cluster.local`: the pod IP a.b.c.d.

use std::net::Ipv4Addr;

use super::CLUSTER_DOMAIN;

/// `options ndots:5` of a pod's resolver.
const NDOTS: usize = 5;

/// What a name in the cluster zone stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Record {
    /// A Service: `<name>.<namespace>.svc.cluster.local`.
    Service {
        /// The Service's namespace.
        namespace: String,
        /// The Service's name.
        name: String,
    },
    /// A pod under a headless Service: `<hostname>.<service>.<namespace>.svc.cluster.local`.
    ServicePod {
        /// The namespace.
        namespace: String,
        /// The headless Service (a StatefulSet's `serviceName`).
        service: String,
        /// The pod's hostname (a StatefulSet pod's name).
        hostname: String,
    },
    /// A pod by its dashed IP: `<a-b-c-d>.<namespace>.pod.cluster.local`.
    PodIp(Ipv4Addr),
}

/// The fully qualified names a pod in `namespace` tries for `host`, in order (lowercase,
/// without the trailing dot).
pub(super) fn candidates(namespace: &str, host: &str) -> Vec<String> {
    let host = host.to_ascii_lowercase();
    if let Some(absolute) = host.strip_suffix('.') {
        return vec![absolute.to_owned()];
    }
    let searched = [
        format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
        format!("svc.{CLUSTER_DOMAIN}"),
        CLUSTER_DOMAIN.to_owned(),
    ]
    .into_iter()
    .map(|suffix| format!("{host}.{suffix}"));
    if host.matches('.').count() >= NDOTS {
        std::iter::once(host.clone()).chain(searched).collect()
    } else {
        searched.chain(std::iter::once(host.clone())).collect()
    }
}

/// The record a fully qualified name (lowercase, no trailing dot) names in the cluster zone;
/// `None` for names outside it or of no known shape.
pub(super) fn record(fqdn: &str) -> Option<Record> {
    let rest = fqdn.strip_suffix(CLUSTER_DOMAIN)?.strip_suffix('.')?;
    let labels: Vec<&str> = rest.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    match labels.as_slice() {
        [name, namespace, "svc"] => Some(Record::Service {
            namespace: (*namespace).to_owned(),
            name: (*name).to_owned(),
        }),
        [hostname, service, namespace, "svc"] => Some(Record::ServicePod {
            namespace: (*namespace).to_owned(),
            service: (*service).to_owned(),
            hostname: (*hostname).to_owned(),
        }),
        [dashed, _namespace, "pod"] => dashed.replace('-', ".").parse().ok().map(Record::PodIp),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_try_the_search_path_first() {
        assert_eq!(
            candidates("default", "reviews"),
            [
                "reviews.default.svc.cluster.local",
                "reviews.svc.cluster.local",
                "reviews.cluster.local",
                "reviews",
            ]
        );
        // Four dots is still under ndots:5, so the search path comes first.
        assert_eq!(
            candidates("bookinfo", "Reviews.Default.svc.cluster.local")[0],
            "reviews.default.svc.cluster.local.bookinfo.svc.cluster.local"
        );
    }

    #[test]
    fn absolute_and_long_names_are_tried_as_given() {
        assert_eq!(
            candidates("default", "reviews.default.svc.cluster.local."),
            ["reviews.default.svc.cluster.local"]
        );
        assert_eq!(
            candidates("default", "db-0.db.default.svc.cluster.local")[0],
            "db-0.db.default.svc.cluster.local"
        );
    }

    #[test]
    fn records_of_the_cluster_zone() {
        assert_eq!(
            record("reviews.default.svc.cluster.local"),
            Some(Record::Service {
                namespace: "default".into(),
                name: "reviews".into()
            })
        );
        assert_eq!(
            record("db-0.db.data.svc.cluster.local"),
            Some(Record::ServicePod {
                namespace: "data".into(),
                service: "db".into(),
                hostname: "db-0".into()
            })
        );
        assert_eq!(
            record("127-1-0-9.default.pod.cluster.local"),
            Some(Record::PodIp(Ipv4Addr::new(127, 1, 0, 9)))
        );
    }

    #[test]
    fn names_outside_the_zone_or_of_other_shapes_are_no_record() {
        for name in [
            "reviews",
            "reviews.default",
            "reviews.default.svc",
            "reviews.svc.cluster.local",
            "reviews.cluster.local",
            "a.b.c.d.svc.cluster.local",
            ".default.svc.cluster.local",
            "example.com",
            "xcluster.local",
            "1-2-3.default.pod.cluster.local",
        ] {
            assert_eq!(record(name), None, "{name}");
        }
    }
}
