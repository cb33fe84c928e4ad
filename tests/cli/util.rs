//! A sandbox per test: temporary home, data dir, kubeconfig and PATH; [`mesh`] for the tests
//! that start a reference mesh in it.

pub mod mesh;

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A fixture folder under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// One test's private world.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    /// HOME, XDG_DATA_HOME and a bin/ folder for fake tools in a fresh temporary directory;
    /// KUBECONFIG names a file that does not exist.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "data", "bin"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Where progress for the sandbox's target (`cluster`) lives.
    pub fn progress_file(&self) -> PathBuf {
        self.path("data/meshwork/progress/cluster.json")
    }

    /// The pid in the sandbox's `server.json`, if a reference mesh says it runs there.
    pub fn server_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.path("state/meshwork/server.json")).ok()?;
        let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
        doc["pid"].as_u64().and_then(|p| u32::try_from(p).ok())
    }

    /// Puts a shell script called `name` in the sandbox's bin/ folder.
    pub fn fake_tool(&self, name: &str, body: &str) {
        let path = self.path("bin").join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `meshwork` with the sandbox's environment; PATH holds only the sandbox's bin/.
    ///
    /// The target is chosen explicitly as `cluster` (through `MESHWORK_TARGET`, so a test's own
    /// `--target`, `--context` or `MESHWORK_TARGET` still wins): these tests are about a live
    /// cluster's kubeconfig, and must never start a reference mesh by default.
    /// [`Env::cmd_default_target`] runs with no target chosen at all.
    pub fn cmd(&self) -> Command {
        let mut cmd = self.cmd_default_target();
        cmd.env("MESHWORK_TARGET", "cluster");
        cmd
    }

    /// Like [`Env::cmd`] but with no target chosen, so meshwork uses its default (`reference`).
    pub fn cmd_default_target(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshwork"));
        cmd.current_dir(self.dir.path())
            .env("HOME", self.path("home"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("KUBECONFIG", self.path("no-such-kubeconfig"))
            .env("PATH", self.path("bin"))
            .env("NO_COLOR", "1")
            .env_remove("MESHWORK_TARGET")
            .env_remove("MESHWORK_CONTENT");
        cmd
    }

    /// `meshwork --content tests/fixtures/basic_course …`, with `fakectl` 1.30.2 installed.
    pub fn course_cmd(&self) -> Command {
        self.fake_tool("fakectl", "echo 'fakectl version v1.30.2'");
        let mut cmd = self.cmd();
        cmd.arg("--content").arg(fixture("basic_course"));
        cmd
    }
}

/// Stdout of a finished command as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Stderr of a finished command as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}
