//! One running Envoy: started from a bootstrap file in its own directory with
//! `--concurrency 1` and a base id of its own, its output streamed line by line into a
//! container's log, its exit reported as an exit code, and stopped (SIGTERM, then SIGKILL after
//! a grace period) when dropped.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::bootstrap::Bootstrap;
use super::registry::{self, Registered};
use super::{EnvoyBinary, admin_get};
use crate::meta;
use crate::workloads::LogBuffer;

/// How long Envoy may take from exec to answering on its admin port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped Envoy gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);
/// How many times a start is retried when a base id or the admin port was taken meanwhile.
const ATTEMPTS: usize = 4;
/// Output lines kept to explain a failed start.
const RECENT_LINES: usize = 20;
/// Istio's Envoy log line format, so the istio-proxy log reads as on a cluster.
const LOG_FORMAT: &str = "%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t";

/// The start of a [`WorkDir`]'s name.
const WORK_DIR_PREFIX: &str = "meshwork-envoy-";
/// The file in a [`WorkDir`] naming the process that created it.
const OWNER_FILE: &str = "owner.pid";
/// The file in a [`WorkDir`] naming the Envoy running from it.
const ENVOY_PID_FILE: &str = "envoy.pid";

/// A directory of its own for one Envoy (bootstrap, base id file, sockets), removed on drop.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// Creates a fresh directory under the system's temporary directory (short, so Unix
    /// socket paths in it stay within the kernel's limit).
    pub fn create() -> std::io::Result<Self> {
        Self::create_in(&work_base())
    }

    /// As [`Self::create`], under `base` (tests use their own, so that meshes started by other
    /// tests, which clean up after killed meshes, never see them).
    fn create_in(base: &Path) -> std::io::Result<Self> {
        let mut last = None;
        for _ in 0..8 {
            let suffix: String = meta::random_bytes::<6>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let path = base.join(format!("{WORK_DIR_PREFIX}{suffix}"));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    // Whose it is, so that a later mesh can clean up after one killed with -9.
                    std::fs::write(path.join(OWNER_FILE), std::process::id().to_string())?;
                    return Ok(Self { path });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("could not create a directory")))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where [`WorkDir`]s are made: the temporary directory, or `/tmp` when its path is so long
/// that a Unix socket in a work dir would not fit the kernel's 108 bytes.
fn work_base() -> PathBuf {
    let base = std::env::temp_dir();
    if base.as_os_str().len() > 64 {
        PathBuf::from("/tmp")
    } else {
        base
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// How to run one Envoy.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// The configuration it starts from.
    pub bootstrap: Bootstrap,
    /// `--log-level` (`warning` for sidecars, as Istio's default).
    pub log_level: String,
    /// `--component-log-level` (`misc:error` in Istio), if any.
    pub component_log_level: Option<String>,
    /// Where its stdout and stderr lines go (the container's log).
    pub log: LogBuffer,
    /// The pod and container it runs for, recorded in the [`registry`] while it runs:
    /// (namespace, pod, container).
    pub owner: Option<(String, String, String)>,
}

/// Why Envoy did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file could not be written or the process not spawned.
    #[error("could not start Envoy ({}): {source}", what)]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Envoy exited before its admin interface answered.
    #[error("Envoy exited during start-up ({exit}){}", last_lines(lines))]
    Exited {
        /// How it ended.
        exit: Exit,
        /// Its last output lines.
        lines: Vec<String>,
    },
    /// Envoy's admin interface did not answer in time.
    #[error("Envoy did not answer on its admin port within {}s{}", STARTUP_TIMEOUT.as_secs(), last_lines(lines))]
    Timeout {
        /// Its last output lines.
        lines: Vec<String>,
    },
}

fn last_lines(lines: &[String]) -> String {
    match lines.last() {
        Some(last) => format!("; it said: {last}"),
        None => String::new(),
    }
}

/// How an Envoy process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code, or 128 + the signal that killed it (as a container runtime reports).
    pub code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.signal {
            Some(9) => write!(f, "killed by SIGKILL"),
            Some(15) => write!(f, "stopped by SIGTERM"),
            Some(s) => write!(f, "killed by signal {s}"),
            None => write!(f, "exit code {}", self.code),
        }
    }
}

impl Exit {
    fn of(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Self { code, signal: None },
            (None, Some(signal)) => Self {
                code: 128 + signal,
                signal: Some(signal),
            },
            (None, None) => Self {
                code: 1,
                signal: None,
            },
        }
    }
}

/// A running Envoy. Dropping it stops the process: SIGTERM, then SIGKILL after [`GRACE`].
#[derive(Debug)]
pub struct EnvoyProcess {
    child: Option<Child>,
    pid: u32,
    admin: SocketAddr,
    base_id: u64,
    owner: Option<(String, String, String)>,
    readers: Vec<JoinHandle<()>>,
}

