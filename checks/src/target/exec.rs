//! Running a command inside a pod through the Kubernetes API (`pods/exec` over WebSocket),
//! as `kubectl exec` does, on either target.
//!
//! [`resolve`] finds the pod (by name, or the first running pod a label selector picks) and
//! checks the container; [`PodExec::run`] runs one argv and collects its output and exit code
//! from the status the API server sends at the end.

use crate::course::PodRef;
use crate::target::status::explain;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams};
use tokio::io::AsyncReadExt;

/// What a command printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// Exit code (0 on success).
    pub exit_code: i32,
}

/// Why a command could not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The pod or container is not there or not running: the learner's cluster is not in the
    /// state the check needs (a failure, not an error of the tool).
    #[error("{0}")]
    NoPod(String),
    /// The API refused or broke off the exec.
    #[error("{0}")]
    Api(String),
}

/// A resolved pod and container to run commands in.
#[derive(Clone)]
pub struct PodExec {
    api: Api<Pod>,
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container, when one was named.
    pub container: Option<String>,
}

impl std::fmt::Debug for PodExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Largest output kept per stream; the rest is read and dropped.
const MAX_OUTPUT: usize = 4 * 1024 * 1024;

/// Finds the pod `pod` names: the pod itself, or the first running pod (Ready ones first, by
/// name) its label selector picks.
pub async fn resolve(client: &kube::Client, pod: &PodRef) -> Result<PodExec, ExecError> {
    let namespace = pod
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let api = Api::<Pod>::namespaced(client.clone(), &namespace);
    let chosen = if pod.is_selector() {
        let listed = api
            .list(&ListParams::default().labels(&pod.pod))
            .await
            .map_err(|e| {
                ExecError::Api(format!(
                    "cannot list the pods with {} in {namespace}: {}",
                    pod.pod,
                    explain(&e)
                ))
            })?
            .items;
        pick(&listed).cloned().ok_or_else(|| {
            ExecError::NoPod(if listed.is_empty() {
                format!("there is no pod with {} in namespace {namespace}", pod.pod)
            } else {
                let seen: Vec<String> = listed
                    .iter()
                    .map(|p| format!("{} ({})", name_of(p), phase(p)))
                    .collect();
                format!(
                    "no pod with {} in namespace {namespace} is running (found {})",
                    pod.pod,
                    seen.join(", ")
                )
            })
        })?
    } else {
        let found = api.get_opt(&pod.pod).await.map_err(|e| {
            ExecError::Api(format!(
                "cannot read pod {} in {namespace}: {}",
                pod.pod,
                explain(&e)
            ))
        })?;
        let found = found.ok_or_else(|| {
            ExecError::NoPod(format!(
                "there is no pod {} in namespace {namespace}",
                pod.pod
            ))
        })?;
        if phase(&found) != "Running" {
            return Err(ExecError::NoPod(format!(
                "pod {} in namespace {namespace} is {}, not Running",
                pod.pod,
                phase(&found)
            )));
        }
        found
    };
    let name = name_of(&chosen);
    if let Some(container) = &pod.container {
        let names: Vec<&str> = chosen
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .map(|c| c.name.as_str())
            .collect();
        if !names.contains(&container.as_str()) {
            return Err(ExecError::NoPod(format!(
                "pod {name} in namespace {namespace} has no container {container}; its containers are {}",
                names.join(", ")
            )));
        }
    }
    Ok(PodExec {
        api,
        namespace,
        pod: name,
        container: pod.container.clone(),
    })
}

