//! The mesh as a background process: where its state lives, whether it runs, starting it
//! detached, waiting until its API answers and stopping it.
//!
//! A running mesh is described by `server.json` in its state directory (written by
//! [`crate::start`] once the API answers, removed by [`crate::Mesh::shutdown`]). A mesh killed
//! with `kill -9` leaves that file behind; [`status`] notices that its process is gone and
//! reports [`State::Stale`], and [`ensure_running`] and [`stop`] clear it up. The daemon holds
//! an exclusive lock on `mesh.lock` for as long as it runs, so two meshes never share a store.

use std::ffi::OsString;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::SERVER_FILE;
use crate::api::tls::CA_CERT;

/// The mesh's own log, inside the state directory.
pub const LOG_FILE: &str = "mesh.log";
/// The port the mesh last listened on, remembered so kubeconfigs stay valid across restarts.
pub const PORT_FILE: &str = "port";
/// The lock a running mesh holds.
pub const LOCK_FILE: &str = "mesh.lock";
/// The port tried first when the state directory remembers none.
pub const DEFAULT_PORT: u16 = 17443;
/// How long [`spawn_and_wait`] waits for a new mesh's API by default.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`stop`] waits for a mesh to exit after SIGTERM before it sends SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong while managing the mesh process; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// Neither `XDG_STATE_HOME` nor a home directory is known.
    #[error(
        "cannot tell where the mesh keeps its state: neither XDG_STATE_HOME nor HOME is set; set one of them"
    )]
    NoStateDir,
    /// A file in the state directory could not be read, written or removed.
    #[error("could not {action} {}: {cause}; check that path and its permissions", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error (part of the message, so not a separate `source`).
        cause: std::io::Error,
    },
    /// `server.json` exists but cannot be understood.
    #[error(
        "{} is not a mesh description ({reason}); stop any mesh by hand and delete the file, or run `meshwork mesh reset`",
        path.display()
    )]
    BadServerFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        reason: String,
    },
    /// The mesh process could not be started.
    #[error(
        "could not start `{program} mesh run`: {cause}; check that meshwork is installed and executable"
    )]
    Spawn {
        /// The program that was started.
        program: String,
        /// The operating system's error (part of the message).
        cause: std::io::Error,
    },
    /// The mesh process exited before its API answered.
    #[error("the mesh stopped while starting ({status}). Its log ({}) ends with:\n{tail}", log.display())]
    Exited {
        /// How it ended.
        status: String,
        /// The log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// The mesh did not become ready in time.
    #[error(
        "the mesh (pid {pid}) did not answer within {}s; see `meshwork mesh logs`, then `meshwork mesh down` and try again",
        waited.as_secs()
    )]
    Timeout {
        /// The process that was started.
        pid: u32,
        /// How long was waited.
        waited: Duration,
    },
    /// Sending a signal failed.
    #[error("could not signal the mesh (pid {pid}): {reason}; stop it by hand with `kill {pid}`")]
    Signal {
        /// The process.
        pid: u32,
        /// The operating system's error.
        reason: String,
    },
    /// The process did not exit even after SIGKILL.
    #[error("the mesh (pid {pid}) did not exit; stop it by hand with `kill -9 {pid}`")]
    StillRunning {
        /// The process.
        pid: u32,
    },
}

/// Shorthand for results of this module.
pub type Result<T, E = LifecycleError> = std::result::Result<T, E>;

/// The contents of `server.json`: how to reach a running mesh.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// The mesh process.
    pub pid: u32,
    /// The API's base URL (`https://127.0.0.1:PORT`).
    pub url: String,
    /// The kubeconfig that reaches it.
    pub kubeconfig: PathBuf,
    /// When it started (RFC 3339).
    pub started_at: String,
}

impl ServerInfo {
    /// Seconds since the mesh started (`None` when `startedAt` cannot be read).
    pub fn uptime_seconds(&self) -> Option<i64> {
        let started = crate::meta::parse_timestamp(&self.started_at)?;
        Some(jiff::Timestamp::now().as_second() - started.as_second())
    }
}

