//! The reference mesh's figures: `mesh up` to API ready, bookinfo to every pod Ready and to
//! the first `/productpage` served through a NodePort, productpage's request latency, the
//! daemon's memory idle and with the sample apps running, and `kubectl get pods` over 1,000
//! pods; then Istio's figures ([`istio`]) and certificate rotation under load ([`rotation`]).
//!
//! Everything runs against a real detached mesh (`meshwork mesh up`) in a scratch state
//! directory, driven by the real `kubectl` where a learner would use it. Nothing is asserted.
//! Istio's sample manifests are read from `$MESHWORK_SAMPLES` (a checkout's `samples/`
//! parent, default `/work/shared/istio-samples`); they are test data, not part of meshwork.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{ListParams, PostParams};

use super::{ms, write_row};

mod istio;
pub(super) mod rotation;

/// A sample manifest: `$MESHWORK_SAMPLES/<relative>` or under [`SAMPLES`].
fn sample(relative: &str) -> PathBuf {
    std::env::var_os("MESHWORK_SAMPLES")
        .map_or_else(|| PathBuf::from(SAMPLES), PathBuf::from)
        .join(relative)
}

/// Where Istio's samples are when `$MESHWORK_SAMPLES` does not say.
const SAMPLES: &str = "/work/shared/istio-samples";
/// Bookinfo in the samples.
const BOOKINFO: &str = "samples/bookinfo/platform/kube/bookinfo.yaml";
/// The other sample apps running for the memory figure.
const OTHER_APPS: &[&str] = &[
    "samples/httpbin/httpbin.yaml",
    "samples/httpbin/sample-client/fortio-deploy.yaml",
    "samples/sleep/sleep.yaml",
];
/// How many `/productpage` requests the latency figure takes.
const PAGE_REQUESTS: usize = 200;
/// Give up waiting for the first `/productpage` 200 after this long.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// The kubectl the workshop uses.
const KUBECTL: &str = "/usr/bin/kubectl";
/// How many pods the `kubectl get pods` figure lists.
const PODS: usize = 1_000;
/// Give up waiting for readiness after this long (a figure, not a hang).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A scratch state dir and HOME for one benchmark run; removed on drop.
struct Scratch {
    root: PathBuf,
    exe: PathBuf,
}

impl Scratch {
    fn new(exe: &Path) -> anyhow::Result<Self> {
        Self::named(exe, "mesh")
    }

    /// A scratch dir of its own for each `tag`, so that two can exist one after the other.
    fn named(exe: &Path, tag: &str) -> anyhow::Result<Self> {
        let root =
            std::env::temp_dir().join(format!("meshwork-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("home"))
            .with_context(|| format!("failed to create {}", root.display()))?;
        Ok(Self {
            root,
            exe: exe.to_owned(),
        })
    }

    fn state_home(&self) -> PathBuf {
        self.root.join("state")
    }

    fn state_dir(&self) -> PathBuf {
        self.state_home().join("meshwork")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.state_dir().join("kubeconfig")
    }

    /// Runs `meshwork mesh <args>` against the scratch state; returns how long it took.
    fn mesh(&self, args: &[&str]) -> anyhow::Result<Duration> {
        let mut all = vec!["mesh"];
        all.extend_from_slice(args);
        self.meshwork(&all)
    }

    /// Runs `meshwork ARGS` against the scratch state; returns how long it took.
    fn meshwork(&self, args: &[&str]) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let out = Command::new(&self.exe)
            .args(args)
            .env("XDG_STATE_HOME", self.state_home())
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("failed to run meshwork {}", args.join(" ")))?;
        let elapsed = start.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "`meshwork {}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(elapsed)
    }