impl EnvoyProcess {
    /// Starts Envoy in `dir` and returns once its admin interface answers. Retries with a new
    /// base id and admin port when another Envoy took them meanwhile.
    pub async fn start(
        binary: &EnvoyBinary,
        dir: &Path,
        options: &StartOptions,
    ) -> Result<Self, StartError> {
        static REAPED: std::sync::Once = std::sync::Once::new();
        REAPED.call_once(reap_orphans);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(binary, dir, options).await {
                Err(StartError::Exited { exit, lines })
                    if attempt < ATTEMPTS && lines.iter().any(|l| is_collision(l)) =>
                {
                    tracing::debug!(%exit, "Envoy's base id or admin port was taken; retrying");
                }
                other => return other,
            }
        }
    }

    async fn start_once(
        binary: &EnvoyBinary,
        dir: &Path,
        options: &StartOptions,
    ) -> Result<Self, StartError> {
        let io = |what: String| move |source| StartError::Io { what, source };
        let admin = free_port().map_err(io("choose a free admin port".into()))?;
        let config = dir.join("envoy-bootstrap.json");
        let base_id_path = dir.join("base-id");
        let _ = std::fs::remove_file(&base_id_path);
        let json = serde_json::to_vec_pretty(&options.bootstrap.render(admin)).unwrap_or_default();
        std::fs::write(&config, json).map_err(io(format!("write {}", config.display())))?;
        let mut command = Command::new(&binary.path);
        command
            .arg("-c")
            .arg(&config)
            .args([
                "--concurrency",
                "1",
                "--use-dynamic-base-id",
                "--base-id-path",
            ])
            .arg(&base_id_path)
            .args([
                "--log-level",
                &options.log_level,
                "--log-format",
                LOG_FORMAT,
            ])
            .args(["--local-address-ip-version", "v4"])
            // As istio-proxy runs it: a changed listener (a new AuthorizationPolicy, rate limit
            // or mTLS mode) asks its open connections to close at once, so pooled connections
            // pick up the change on their next request instead of over Envoy's default 600 s.
            .args(["--drain-time-s", "45", "--drain-strategy", "immediate"])
            // Access log lines reach `kubectl logs -c istio-proxy` within a quarter second
            // instead of Envoy's default ten.
            .args(["--file-flush-interval-msec", "250"]);
        if let Some(level) = &options.component_log_level {
            command.args(["--component-log-level", level]);
        }
        command
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(io(format!("run {}", binary.path.display())))?;
        let pid = child.id().unwrap_or(0);
        let _ = std::fs::write(dir.join(ENVOY_PID_FILE), pid.to_string());
        let recent: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(stream_lines(out, options.log.clone(), recent.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(stream_lines(err, options.log.clone(), recent.clone()));
        }
        let lines = |recent: &Arc<Mutex<VecDeque<String>>>| -> Vec<String> {
            recent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned()
                .collect()
        };
        let started = Instant::now();
        loop {
            tokio::select! {
                status = child.wait() => {
                    let exit = match status {
                        Ok(status) => Exit::of(status),
                        Err(_) => Exit { code: 1, signal: None },
                    };
                    // Its last words, before they are reported.
                    for reader in readers {
                        let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
                    }
                    return Err(StartError::Exited { exit, lines: lines(&recent) });
                }
                () = tokio::time::sleep(Duration::from_millis(25)) => {
                    if admin_get(admin, "/server_info").await.is_ok_and(|r| r.status == 200) {
                        break;
                    }
                    if started.elapsed() > STARTUP_TIMEOUT {
                        let _ = child.start_kill();
                        let _ = child.wait().await;
                        return Err(StartError::Timeout { lines: lines(&recent) });
                    }
                }
            }
        }
        let base_id = std::fs::read_to_string(&base_id_path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        if let Some((namespace, pod, container)) = &options.owner {
            registry::register(
                namespace,
                pod,
                Registered {
                    container: container.clone(),
                    admin,
                    pid,
                    base_id,
                },
            );
        }
        Ok(Self {
            child: Some(child),
            pid,
            admin,
            base_id,
            owner: options.owner.clone(),
            readers,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The admin interface's address (127.0.0.1:PORT).
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// The base id Envoy chose (`--use-dynamic-base-id`).
    pub fn base_id(&self) -> u64 {
        self.base_id
    }

    /// Waits until the process ends (a crash, a kill, or [`Self::stop`] elsewhere) and returns
    /// how; its remaining output is in the log by then.
    pub async fn wait(&mut self) -> Exit {
        let Some(child) = self.child.as_mut() else {
            return Exit {
                code: 1,
                signal: None,
            };
        };
        let exit = match child.wait().await {
            Ok(status) => Exit::of(status),
            Err(_) => Exit {
                code: 1,
                signal: None,
            },
        };
        self.child = None;
        self.forget();
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
        }
        exit
    }

    /// Stops Envoy: SIGTERM, then SIGKILL if it is still running after [`GRACE`].
    pub async fn stop(mut self) -> Exit {
        if let Some(child) = self.child.take() {
            let exit = terminate(child).await;
            self.forget();
            return exit;
        }
        Exit {
            code: 0,
            signal: None,
        }
    }

    fn forget(&self) {
        if let Some((namespace, pod, _)) = &self.owner {
            registry::unregister(namespace, pod, self.pid);
        }
    }
}

impl Drop for EnvoyProcess {
    fn drop(&mut self) {
        self.forget();
        let Some(child) = self.child.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            // The child is killed on drop (SIGKILL) should the runtime end before it exits.
            Ok(handle) => {
                handle.spawn(async move {
                    terminate(child).await;
                });
            }
            Err(_) => drop(child),
        }
    }
}

/// SIGTERM, a grace period, SIGKILL; waits for the exit (so no zombie is left).
async fn terminate(mut child: Child) -> Exit {
    if let Some(pid) = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if let Ok(Ok(status)) = tokio::time::timeout(GRACE, child.wait()).await {
            return Exit::of(status);
        }
    }
    let _ = child.start_kill();
    match child.wait().await {
        Ok(status) => Exit::of(status),
        Err(_) => Exit {
            code: 137,
            signal: Some(9),
        },
    }
}

/// Whether an output line says a base id or the admin port was taken by someone else.
fn is_collision(line: &str) -> bool {
    line.contains("unable to bind domain socket") || line.contains("Address already in use")
}

/// A port on 127.0.0.1 nobody listens on right now.
fn free_port() -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.local_addr()
}