/// Whether a mesh runs for a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No `server.json`: nothing runs.
    Stopped,
    /// `server.json` names a process that is gone (the mesh was killed).
    Stale(ServerInfo),
    /// The process lives but its API does not answer (starting, stuck, or stopping); says why.
    Unresponsive(ServerInfo, String),
    /// Running and answering.
    Running(ServerInfo),
}

/// The state directory: `$XDG_STATE_HOME/meshwork`, else `~/.local/state/meshwork`.
pub fn state_dir() -> Result<PathBuf> {
    state_dir_from(std::env::var_os("XDG_STATE_HOME"), std::env::home_dir())
}

/// [`state_dir`] for the given environment (an empty or relative `XDG_STATE_HOME` is ignored,
/// as the XDG specification asks).
pub fn state_dir_from(xdg_state_home: Option<OsString>, home: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(xdg) = xdg_state_home.map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Ok(xdg.join("meshwork"));
    }
    match home {
        Some(home) if !home.as_os_str().is_empty() => {
            Ok(home.join(".local").join("state").join("meshwork"))
        }
        _ => Err(LifecycleError::NoStateDir),
    }
}

/// Reads `server.json`; `None` when there is none.
pub fn read_server_info(state_dir: &Path) -> Result<Option<ServerInfo>> {
    let path = state_dir.join(SERVER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(LifecycleError::Io {
                action: "read",
                path,
                cause,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| LifecycleError::BadServerFile {
            path,
            reason: e.to_string(),
        })
}

fn remove_server_file(state_dir: &Path) -> Result<()> {
    let path = state_dir.join(SERVER_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(cause) => Err(LifecycleError::Io {
            action: "remove",
            path,
            cause,
        }),
    }
}

fn rustix_pid(pid: u32) -> Option<rustix::process::Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
}

/// Whether process `pid` exists and has not exited (a zombie counts as exited).
pub fn pid_alive(pid: u32) -> bool {
    let Some(p) = rustix_pid(pid) else {
        return false;
    };
    let exists = match rustix::process::test_kill_process(p) {
        Ok(()) => true,
        // It exists but belongs to someone else.
        Err(e) => e == rustix::io::Errno::PERM,
    };
    if !exists {
        return false;
    }
    // A zombie waits for its parent to collect it; it no longer runs anything.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => true,
    }
}

/// Whether `pid` runs `… mesh run` (on systems without /proc: whether it lives). Guards
/// against signalling an unrelated process that reused a dead mesh's pid.
pub fn is_mesh_process(pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(raw) => {
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
            args.windows(2).any(|w| w[0] == b"mesh" && w[1] == b"run")
        }
        Err(_) => true,
    }
}

/// The CA that signed the mesh's server certificate, as PEM.
fn read_ca(state_dir: &Path) -> Result<String> {
    let path = state_dir.join(CA_CERT);
    std::fs::read_to_string(&path).map_err(|cause| LifecycleError::Io {
        action: "read",
        path,
        cause,
    })
}

/// Asks `GET <url>/readyz` over TLS (trusting only `ca_pem`); `Err` says why it did not answer.
pub async fn probe_ready(url: &str, ca_pem: &str) -> Result<(), String> {
    let addr: SocketAddr = url
        .strip_prefix("https://")
        .and_then(|a| a.trim_end_matches('/').parse().ok())
        .ok_or_else(|| format!("`{url}` is not an https://IP:PORT address"))?;
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the mesh's CA certificate cannot be read: {e}"))?;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("the mesh's CA certificate is not usable: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {addr} failed: {e}"))?;
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0_u8; 64];
        let mut filled = 0;
        while filled < 12 {
            let n = tls
                .read(&mut head[filled..])
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let line = String::from_utf8_lossy(&head[..filled]);
        if line.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!(
                "/readyz answered `{}`",
                line.lines().next().unwrap_or("").trim()
            ))
        }
    };
    tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .map_err(|_| format!("{addr} did not answer within 3s"))?
}

/// Whether a mesh runs for `state_dir`, and whether its API answers.
pub async fn status(state_dir: &Path) -> Result<State> {
    let Some(info) = read_server_info(state_dir)? else {
        return Ok(State::Stopped);
    };
    if !pid_alive(info.pid) {
        return Ok(State::Stale(info));
    }
    let ca = match read_ca(state_dir) {
        Ok(ca) => ca,
        Err(e) => return Ok(State::Unresponsive(info, e.to_string())),
    };
    match probe_ready(&info.url, &ca).await {
        Ok(()) => Ok(State::Running(info)),
        Err(why) => Ok(State::Unresponsive(info, why)),
    }
}