    /// Runs the real kubectl with a private HOME and cache dir; returns how long it took.
    fn kubectl(&self, args: &[&str]) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let out = Command::new(KUBECTL)
            .args(args)
            .arg(format!("--kubeconfig={}", self.kubeconfig().display()))
            .arg(format!(
                "--cache-dir={}",
                self.root.join("home/cache").display()
            ))
            .env("HOME", self.root.join("home"))
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .context("failed to run kubectl")?;
        let elapsed = start.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "`kubectl {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(elapsed)
    }

    fn pid(&self) -> anyhow::Result<u32> {
        let info = meshwork_mesh::lifecycle::read_server_info(&self.state_dir())?
            .context("the mesh is not running (no server.json)")?;
        Ok(info.pid)
    }

    async fn client(&self) -> anyhow::Result<kube::Client> {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig())
            .context("failed to read the mesh's kubeconfig")?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .context("failed to use the mesh's kubeconfig")?;
        Ok(kube::Client::try_from(config)?)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.state_dir().join("server.json").exists() {
            let _ = self.mesh(&["down"]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Resident memory of a process in kB, from `/proc/<pid>/status`.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Prints the mesh section: runs the mesh in a scratch state dir and stops it afterwards.
pub fn run(
    out: &mut impl Write,
    exe: &Path,
    runs: u32,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    writeln!(
        out,
        "\nreference mesh ({profile} build; release figures are the ones that count)"
    )?;
    if !Path::new(KUBECTL).exists() {
        writeln!(
            out,
            "{KUBECTL} is missing; install kubectl to measure the mesh"
        )?;
        return Ok(());
    }
    let scratch = Scratch::new(exe)?;
    let cycles = runs.clamp(1, 5);

    // mesh up: the first one creates the CA and certificates, later ones reuse them.
    let cold = scratch.mesh(&["up"])?;
    write_row(
        out,
        "mesh up (first, new state)",
        vec![cold],
        ms,
        "< 500 ms",
    )?;
    let mut warm = Vec::new();
    for _ in 0..cycles {
        scratch.mesh(&["down"])?;
        warm.push(scratch.mesh(&["up"])?);
    }
    write_row(out, "mesh up (existing state)", warm, ms, "< 500 ms")?;

    std::thread::sleep(Duration::from_millis(500));
    let pid = scratch.pid()?;
    match rss_kb(pid) {
        Some(kb) => writeln!(out, "{:<28} {:>9}   < 30 MB", "mesh RSS idle", mb(kb))?,
        None => writeln!(
            out,
            "{:<28} (cannot read /proc/{pid}/status)",
            "mesh RSS idle"
        )?,
    }

    let client = rt.block_on(scratch.client())?;
    let bookinfo = sample(BOOKINFO);
    if bookinfo.exists() {
        bookinfo_figures(out, &scratch, &client, &bookinfo, cycles, rt, pid)?;
    } else {
        writeln!(
            out,
            "apply bookinfo               {} is missing; set MESHWORK_SAMPLES to a checkout of \
             Istio's samples",
            bookinfo.display()
        )?;
    }

    let created = rt.block_on(create_pods(&client, PODS))?;
    writeln!(
        out,
        "{:<28} {:>9}   (setup, no target)",
        format!("create {PODS} pods (API)"),
        ms(created)
    )?;
    let get = ["get", "pods", "-n", "bench"];
    // The first run fills kubectl's discovery cache, as a learner's first command does.
    scratch.kubectl(&get)?;
    let samples = (0..runs.clamp(3, 15))
        .map(|_| scratch.kubectl(&get))
        .collect::<anyhow::Result<Vec<_>>>()?;
    write_row(
        out,
        &format!("kubectl get pods ({PODS})"),
        samples,
        ms,
        "< 150 ms",
    )?;
    let baseline = (0..runs.clamp(3, 15))
        .map(|_| scratch.kubectl(&["get", "pods", "-n", "kube-system"]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    write_row(
        out,
        "kubectl get pods (few)",
        baseline,
        ms,
        "(kubectl's own cost)",
    )?;
    if let Some(kb) = rss_kb(pid) {
        writeln!(
            out,
            "{:<28} {:>9}   (with {PODS} pods, no target)",
            "mesh RSS loaded",
            mb(kb)
        )?;
    }
    scratch.mesh(&["down"])?;
    drop(scratch);
    istio::run(out, exe, runs, rt)?;
    rotation::run(out, exe)
}

/// Bookinfo applied (several times) → every pod Ready and the first `/productpage` 200 through
/// a NodePort; then, with httpbin, fortio and sleep running too, productpage's latency and the
/// mesh's memory.
fn bookinfo_figures(
    out: &mut impl Write,
    scratch: &Scratch,
    client: &kube::Client,
    bookinfo: &Path,
    cycles: u32,
    rt: &tokio::runtime::Runtime,
    pid: u32,
) -> anyhow::Result<()> {
    let manifest = bookinfo.to_string_lossy().into_owned();
    let expected = count_deployments(bookinfo)?;
    // productpage through a NodePort of the bench's own: it outlives Bookinfo's re-applies.
    let node_port = free_node_port().context("no port of 30000-32767 is free on 127.0.0.1")?;
    let service = scratch.root.join("productpage-nodeport.yaml");
    std::fs::write(
        &service,
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: productpage-bench\nspec:\n  \
             type: NodePort\n  selector:\n    app: productpage\n  ports:\n  - name: http\n    \
             port: 9080\n    nodePort: {node_port}\n"
        ),
    )
    .with_context(|| format!("failed to write {}", service.display()))?;
    scratch.kubectl(&["apply", "-f", &service.to_string_lossy()])?;

    let mut ready_samples = Vec::new();
    let mut page_samples = Vec::new();
    let mut page_failure = None;
    for i in 0..cycles.min(3) {
        if i > 0 {
            scratch.kubectl(&["delete", "-f", &manifest, "--wait=true"])?;
            rt.block_on(wait_until(client, READY_TIMEOUT, |pods, _| pods.is_empty()))?;
        }
        let start = Instant::now();
        scratch.kubectl(&["apply", "-f", &manifest])?;
        let rollout = rt.block_on(watch_rollout(client, node_port, expected, start))?;
        match rollout.ready {
            Some(d) => ready_samples.push(d),
            None => writeln!(
                out,
                "bookinfo: pods were not all Ready within {} s",
                READY_TIMEOUT.as_secs()
            )?,
        }
        match rollout.first_page {
            Some(d) => page_samples.push(d),
            None => page_failure = Some(rollout.last_reply),
        }
    }
    write_row(
        out,
        "apply bookinfo → all Ready",
        ready_samples,
        ms,
        "< 2 s",
    )?;
    let url = format!("http://127.0.0.1:{node_port}/productpage");
    if let Some(last) = page_failure {
        writeln!(
            out,
            "apply bookinfo → full page   {url} gave no full page within {} s (last: {last}); \
             productpage does not serve, so no latency figure",
            PAGE_TIMEOUT.as_secs()
        )?;
        return Ok(());
    }
    write_row(
        out,
        "apply bookinfo → full page",
        page_samples,
        ms,
        "< 2 s (via NodePort)",
    )?;

    // The other sample apps, so the memory figure is of the workshop's usual set.
    let mut others = 0;
    for app in OTHER_APPS.iter().map(|a| sample(a)) {
        if app.exists() {
            scratch.kubectl(&["apply", "-f", &app.to_string_lossy()])?;
            others += count_deployments(&app)?;
        } else {
            writeln!(out, "(skipped {}: missing)", app.display())?;
        }
    }
    let all_up = rt.block_on(wait_until(client, READY_TIMEOUT, |pods, deployments| {
        all_ready(pods, deployments, expected + others)
    }))?;
    if !all_up {
        let deployments: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), "default");
        let list = rt.block_on(deployments.list(&ListParams::default()))?;
        let unready: Vec<String> = list
            .items
            .iter()
            .filter(|d| {
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                d.status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0)
                    != want
            })
            .filter_map(|d| d.metadata.name.clone())
            .collect();
        writeln!(
            out,
            "not Ready within {} s: {} (their pods are counted as they are)",
            READY_TIMEOUT.as_secs(),
            unready.join(", ")
        )?;
    }

    let (latencies, failures) = rt.block_on(async {
        let mut latencies = Vec::with_capacity(PAGE_REQUESTS);
        let mut failures = Vec::new();
        for _ in 0..PAGE_REQUESTS {
            let start = Instant::now();
            match http_get(node_port, "/productpage").await {
                Ok((200, body)) if full_page(&body) => latencies.push(start.elapsed()),
                Ok((200, _)) => failures.push("a page with an error section".into()),
                other => failures.push(describe(&other)),
            }
        }
        (latencies, failures)
    });
    let p90 = percentile(&latencies, 90);
    write_row(
        out,
        &format!("productpage GET ×{PAGE_REQUESTS}"),
        latencies,
        ms,
        "p50 < 5 ms",
    )?;
    if let Some(p90) = p90 {
        writeln!(
            out,
            "{:<28} {:>9}   (new connection each, via NodePort)",
            "productpage GET p90",
            ms(p90)
        )?;
    }
    if !failures.is_empty() {
        writeln!(
            out,
            "productpage: {} of {PAGE_REQUESTS} requests failed (first: {})",
            failures.len(),
            failures[0]
        )?;
    }
    match rss_kb(pid) {
        Some(kb) => writeln!(
            out,
            "{:<28} {:>9}   < 60 MB",
            "mesh RSS, sample apps up",
            mb(kb)
        )?,
        None => writeln!(
            out,
            "mesh RSS, sample apps up     (cannot read /proc/{pid}/status)"
        )?,
    }
    writeln!(
        out,
        "  (bookinfo, httpbin, fortio and sleep applied, after {PAGE_REQUESTS} page requests)"
    )?;
    Ok(())
}

