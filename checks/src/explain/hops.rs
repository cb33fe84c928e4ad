//! Joining access log lines of different proxies into requests: the lines that share an
//! `x-request-id`, arranged as the tree of hops the request took.
//!
//! A hop that arrives at a proxy (a sidecar's inbound, or a gateway) is the child of the
//! outbound hop of another proxy that sent it: the sender's upstream local address is the
//! receiver's downstream remote address, or (when a proxy rewrote the remote address from
//! `x-forwarded-for`) the sender's upstream host is the address the receiver was called on,
//! the closest earlier such call winning. A sidecar's outbound hop is the child of the inbound
//! hop of the same pod that was in progress when it started.

use serde::Serialize;

use super::flags;
use super::log::Entry;
use super::routes::RouteInfo;

/// How much two proxies' clocks and millisecond rounding may disagree.
const SLACK_MS: i64 = 5;

/// What kind of proxy wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    /// A sidecar next to an application.
    Sidecar,
    /// An ingress or egress gateway.
    Gateway,
}

/// A proxy whose log was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyRef {
    /// Namespace of the pod.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Sidecar or gateway.
    pub kind: ProxyKind,
}

/// Which way a hop goes through its proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Into the pod's own application (cluster `inbound|PORT||`).
    Inbound,
    /// From the pod's application to another service.
    Outbound,
    /// Through a gateway.
    Gateway,
}

/// A cluster name in Istio's style: `outbound|9080|v2|reviews.default.svc.cluster.local`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterName {
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Service port.
    pub port: u16,
    /// DestinationRule subset, if any.
    pub subset: Option<String>,
    /// The service host (empty for inbound clusters).
    pub host: String,
}

impl ClusterName {
    /// Parses Istio's `direction|port|subset|host`; `None` for other names
    /// (`PassthroughCluster`, `BlackHoleCluster`, …).
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.splitn(4, '|');
        let direction = parts.next()?;
        if direction != "inbound" && direction != "outbound" {
            return None;
        }
        let port = parts.next()?.parse().ok()?;
        let subset = parts.next()?;
        let host = parts.next().unwrap_or_default();
        Some(Self {
            direction: direction.to_owned(),
            port,
            subset: (!subset.is_empty()).then(|| subset.to_owned()),
            host: host.to_owned(),
        })
    }

    /// `reviews.default` of `reviews.default.svc.cluster.local` (other hosts as they are).
    pub fn service(&self) -> String {
        match self.host.split_once(".svc.") {
            Some((short, _)) => short.to_owned(),
            None => self.host.clone(),
        }
    }
}

/// One proxy's part in a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    /// The proxy that logged it.
    pub proxy: ProxyRef,
    /// Inbound, outbound or through a gateway.
    pub direction: Direction,
    /// The access log line.
    pub entry: Entry,
    /// The upstream cluster, read as Istio names it.
    pub cluster: Option<ClusterName>,
    /// The pod the upstream host belongs to, when known.
    pub upstream_pod: Option<String>,
    /// The route rule that matched, when the proxy's configuration tells.
    pub route: Option<RouteInfo>,
    /// Why the route rule cannot be told, when it cannot.
    pub route_note: Option<String>,
    /// The hops this one caused, in the order they started.
    pub hops: Vec<Hop>,
}

