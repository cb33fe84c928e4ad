//! The built-in workloads the reference mesh runs in place of container images.
//!
//! A container's image selects a [`Workload`] ([`classify`]); the kubelet (`crate::kubelet`)
//! then runs it as a task bound to the pod's IP and the container's ports, with a
//! [`PodContext`] (who it is, its environment, the network). Images with no built-in workload
//! do not start (`ErrImagePull`, then `ImagePullBackOff`).
//!
//! Modules:
//! - [`httpbin`]: the HTTP echo service of Istio's samples (`mccutchen/go-httpbin`).
//! - [`bookinfo`]: Bookinfo's productpage, details, reviews v1/v2/v3 and ratings.
//! - [`nginx`]: a static web server answering as nginx's default site.
//! - [`fortio`]: fortio's echo server and its `curl` and `load` commands.
//! - [`shell`]: the built-in commands `kubectl exec` runs in a pod (curl, sh, sleep, env, …),
//!   also the main process of the curl and busybox images.
//! - [`client`]: the HTTP client the workloads use, connecting through [`crate::net`].
//! - [`istiod`]: Istio's control plane (`istio/pilot`).
//! - [`istio_proxy`]: Istio's proxy (`istio/proxyv2`): a real Envoy as a sidecar or a gateway.

pub mod bookinfo;
pub mod client;
pub mod fortio;
pub mod httpbin;
pub mod istio_proxy;
pub mod istiod;
pub mod nginx;
pub mod shell;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::net::{Network, Origin};

/// A program the reference mesh can run for a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// httpbin (`/get`, `/headers`, `/ip`, `/status/<code>`, `/delay/<s>`, `/anything`).
    Httpbin,
    /// One of Bookinfo's services.
    Bookinfo(bookinfo::App),
    /// nginx's default site.
    Nginx,
    /// fortio: `fortio server` by default, or the fortio command the container gives.
    Fortio,
    /// An image whose main process is the container's command run by the built-in shell
    /// (`curlimages/curl` with `sleep infinity`, busybox).
    Shell(shell::Image),
    /// istiod, Istio's control plane.
    Istiod,
    /// Istio's proxy: Envoy as a sidecar (`proxy sidecar`) or gateway (`proxy router`).
    IstioProxy,
}

/// The built-in workloads with the image they stand for and the substring that selects them.
const BUILTIN: &[(Workload, &str, &str)] = &[
    (
        Workload::Httpbin,
        "docker.io/mccutchen/go-httpbin",
        "httpbin",
    ),
    (
        Workload::Bookinfo(bookinfo::App::Productpage),
        "docker.io/istio/examples-bookinfo-productpage-v1",
        "examples-bookinfo-productpage-v1",
    ),
    (
        Workload::Bookinfo(bookinfo::App::Details),
        "docker.io/istio/examples-bookinfo-details-v1",
        "examples-bookinfo-details-v1",
    ),
    (
        Workload::Bookinfo(bookinfo::App::ReviewsV1),
        "docker.io/istio/examples-bookinfo-reviews-v1",
        "examples-bookinfo-reviews-v1",
    ),
    (
        Workload::Bookinfo(bookinfo::App::ReviewsV2),
        "docker.io/istio/examples-bookinfo-reviews-v2",
        "examples-bookinfo-reviews-v2",
    ),
    (
        Workload::Bookinfo(bookinfo::App::ReviewsV3),
        "docker.io/istio/examples-bookinfo-reviews-v3",
        "examples-bookinfo-reviews-v3",
    ),
    (
        Workload::Bookinfo(bookinfo::App::Ratings),
        "docker.io/istio/examples-bookinfo-ratings-v1",
        "examples-bookinfo-ratings-v1",
    ),
    (Workload::Fortio, "docker.io/fortio/fortio", "fortio/fortio"),
    (
        Workload::Shell(shell::Image::Curl),
        "docker.io/curlimages/curl",
        "curlimages/curl",
    ),
    (
        Workload::Shell(shell::Image::Busybox),
        "docker.io/library/busybox",
        "busybox",
    ),
    (Workload::Nginx, "docker.io/library/nginx", "nginx"),
    (Workload::Istiod, "docker.io/istio/pilot", "istio/pilot"),
    (
        Workload::IstioProxy,
        "docker.io/istio/proxyv2",
        "istio/proxyv2",
    ),
];

