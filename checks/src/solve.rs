//! Carrying out a step's solution or reset: the same commands the learner would type.
//!
//! A [`Solution`] is manifests to apply and shell commands, some per target. [`Runner`] runs
//! them in a *workshop directory* holding the course's `manifests/` (written out by
//! [`write_workshop`], so `kubectl apply -f manifests/…` works for an installed binary whose
//! content is embedded), with kubectl pointed at the target and `meshwork` on `PATH`. The TUI's
//! `a` and `r` keys and `meshwork lab test` go through here; nothing else changes a target.

pub mod preview;

use crate::content::Content;
use crate::course::{ManifestVerb, Solution};
use crate::target::TargetKind;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The longest one command may run (`istioctl install` and `kubectl wait` take a while).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a solution could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    /// The workshop directory could not be written.
    #[error("cannot write the workshop directory {}: {source}", path.display())]
    Workshop {
        /// The file or folder that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A command could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A command exited with an error.
    #[error("`{command}` failed (exit {code}){}", tail(.output))]
    Failed {
        /// The command line.
        command: String,
        /// Its exit code (-1 when killed by a signal).
        code: i32,
        /// The end of what it printed.
        output: String,
    },
    /// A command did not finish in time.
    #[error("`{command}` did not finish within {}s; it was stopped", .after.as_secs())]
    TimedOut {
        /// The command line.
        command: String,
        /// How long it was given.
        after: Duration,
    },
}

fn tail(output: &str) -> String {
    let output = output.trim();
    if output.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.len().saturating_sub(12);
    format!(":\n{}", lines[start..].join("\n"))
}

/// Writes the course's `manifests/` below `dir` (replacing older copies of the same files) so
/// the commands the labs print work from there. Returns `dir`.
pub fn write_workshop(content: &Content, dir: &Path) -> Result<PathBuf, SolveError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SolveError::Workshop { path, source }
    };
    for rel in content.paths_under("manifests") {
        let Some(bytes) = content.get(rel) else {
            continue;
        };
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        if std::fs::read(&path).ok().as_deref() != Some(bytes) {
            std::fs::write(&path, bytes).map_err(io(&path))?;
        }
    }
    Ok(dir.to_path_buf())
}

/// One thing a solution does, in order, as shown before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The shell command line (manifests become `kubectl apply -f PATH`).
    pub command: String,
    /// The manifest applied, when the action is one.
    pub manifest: Option<String>,
}