impl Hop {
    fn new(proxy: ProxyRef, entry: Entry) -> Self {
        let cluster = entry
            .upstream_cluster
            .as_deref()
            .and_then(ClusterName::parse);
        let direction = if proxy.kind == ProxyKind::Gateway {
            Direction::Gateway
        } else if cluster.as_ref().is_some_and(|c| c.direction == "inbound") {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        Self {
            proxy,
            direction,
            entry,
            cluster,
            upstream_pod: None,
            route: None,
            route_note: None,
            hops: Vec::new(),
        }
    }

    /// Whether this hop went wrong: no response, a server error, or a failure flag.
    pub fn failed(&self) -> bool {
        self.entry.status == 0
            || self.entry.status >= 500
            || self.entry.flags.iter().any(flags::is_failure)
    }

    /// This hop and every hop below it, depth first.
    pub fn walk(&self) -> Vec<&Hop> {
        let mut out = vec![self];
        for h in &self.hops {
            out.extend(h.walk());
        }
        out
    }

    /// Mutable access to this hop and every hop below it.
    pub fn walk_mut(&mut self, f: &mut impl FnMut(&mut Hop)) {
        f(self);
        for h in &mut self.hops {
            h.walk_mut(f);
        }
    }
}

/// One request: every hop logged with its `x-request-id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// The `x-request-id`.
    pub id: String,
    /// Method of the first hop.
    pub method: String,
    /// Path of the first hop.
    pub path: String,
    /// Host the client asked for.
    pub authority: Option<String>,
    /// When the first hop started.
    pub start: String,
    /// Status the client got (from the first hop).
    pub status: u16,
    /// How long the first hop took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Whether any hop went wrong.
    pub failed: bool,
    /// The first hops (usually one: the gateway, or the caller's sidecar).
    pub hops: Vec<Hop>,
}

impl Request {
    /// Every hop, depth first.
    pub fn all_hops(&self) -> Vec<&Hop> {
        self.hops.iter().flat_map(Hop::walk).collect()
    }

    /// The start time in milliseconds, for ordering.
    pub fn start_ms(&self) -> Option<i64> {
        self.hops.first().and_then(|h| h.entry.start_ms)
    }
}

/// Groups lines by request id and arranges each group as a tree; requests in start order.
/// Lines without a request id (TCP connections, health checks) are left out.
pub fn join(lines: Vec<(ProxyRef, Entry)>) -> Vec<Request> {
    let mut groups: Vec<(String, Vec<Hop>)> = Vec::new();
    for (proxy, entry) in lines {
        let Some(id) = entry.request_id.clone() else {
            continue;
        };
        let hop = Hop::new(proxy, entry);
        match groups.iter_mut().find(|(g, _)| *g == id) {
            Some((_, hops)) => hops.push(hop),
            None => groups.push((id, vec![hop])),
        }
    }
    let mut requests: Vec<Request> = groups
        .into_iter()
        .filter_map(|(id, hops)| tree(id, hops))
        .collect();
    requests.sort_by_key(|r| r.start_ms());
    requests
}

fn is_arrival(h: &Hop) -> bool {
    matches!(h.direction, Direction::Inbound | Direction::Gateway)
}

fn is_departure(h: &Hop) -> bool {
    matches!(h.direction, Direction::Outbound | Direction::Gateway)
}

fn start(h: &Hop) -> i64 {
    h.entry.start_ms.unwrap_or(0)
}

fn end(h: &Hop) -> i64 {
    let duration = h
        .entry
        .duration_ms
        .map_or(0, |d| i64::try_from(d).unwrap_or(i64::MAX));
    start(h).saturating_add(duration)
}

/// The index of the hop that caused hop `i`, if any.
fn parent_of(hops: &[Hop], i: usize) -> Option<usize> {
    let child = &hops[i];
    if is_arrival(child) {
        // Sent by another proxy: by its connection's addresses, else by the address called.
        let senders = || {
            hops.iter()
                .enumerate()
                .filter(|(j, h)| *j != i && is_departure(h) && h.proxy != child.proxy)
        };
        let by_socket = senders()
            .find(|(_, h)| h.upstream_local_matches(child.entry.downstream_remote.as_deref()));
        if let Some((j, _)) = by_socket {
            return Some(j);
        }
        return senders()
            .filter(|(_, h)| {
                h.entry.upstream_host.is_some()
                    && h.entry.upstream_host == child.entry.downstream_local
                    && start(h) <= start(child) + SLACK_MS
            })
            .max_by_key(|(_, h)| start(h))
            .map(|(j, _)| j);
    }
    // A sidecar's outbound call: made while one of the pod's inbound requests was in progress.
    hops.iter()
        .enumerate()
        .filter(|(j, h)| {
            *j != i
                && h.direction == Direction::Inbound
                && h.proxy == child.proxy
                && start(h) <= start(child) + SLACK_MS
                && start(child) <= end(h) + SLACK_MS
        })
        .max_by_key(|(_, h)| start(h))
        .map(|(j, _)| j)
}