/// How long after `start` Bookinfo's pods were all Ready and `/productpage` first answered 200.
struct Rollout {
    ready: Option<Duration>,
    first_page: Option<Duration>,
    /// What the last `/productpage` request got, for the report when none was a 200.
    last_reply: String,
}

/// Polls readiness and `GET /productpage` on the nodePort together until both happened or
/// their time is up.
async fn watch_rollout(
    client: &kube::Client,
    node_port: u16,
    expected: usize,
    start: Instant,
) -> anyhow::Result<Rollout> {
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), "default");
    let deployments: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), "default");
    let mut rollout = Rollout {
        ready: None,
        first_page: None,
        last_reply: "no request made".into(),
    };
    loop {
        let waited = start.elapsed();
        let page_due = rollout.first_page.is_none() && waited < PAGE_TIMEOUT;
        let ready_due = rollout.ready.is_none() && waited < READY_TIMEOUT;
        if !page_due && !ready_due {
            return Ok(rollout);
        }
        if page_due {
            let reply = http_get(node_port, "/productpage").await;
            if matches!(&reply, Ok((200, body)) if full_page(body)) {
                rollout.first_page = Some(start.elapsed());
            }
            rollout.last_reply = describe(&reply);
        }
        if ready_due {
            let p = pods.list(&ListParams::default()).await?.items;
            let d = deployments.list(&ListParams::default()).await?.items;
            if all_ready(&p, &d, expected) {
                rollout.ready = Some(start.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One `GET path` to `127.0.0.1:port` on a new connection, read to the end; the status code
/// and the body.
async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: meshwork-bench\r\n\
             Connection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        let text = String::from_utf8_lossy(&raw);
        let code = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|t| t.get(..3))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| "closed without a response (no ready endpoint?)".to_owned())?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
        Ok((code, body.unwrap_or_default()))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap_or_else(|_| Err("no response within 10 s".into()))
}

/// A productpage that shows the book with its details and reviews (no error section): what
/// took all four services.
fn full_page(body: &str) -> bool {
    body.contains("<title>Simple Bookstore App</title>")
        && !body.contains("Error fetching product")
        && !body.contains("Ratings service is currently unavailable")
}

fn describe(reply: &Result<(u16, String), String>) -> String {
    match reply {
        Ok((200, _)) => {
            "HTTP 200 with an error section (details, reviews or ratings failed)".into()
        }
        Ok((code, _)) => format!("HTTP {code}"),
        Err(e) => e.clone(),
    }
}

/// The `p`th percentile (nearest rank) of some durations.
fn percentile(samples: &[Duration], p: usize) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// A port of the NodePort range free on 127.0.0.1 now, from a point that differs per run.
fn free_node_port() -> Option<u16> {
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    (0..2768u32)
        .filter_map(|i| u16::try_from(30000 + (seed.wrapping_add(i)) % 2768).ok())
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
}

fn count_deployments(manifest: &Path) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("failed to read {}", manifest.display()))?;
    Ok(text
        .lines()
        .filter(|l| l.trim_end() == "kind: Deployment")
        .count())
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Every expected Deployment reports all replicas ready and every pod is Ready.
fn all_ready(pods: &[Pod], deployments: &[Deployment], expected: usize) -> bool {
    let mut replicas = 0;
    for d in deployments {
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let ready = d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        if ready != want {
            return false;
        }
        replicas += usize::try_from(want).unwrap_or(0);
    }
    deployments.len() >= expected && pods.len() == replicas && pods.iter().all(pod_ready)
}

