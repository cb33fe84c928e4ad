//! A sandbox with its own reference mesh, for the tests that start one: `meshwork` on the
//! default target (with the real Envoy when the test needs sidecars), the real kubectl with the
//! mesh's kubeconfig, waits for what a command shows, and the mesh stopped when the test ends.

use super::Env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Generous bound so a hung command fails the test instead of hanging CI.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(240);

/// The real kubectl the mesh tests drive.
const KUBECTL: &str = "/usr/bin/kubectl";

/// The real Envoy for a test that runs sidecars or gateways: `None` when
/// `MESHWORK_SKIP_ENVOY` turns the Envoy tests off; a missing Envoy fails the test saying how
/// to install it.
pub fn envoy() -> Option<PathBuf> {
    if meshwork_mesh::envoy::tests_skipped() {
        return None;
    }
    let envoy = meshwork_mesh::envoy::locate().unwrap_or_else(|m| {
        panic!("{m} (or set MESHWORK_SKIP_ENVOY=1 to turn the Envoy tests off)")
    });
    Some(envoy.path)
}

/// Whether the real kubectl is on this machine.
pub fn has_kubectl() -> bool {
    Path::new(KUBECTL).is_file()
}

/// Stops the sandbox's reference mesh, if one runs: `meshwork mesh down`, then its pid if
/// `down` could not.
pub fn stop(env: &Env) {
    let pid = env.server_pid();
    let _ = env
        .cmd_default_target()
        .args(["mesh", "down"])
        .timeout(COMMAND_TIMEOUT)
        .output();
    if let Some(pid) = pid
        && Path::new(&format!("/proc/{pid}")).exists()
    {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}

/// The reference mesh a test started in `env` (itself or through the binary), stopped when
/// the test ends however it ends.
pub struct StopMesh<'a>(pub &'a Env);

impl Drop for StopMesh<'_> {
    fn drop(&mut self) {
        stop(self.0);
    }
}