/// What the reference mesh can do with an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageSupport {
    /// A built-in workload runs it.
    Builtin(Workload),
    /// Nothing can run it: the container waits in `ImagePullBackOff`.
    Unavailable,
}

/// How the reference mesh treats a container image.
pub fn classify(image: &str) -> ImageSupport {
    match BUILTIN.iter().find(|(_, _, key)| image.contains(key)) {
        Some((w, _, _)) => ImageSupport::Builtin(*w),
        None => ImageSupport::Unavailable,
    }
}

/// The images the reference mesh can run, for messages (`docker.io/mccutchen/go-httpbin`).
pub fn runnable_images() -> Vec<&'static str> {
    BUILTIN.iter().map(|(_, image, _)| *image).collect()
}

/// Everything a running container knows about itself.
#[derive(Clone, Debug)]
pub struct PodContext {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name (also its hostname).
    pub pod: String,
    /// The container's name.
    pub container: String,
    /// The pod's IP (a 127.1.x.x loopback address).
    pub ip: IpAddr,
    /// The pod's service account.
    pub service_account: String,
    /// The container's environment as a process would see it (`HOSTNAME`, `PATH`, the
    /// container's `env` with `value` and the `fieldRef`s the mesh can resolve).
    pub env: Vec<(String, String)>,
    /// The main process: the container's `command` and `args` over the image's defaults
    /// (empty when the image's own default applies and the workload needs none).
    pub command: Vec<String>,
    /// The mesh's network; connections go through [`Network::connect`] with [`Self::origin`].
    pub network: Network,
    /// The container's log (stdout and stderr lines, `kubectl logs`).
    pub log: LogBuffer,
}

impl PodContext {
    /// Where this container's connections come from.
    pub fn origin(&self) -> Origin {
        Origin::Pod {
            namespace: self.namespace.clone(),
            name: self.pod.clone(),
            ip: self.ip,
        }
    }

    /// An environment variable's value.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a container's main process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Termination {
    /// The exit code (0 = `Completed`, otherwise `Error`).
    pub exit_code: i32,
    /// Why, for `lastState.terminated.message` and the log.
    pub message: String,
}

impl Termination {
    /// A failure with exit code 1.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            exit_code: 1,
            message: message.into(),
        }
    }
}

impl Workload {
    /// The ports the workload listens on when the container declares none.
    pub fn default_ports(self) -> &'static [u16] {
        match self {
            Self::Httpbin => &[8080],
            Self::Bookinfo(_) => &[9080],
            Self::Nginx => &[80],
            Self::Fortio => &[8080],
            Self::Shell(_) | Self::IstioProxy => &[],
            Self::Istiod => &[8080, 15010, 15012, 15014, 15017],
        }
    }

    /// Runs until the workload ends (a crash or its process exiting); dropping the future stops
    /// it and closes its connections. `listeners` are bound on the pod IP, one per port.
    pub async fn run(self, listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
        match self {
            Self::Httpbin => match httpbin::serve(listeners, ctx.log.clone()).await {
                Ok(()) => Termination::error("httpbin exited"),
                Err(e) => Termination::error(e),
            },
            Self::Bookinfo(app) => bookinfo::serve(app, listeners, ctx).await,
            Self::Nginx => nginx::serve(listeners, ctx).await,
            Self::Fortio => fortio::run_container(listeners, ctx).await,
            Self::Shell(image) => shell::run_container(image, ctx).await,
            Self::Istiod => istiod::serve(listeners, ctx).await,
            Self::IstioProxy => istio_proxy::run(listeners, ctx).await,
        }
    }
}