/// Polls pods and deployments in `default` until `done` holds; false on timeout.
async fn wait_until(
    client: &kube::Client,
    timeout: Duration,
    done: impl Fn(&[Pod], &[Deployment]) -> bool,
) -> anyhow::Result<bool> {
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), "default");
    let deployments: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let p = pods.list(&ListParams::default()).await?.items;
        let d = deployments.list(&ListParams::default()).await?.items;
        if done(&p, &d) {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(false)
}

/// Creates namespace `bench` with `n` pods through the API, 16 requests at a time.
async fn create_pods(client: &kube::Client, n: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}
    }))?;
    namespaces.create(&PostParams::default(), &ns).await?;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), "bench");
    let mut next = 0;
    while next < n {
        let mut batch = tokio::task::JoinSet::new();
        for i in next..(next + 16).min(n) {
            let pods = pods.clone();
            batch.spawn(async move {
                let pod: Pod = serde_json::from_value(serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("pod-{i:04}"), "labels": {"app": "bench"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
                }))?;
                pods.create(&PostParams::default(), &pod).await?;
                anyhow::Ok(())
            });
        }
        while let Some(done) = batch.join_next().await {
            done.context("a pod creation task failed")??;
        }
        next += 16;
    }
    Ok(start.elapsed())
}