/// Pushes every line of `stream` into `log`, keeping the last few for error messages.
fn stream_lines(
    stream: impl AsyncRead + Unpin + Send + 'static,
    log: LogBuffer,
    recent: Arc<Mutex<VecDeque<String>>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\n', '\r'])
                .to_owned();
            {
                let mut recent = recent.lock().unwrap_or_else(PoisonError::into_inner);
                if recent.len() == RECENT_LINES {
                    recent.pop_front();
                }
                recent.push_back(line.clone());
            }
            log.push(line);
        }
    })
}

/// Ends the Envoys a meshwork process left running when it was killed (`kill -9` gives it no
/// chance to stop them): every [`WorkDir`] whose owner process is gone has its Envoy killed
/// (if that PID still runs Envoy from that directory) and is removed.
pub fn reap_orphans() {
    reap_orphans_in(&work_base());
}

/// As [`reap_orphans`], for the work directories under `base`.
fn reap_orphans_in(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(WORK_DIR_PREFIX)
        {
            continue;
        }
        let read_pid = |file: &str| -> Option<u32> {
            std::fs::read_to_string(dir.join(file))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let Some(owner) = read_pid(OWNER_FILE) else {
            continue;
        };
        if Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        if let Some(envoy) = read_pid(ENVOY_PID_FILE) {
            let cmdline = std::fs::read(format!("/proc/{envoy}/cmdline")).unwrap_or_default();
            let ours = String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy());
            if ours
                && let Some(pid) = i32::try_from(envoy)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
            {
                tracing::info!(pid = envoy, dir = %dir.display(), "ending an Envoy left by a killed mesh");
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoys_left_by_a_killed_mesh_are_ended_and_their_dirs_removed() {
        use std::os::unix::process::ExitStatusExt;
        // A process that is gone: the killed mesh.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let base = tempfile::tempdir().unwrap();
        let orphan_dir = WorkDir::create_in(base.path()).unwrap();
        let orphan_path = orphan_dir.path().to_path_buf();
        std::fs::write(orphan_path.join(OWNER_FILE), gone.id().to_string()).unwrap();
        // Its "Envoy": a process whose command line names the directory, as Envoy's `-c` does.
        let mut left = std::process::Command::new("tail")
            .arg("-f")
            .arg(orphan_path.join(OWNER_FILE))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::fs::write(orphan_path.join(ENVOY_PID_FILE), left.id().to_string()).unwrap();
        // As a real orphan has long been running: its command line names the directory (read
        // too early, /proc may still show the forked test binary's).
        let cmdline = format!("/proc/{}/cmdline", left.id());
        let named = || {
            String::from_utf8_lossy(&std::fs::read(&cmdline).unwrap_or_default())
                .contains(&*orphan_path.to_string_lossy())
        };
        for _ in 0..200 {
            if named() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // A directory of a live owner (this test) is left alone.
        let live = WorkDir::create_in(base.path()).unwrap();

        reap_orphans_in(base.path());

        assert_eq!(left.wait().unwrap().signal(), Some(9));
        assert!(!orphan_path.exists());
        assert!(live.path().exists());
    }

    #[test]
    fn a_pid_reused_by_another_program_is_not_killed() {
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let base = tempfile::tempdir().unwrap();
        let dir = WorkDir::create_in(base.path()).unwrap();
        let path = dir.path().to_path_buf();
        std::fs::write(path.join(OWNER_FILE), gone.id().to_string()).unwrap();
        // The recorded Envoy PID now belongs to something that has nothing to do with it.
        let mut other = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        std::fs::write(path.join(ENVOY_PID_FILE), other.id().to_string()).unwrap();

        reap_orphans_in(base.path());

        assert!(
            other.try_wait().unwrap().is_none(),
            "an unrelated process was killed"
        );
        assert!(!path.exists());
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