/// The port a new mesh should use: the one it used last time, else [`DEFAULT_PORT`], when
/// free; otherwise `None` (the operating system picks one).
pub fn choose_port(state_dir: &Path) -> Option<u16> {
    let remembered = std::fs::read_to_string(state_dir.join(PORT_FILE))
        .ok()
        .and_then(|t| t.trim().parse::<u16>().ok())
        .filter(|p| *p != 0);
    [remembered, Some(DEFAULT_PORT)]
        .into_iter()
        .flatten()
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
}

/// Remembers the port a mesh listens on for the next start.
pub fn remember_port(state_dir: &Path, port: u16) -> Result<()> {
    let path = state_dir.join(PORT_FILE);
    std::fs::write(&path, format!("{port}\n")).map_err(|cause| LifecycleError::Io {
        action: "write",
        path,
        cause,
    })
}

/// Holds `mesh.lock` for as long as it lives: proof that this process is the state
/// directory's only mesh.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the state directory's run lock; `Ok(None)` when another mesh holds it.
pub fn lock(state_dir: &Path) -> Result<Option<RunLock>> {
    std::fs::create_dir_all(state_dir).map_err(|cause| LifecycleError::Io {
        action: "create",
        path: state_dir.to_owned(),
        cause,
    })?;
    let path = state_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|cause| LifecycleError::Io {
            action: "open",
            path: path.clone(),
            cause,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(cause)) => Err(LifecycleError::Io {
            action: "lock",
            path,
            cause,
        }),
    }
}

/// The last `lines` lines of the mesh's log (empty when there is none).
pub fn log_tail(state_dir: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(state_dir.join(LOG_FILE)).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts `program mesh run --detached --state-dir DIR` in its own process group, with its
/// output appended to the log file, and returns the child.
pub fn spawn_detached(program: &Path, state_dir: &Path) -> Result<Child> {
    std::fs::create_dir_all(state_dir).map_err(|cause| LifecycleError::Io {
        action: "create",
        path: state_dir.to_owned(),
        cause,
    })?;
    let log_path = state_dir.join(LOG_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|cause| LifecycleError::Io {
            action: "open",
            path: log_path.clone(),
            cause,
        })?;
    let log_err = log.try_clone().map_err(|cause| LifecycleError::Io {
        action: "open",
        path: log_path,
        cause,
    })?;
    let mut command = Command::new(program);
    command
        .args(["mesh", "run", "--detached", "--state-dir"])
        .arg(state_dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    #[cfg(unix)]
    {
        // Its own process group: Ctrl-C in the terminal that ran `mesh up` does not reach it.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    command.spawn().map_err(|cause| LifecycleError::Spawn {
        program: program.display().to_string(),
        cause,
    })
}

/// Waits until the mesh started as `child` has written `server.json` and answers `/readyz`,
/// calling `tick` about every 100 ms while it waits.
pub async fn wait_ready(
    state_dir: &Path,
    child: &mut Child,
    timeout: Duration,
    mut tick: impl FnMut(),
) -> Result<ServerInfo> {
    let pid = child.id();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LifecycleError::Exited {
                status: status.to_string(),
                log: state_dir.join(LOG_FILE),
                tail: log_tail(state_dir, 8),
            });
        }
        if let Ok(Some(info)) = read_server_info(state_dir)
            && info.pid == pid
            && let Ok(ca) = read_ca(state_dir)
            && probe_ready(&info.url, &ca).await.is_ok()
        {
            return Ok(info);
        }
        if Instant::now() >= deadline {
            return Err(LifecycleError::Timeout {
                pid,
                waited: timeout,
            });
        }
        tick();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What [`ensure_running`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// A mesh was already running.
    AlreadyRunning(ServerInfo),
    /// A new mesh was started (after clearing a stale `server.json` when `stale` is set).
    Started {
        /// The new mesh.
        info: ServerInfo,
        /// The previous mesh had been killed without cleaning up.
        stale: bool,
    },
}

