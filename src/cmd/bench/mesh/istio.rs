//! Istio's figures on the reference mesh (issue 5's performance section): `mesh up` on a fresh
//! state dir through `istioctl install --set profile=demo` and injected Bookinfo to the first
//! full `/productpage` through the ingress gateway; a VirtualService applied with kubectl to
//! the first request that obeys it; the summed PSS of the mesh and every Envoy it runs; the
//! latency mutual TLS adds per sidecar hop (issue 6: Bookinfo pages with Istio's auto mTLS
//! against the same pages with DestinationRules `tls: DISABLE`); and pilot-lite translating a
//! synthetic 500-service model.
//!
//! The first three need Envoy (they are skipped with a line saying so when it is missing);
//! the translation figure runs in-process and always.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use meshwork_pilot::model::{ContainerPort, Endpoint, Service, ServicePort};
use meshwork_pilot::{Model, Proxy, ProxyKind};

use super::{KUBECTL, Scratch, describe, http_get, mb, ms, sample, write_row};

/// Bookinfo's gateway and routing samples.
const GATEWAY: &str = "samples/bookinfo/networking/bookinfo-gateway.yaml";
const DESTINATION_RULES: &str = "samples/bookinfo/networking/destination-rule-all.yaml";
const ALL_V1: &str = "samples/bookinfo/networking/virtual-service-all-v1.yaml";
const REVIEWS_V3: &str = "samples/bookinfo/networking/virtual-service-reviews-v3.yaml";
/// Give up on the first page through the gateway after this long.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Give up on one VirtualService flip after this long.
const FLIP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many VirtualService flips the apply → obeyed figure takes.
const FLIPS: usize = 10;
/// How many `/productpage` requests each side (mTLS on, off) of the mTLS figure takes.
const MTLS_PAGES: usize = 300;
/// In how many rounds of on, then off, they are taken.
const MTLS_ROUNDS: usize = 3;
/// Sidecar hops of one page with every reviews request on v1 (no ratings call): ingress gateway
/// → productpage, productpage → details, productpage → reviews.
const PAGE_HOPS: u32 = 3;
/// Give up waiting for a TLS setting to reach the Envoys after this long.
const TLS_PUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Bookinfo's DestinationRules with the subsets `virtual-service-all-v1` routes to, and mutual
/// TLS turned off.
const PLAINTEXT_RULES: &str = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: productpage}
spec:
  host: productpage
  trafficPolicy: {tls: {mode: DISABLE}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {tls: {mode: DISABLE}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy: {tls: {mode: DISABLE}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: details}
spec:
  host: details
  trafficPolicy: {tls: {mode: DISABLE}}
  subsets: [{name: v1, labels: {version: v1}}]
";
/// The synthetic model for the translation figure.
const SERVICES: usize = 500;
const VS_PER_SERVICE: usize = 5;

/// Prints the Istio section.
pub fn run(
    out: &mut impl Write,
    exe: &std::path::Path,
    runs: u32,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "\nIstio on the reference mesh (real Envoy, pilot-lite)"
    )?;
    match meshwork_mesh::envoy::locate() {
        Ok(_) => {
            let missing: Vec<String> = [
                super::BOOKINFO,
                GATEWAY,
                DESTINATION_RULES,
                ALL_V1,
                REVIEWS_V3,
            ]
            .iter()
            .map(|s| sample(s))
            .filter(|p| !p.exists())
            .map(|p| p.display().to_string())
            .collect();
            if missing.is_empty() {
                envoy_figures(out, exe, runs, rt)?;
            } else {
                writeln!(
                    out,
                    "skipped the Istio figures: {} missing; set MESHWORK_SAMPLES to a checkout of \
                     Istio's samples",
                    missing.join(", ")
                )?;
            }
        }
        Err(missing) => writeln!(
            out,
            "skipped the Istio figures (startup, apply → obeyed, PSS): {missing}"
        )?,
    }
    translation_figure(out, runs)
}

/// Runs the real kubectl and returns what it printed. Its flags come first, so that they
/// stay kubectl's when `args` has a `--` (`exec … -- command`).
fn kubectl_output(scratch: &Scratch, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(KUBECTL)
        .arg(format!("--kubeconfig={}", scratch.kubeconfig().display()))
        .arg(format!(
            "--cache-dir={}",
            scratch.root.join("home/cache").display()
        ))
        .args(args)
        .env("HOME", scratch.root.join("home"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .context("failed to run kubectl")?;
    anyhow::ensure!(
        out.status.success(),
        "`kubectl {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn apply(scratch: &Scratch, relative: &str) -> anyhow::Result<()> {
    scratch.kubectl(&["apply", "-f", &sample(relative).to_string_lossy()])?;
    Ok(())
}

/// Which reviews version a page came from, by its stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reviews {
    /// No stars: v1.
    V1,
    /// Red stars: v3.
    V3,
    /// Anything else (black stars, an error section).
    Other,
}

fn reviews_of(body: &str) -> Reviews {
    let stars = body.matches("glyphicon glyphicon-star\"").count();
    if !body.contains("Book Reviews") || !super::full_page(body) {
        Reviews::Other
    } else if stars == 0 {
        Reviews::V1
    } else if body.contains("text-red-500") && !body.contains("text-black-500") {
        Reviews::V3
    } else {
        Reviews::Other
    }
}

/// Startup, apply → obeyed and PSS, each startup on a fresh state dir.
fn envoy_figures(
    out: &mut impl Write,
    exe: &std::path::Path,
    runs: u32,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let cycles = runs.clamp(1, 3);
    let mut startups = Vec::new();
    // (mesh up, istioctl install, Bookinfo and its gateway → the first full page) per run.
    let mut phases = Vec::new();
    let mut kept = None;
    for i in 0..cycles {
        // Each run starts from nothing: the previous scratch (and its mesh) goes first.
        drop(kept.take());
        let scratch = Scratch::named(exe, &format!("istio-{i}"))?;
        let start = Instant::now();
        scratch.mesh(&["up"])?;
        let up = start.elapsed();
        scratch.meshwork(&["istioctl", "install", "--set", "profile=demo", "-y"])?;
        let installed = start.elapsed();
        scratch.kubectl(&["label", "namespace", "default", "istio-injection=enabled"])?;
        apply(&scratch, super::BOOKINFO)?;
        apply(&scratch, GATEWAY)?;
        let port = gateway_port(&scratch)?;
        let first = rt.block_on(async {
            let mut last = "no request made".to_owned();
            while start.elapsed() < STARTUP_TIMEOUT {
                let reply = http_get(port, "/productpage").await;
                if matches!(&reply, Ok((200, body)) if super::full_page(body)) {
                    return Ok(start.elapsed());
                }
                last = describe(&reply);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(last)
        });
        match first {
            Ok(d) => {
                phases.push((up, installed - up, d - installed));
                startups.push(d);
            }
            Err(last) => {
                writeln!(
                    out,
                    "mesh up → Istio → Bookinfo: no full /productpage through the gateway within \
                     {} s (last: {last})",
                    STARTUP_TIMEOUT.as_secs()
                )?;
                return Ok(());
            }
        }
        kept = Some((scratch, port));
    }
    write_row(
        out,
        "up → istio → bookinfo page",
        startups,
        ms,
        "< 10 s (fresh state, via gateway)",
    )?;
    for (up, install, bookinfo) in phases {
        writeln!(
            out,
            "  (mesh up {}, istioctl install --set profile=demo -y {}, Bookinfo injected + \
             gateway → full page {})",
            ms(up),
            ms(install),
            ms(bookinfo)
        )?;
    }
    let Some((scratch, port)) = kept else {
        return Ok(());
    };

    apply(&scratch, DESTINATION_RULES)?;
    let mut after_apply = Vec::new();
    let mut with_kubectl = Vec::new();
    let mut failures = Vec::new();
    for flip in 0..=FLIPS {
        let (file, want) = if flip % 2 == 0 {
            (ALL_V1, Reviews::V1)
        } else {
            (REVIEWS_V3, Reviews::V3)
        };
        let start = Instant::now();
        apply(&scratch, file)?;
        let applied = Instant::now();
        let obeyed = rt.block_on(async {
            while applied.elapsed() < FLIP_TIMEOUT {
                if let Ok((200, body)) = http_get(port, "/productpage").await
                    && reviews_of(&body) == want
                {
                    return Some(Instant::now());
                }
            }
            None
        });
        // The first apply creates the VirtualServices from nothing: not a flip.
        if flip == 0 {
            continue;
        }
        match obeyed {
            Some(t) => {
                after_apply.push(t - applied);
                with_kubectl.push(t - start);
            }
            None => failures.push(file),
        }
    }
    write_row(
        out,
        "VS applied → obeyed",
        after_apply,
        ms,
        "median < 50 ms (after kubectl returns)",
    )?;
    write_row(
        out,
        "kubectl apply VS → obeyed",
        with_kubectl,
        ms,
        "(kubectl's own start included)",
    )?;
    if !failures.is_empty() {
        writeln!(
            out,
            "{} flips were not obeyed within {} s: {}",
            failures.len(),
            FLIP_TIMEOUT.as_secs(),
            failures.join(", ")
        )?;
    }

    let mesh = scratch.pid()?;
    let pids = descendants(mesh);
    let envoys = pids
        .iter()
        .filter(|p| comm(**p).is_some_and(|c| c.contains("envoy")))
        .count();
    let mut total = pss_kb(mesh).unwrap_or(0);
    let mut unreadable = 0;
    for pid in &pids {
        match pss_kb(*pid) {
            Some(kb) => total += kb,
            None => unreadable += 1,
        }
    }
    writeln!(
        out,
        "{:<28} {:>9}   < 300 MB",
        "mesh + Envoys PSS",
        mb(total)
    )?;
    writeln!(
        out,
        "  (the mesh process and its {} child processes, {envoys} of them Envoys, with istiod, \
         both gateways and injected Bookinfo{})",
        pids.len(),
        if unreadable > 0 {
            format!("; {unreadable} gone before they were read")
        } else {
            String::new()
        }
    )?;
    mtls_figure(out, &scratch, port, rt)
}

/// Mutual TLS's added p50 latency per hop: Bookinfo pages through the gateway with Istio's auto
/// mTLS and with DestinationRules that turn it off, in turns; Bookinfo's own rules end it.
fn mtls_figure(
    out: &mut impl Write,
    scratch: &Scratch,
    port: u16,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    apply(scratch, ALL_V1)?;
    let plaintext = scratch.root.join("bookinfo-plaintext-rules.yaml");
    std::fs::write(&plaintext, PLAINTEXT_RULES)
        .with_context(|| format!("failed to write {}", plaintext.display()))?;
    // On and off in turn, so that drift (caches warming, other load) falls on both sides.
    let measured = (|| -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
        let (mut on, mut off) = (Vec::new(), Vec::new());
        for _ in 0..MTLS_ROUNDS {
            apply(scratch, DESTINATION_RULES)?;
            wait_for_mtls(scratch, true)?;
            on.extend(page_latencies(rt, port, MTLS_PAGES / MTLS_ROUNDS)?);
            scratch.kubectl(&["apply", "-f", &plaintext.to_string_lossy()])?;
            wait_for_mtls(scratch, false)?;
            off.extend(page_latencies(rt, port, MTLS_PAGES / MTLS_ROUNDS)?);
        }
        Ok((on, off))
    })();
    apply(scratch, DESTINATION_RULES)?;
    let (on, off) = match measured {
        Ok(m) => m,
        Err(e) => {
            writeln!(out, "mTLS added per hop: not measured: {e:#}")?;
            return Ok(());
        }
    };
    let (Some(p50_on), Some(p50_off)) = (super::percentile(&on, 50), super::percentile(&off, 50))
    else {
        return Ok(());
    };
    let pages = format!("({MTLS_PAGES} pages through the gateway)");
    write_row(out, "page, mTLS on (auto)", on, ms, &pages)?;
    write_row(out, "page, mTLS off (DR DISABLE)", off, ms, &pages)?;
    // Signed: on loopback the difference can be below the noise, either way.
    let added_us = (p50_on.as_secs_f64() - p50_off.as_secs_f64()) * 1e6 / f64::from(PAGE_HOPS);
    writeln!(
        out,
        "{:<28} {:>9}   < 1 ms per hop (p50 {} − {}, / {PAGE_HOPS} hops: gateway → productpage \
         → details, reviews v1)",
        "mTLS added per hop (p50)",
        format!("{added_us:+.0} µs"),
        super::super::us(p50_on),
        super::super::us(p50_off)
    )?;
    Ok(())
}

/// `count` full product pages through the gateway, each on a new connection: their latencies.
fn page_latencies(
    rt: &tokio::runtime::Runtime,
    port: u16,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    rt.block_on(async {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let start = Instant::now();
            let reply = http_get(port, "/productpage").await;
            let took = start.elapsed();
            match &reply {
                Ok((200, body)) if reviews_of(body) == Reviews::V1 => out.push(took),
                _ => anyhow::bail!("a page through the gateway failed: {}", describe(&reply)),
            }
        }
        Ok(out)
    })
}

/// Waits until the ingress gateway's cluster for productpage and productpage's for details
/// speak mutual TLS (`on`) or plaintext, as their Envoys' configuration says.
fn wait_for_mtls(scratch: &Scratch, on: bool) -> anyhow::Result<()> {
    let checks = [
        (
            "istio-system",
            "deploy/istio-ingressgateway",
            "outbound|9080||productpage.default.svc.cluster.local",
        ),
        (
            "default",
            "deploy/productpage-v1",
            "outbound|9080|v1|details.default.svc.cluster.local",
        ),
    ];
    let start = Instant::now();
    loop {
        let mut done = true;
        for (namespace, target, cluster) in checks {
            let dump = kubectl_output(
                scratch,
                &[
                    "exec",
                    "-n",
                    namespace,
                    target,
                    "-c",
                    "istio-proxy",
                    "--",
                    "pilot-agent",
                    "request",
                    "GET",
                    "config_dump?resource=dynamic_active_clusters",
                ],
            )?;
            done &= cluster_speaks_tls(&dump, cluster) == Some(on);
        }
        if done {
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < TLS_PUSH_TIMEOUT,
            "the Envoys did not turn mutual TLS {} within {} s",
            if on { "on" } else { "off" },
            TLS_PUSH_TIMEOUT.as_secs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether cluster `name` in an Envoy's `config_dump?resource=dynamic_active_clusters` has a
/// TLS transport (auto mTLS matches or one TLS socket); `None` when it is not there.
fn cluster_speaks_tls(dump: &str, name: &str) -> Option<bool> {
    let dump: serde_json::Value = serde_json::from_str(dump).ok()?;
    let cluster = dump
        .get("configs")?
        .as_array()?
        .iter()
        .filter_map(|c| c.get("cluster"))
        .find(|c| c.get("name").and_then(serde_json::Value::as_str) == Some(name))?;
    let tls_socket = cluster
        .pointer("/transport_socket/name")
        .and_then(serde_json::Value::as_str)
        == Some("envoy.transport_sockets.tls");
    Some(cluster.get("transport_socket_matches").is_some() || tls_socket)
}

/// The ingress gateway's NodePort for its `http2` port.
fn gateway_port(scratch: &Scratch) -> anyhow::Result<u16> {
    let text = kubectl_output(
        scratch,
        &[
            "get",
            "svc",
            "-n",
            "istio-system",
            "istio-ingressgateway",
            "-o",
            r#"jsonpath={.spec.ports[?(@.name=="http2")].nodePort}"#,
        ],
    )?;
    text.trim().parse().with_context(|| {
        format!("istio-ingressgateway has no http2 nodePort (kubectl printed {text:?})")
    })
}

/// Every process below `root` (children, their children …), from `/proc/*/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(ppid) = parent(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        for c in children.get(&p).into_iter().flatten() {
            out.push(*c);
            queue.push(*c);
        }
    }
    out
}

/// The parent of `pid`: the field after the `(comm)` in `/proc/<pid>/stat`.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(1)?.parse().ok()
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim().to_owned())
}

