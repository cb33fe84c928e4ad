//! A container's filesystem as the built-in commands see it: the well-known files every pod has
//! (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`, the service account's namespace,
//! `/etc/os-release`), `/dev/null`, and an in-memory overlay for the files commands write
//! (`curl -o`, `-c cookie-jar`, `> file`). The overlay belongs to the container: a file written
//! by one `kubectl exec` is there for the next, until the container's pod is gone.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::super::PodContext;
use crate::net::CLUSTER_DOMAIN;

/// The most bytes a container's written files may hold together.
const CAPACITY: usize = 16 * 1024 * 1024;
/// How many containers' filesystems are kept (the oldest is forgotten beyond that).
const CONTAINERS: usize = 512;

/// Why a file operation failed, worded as busybox does.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FsError {
    /// No such file or directory.
    #[error("No such file or directory")]
    NotFound,
    /// A directory where a file was expected.
    #[error("Is a directory")]
    IsDir,
    /// The path's directory does not exist.
    #[error("nonexistent directory")]
    NoDir,
    /// The container's files are full.
    #[error("No space left on device")]
    Full,
    /// The file is the system's and cannot be changed.
    #[error("Read-only file system")]
    ReadOnly,
}

/// One container's files. Cheap to clone (shared).
#[derive(Clone, Debug)]
pub(crate) struct Fs {
    inner: Arc<Mutex<Overlay>>,
    known: Arc<BTreeMap<String, Vec<u8>>>,
}

#[derive(Debug, Default)]
struct Overlay {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
    removed: BTreeSet<String>,
    size: usize,
}

type Registry = Mutex<(HashMap<String, Arc<Mutex<Overlay>>>, VecDeque<String>)>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// The directories every container has.
const DIRS: &[&str] = &[
    "/",
    "/bin",
    "/dev",
    "/etc",
    "/home",
    "/proc",
    "/root",
    "/sbin",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/local",
    "/usr/local/bin",
    "/var",
    "/var/run",
    "/var/run/secrets",
    "/var/run/secrets/kubernetes.io",
    "/var/run/secrets/kubernetes.io/serviceaccount",
];