impl Hop {
    fn upstream_local_matches(&self, downstream_remote: Option<&str>) -> bool {
        match (self.entry.upstream_local.as_deref(), downstream_remote) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

fn tree(id: String, mut hops: Vec<Hop>) -> Option<Request> {
    hops.sort_by_key(|h| (start(h), !is_arrival(h)));
    let parents: Vec<Option<usize>> = {
        let mut parents: Vec<Option<usize>> = vec![None; hops.len()];
        // Arrivals first: they are linked to their sender by the connection's addresses, which
        // is certain. A departure's link to the pod's inbound request is a guess by time, made
        // latest first, so that the deeper links are in place when the earliest departure is
        // guessed: a pod that both starts a request and serves part of it (a client inside the
        // mesh called back by the chain it started) must not have its first call hung under
        // that later inbound request, which would close a loop.
        let order = (0..hops.len())
            .filter(|i| is_arrival(&hops[*i]))
            .chain((0..hops.len()).rev().filter(|i| !is_arrival(&hops[*i])));
        for i in order {
            if let Some(p) = parent_of(&hops, i) {
                // Never close a loop (possible only with clocks that disagree).
                let mut up = Some(p);
                let mut loops = false;
                while let Some(u) = up {
                    if u == i {
                        loops = true;
                        break;
                    }
                    up = parents[u];
                }
                if !loops {
                    parents[i] = Some(p);
                }
            }
        }
        parents
    };
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); hops.len()];
    for (i, p) in parents.iter().enumerate() {
        if let Some(p) = p {
            kids[*p].push(i);
        }
    }
    let mut slots: Vec<Option<Hop>> = hops.into_iter().map(Some).collect();
    let roots: Vec<Hop> = (0..slots.len())
        .filter(|i| parents[*i].is_none())
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|i| build(i, &kids, &mut slots))
        .collect();
    let first = roots.first()?;
    let failed =
        roots.iter().any(|r| r.walk().iter().any(|h| h.failed())) || first.entry.status >= 400;
    Some(Request {
        method: first.entry.method.clone(),
        path: first.entry.path.clone(),
        authority: first.entry.authority.clone(),
        start: first.entry.start.clone(),
        status: first.entry.status,
        duration_ms: first.entry.duration_ms,
        failed,
        id,
        hops: roots,
    })
}