/// The running pod to use: Ready before not Ready, then by name; never a terminating one.
fn pick(pods: &[Pod]) -> Option<&Pod> {
    let mut running: Vec<&Pod> = pods
        .iter()
        .filter(|p| phase(p) == "Running" && p.metadata.deletion_timestamp.is_none())
        .collect();
    running.sort_by_key(|p| (!is_ready(p), name_of(p)));
    running.first().copied()
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl PodExec {
    /// `pod ratings-v1-abc (container ratings) in default`.
    pub fn describe(&self) -> String {
        match &self.container {
            Some(c) => format!("pod {} (container {c}) in {}", self.pod, self.namespace),
            None => format!("pod {} in {}", self.pod, self.namespace),
        }
    }

    /// Runs `argv` (no stdin, no terminal) and waits for it to finish.
    pub async fn run(&self, argv: &[String]) -> Result<ExecOutput, ExecError> {
        let mut params = AttachParams::default()
            .stdin(false)
            .stdout(true)
            .stderr(true)
            .max_stdout_buf_size(64 * 1024)
            .max_stderr_buf_size(64 * 1024);
        if let Some(c) = &self.container {
            params = params.container(c.as_str());
        }
        let shown = argv.join(" ");
        let mut process = self
            .api
            .exec(&self.pod, argv.to_vec(), &params)
            .await
            .map_err(|e| {
                ExecError::Api(format!(
                    "cannot exec `{shown}` in {}: {}",
                    self.describe(),
                    explain(&e)
                ))
            })?;
        let stdout = process.stdout();
        let stderr = process.stderr();
        let status = process.take_status();
        let (stdout, stderr, status) = tokio::join!(read_all(stdout), read_all(stderr), async {
            match status {
                Some(s) => s.await,
                None => None,
            }
        });
        // The message loop has ended once the status arrived; its error (if any) is in the status.
        let _ = process.join().await;
        let mut stderr = stderr;
        let exit_code = match status {
            None => {
                return Err(ExecError::Api(format!(
                    "`{shown}` in {}: the exec stream ended without an exit status",
                    self.describe()
                )));
            }
            Some(s) if s.status.as_deref() == Some("Success") => 0,
            Some(s) => {
                let code = s
                    .details
                    .as_ref()
                    .and_then(|d| d.causes.as_ref())
                    .into_iter()
                    .flatten()
                    .find(|c| c.reason.as_deref() == Some("ExitCode"))
                    .and_then(|c| c.message.as_deref())
                    .and_then(|m| m.trim().parse::<i32>().ok());
                match code {
                    Some(code) => code,
                    None if s.message.as_deref().is_some_and(|m| {
                        m.contains("executable file not found") || m.contains("no such file")
                    }) =>
                    {
                        // A real runtime reports a missing program as a failed start, not an exit.
                        if !stderr.is_empty() && !stderr.ends_with('\n') {
                            stderr.push('\n');
                        }
                        stderr.push_str(s.message.as_deref().unwrap_or_default());
                        127
                    }
                    None => {
                        return Err(ExecError::Api(format!(
                            "`{shown}` in {} failed to run: {}",
                            self.describe(),
                            s.message.unwrap_or_else(|| "no reason given".to_string())
                        )));
                    }
                }
            }
        };
        Ok(ExecOutput {
            stdout,
            stderr,
            exit_code,
        })
    }
}

async fn read_all(reader: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let Some(mut reader) = reader else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_ready_running_pod_is_picked_first() {
        let pods = [
            pod("a", "Pending", false),
            pod("b", "Running", false),
            pod("c", "Running", true),
        ];
        assert_eq!(pick(&pods).map(name_of).as_deref(), Some("c"));
        assert_eq!(pick(&pods[..2]).map(name_of).as_deref(), Some("b"));
        assert!(pick(&pods[..1]).is_none());
    }

    #[test]
    fn selectors_are_told_from_names() {
        let r = |p: &str| PodRef {
            pod: p.into(),
            namespace: None,
            container: None,
        };
        assert!(r("app=ratings").is_selector());
        assert!(r("app=reviews,version!=v1").is_selector());
        assert!(r("app in (a, b)").is_selector());
        assert!(!r("ratings-v1-5f9c").is_selector());
    }
}