impl Ensured {
    /// The running mesh, however it came to run.
    pub fn info(&self) -> &ServerInfo {
        match self {
            Ensured::AlreadyRunning(info) | Ensured::Started { info, .. } => info,
        }
    }
}

/// Makes sure a mesh runs for `state_dir`, starting `program mesh run` detached if needed and
/// waiting until its API answers. A mesh whose process lives but does not answer yet is
/// waited for, not started twice.
pub async fn ensure_running(
    program: &Path,
    state_dir: &Path,
    timeout: Duration,
    mut tick: impl FnMut(),
) -> Result<Ensured> {
    let mut stale = false;
    match status(state_dir).await? {
        State::Running(info) => return Ok(Ensured::AlreadyRunning(info)),
        State::Unresponsive(info, _) if is_mesh_process(info.pid) => {
            return wait_for_pid(state_dir, info.pid, timeout, tick)
                .await
                .map(Ensured::AlreadyRunning);
        }
        State::Unresponsive(..) | State::Stale(_) => {
            remove_server_file(state_dir)?;
            stale = true;
        }
        State::Stopped => {}
    }
    let mut child = spawn_detached(program, state_dir)?;
    let result = wait_ready(state_dir, &mut child, timeout, &mut tick).await;
    if result.is_err() && matches!(child.try_wait(), Ok(None)) {
        // A mesh that never became ready is not left running behind the learner's back.
        let _ = child.kill();
        let _ = child.wait();
    }
    let info = result?;
    // The detached mesh outlives this handle; dropping a std Child neither kills nor waits.
    drop(child);
    Ok(Ensured::Started { info, stale })
}