/// Proportional set size of a process in kB, from `/proc/<pid>/smaps_rollup`.
fn pss_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// pilot-lite translating [`SERVICES`] services with [`VS_PER_SERVICE`] VirtualServices each
/// (and a DestinationRule with two subsets): the configuration of one sidecar and of the
/// ingress gateway, the two proxies that see all of them.
fn translation_figure(out: &mut impl Write, runs: u32) -> anyhow::Result<()> {
    let model = synthetic_model()?;
    let proxies = [sidecar(), ingress_gateway()];
    let mut samples = Vec::new();
    let mut last = Vec::new();
    for _ in 0..runs.clamp(3, 15) {
        let start = Instant::now();
        last = proxies
            .iter()
            .map(|p| meshwork_pilot::translate(&model, p))
            .collect();
        samples.push(start.elapsed());
    }
    write_row(
        out,
        &format!("pilot: {SERVICES} svc × {VS_PER_SERVICE} VS"),
        samples,
        ms,
        "< 200 ms (a sidecar + the gateway)",
    )?;
    writeln!(
        out,
        "  ({} VirtualServices: 1 per service for the mesh, {} per service on the gateway)",
        model.virtual_services.len(),
        VS_PER_SERVICE - 1
    )?;
    for (proxy, r) in proxies.iter().zip(&last) {
        let hosts: usize = r.routes.iter().map(|rc| rc.virtual_hosts.len()).sum();
        writeln!(
            out,
            "  ({}: {} listeners, {} clusters, {} route configurations with {hosts} virtual \
             hosts, {} warnings{})",
            proxy.pod,
            r.listeners.len(),
            r.clusters.len(),
            r.routes.len(),
            r.warnings.len(),
            r.warnings
                .first()
                .map(|w| format!(", first: {w}"))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ip(i: usize) -> IpAddr {
    let [_, _, a, b] = u32::try_from(i).unwrap_or(0).to_be_bytes();
    IpAddr::from([127, 1, a, b])
}

fn http_port(name: &str, port: u16, target_port: u16) -> ServicePort {
    ServicePort {
        name: name.into(),
        port,
        protocol: "TCP".into(),
        app_protocol: None,
        target_port,
    }
}

/// 500 services in 5 namespaces, two endpoints each (v1 and v2), a DestinationRule with both
/// subsets, and 5 VirtualServices per service: one for the mesh (a header match with a
/// weighted split, retries and a timeout, then a default route) and 4 bound to the ingress
/// gateway, each for a host of its own (on a sidecar only one VirtualService per host counts,
/// as in Istio).
fn synthetic_model() -> anyhow::Result<Model> {
    let mut model = Model::new();
    model.services.push(Service {
        namespace: "istio-system".into(),
        name: "istio-ingressgateway".into(),
        cluster_ip: None,
        ports: vec![http_port("http2", 80, 8080)],
        selector: labels(&[("istio", "ingressgateway")]),
    });
    let gateway = serde_json::json!({
        "kind": "Gateway",
        "metadata": {"name": "bench-gateway", "namespace": "istio-system"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
        },
    });
    model
        .add_istio_object(&gateway)
        .context("the synthetic Gateway")?;
    for s in 0..SERVICES {
        let namespace = format!("ns-{}", s % 5);
        let name = format!("svc-{s}");
        model.services.push(Service {
            namespace: namespace.clone(),
            name: name.clone(),
            cluster_ip: None,
            ports: vec![http_port("http", 9080, 9080)],
            selector: labels(&[("app", &name)]),
        });
        for (k, version) in ["v1", "v2"].iter().enumerate() {
            model.endpoints.push(Endpoint {
                namespace: namespace.clone(),
                service: name.clone(),
                pod: format!("{name}-{version}"),
                ip: ip(2 * s + k + 2),
                ports: [(9080, 9080)].into_iter().collect(),
                labels: labels(&[("app", &name), ("version", version)]),
                service_account: "default".into(),
                sidecar: true,
            });
        }
        let dr = serde_json::json!({
            "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"host": name, "subsets": [
                {"name": "v1", "labels": {"version": "v1"}},
                {"name": "v2", "labels": {"version": "v2"}},
            ]},
        });
        model
            .add_istio_object(&dr)
            .context("the synthetic DestinationRule")?;
        let mesh = serde_json::json!({
            "kind": "VirtualService",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"hosts": [name], "http": [
                {
                    "match": [{"headers": {"end-user": {"exact": "jason"}}}],
                    "route": [
                        {"destination": {"host": name, "subset": "v1"}, "weight": 80},
                        {"destination": {"host": name, "subset": "v2"}, "weight": 20},
                    ],
                    "timeout": "2s",
                    "retries": {"attempts": 3, "perTryTimeout": "0.5s"},
                },
                {"route": [{"destination": {"host": name, "subset": "v1"}}]},
            ]},
        });
        model
            .add_istio_object(&mesh)
            .context("the synthetic VirtualService")?;
        for v in 1..VS_PER_SERVICE {
            let edge = serde_json::json!({
                "kind": "VirtualService",
                "metadata": {"name": format!("{name}-edge-{v}"), "namespace": namespace},
                "spec": {
                    "hosts": [format!("{v}.{name}.example.com")],
                    "gateways": ["istio-system/bench-gateway"],
                    "http": [
                        {
                            "match": [{"uri": {"prefix": "/api"}}],
                            "route": [{"destination": {
                                "host": format!("{name}.{namespace}.svc.cluster.local"),
                                "subset": "v2",
                            }}],
                        },
                        {"route": [{"destination": {
                            "host": format!("{name}.{namespace}.svc.cluster.local"),
                            "subset": "v1",
                        }}]},
                    ],
                },
            });
            model
                .add_istio_object(&edge)
                .context("the synthetic gateway VirtualService")?;
        }
    }
    Ok(model)
}

