//! The built-in workloads the reference mesh runs in place of container images.
//!
//! A container's image selects a [`Workload`] ([`classify`]); the kubelet (`crate::kubelet`)
//! then runs it as a task bound to the pod's IP and the container's ports. Images with no
//! built-in workload do not start (`ErrImagePull`, then `ImagePullBackOff`), except the
//! [`TRANSITIONAL_FAKED_IMAGES`] whose workloads are not written yet.
//!
//! Modules:
//! - [`httpbin`]: the HTTP echo service of Istio's samples (`mccutchen/go-httpbin`).

pub mod httpbin;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

/// A program the reference mesh can run for a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// httpbin (`/get`, `/headers`, `/ip`, `/status/<code>`, `/delay/<s>`, `/anything`).
    Httpbin,
}

/// The built-in workloads with the image they stand for and the substring that selects them.
const BUILTIN: &[(Workload, &str, &str)] = &[(
    Workload::Httpbin,
    "docker.io/mccutchen/go-httpbin",
    "httpbin",
)];

/// TRANSITIONAL SWITCH: images that are still reported as running although nothing runs for
/// them, because their workloads (or the tests that use them as placeholders) are not written
/// yet. A pod whose containers all use these images keeps the old faked status; remove an
/// entry once its workload exists. Matched as substrings of the image.
pub const TRANSITIONAL_FAKED_IMAGES: &[&str] = &[
    "examples-bookinfo-",
    "curlimages/curl",
    "fortio/fortio",
    "nginx",
    "busybox",
    "redis",
];

/// What the reference mesh can do with an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageSupport {
    /// A built-in workload runs it.
    Builtin(Workload),
    /// Reported as running without running anything (see [`TRANSITIONAL_FAKED_IMAGES`]).
    Transitional,
    /// Nothing can run it: the container waits in `ImagePullBackOff`.
    Unavailable,
}

/// How the reference mesh treats a container image.
pub fn classify(image: &str) -> ImageSupport {
    if let Some((w, _, _)) = BUILTIN.iter().find(|(_, _, key)| image.contains(key)) {
        return ImageSupport::Builtin(*w);
    }
    if TRANSITIONAL_FAKED_IMAGES.iter().any(|k| image.contains(k)) {
        return ImageSupport::Transitional;
    }
    ImageSupport::Unavailable
}

/// The images the reference mesh can run, for messages (`docker.io/mccutchen/go-httpbin`).
pub fn runnable_images() -> Vec<&'static str> {
    BUILTIN.iter().map(|(_, image, _)| *image).collect()
}

impl Workload {
    /// The port the workload listens on when the container declares none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Httpbin => 8080,
        }
    }

    /// Serves on `listeners` until an error ends the workload (a crash); dropping the future
    /// stops it and closes its connections.
    pub async fn run(self, listeners: Vec<TcpListener>, log: LogBuffer) -> Result<(), String> {
        match self {
            Self::Httpbin => httpbin::serve(listeners, log).await,
        }
    }
}

/// Lines a container has written, newest last, at most [`LogBuffer::CAPACITY`] of them, and
/// the lines of its previous run (`kubectl logs --previous`).
#[derive(Clone, Debug, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<VecDeque<String>>>,
    previous: Arc<Mutex<Option<Vec<String>>>>,
}

impl LogBuffer {
    /// How many lines are kept.
    pub const CAPACITY: usize = 5000;

    /// Appends one line, dropping the oldest beyond the capacity.
    pub fn push(&self, line: String) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() == Self::CAPACITY {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// All kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.iter().cloned().collect()
    }

    /// Starts a new run: the current lines become the previous run's, the current log is empty.
    pub fn rotate(&self) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let old: Vec<String> = lines.drain(..).collect();
        *self
            .previous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(old);
    }

    /// The lines of the previous run; `None` when the container has not been restarted.
    pub fn previous(&self) -> Option<Vec<String>> {
        self.previous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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
        assert_eq!(classify("nginx:1.27"), ImageSupport::Transitional);
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
