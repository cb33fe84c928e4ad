//! Certificate rotation under load (issue 6's performance target: "rotation of all workload
//! certificates without a single failed request in a sustained load of 200 requests/s").
//!
//! Measured the way a learner's mesh does it: `meshwork mesh up` in a scratch state dir,
//! `meshwork istioctl install --set profile=minimal -y`, istiod's `DEFAULT_WORKLOAD_CERT_TTL`
//! set short with `kubectl set env`, mesh-wide PeerAuthentication STRICT, Istio's httpbin and
//! fortio samples injected, and `fortio load` run in the fortio pod with `kubectl exec`, through
//! both sidecars. Every request is on a new connection twice over: fortio's `-keepalive=false`
//! opens one to its sidecar, and a DestinationRule with `maxRequestsPerConnection: 1` makes the
//! sidecar open a new mutual-TLS connection (a new handshake) to httpbin's sidecar for each.
//! Meanwhile the sidecars' `/certs` are read every half second for the serials they hold, and
//! istiod's log says which certificates it rotated. Nothing is asserted; the target line is
//! `0 failed`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

use super::{KUBECTL, Scratch, sample};

/// istiod's workload certificate lifetime for the run (the shortest it accepts).
const TTL: Duration = Duration::from_secs(10);
/// How far citadel-lite backdates `not_before` (pilot's `ca::CLOCK_SKEW`).
const BACKDATE: Duration = meshwork_pilot::ca::CLOCK_SKEW;
/// The sustained request rate.
const RATE: u32 = 200;
/// fortio's connections (workers), each at `RATE / WORKERS`.
const WORKERS: u32 = 8;
/// How long the load lasts: four rotation periods (rotation at half of [`TTL`]), so every
/// certificate is rotated at least three times whatever its phase.
const LOAD: Duration = Duration::from_secs(20);
/// How often the sidecars' certificates are read during the load.
const POLL: Duration = Duration::from_millis(500);
/// Give up on a setup step (rollout, Ready pods, a short certificate, a first 200) after this.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
/// The server and the load generator, from Istio's samples.
const HTTPBIN: &str = "samples/httpbin/httpbin.yaml";
const FORTIO: &str = "samples/httpbin/sample-client/fortio-deploy.yaml";
/// Where fortio sends its load.
const URL: &str = "http://httpbin:8000/get";
/// Mutual TLS required mesh-wide, and a new upstream connection (so a new TLS handshake with
/// the certificates of the moment) for every request to httpbin.
const POLICIES: &str = "\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec:
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: default}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      http: {maxRequestsPerConnection: 1}
";

/// A workload whose certificate rotation is watched.
struct Workload {
    /// As the figures name it.
    name: &'static str,
    /// Its pods' `app` label.
    app: &'static str,
    /// Its SPIFFE identity (the samples' service accounts).
    identity: &'static str,
}

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "httpbin",
        app: "httpbin",
        identity: "spiffe://cluster.local/ns/default/sa/httpbin",
    },
    Workload {
        name: "fortio",
        app: "fortio",
        identity: "spiffe://cluster.local/ns/default/sa/default",
    },
];

/// Prints the rotation section: starts a mesh in a scratch state dir and stops it afterwards.
pub fn run(out: &mut impl Write, exe: &std::path::Path) -> anyhow::Result<()> {
    writeln!(
        out,
        "\ncertificate rotation under load (real Envoy sidecars, mTLS STRICT, \
         DEFAULT_WORKLOAD_CERT_TTL={}s: rotated every {}s)",
        TTL.as_secs(),
        TTL.as_secs() / 2
    )?;
    if !std::path::Path::new(KUBECTL).exists() {
        writeln!(
            out,
            "skipped: {KUBECTL} is missing (the bench drives the real kubectl)"
        )?;
        return Ok(());
    }
    if let Err(missing) = meshwork_mesh::envoy::locate() {
        writeln!(out, "skipped: {missing}")?;
        return Ok(());
    }
    let missing: Vec<String> = [HTTPBIN, FORTIO]
        .iter()
        .map(|s| sample(s))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        writeln!(
            out,
            "skipped: {} missing; set MESHWORK_SAMPLES to a checkout of Istio's samples",
            missing.join(", ")
        )?;
        return Ok(());
    }
    let scratch = Scratch::named(exe, "rotation")?;
    let setup_start = Instant::now();
    let pods = setup(&scratch).context("setting up the rotation figure")?;
    writeln!(
        out,
        "  (setup: mesh up, istioctl install, TTL, STRICT, httpbin + fortio injected and \
         holding {}s certificates: {})",
        TTL.as_secs(),
        super::ms(setup_start.elapsed())
    )?;
    let measured = measure(&scratch, &pods)?;
    report(out, &measured)?;
    scratch.mesh(&["down"])?;
    Ok(())
}

