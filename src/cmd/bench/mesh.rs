//! The reference mesh's figures: `mesh up` to API ready, bookinfo to every pod Ready,
//! `kubectl get pods` over 1,000 pods, and the daemon's idle memory.
//!
//! Everything runs against a real detached mesh (`meshwork mesh up`) in a scratch state
//! directory, driven by the real `kubectl` where a learner would use it. Nothing is asserted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{ListParams, PostParams};

use super::{ms, write_row};

/// Istio's bookinfo sample, where the workshop's shared checkout keeps it.
const BOOKINFO: &str = "/work/shared/istio-samples/samples/bookinfo/platform/kube/bookinfo.yaml";
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
        let root = std::env::temp_dir().join(format!("meshwork-bench-mesh-{}", std::process::id()));
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
        let start = Instant::now();
        let out = Command::new(&self.exe)
            .arg("mesh")
            .args(args)
            .env("XDG_STATE_HOME", self.state_home())
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("failed to run meshwork mesh {}", args.join(" ")))?;
        let elapsed = start.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "`meshwork mesh {}` failed: {}",
            args.join(" "),
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
    if Path::new(BOOKINFO).exists() {
        let expected = count_deployments(Path::new(BOOKINFO))?;
        let mut samples = Vec::new();
        for i in 0..cycles.min(3) {
            if i > 0 {
                scratch.kubectl(&["delete", "-f", BOOKINFO, "--wait=true"])?;
                rt.block_on(wait_until(&client, READY_TIMEOUT, |pods, _| {
                    pods.is_empty()
                }))?;
            }
            let start = Instant::now();
            scratch.kubectl(&["apply", "-f", BOOKINFO])?;
            let ready = rt.block_on(wait_until(&client, READY_TIMEOUT, |pods, deployments| {
                all_ready(pods, deployments, expected)
            }))?;
            if !ready {
                writeln!(
                    out,
                    "bookinfo: pods were not all Ready within {} s",
                    READY_TIMEOUT.as_secs()
                )?;
                break;
            }
            samples.push(start.elapsed());
        }
        write_row(out, "apply bookinfo → all Ready", samples, ms, "< 2 s")?;
    } else {
        writeln!(out, "apply bookinfo → all Ready     {BOOKINFO} is missing")?;
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
    Ok(())
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