async fn wait_for_pid(
    state_dir: &Path,
    pid: u32,
    timeout: Duration,
    mut tick: impl FnMut(),
) -> Result<ServerInfo> {
    let deadline = Instant::now() + timeout;
    loop {
        match status(state_dir).await? {
            State::Running(info) => return Ok(info),
            State::Unresponsive(info, _) if info.pid == pid && pid_alive(pid) => {}
            _ => {
                return Err(LifecycleError::Exited {
                    status: format!("pid {pid} is gone"),
                    log: state_dir.join(LOG_FILE),
                    tail: log_tail(state_dir, 8),
                });
            }
        }
        if Instant::now() >= deadline {
            return Err(LifecycleError::Timeout {
                pid,
                waited: timeout,
            });
        }
        tick();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What [`stop`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Nothing was running.
    NotRunning,
    /// `server.json` named a process that was already gone; the file was removed.
    WasStale(ServerInfo),
    /// The mesh exited after SIGTERM.
    Graceful(ServerInfo),
    /// The mesh ignored SIGTERM for `timeout` and was killed.
    Killed(ServerInfo),
}

async fn wait_exit(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pid_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// Stops the mesh of `state_dir`: SIGTERM (it ends open watches and saves its store), then up
/// to `timeout` of waiting, then SIGKILL.
pub async fn stop(state_dir: &Path, timeout: Duration) -> Result<Stopped> {
    let Some(info) = read_server_info(state_dir)? else {
        return Ok(Stopped::NotRunning);
    };
    if !is_mesh_process(info.pid) {
        remove_server_file(state_dir)?;
        return Ok(Stopped::WasStale(info));
    }
    let Some(pid) = rustix_pid(info.pid) else {
        remove_server_file(state_dir)?;
        return Ok(Stopped::WasStale(info));
    };
    let signal_err = |e: rustix::io::Errno| LifecycleError::Signal {
        pid: info.pid,
        reason: e.to_string(),
    };
    match rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
        Ok(()) => {}
        Err(rustix::io::Errno::SRCH) => {
            remove_server_file(state_dir)?;
            return Ok(Stopped::WasStale(info));
        }
        Err(e) => return Err(signal_err(e)),
    }
    if wait_exit(info.pid, timeout).await {
        remove_server_file(state_dir)?;
        return Ok(Stopped::Graceful(info));
    }
    match rustix::process::kill_process(pid, rustix::process::Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => return Err(signal_err(e)),
    }
    if !wait_exit(info.pid, Duration::from_secs(5)).await {
        return Err(LifecycleError::StillRunning { pid: info.pid });
    }
    remove_server_file(state_dir)?;
    Ok(Stopped::Killed(info))
}

/// Stops the mesh if it runs, then deletes the whole state directory (objects, certificates,
/// kubeconfig, log).
pub async fn reset(state_dir: &Path) -> Result<Stopped> {
    let stopped = stop(state_dir, STOP_TIMEOUT).await?;
    match std::fs::remove_dir_all(state_dir) {
        Ok(()) => Ok(stopped),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(stopped),
        Err(cause) => Err(LifecycleError::Io {
            action: "delete",
            path: state_dir.to_owned(),
            cause,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_prefers_an_absolute_xdg_state_home() {
        let home = Some(PathBuf::from("/home/ada"));
        assert_eq!(
            state_dir_from(Some("/xdg/state".into()), home.clone()).unwrap(),
            PathBuf::from("/xdg/state/meshwork")
        );
        for ignored in ["", "relative/state"] {
            assert_eq!(
                state_dir_from(Some(ignored.into()), home.clone()).unwrap(),
                PathBuf::from("/home/ada/.local/state/meshwork")
            );
        }
        assert!(matches!(
            state_dir_from(None, None),
            Err(LifecycleError::NoStateDir)
        ));
    }

    fn write_server(dir: &Path, pid: u32) {
        std::fs::write(
            dir.join(SERVER_FILE),
            format!(
                r#"{{"pid": {pid}, "url": "https://127.0.0.1:1", "kubeconfig": "/k", "startedAt": "2026-01-01T00:00:00Z"}}"#
            ),
        )
        .unwrap();
    }

    fn dead_pid() -> u32 {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[tokio::test]
    async fn a_killed_mesh_is_stale_and_stop_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(status(dir.path()).await.unwrap(), State::Stopped);
        let pid = dead_pid();
        write_server(dir.path(), pid);
        assert!(matches!(status(dir.path()).await.unwrap(), State::Stale(i) if i.pid == pid));
        assert!(matches!(
            stop(dir.path(), STOP_TIMEOUT).await.unwrap(),
            Stopped::WasStale(_)
        ));
        assert!(!dir.path().join(SERVER_FILE).exists());
        assert_eq!(
            stop(dir.path(), STOP_TIMEOUT).await.unwrap(),
            Stopped::NotRunning
        );
    }

    #[tokio::test]
    async fn a_live_process_that_is_not_a_mesh_is_never_signalled() {
        let dir = tempfile::tempdir().unwrap();
        // This test process is alive but does not run `mesh run`.
        write_server(dir.path(), std::process::id());
        assert!(matches!(
            status(dir.path()).await.unwrap(),
            State::Unresponsive(..)
        ));
        assert!(matches!(
            stop(dir.path(), STOP_TIMEOUT).await.unwrap(),
            Stopped::WasStale(_)
        ));
    }

    #[test]
    fn a_garbled_server_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SERVER_FILE), "{not json").unwrap();
        let err = read_server_info(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("server.json is not a mesh description"),
            "{err}"
        );
        assert!(err.contains("meshwork mesh reset"), "{err}");
    }

    #[test]
    fn the_run_lock_admits_one_mesh() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(dir.path()).unwrap();
        assert!(first.is_some());
        assert!(lock(dir.path()).unwrap().is_none());
        drop(first);
        assert!(lock(dir.path()).unwrap().is_some());
    }

    #[test]
    fn a_remembered_port_is_reused_when_free_and_skipped_when_taken() {
        let dir = tempfile::tempdir().unwrap();
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        remember_port(dir.path(), port).unwrap();
        assert_ne!(choose_port(dir.path()), Some(port));
        drop(held);
        assert_eq!(choose_port(dir.path()), Some(port));
    }

    #[tokio::test]
    async fn probing_a_closed_port_says_it_cannot_connect() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = probe_ready(&format!("https://127.0.0.1:{port}"), "")
            .await
            .unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
        let err = probe_ready("http://localhost", "").await.unwrap_err();
        assert!(err.contains("not an https://IP:PORT"), "{err}");
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(log_tail(dir.path(), 3), "");
        std::fs::write(dir.path().join(LOG_FILE), "a\nb\nc\nd\n").unwrap();
        assert_eq!(log_tail(dir.path(), 2), "c\nd");
    }
}