/// What one action did.
#[derive(Debug, Clone)]
pub struct ActionOutcome {
    /// The action.
    pub action: Action,
    /// What it printed (stdout then stderr), trimmed.
    pub output: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// Runs solutions and resets against one target.
#[derive(Debug, Clone)]
pub struct Runner {
    kind: TargetKind,
    workshop: PathBuf,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl Runner {
    /// A runner for a target of `kind` whose commands run in `workshop` (see
    /// [`write_workshop`]). `kubeconfig`, when given, becomes `KUBECONFIG` for every command
    /// (the reference mesh's, or one narrowed to a chosen context); `meshwork`, when given, is
    /// the binary the word `meshwork` runs (its folder is put first on `PATH`).
    pub fn new(
        kind: TargetKind,
        workshop: impl Into<PathBuf>,
        kubeconfig: Option<&Path>,
        meshwork: Option<&Path>,
    ) -> Self {
        let mut env = Vec::new();
        if let Some(kubeconfig) = kubeconfig {
            env.push((
                OsString::from("KUBECONFIG"),
                kubeconfig.as_os_str().to_owned(),
            ));
        }
        if let Some(dir) = meshwork.and_then(Path::parent) {
            let mut paths = vec![dir.to_path_buf()];
            if let Some(old) = std::env::var_os("PATH") {
                paths.extend(std::env::split_paths(&old));
            }
            if let Ok(joined) = std::env::join_paths(paths) {
                env.push((OsString::from("PATH"), joined));
            }
        }
        Self {
            kind,
            workshop: workshop.into(),
            env,
            timeout: COMMAND_TIMEOUT,
        }
    }

    /// Gives each command at most `timeout` instead of [`COMMAND_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets an environment variable for every command (e.g. `XDG_STATE_HOME` for a scratch mesh).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// The target kind whose command variants run.
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// The directory commands run in.
    pub fn workshop(&self) -> &Path {
        &self.workshop
    }

    /// What `solution` will do on this target, in order: manifests first (applied, or deleted
    /// for a reset), then commands.
    pub fn plan(&self, solution: &Solution) -> Vec<Action> {
        let manifests = solution.manifests.iter().map(|m| Action {
            command: match solution.manifest_verb {
                ManifestVerb::Apply => format!("kubectl apply -f {m}"),
                ManifestVerb::Delete => format!("kubectl delete -f {m} --ignore-not-found"),
            },
            manifest: Some(m.clone()),
        });
        let commands = solution
            .commands
            .iter()
            .filter_map(|c| c.for_target(self.kind))
            .map(|c| Action {
                command: c.to_string(),
                manifest: None,
            });
        manifests.chain(commands).collect()
    }

    /// Carries out `solution` action by action, stopping at the first that fails;
    /// `on_action` hears of each before it starts (for progress display).
    pub async fn run(
        &self,
        solution: &Solution,
        mut on_action: impl FnMut(&Action),
    ) -> Result<Vec<ActionOutcome>, SolveError> {
        let mut done = Vec::new();
        for action in self.plan(solution) {
            on_action(&action);
            done.push(self.run_action(action).await?);
        }
        Ok(done)
    }

    /// Carries out one action of a [`plan`](Self::plan).
    pub async fn run_action(&self, action: Action) -> Result<ActionOutcome, SolveError> {
        let start = Instant::now();
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg(&action.command)
            .current_dir(&self.workshop)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|source| SolveError::Spawn {
            command: action.command.clone(),
            source,
        })?;
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Err(_) => {
                return Err(SolveError::TimedOut {
                    command: action.command,
                    after: self.timeout,
                });
            }
            Ok(Err(source)) => {
                return Err(SolveError::Spawn {
                    command: action.command,
                    source,
                });
            }
            Ok(Ok(output)) => output,
        };
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let text = text.trim().to_string();
        if !output.status.success() {
            return Err(SolveError::Failed {
                command: action.command,
                code: output.status.code().unwrap_or(-1),
                output: text,
            });
        }
        Ok(ActionOutcome {
            action,
            output: text,
            elapsed: start.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Origin;
    use crate::course::Command;

    fn both(cluster: &str, reference: &str) -> Command {
        Command {
            note: None,
            cluster: Some(cluster.into()),
            reference: Some(reference.into()),
        }
    }

    fn solution() -> Solution {
        Solution {
            text: None,
            manifests: vec!["manifests/a/x.yaml".into()],
            manifest_verb: ManifestVerb::Apply,
            commands: vec![
                Command {
                    note: None,
                    cluster: None,
                    reference: Some("meshwork istioctl install -y".into()),
                },
                both("cat manifests/a/x.yaml", "cat manifests/a/x.yaml"),
            ],
        }
    }

    #[test]
    fn the_plan_applies_manifests_then_runs_the_targets_commands() {
        let runner = Runner::new(TargetKind::Cluster, "/tmp", None, None);
        let plan: Vec<String> = runner
            .plan(&solution())
            .into_iter()
            .map(|a| a.command)
            .collect();
        assert_eq!(
            plan,
            [
                "kubectl apply -f manifests/a/x.yaml",
                "cat manifests/a/x.yaml"
            ]
        );
        let runner = Runner::new(TargetKind::Reference, "/tmp", None, None);
        assert_eq!(runner.plan(&solution()).len(), 3);
        let reset = Solution {
            manifest_verb: ManifestVerb::Delete,
            ..solution()
        };
        assert_eq!(
            runner.plan(&reset)[0].command,
            "kubectl delete -f manifests/a/x.yaml --ignore-not-found"
        );
    }

    #[tokio::test]
    async fn commands_run_in_the_workshop_with_the_targets_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let content = Content::from_files(
            Origin::Embedded,
            [("manifests/a/x.yaml", b"kind: X\n".to_vec())],
        );
        write_workshop(&content, dir.path()).unwrap();
        let runner = Runner::new(
            TargetKind::Cluster,
            dir.path(),
            Some(Path::new("/k/config")),
            None,
        );
        let step = Solution {
            commands: vec![both(
                "cat manifests/a/x.yaml; echo \"$KUBECONFIG\"",
                "false",
            )],
            ..Solution::default()
        };
        let mut seen = Vec::new();
        let out = runner
            .run(&step, |a| seen.push(a.command.clone()))
            .await
            .unwrap();
        assert_eq!(out[0].output, "kind: X\n/k/config");
        assert_eq!(seen.len(), 1);
    }

    #[tokio::test]
    async fn a_failing_command_stops_the_solution_and_shows_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Runner::new(TargetKind::Reference, dir.path(), None, None);
        let step = Solution {
            commands: vec![
                both("true", "echo oops >&2; exit 3"),
                both("true", "touch never"),
            ],
            ..Solution::default()
        };
        let err = runner.run(&step, |_| {}).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("(exit 3):\noops"), "{text}");
        assert!(!dir.path().join("never").exists());
    }

    #[tokio::test]
    async fn a_command_that_hangs_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Runner::new(TargetKind::Reference, dir.path(), None, None)
            .with_timeout(Duration::from_millis(200));
        let step = Solution {
            commands: vec![both("true", "sleep 30")],
            ..Solution::default()
        };
        let err = runner.run(&step, |_| {}).await.unwrap_err();
        assert!(matches!(err, SolveError::TimedOut { .. }), "{err}");
    }
}