impl Fs {
    /// The filesystem of the container `ctx` runs in (the same one for every exec).
    pub(crate) fn of(ctx: &PodContext) -> Self {
        let key = format!("{}/{}/{}@{}", ctx.namespace, ctx.pod, ctx.container, ctx.ip);
        let inner = {
            let mut reg = registry().lock().unwrap_or_else(PoisonError::into_inner);
            let (map, order) = &mut *reg;
            if let Some(existing) = map.get(&key) {
                Arc::clone(existing)
            } else {
                if order.len() >= CONTAINERS
                    && let Some(oldest) = order.pop_front()
                {
                    map.remove(&oldest);
                }
                let fresh = Arc::new(Mutex::new(Overlay::default()));
                map.insert(key.clone(), Arc::clone(&fresh));
                order.push_back(key);
                fresh
            }
        };
        Self {
            inner,
            known: Arc::new(well_known(ctx)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Overlay> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A file's contents.
    pub(crate) fn read(&self, path: &str) -> Result<Vec<u8>, FsError> {
        if path == "/dev/null" {
            return Ok(Vec::new());
        }
        if self.is_dir(path) {
            return Err(FsError::IsDir);
        }
        let overlay = self.lock();
        if let Some(data) = overlay.files.get(path) {
            return Ok(data.clone());
        }
        if overlay.removed.contains(path) {
            return Err(FsError::NotFound);
        }
        self.known.get(path).cloned().ok_or(FsError::NotFound)
    }

    /// Writes (or with `append`, appends to) a file; its directory must exist.
    pub(crate) fn write(&self, path: &str, data: &[u8], append: bool) -> Result<(), FsError> {
        if path == "/dev/null" {
            return Ok(());
        }
        if self.is_dir(path) {
            return Err(FsError::IsDir);
        }
        if path.starts_with("/proc/") || path.starts_with("/dev/") {
            return Err(FsError::ReadOnly);
        }
        if !self.is_dir(parent(path)) {
            return Err(FsError::NoDir);
        }
        let base = if append {
            self.read(path).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut overlay = self.lock();
        let old = overlay.files.get(path).map_or(0, Vec::len);
        let new_len = base.len() + data.len();
        if overlay.size - old + new_len > CAPACITY {
            return Err(FsError::Full);
        }
        let mut content = base;
        content.extend_from_slice(data);
        overlay.size = overlay.size - old + new_len;
        overlay.removed.remove(path);
        overlay.files.insert(path.to_owned(), content);
        Ok(())
    }

    /// Whether a file or directory exists.
    pub(crate) fn exists(&self, path: &str) -> bool {
        self.is_dir(path) || self.read(path).is_ok()
    }

    /// Whether `path` is a directory.
    pub(crate) fn is_dir(&self, path: &str) -> bool {
        DIRS.contains(&path) || self.lock().dirs.contains(path)
    }

    /// Creates a directory (its parent must exist unless `parents`).
    pub(crate) fn mkdir(&self, path: &str, parents: bool) -> Result<(), FsError> {
        if self.is_dir(path) {
            return Ok(());
        }
        if self.read(path).is_ok() {
            return Err(FsError::ReadOnly);
        }
        if !self.is_dir(parent(path)) {
            if parents {
                self.mkdir(parent(path), true)?;
            } else {
                return Err(FsError::NotFound);
            }
        }
        self.lock().dirs.insert(path.to_owned());
        Ok(())
    }

    /// Removes a file.
    pub(crate) fn remove(&self, path: &str) -> Result<(), FsError> {
        if self.is_dir(path) {
            return Err(FsError::IsDir);
        }
        let mut overlay = self.lock();
        if let Some(old) = overlay.files.remove(path) {
            overlay.size -= old.len();
            return Ok(());
        }
        if self.known.contains_key(path) && !overlay.removed.contains(path) {
            overlay.removed.insert(path.to_owned());
            return Ok(());
        }
        Err(FsError::NotFound)
    }

    /// The names in a directory, sorted; `None` when it is not a directory.
    pub(crate) fn list(&self, dir: &str) -> Option<Vec<String>> {
        if !self.is_dir(dir) {
            return None;
        }
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        let overlay = self.lock();
        let mut names = BTreeSet::new();
        let paths = DIRS
            .iter()
            .map(|d| (*d).to_owned())
            .chain(overlay.dirs.iter().cloned())
            .chain(
                self.known
                    .keys()
                    .filter(|k| !overlay.removed.contains(*k))
                    .cloned(),
            )
            .chain(overlay.files.keys().cloned());
        for path in paths {
            if let Some(rest) = path.strip_prefix(&prefix)
                && !rest.is_empty()
                && !rest.contains('/')
            {
                names.insert(rest.to_owned());
            }
        }
        Some(names.into_iter().collect())
    }
}

/// The directory part of an absolute path (`/` for `/x`).
fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `path` made absolute against `cwd`, with `.`/`..` and repeated slashes resolved.
pub(crate) fn resolve(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The files the container runtime and Kubernetes put in every container.
fn well_known(ctx: &PodContext) -> BTreeMap<String, Vec<u8>> {
    let ns = &ctx.namespace;
    let d = CLUSTER_DOMAIN;
    let mut files = BTreeMap::new();
    let mut put = |path: &str, text: String| {
        files.insert(path.to_owned(), text.into_bytes());
    };
    put("/etc/hostname", format!("{}\n", ctx.pod));
    put(
        "/etc/hosts",
        format!(
            "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n{}\t{}\n",
            ctx.ip, ctx.pod
        ),
    );
    put(
        "/etc/resolv.conf",
        format!("search {ns}.svc.{d} svc.{d} {d}\nnameserver 10.96.0.10\noptions ndots:5\n"),
    );
    put(
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
        ns.clone(),
    );
    put(
        "/etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.22.1\nPRETTY_NAME=\"Alpine Linux v3.22\"\nHOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n"
            .to_owned(),
    );
    put(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n".to_owned(),
    );
    put(
        "/proc/version",
        "Linux version 6.12.0 (meshwork reference mesh)\n".to_owned(),
    );
    files
}