/// One line a container wrote, with the time it was written (`kubectl logs --timestamps`,
/// `--since`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// When the line was written.
    pub at: jiff::Timestamp,
    /// The line, without its newline.
    pub text: String,
}

/// Lines a container has written, newest last, at most [`LogBuffer::CAPACITY`] of them, and
/// the lines of its previous run (`kubectl logs --previous`).
#[derive(Clone, Debug)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
    previous: Arc<Mutex<Option<Vec<LogLine>>>>,
    /// New lines as they are pushed (`kubectl logs -f`).
    live: broadcast::Sender<LogLine>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self {
            lines: Arc::default(),
            previous: Arc::default(),
            live: broadcast::channel(1024).0,
        }
    }
}

impl LogBuffer {
    /// How many lines are kept.
    pub const CAPACITY: usize = 5000;

    /// Appends one line, stamped now, dropping the oldest beyond the capacity.
    pub fn push(&self, text: String) {
        let line = LogLine {
            at: jiff::Timestamp::now(),
            text,
        };
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() == Self::CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line.clone());
        // Sent under the lock so that `follow` sees each line exactly once. Nobody following
        // is not an error.
        let _ = self.live.send(line);
    }

    /// The kept lines and a receiver of every line pushed after them, atomically (no line is
    /// missed or seen twice); a receiver that falls more than 1,024 lines behind skips ahead.
    pub fn follow(&self) -> (Vec<LogLine>, broadcast::Receiver<LogLine>) {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rx = self.live.subscribe();
        (lines.iter().cloned().collect(), rx)
    }

    /// All kept lines, oldest first, with their times.
    pub fn entries(&self) -> Vec<LogLine> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.iter().cloned().collect()
    }

    /// All kept lines' text, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.entries().into_iter().map(|l| l.text).collect()
    }

    /// Starts a new run: the current lines become the previous run's, the current log is empty.
    pub fn rotate(&self) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old: Vec<LogLine> = lines.drain(..).collect();
        *self
            .previous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(old);
    }

    /// The lines of the previous run with their times; `None` when the container has not
    /// been restarted.
    pub fn previous_entries(&self) -> Option<Vec<LogLine>> {
        self.previous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The text of the previous run's lines; `None` when the container has not been restarted.
    pub fn previous(&self) -> Option<Vec<String>> {
        self.previous_entries()
            .map(|lines| lines.into_iter().map(|l| l.text).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_select_workloads() {
        assert_eq!(
            classify("docker.io/mccutchen/go-httpbin:v2.15.0"),
            ImageSupport::Builtin(Workload::Httpbin)
        );
        assert_eq!(
            classify("docker.io/kennethreitz/httpbin"),
            ImageSupport::Builtin(Workload::Httpbin)
        );
        assert_eq!(
            classify("nginx:1.27"),
            ImageSupport::Builtin(Workload::Nginx)
        );
        assert_eq!(
            classify("registry.istio.io/release/examples-bookinfo-reviews-v3:1.20.3"),
            ImageSupport::Builtin(Workload::Bookinfo(bookinfo::App::ReviewsV3))
        );
        assert_eq!(
            classify("registry.example/no-such-app:1"),
            ImageSupport::Unavailable
        );
    }

    #[test]
    fn log_buffer_keeps_the_newest_lines() {
        let log = LogBuffer::default();
        for i in 0..LogBuffer::CAPACITY + 2 {
            log.push(format!("line {i}"));
        }
        let lines = log.lines();
        assert_eq!(lines.len(), LogBuffer::CAPACITY);
        assert_eq!(lines[0], "line 2");
    }

    #[test]
    fn a_restart_keeps_the_previous_runs_lines_apart() {
        let log = LogBuffer::default();
        assert_eq!(log.previous(), None);
        log.push("first run".into());
        log.rotate();
        log.push("second run".into());
        assert_eq!(log.lines(), ["second run"]);
        assert_eq!(log.previous(), Some(vec!["first run".to_owned()]));
    }
}