/// A sidecar the synthetic model is translated for.
fn sidecar() -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        pod: "svc-0-v1".into(),
        namespace: "ns-0".into(),
        labels: labels(&[("app", "svc-0"), ("version", "v1")]),
        service_account: "default".into(),
        ip: ip(2),
        app_ip: IpAddr::from([127, 2, 0, 2]),
        outbound_ip: IpAddr::from([127, 3, 0, 2]),
        ports: vec![ContainerPort {
            name: "http".into(),
            port: 9080,
        }],
        port_map: BTreeMap::new(),
    }
}

/// The ingress gateway the synthetic model is translated for.
fn ingress_gateway() -> Proxy {
    let address = IpAddr::from([127, 1, 255, 1]);
    Proxy {
        kind: ProxyKind::Gateway,
        pod: "istio-ingressgateway-0".into(),
        namespace: "istio-system".into(),
        labels: labels(&[("istio", "ingressgateway"), ("app", "istio-ingressgateway")]),
        service_account: "istio-ingressgateway-service-account".into(),
        ip: address,
        app_ip: address,
        outbound_ip: address,
        ports: vec![ContainerPort {
            name: "http2".into(),
            port: 8080,
        }],
        port_map: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_model_translates_into_routes_for_every_service() {
        let model = synthetic_model().unwrap();
        assert_eq!(model.services.len(), SERVICES + 1, "and the gateway's");
        assert_eq!(model.virtual_services.len(), SERVICES * VS_PER_SERVICE);
        let r = meshwork_pilot::translate(&model, &sidecar());
        assert!(
            r.cluster("outbound|9080|v2|svc-499.ns-4.svc.cluster.local")
                .is_some()
        );
        assert_eq!(r.warnings, Vec::new());
        let gw = meshwork_pilot::translate(&model, &ingress_gateway());
        assert_eq!(gw.warnings, Vec::new());
        let hosts: usize = gw.routes.iter().map(|rc| rc.virtual_hosts.len()).sum();
        assert_eq!(
            hosts,
            SERVICES * (VS_PER_SERVICE - 1),
            "one per gateway host"
        );
    }

    #[test]
    fn pages_are_told_apart_by_their_stars() {
        let page = |extra: &str| {
            format!("<title>Simple Bookstore App</title><h4>Book Reviews</h4>{extra}")
        };
        assert_eq!(reviews_of(&page("")), Reviews::V1);
        assert_eq!(
            reviews_of(&page(
                "<font class=\"text-red-500\"><span id=\"glyphicon glyphicon-star\"></span>"
            )),
            Reviews::V3
        );
        assert_eq!(
            reviews_of(&page(
                "<font class=\"text-black-500\"><span id=\"glyphicon glyphicon-star\"></span>"
            )),
            Reviews::Other
        );
    }

    #[test]
    fn a_cluster_speaks_tls_by_its_socket_matches_or_its_tls_socket() {
        let dump = serde_json::json!({"configs": [
            {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
             "cluster": {"name": "auto", "transport_socket_matches": [{"name": "tlsMode-istio"}]}},
            {"cluster": {"name": "explicit",
                         "transport_socket": {"name": "envoy.transport_sockets.tls"}}},
            {"cluster": {"name": "plain"}}
        ]})
        .to_string();
        assert_eq!(cluster_speaks_tls(&dump, "auto"), Some(true));
        assert_eq!(cluster_speaks_tls(&dump, "explicit"), Some(true));
        assert_eq!(cluster_speaks_tls(&dump, "plain"), Some(false));
        assert_eq!(cluster_speaks_tls(&dump, "missing"), None);
        assert_eq!(cluster_speaks_tls("not json", "auto"), None);
    }
}