/// What a kubectl run printed.
struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs the real kubectl against the scratch mesh (its flags first, so that they stay
/// kubectl's after an `exec … --`).
fn kubectl(scratch: &Scratch, args: &[&str]) -> anyhow::Result<Ran> {
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
    Ok(Ran {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// [`kubectl`] that must succeed; what it printed on stdout.
fn kubectl_ok(scratch: &Scratch, args: &[&str]) -> anyhow::Result<String> {
    let ran = kubectl(scratch, args)?;
    anyhow::ensure!(
        ran.success,
        "`kubectl {}` failed: {}",
        args.join(" "),
        ran.stderr.trim()
    );
    Ok(ran.stdout)
}

/// Repeats `attempt` every 200 ms until it gives a value; an error naming `what` after
/// [`SETUP_TIMEOUT`].
fn eventually<T>(
    what: &str,
    mut attempt: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = attempt()? {
            return Ok(v);
        }
        anyhow::ensure!(
            start.elapsed() < SETUP_TIMEOUT,
            "gave up after {} s waiting for {what}",
            SETUP_TIMEOUT.as_secs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The mesh as a learner would set it up; the pod of each of [`WORKLOADS`], in order.
fn setup(scratch: &Scratch) -> anyhow::Result<Vec<String>> {
    scratch.mesh(&["up"])?;
    scratch.meshwork(&["istioctl", "install", "--set", "profile=minimal", "-y"])?;
    let ttl = format!("DEFAULT_WORKLOAD_CERT_TTL={}s", TTL.as_secs());
    kubectl_ok(
        scratch,
        &[
            "set",
            "env",
            "deployment/istiod",
            "-n",
            "istio-system",
            &ttl,
        ],
    )?;
    let timeout = format!("--timeout={}s", SETUP_TIMEOUT.as_secs());
    kubectl_ok(
        scratch,
        &[
            "rollout",
            "status",
            "deployment/istiod",
            "-n",
            "istio-system",
            &timeout,
        ],
    )?;
    let policies = scratch.root.join("rotation-policies.yaml");
    std::fs::write(&policies, POLICIES)
        .with_context(|| format!("failed to write {}", policies.display()))?;
    kubectl_ok(scratch, &["apply", "-f", &policies.to_string_lossy()])?;
    kubectl_ok(
        scratch,
        &["label", "namespace", "default", "istio-injection=enabled"],
    )?;
    for manifest in [HTTPBIN, FORTIO] {
        kubectl_ok(
            scratch,
            &["apply", "-f", &sample(manifest).to_string_lossy()],
        )?;
    }
    for deployment in ["deployment/httpbin", "deployment/fortio-deploy"] {
        kubectl_ok(scratch, &["rollout", "status", deployment, &timeout])?;
    }
    let mut pods = Vec::new();
    for w in &WORKLOADS {
        let selector = format!("app={}", w.app);
        let pod = eventually(&format!("a running {} pod", w.name), || {
            let name = kubectl_ok(
                scratch,
                &[
                    "get",
                    "pods",
                    "-l",
                    &selector,
                    "--field-selector=status.phase=Running",
                    "-o",
                    "jsonpath={.items[0].metadata.name}",
                ],
            )
            .unwrap_or_default();
            Ok((!name.trim().is_empty()).then(|| name.trim().to_owned()))
        })?;
        // A sidecar holding a certificate of the short lifetime: rotation is under way.
        eventually(
            &format!("a {}s certificate in {pod}'s sidecar", TTL.as_secs()),
            || {
                let held = sidecar_certs(scratch, &pod)?;
                Ok(held
                    .iter()
                    .any(|c| c.identity == w.identity && c.lifetime == Some(TTL + BACKDATE))
                    .then_some(()))
            },
        )?;
        pods.push(pod);
    }
    // Configuration pushed and mTLS working end to end before the load starts.
    let fortio = pods[1].clone();
    eventually("a first 200 from httpbin through both sidecars", || {
        let ran = kubectl(
            scratch,
            &[
                "exec", &fortio, "-c", "fortio", "--", "fortio", "curl", "-quiet", URL,
            ],
        )?;
        Ok((ran.success && ran.stdout.starts_with("HTTP/1.1 200")).then_some(()))
    })?;
    Ok(pods)
}

/// A leaf certificate a sidecar holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    serial: String,
    identity: String,
    /// `expiration_time − valid_from`, when both could be read.
    lifetime: Option<Duration>,
}

/// The leaf certificates in an Envoy's `/certs` answer.
fn parse_certs(json: &str) -> Vec<Held> {
    let Ok(certs) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    let seconds = |v: &Value| {
        v.as_str()
            .and_then(meshwork_mesh::meta::parse_timestamp)
            .map(|t| t.as_second())
    };
    certs["certificates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["cert_chain"].as_array()?.first())
        .map(|leaf| Held {
            serial: leaf["serial_number"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            identity: leaf["subject_alt_names"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|s| s["uri"].as_str())
                .unwrap_or_default()
                .to_owned(),
            lifetime: seconds(&leaf["valid_from"])
                .zip(seconds(&leaf["expiration_time"]))
                .and_then(|(from, to)| u64::try_from(to - from).ok())
                .map(Duration::from_secs),
        })
        .collect()
}

/// The certificates `pod`'s sidecar holds (`pilot-agent request GET certs`, as a learner asks).
fn sidecar_certs(scratch: &Scratch, pod: &str) -> anyhow::Result<Vec<Held>> {
    let ran = kubectl(
        scratch,
        &[
            "exec",
            pod,
            "-c",
            "istio-proxy",
            "--",
            "pilot-agent",
            "request",
            "GET",
            "certs",
        ],
    )?;
    Ok(if ran.success {
        parse_certs(&ran.stdout)
    } else {
        Vec::new()
    })
}

/// The sum of the counters in an Envoy `/stats` text answer whose names end with `suffix`.
fn counter_sum(stats: &str, suffix: &str) -> u64 {
    stats
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(name, _)| name.ends_with(suffix))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum()
}

/// TLS handshakes fortio's sidecar completed towards httpbin.
fn handshakes(scratch: &Scratch, fortio: &str) -> anyhow::Result<u64> {
    let stats = kubectl_ok(
        scratch,
        &[
            "exec",
            fortio,
            "-c",
            "istio-proxy",
            "--",
            "pilot-agent",
            "request",
            "GET",
            "stats",
        ],
    )?;
    Ok(counter_sum(
        &stats,
        "httpbin.default.svc.cluster.local.ssl.handshake",
    ))
}

/// What one run measured.
#[derive(Debug, Default)]
struct Measured {
    /// fortio's report.
    load: Load,
    /// Why fortio's socket errors happened, from its log (message → count).
    errors: BTreeMap<String, u64>,
    /// Serials seen in each workload's sidecar during the load (by [`Workload::name`]).
    serials: BTreeMap<&'static str, BTreeSet<String>>,
    /// Reads of the sidecars' `/certs` that gave no answer.
    failed_reads: usize,
    /// istiod's "rotated the certificate of …" lines during the load, per workload.
    rotated: BTreeMap<&'static str, usize>,
    /// New mutual-TLS handshakes from fortio's sidecar to httpbin during the load.
    handshakes: Option<u64>,
}

/// The figures of a `fortio load` report.
#[derive(Debug, Default, PartialEq)]
struct Load {
    /// Calls made.
    calls: u64,
    /// Achieved requests per second.
    qps: f64,
    /// Per HTTP code (`-1`: socket errors and timeouts).
    codes: BTreeMap<i32, u64>,
    /// Median and 99th percentile of the call durations.
    p50: Option<Duration>,
    p99: Option<Duration>,
    /// Connections fortio opened.
    sockets: Option<u64>,
}

/// Reads fortio's report (`Ended after … : N calls. qps=…`, `# target 50% …` of the
/// aggregated times, `Code 200 : N (…)`, `Sockets used: N`).
fn parse_load(report: &str) -> Option<Load> {
    let mut load = Load::default();
    let ended = report
        .lines()
        .find_map(|l| l.strip_prefix("Ended after "))?;
    let (_, rest) = ended.split_once(" : ")?;
    let (calls, qps) = rest.split_once(" calls. qps=")?;
    load.calls = calls.trim().parse().ok()?;
    load.qps = qps.trim().parse().ok()?;
    // The first `# target` lines are the aggregated function time's; the error cases follow.
    let mut in_aggregate = false;
    for line in report.lines() {
        if line.starts_with("Aggregated Function Time") {
            in_aggregate = true;
        } else if line.starts_with("Error cases") {
            in_aggregate = false;
        } else if let Some(code) = line.strip_prefix("Code ") {
            let (code, rest) = code.split_once(" : ")?;
            let n = rest.split_whitespace().next()?;
            load.codes
                .insert(code.trim().parse().ok()?, n.parse().ok()?);
        } else if let Some(n) = line.strip_prefix("Sockets used: ") {
            load.sockets = n.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if in_aggregate && let Some(target) = line.strip_prefix("# target ") {
            let (pct, secs) = target.split_once("% ")?;
            let secs: f64 = secs.trim().parse().ok()?;
            let at = Duration::from_secs_f64(secs.max(0.0));
            match pct {
                "50" => load.p50 = Some(at),
                "99" => load.p99 = Some(at),
                _ => {}
            }
        }
    }
    Some(load)
}

/// Why fortio's calls failed, from its JSON log lines on stderr (`"msg":"Unable to connect"`
/// with its `err`): each message and how often.
fn error_kinds(stderr: &str) -> BTreeMap<String, u64> {
    let mut kinds = BTreeMap::new();
    for line in stderr.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["level"].as_str() != Some("err") && v["level"].as_str() != Some("warn") {
            continue;
        }
        let msg = v["msg"].as_str().unwrap_or("?");
        let kind = match v["err"].as_str().or_else(|| v["code"].as_str()) {
            Some(detail) => format!("{msg}: {detail}"),
            None => msg.to_owned(),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    kinds
}

/// istiod's "rotated the certificate of <identity> (serial …)" lines after the first `skip`.
fn rotations(log: &str, skip: usize) -> BTreeMap<&'static str, usize> {
    let mut per = BTreeMap::new();
    for line in log.lines().skip(skip) {
        for w in &WORKLOADS {
            if line.contains(&format!("rotated the certificate of {} ", w.identity)) {
                *per.entry(w.name).or_default() += 1;
            }
        }
    }
    per
}

/// The load, with the sidecars' certificates read alongside it.
fn measure(scratch: &Scratch, pods: &[String]) -> anyhow::Result<Measured> {
    let fortio = &pods[1];
    let istiod_log = || kubectl_ok(scratch, &["logs", "-n", "istio-system", "deploy/istiod"]);
    let log_before = istiod_log()?.lines().count();
    let handshakes_before = handshakes(scratch, fortio).ok();
    let serials: Mutex<BTreeMap<&'static str, BTreeSet<String>>> = Mutex::new(BTreeMap::new());
    let failed_reads = Mutex::new(0usize);
    let done = AtomicBool::new(false);
    let qps = RATE.to_string();
    let workers = WORKERS.to_string();
    let duration = format!("{}s", LOAD.as_secs());
    let ran = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                for (w, pod) in WORKLOADS.iter().zip(pods) {
                    let held = sidecar_certs(scratch, pod).unwrap_or_default();
                    match held.into_iter().find(|c| c.identity == w.identity) {
                        Some(c) => {
                            if let Ok(mut map) = serials.lock() {
                                map.entry(w.name).or_default().insert(c.serial);
                            }
                        }
                        None => {
                            if let Ok(mut n) = failed_reads.lock() {
                                *n += 1;
                            }
                        }
                    }
                }
                std::thread::sleep(POLL.saturating_sub(started.elapsed()));
            }
        });
        let ran = kubectl(
            scratch,
            &[
                "exec",
                fortio,
                "-c",
                "fortio",
                "--",
                "fortio",
                "load",
                "-qps",
                &qps,
                "-c",
                &workers,
                "-t",
                &duration,
                "-keepalive=false",
                "-p",
                "50,99",
                URL,
            ],
        );
        done.store(true, Ordering::Relaxed);
        ran
    })?;
    anyhow::ensure!(
        ran.success,
        "`fortio load` in {fortio} failed: {}",
        ran.stderr.trim()
    );
    let load = parse_load(&ran.stdout).with_context(|| {
        format!(
            "fortio's report could not be read:\n{}",
            ran.stdout.trim_end()
        )
    })?;
    let handshakes = handshakes_before
        .zip(handshakes(scratch, fortio).ok())
        .map(|(before, after)| after.saturating_sub(before));
    Ok(Measured {
        load,
        errors: error_kinds(&ran.stderr),
        serials: serials.into_inner().unwrap_or_default(),
        failed_reads: failed_reads.into_inner().unwrap_or_default(),
        rotated: rotations(&istiod_log()?, log_before),
        handshakes,
    })
}

/// The figures, one row each, with their target.
fn report(out: &mut impl Write, m: &Measured) -> anyhow::Result<()> {
    let load = &m.load;
    let ok = load.codes.get(&200).copied().unwrap_or(0);
    let failed = load.calls.saturating_sub(ok);
    writeln!(
        out,
        "{:<28} {:>9}   (fortio load -qps {RATE} -c {WORKERS} -t {}s -keepalive=false, fortio → \
         httpbin /get)",
        "rotation: requests sent",
        load.calls,
        LOAD.as_secs()
    )?;
    writeln!(out, "{:<28} {:>9}   0 failed", "rotation: failed", failed)?;
    for (code, n) in load.codes.iter().filter(|(c, _)| **c != 200) {
        let kind = if *code == -1 {
            "socket error or timeout (fortio's code -1)".to_owned()
        } else {
            format!("HTTP {code}")
        };
        writeln!(out, "  ({n} × {kind})")?;
    }
    for (kind, n) in &m.errors {
        writeln!(out, "  (fortio logged {n} × {kind})")?;
    }
    writeln!(
        out,
        "{:<28} {:>9}   {RATE}/s sustained",
        "rotation: achieved rate",
        format!("{:.1}/s", load.qps)
    )?;
    let or_dash = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), super::ms);
    writeln!(
        out,
        "{:<28} {:>9}   (fortio's histogram, through both sidecars)",
        "rotation: latency p50",
        or_dash(load.p50)
    )?;
    writeln!(
        out,
        "{:<28} {:>9}",
        "rotation: latency p99",
        or_dash(load.p99)
    )?;
    writeln!(
        out,
        "  (connections: {} opened by fortio, {} new mTLS handshakes by its sidecar to httpbin)",
        load.sockets
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        m.handshakes
            .map_or_else(|| "?".to_owned(), |n| n.to_string())
    )?;
    for w in &WORKLOADS {
        let seen = m.serials.get(w.name).map_or(0, BTreeSet::len);
        let rotated = m.rotated.get(w.name).copied().unwrap_or(0);
        writeln!(
            out,
            "{:<28} {:>9}   ≥ 3 (2 rotations) seen in its sidecar during the load; istiod \
             logged {rotated} rotations",
            format!("rotation: {} serials", w.name),
            seen
        )?;
    }
    if m.failed_reads > 0 {
        writeln!(
            out,
            "  ({} reads of a sidecar's /certs gave no certificate)",
            m.failed_reads
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
Ended after 20.004s : 4000 calls. qps=199.96
Aggregated Function Time : count 4000 avg 0.0021 +/- 0.001 min 0.001 max 0.03 sum 8.4
# range, mid point, percentile, count
>= 0.001 <= 0.002 , 0.0015 , 60.00, 2400
# target 50% 0.00183333
# target 99% 0.0091
Error cases : count 2 avg 0.5 +/- 0 min 0.5 max 0.5 sum 1
# range, mid point, percentile, count
# target 50% 0.5
# target 99% 0.5
Sockets used: 4000 (for perfect keepalive, would be 8)
Code -1 : 1 (0.0 %)
Code 200 : 3998 (100.0 %)
Code 503 : 1 (0.0 %)
All done 4000 calls (plus 0 warmup) 2.100 ms avg, 199.96 qps
";

    #[test]
    fn fortios_report_gives_calls_rate_codes_and_the_aggregated_percentiles() {
        let load = parse_load(REPORT).unwrap();
        assert_eq!(load.calls, 4000);
        assert!((load.qps - 199.96).abs() < 1e-9);
        assert_eq!(load.codes, BTreeMap::from([(-1, 1), (200, 3998), (503, 1)]));
        assert_eq!(load.p50, Some(Duration::from_secs_f64(0.001_833_33)));
        assert_eq!(
            load.p99,
            Some(Duration::from_secs_f64(0.0091)),
            "not the error cases' 0.5"
        );
        assert_eq!(load.sockets, Some(4000));
        assert_eq!(parse_load("Usage: fortio load ..."), None);
    }

    #[test]
    fn socket_errors_are_grouped_by_what_fortio_logged() {
        let stderr = concat!(
            "{\"ts\":1,\"level\":\"err\",\"msg\":\"Unable to connect\",\"err\":\"connection reset\",\"thread\":\"1\"}\n",
            "{\"ts\":2,\"level\":\"err\",\"msg\":\"Unable to connect\",\"err\":\"connection reset\",\"thread\":\"3\"}\n",
            "{\"ts\":3,\"level\":\"warn\",\"msg\":\"Non ok http code\",\"code\":\"503\"}\n",
            "{\"ts\":4,\"level\":\"info\",\"msg\":\"All done\"}\n",
            "not json\n",
        );
        assert_eq!(
            error_kinds(stderr),
            BTreeMap::from([
                ("Non ok http code: 503".to_owned(), 1),
                ("Unable to connect: connection reset".to_owned(), 2),
            ])
        );
    }

    #[test]
    fn a_sidecars_certs_give_each_leaf_serial_identity_and_lifetime() {
        let certs = serde_json::json!({"certificates": [
            {"ca_cert": [{"serial_number": "1"}], "cert_chain": [
                {"serial_number": "ab12",
                 "subject_alt_names": [{"uri": "spiffe://cluster.local/ns/default/sa/httpbin"}],
                 "valid_from": "2026-11-26T13:00:00Z",
                 "expiration_time": "2026-11-26T13:01:10Z"},
                {"serial_number": "intermediate"}
            ]},
            {"cert_chain": []}
        ]})
        .to_string();
        assert_eq!(
            parse_certs(&certs),
            vec![Held {
                serial: "ab12".into(),
                identity: "spiffe://cluster.local/ns/default/sa/httpbin".into(),
                lifetime: Some(TTL + BACKDATE),
            }]
        );
        assert_eq!(parse_certs("upstream connect error"), Vec::new());
    }

    #[test]
    fn istiods_rotations_are_counted_per_workload_after_the_start() {
        let log = "\
2026-11-26T13:00:00Z\tinfo\tca\trotated the certificate of spiffe://cluster.local/ns/default/sa/httpbin (serial 1, valid until x)
2026-11-26T13:00:05Z\tinfo\tca\trotated the certificate of spiffe://cluster.local/ns/default/sa/httpbin (serial 2, valid until x)
2026-11-26T13:00:05Z\tinfo\tca\tsigned the certificate of spiffe://cluster.local/ns/default/sa/default (serial 3, valid until x)
2026-11-26T13:00:06Z\tinfo\tca\trotated the certificate of spiffe://cluster.local/ns/default/sa/default (serial 4, valid until x)
2026-11-26T13:00:06Z\tinfo\tca\trotated the certificate of spiffe://cluster.local/ns/default/sa/default-other (serial 5, valid until x)
";
        assert_eq!(
            rotations(log, 1),
            BTreeMap::from([("fortio", 1), ("httpbin", 1)])
        );
    }

    #[test]
    fn handshake_counters_are_summed_by_suffix() {
        let stats = "\
cluster.outbound|8000||httpbin.default.svc.cluster.local.ssl.handshake: 12
cluster.outbound|8000||httpbin.default.svc.cluster.local.ssl.connection_error: 1
cluster.outbound|9080||details.default.svc.cluster.local.ssl.handshake: 7
";
        assert_eq!(
            counter_sum(stats, "httpbin.default.svc.cluster.local.ssl.handshake"),
            12
        );
    }
}