/// Takes hop `i` and, recursively, its children (in start order) out of `slots`.
fn build(i: usize, kids: &[Vec<usize>], slots: &mut [Option<Hop>]) -> Option<Hop> {
    let mut hop = slots.get_mut(i)?.take()?;
    hop.hops = kids[i]
        .iter()
        .filter_map(|k| build(*k, kids, slots))
        .collect();
    Some(hop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::log::parse;

    const ID: &str = "4a3d6a0a-3769-411f-bb94-b3504bed006e";

    fn proxy(pod: &str, kind: ProxyKind) -> ProxyRef {
        ProxyRef {
            namespace: if kind == ProxyKind::Gateway {
                "istio-system".into()
            } else {
                "default".into()
            },
            pod: pod.into(),
            kind,
        }
    }

    /// The lines of one request as the reference mesh logged them: jason's /productpage with
    /// reviews-test-v2 and ratings-test-delay (productpage tries reviews twice, 3 s each).
    fn jason_request() -> Vec<(ProxyRef, Entry)> {
        let gw = proxy("istio-ingressgateway-5d9f", ProxyKind::Gateway);
        let pp = proxy("productpage-v1-859f", ProxyKind::Sidecar);
        let details = proxy("details-v1-584f", ProxyKind::Sidecar);
        let rv2 = proxy("reviews-v2-7994", ProxyKind::Sidecar);
        let lines = [
            (
                &details,
                r#"[2026-11-26T12:26:25.438Z] "GET /details/0 HTTP/1.1" 200 - via_upstream - "-" 0 178 0 0 "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "details:9080" "127.2.223.246:9080" inbound|9080|| 127.0.0.1:38540 127.1.223.246:9080 127.0.0.1:48656 - default"#,
            ),
            (
                &pp,
                r#"[2026-11-26T12:26:25.437Z] "GET /details/0 HTTP/1.1" 200 - via_upstream - "-" 0 178 1 1 "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "details:9080" "127.1.223.246:9080" outbound|9080|v1|details.default.svc.cluster.local 127.0.0.1:48656 127.3.164.223:9080 127.1.164.223:40325 - details.default.0"#,
            ),
            (
                &pp,
                r#"[2026-11-26T12:26:25.439Z] "GET /reviews/0 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 3001 - "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "reviews:9080" "127.1.187.2:9080" outbound|9080|v2|reviews.default.svc.cluster.local 127.0.0.1:42556 127.3.164.223:9080 127.1.164.223:48881 - reviews.default.0"#,
            ),
            (
                &pp,
                r#"[2026-11-26T12:26:25.436Z] "GET /productpage HTTP/1.1" 200 - via_upstream - "-" 0 1328 6006 6005 "192.0.2.2" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "127.0.0.1:30431" "127.2.164.223:9080" inbound|9080|| 127.0.0.1:53800 127.1.164.223:9080 192.0.2.2:0 - default"#,
            ),
            (
                &pp,
                r#"[2026-11-26T12:26:28.441Z] "GET /reviews/0 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 3001 - "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "reviews:9080" "127.1.187.2:9080" outbound|9080|v2|reviews.default.svc.cluster.local 127.0.0.1:47322 127.3.164.223:9080 127.1.164.223:42799 - reviews.default.0"#,
            ),
            (
                &rv2,
                r#"[2026-11-26T12:26:25.440Z] "GET /reviews/0 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 3001 - "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "reviews:9080" "127.2.187.2:9080" inbound|9080|| 127.0.0.1:39072 127.1.187.2:9080 127.0.0.1:42556 - default"#,
            ),
            (
                &rv2,
                r#"[2026-11-26T12:26:25.441Z] "GET /ratings/0 HTTP/1.1" 0 DI,DC downstream_remote_disconnect - "-" 0 0 3001 - "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "ratings:9080" "-" outbound|9080|v1|ratings.default.svc.cluster.local - 127.3.187.2:9080 127.1.187.2:58507 - ratings.default.0"#,
            ),
            (
                &rv2,
                r#"[2026-11-26T12:26:28.442Z] "GET /reviews/0 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 3000 - "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "reviews:9080" "127.2.187.2:9080" inbound|9080|| 127.0.0.1:43094 127.1.187.2:9080 127.0.0.1:47322 - default"#,
            ),
            (
                &rv2,
                r#"[2026-11-26T12:26:28.443Z] "GET /ratings/0 HTTP/1.1" 0 DI,DC downstream_remote_disconnect - "-" 0 0 3000 - "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "ratings:9080" "-" outbound|9080|v1|ratings.default.svc.cluster.local - 127.3.187.2:9080 127.1.187.2:45313 - ratings.default.0"#,
            ),
            (
                &gw,
                r#"[2026-11-26T12:26:25.436Z] "GET /productpage HTTP/1.1" 200 - via_upstream - "-" 0 1328 6007 6007 "192.0.2.2" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "127.0.0.1:30431" "127.1.164.223:9080" outbound|9080||productpage.default.svc.cluster.local 127.0.0.1:37054 127.1.131.196:8080 127.0.0.1:37698 - bookinfo.default.0"#,
            ),
            (
                &gw,
                r#"[2026-11-26T12:26:25.415Z] "POST /login HTTP/1.1" 302 - via_upstream - "-" 23 145 7 6 "192.0.2.2" "curl/7.88.1" "833608f2-d717-4f30-941a-a4185bbf9f4e" "127.0.0.1:30431" "127.1.164.223:9080" outbound|9080||productpage.default.svc.cluster.local 127.0.0.1:37054 127.1.131.196:8080 127.0.0.1:37694 - bookinfo.default.0"#,
            ),
        ];
        lines
            .iter()
            .map(|(p, l)| ((*p).clone(), parse(l).unwrap()))
            .collect()
    }

    /// `pod direction path` of each hop, indented by depth.
    fn shape(hops: &[Hop], depth: usize, out: &mut Vec<String>) {
        for h in hops {
            out.push(format!(
                "{}{} {:?} {}",
                "  ".repeat(depth),
                h.proxy.pod,
                h.direction,
                h.entry.path
            ));
            shape(&h.hops, depth + 1, out);
        }
    }

    #[test]
    fn hops_of_one_request_form_the_call_tree() {
        let requests = join(jason_request());
        assert_eq!(requests.len(), 2, "login and the page are two requests");
        let login = &requests[0];
        assert_eq!(
            (login.method.as_str(), login.path.as_str()),
            ("POST", "/login")
        );
        let page = &requests[1];
        assert_eq!(page.id, ID);
        assert_eq!(page.status, 200);
        assert_eq!(page.duration_ms, Some(6007));
        assert!(page.failed, "abandoned calls to reviews are failures");
        let mut lines = Vec::new();
        shape(&page.hops, 0, &mut lines);
        assert_eq!(
            lines,
            [
                "istio-ingressgateway-5d9f Gateway /productpage",
                "  productpage-v1-859f Inbound /productpage",
                "    productpage-v1-859f Outbound /details/0",
                "      details-v1-584f Inbound /details/0",
                "    productpage-v1-859f Outbound /reviews/0",
                "      reviews-v2-7994 Inbound /reviews/0",
                "        reviews-v2-7994 Outbound /ratings/0",
                "    productpage-v1-859f Outbound /reviews/0",
                "      reviews-v2-7994 Inbound /reviews/0",
                "        reviews-v2-7994 Outbound /ratings/0",
            ]
        );
        // The second attempt's inbound hop is the one that second connection made.
        let second = &page.hops[0].hops[0].hops[2];
        assert_eq!(second.entry.start, "2026-11-26T12:26:28.441Z");
        assert_eq!(second.hops[0].entry.start, "2026-11-26T12:26:28.442Z");
        assert_eq!(page.all_hops().len(), 10);
    }

    #[test]
    fn cluster_names_are_read_as_istio_writes_them() {
        let c = ClusterName::parse("outbound|9080|v2|reviews.default.svc.cluster.local").unwrap();
        assert_eq!(c.direction, "outbound");
        assert_eq!(c.port, 9080);
        assert_eq!(c.subset.as_deref(), Some("v2"));
        assert_eq!(c.service(), "reviews.default");
        let inbound = ClusterName::parse("inbound|9080||").unwrap();
        assert_eq!(
            (inbound.direction.as_str(), inbound.subset),
            ("inbound", None)
        );
        assert_eq!(ClusterName::parse("PassthroughCluster"), None);
        let external = ClusterName::parse("outbound|443||www.google.com").unwrap();
        assert_eq!(external.service(), "www.google.com");
    }

    #[test]
    fn a_client_inside_the_mesh_that_the_chain_calls_back_is_the_root() {
        // curl in ratings fetches the page; productpage calls reviews v2, which calls ratings:
        // ratings' pod starts the request and serves part of it, all within 4 ms.
        let ratings = proxy("ratings-v1-7d75", ProxyKind::Sidecar);
        let pp = proxy("productpage-v1-6564", ProxyKind::Sidecar);
        let rv2 = proxy("reviews-v2-6d8d", ProxyKind::Sidecar);
        let id = "9d41f987-977b-48e5-8b7c-9ea4d1539033";
        let line = |t: &str,
                    path: &str,
                    took: u32,
                    authority: &str,
                    host: &str,
                    cluster: &str,
                    sockets: &str| {
            format!(
                r#"[2026-11-26T15:37:28.{t}Z] "GET {path} HTTP/1.1" 200 - via_upstream - "-" 0 48 {took} {took} "-" "curl/8.16.0" "{id}" "{authority}" "{host}" {cluster} {sockets} - -"#
            )
        };
        let lines = [
            (
                &ratings,
                line(
                    "709",
                    "/productpage",
                    4,
                    "productpage:9080",
                    "127.1.203.54:9080",
                    "outbound|9080|v1|productpage.default.svc.cluster.local",
                    "127.0.0.1:38564 127.3.219.79:9080 127.1.219.79:54959",
                ),
            ),
            (
                &pp,
                line(
                    "710",
                    "/productpage",
                    4,
                    "productpage:9080",
                    "127.2.203.54:9080",
                    "inbound|9080||",
                    "127.0.0.1:47738 127.1.203.54:9080 127.0.0.1:38564",
                ),
            ),
            (
                &pp,
                line(
                    "712",
                    "/reviews/0",
                    1,
                    "reviews:9080",
                    "127.1.94.58:9080",
                    "outbound|9080|v2|reviews.default.svc.cluster.local",
                    "127.0.0.1:35838 127.3.203.54:9080 127.1.203.54:50213",
                ),
            ),
            (
                &rv2,
                line(
                    "712",
                    "/reviews/0",
                    1,
                    "reviews:9080",
                    "127.2.94.58:9080",
                    "inbound|9080||",
                    "127.0.0.1:43732 127.1.94.58:9080 127.0.0.1:35838",
                ),
            ),
            (
                &rv2,
                line(
                    "713",
                    "/ratings/0",
                    0,
                    "ratings:9080",
                    "127.1.219.79:9080",
                    "outbound|9080|v1|ratings.default.svc.cluster.local",
                    "127.0.0.1:60506 127.3.94.58:9080 127.1.94.58:35227",
                ),
            ),
            (
                &ratings,
                line(
                    "713",
                    "/ratings/0",
                    0,
                    "ratings:9080",
                    "127.2.219.79:9080",
                    "inbound|9080||",
                    "127.0.0.1:36656 127.1.219.79:9080 127.0.0.1:60506",
                ),
            ),
        ];
        let lines = lines
            .iter()
            .map(|(p, l)| ((*p).clone(), parse(l).unwrap()))
            .collect();
        let requests = join(lines);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].path, "/productpage");
        let mut shape_lines = Vec::new();
        shape(&requests[0].hops, 0, &mut shape_lines);
        assert_eq!(
            shape_lines,
            [
                "ratings-v1-7d75 Outbound /productpage",
                "  productpage-v1-6564 Inbound /productpage",
                "    productpage-v1-6564 Outbound /reviews/0",
                "      reviews-v2-6d8d Inbound /reviews/0",
                "        reviews-v2-6d8d Outbound /ratings/0",
                "          ratings-v1-7d75 Inbound /ratings/0",
            ]
        );
    }

    #[test]
    fn lines_without_a_request_id_are_left_out() {
        let tcp = r#"[2026-11-26T12:26:25.436Z] "- - -" 0 - - - "-" 120 300 12 - "-" "-" "-" "-" "127.1.0.9:3306" outbound|3306||mysql.default.svc.cluster.local 127.0.0.1:1 127.3.0.1:3306 127.1.0.2:5 - -"#;
        let lines = vec![(proxy("a", ProxyKind::Sidecar), parse(tcp).unwrap())];
        assert!(join(lines).is_empty());
    }
}
