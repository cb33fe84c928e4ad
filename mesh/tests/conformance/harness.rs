//! Test harness: a mesh in a temp dir plus a kubectl wrapper.

use std::path::{Path, PathBuf};

use meshwork_mesh::{Mesh, MeshConfig};

/// A running mesh with its own state dir and a private kubectl HOME.
pub struct Env {
    pub state: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub mesh: Option<Mesh>,
}

/// What one kubectl invocation printed.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn kubectl_path() -> Option<PathBuf> {
    if std::env::var_os("MESHWORK_SKIP_KUBECTL").is_some() {
        return None;
    }
    let p = PathBuf::from("/usr/bin/kubectl");
    assert!(
        p.exists(),
        "/usr/bin/kubectl is required for the conformance tests (set MESHWORK_SKIP_KUBECTL=1 to skip them)"
    );
    Some(p)
}

impl Env {
    pub async fn start() -> Self {
        let state = tempfile::tempdir().expect("state dir");
        let home = tempfile::tempdir().expect("home dir");
        let mesh = meshwork_mesh::start(MeshConfig {
            state_dir: state.path().to_owned(),
            port: None,
        })
        .await
        .expect("mesh starts");
        Self {
            state,
            home,
            mesh: Some(mesh),
        }
    }

    pub fn mesh(&self) -> &Mesh {
        self.mesh.as_ref().expect("mesh running")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.mesh().kubeconfig_path().to_owned()
    }

    /// Stops the mesh and starts a new one on the same state dir.
    pub async fn restart(&mut self) {
        if let Some(m) = self.mesh.take() {
            m.shutdown().await;
        }
        self.mesh = Some(
            meshwork_mesh::start(MeshConfig {
                state_dir: self.state.path().to_owned(),
                port: None,
            })
            .await
            .expect("mesh restarts"),
        );
    }

    pub async fn stop(mut self) {
        if let Some(m) = self.mesh.take() {
            m.shutdown().await;
        }
    }

    pub async fn kubectl_with(&self, kubeconfig: &Path, args: &[&str]) -> Out {
        let bin = kubectl_path().expect("kubectl");
        // Global flags first, so that they stay kubectl's when `args` has a `--`.
        let out = tokio::process::Command::new(bin)
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.home.path().join("cache").display()
            ))
            .args(args)
            .env("HOME", self.home.path())
            .env_remove("KUBECONFIG")
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("kubectl runs");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_with(&self.kubeconfig(), args).await
    }

    /// Runs kubectl and requires success.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert_eq!(out.code, 0, "kubectl {args:?} failed: {out:?}");
        out.stdout
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.home.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p
    }

    pub async fn kube_client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig parses");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }
}

/// Splits a kubectl table into rows of whitespace-separated cells (headers with spaces, like
/// `NOMINATED NODE`, come out as two cells; compare headers with [`header_line`]).
pub fn header_line(table: &str) -> String {
    table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The row whose first cell is `name`, as cells.
pub fn row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cells| cells.first().is_some_and(|c| c == name))
        .unwrap_or_default()
}

impl Env {
    /// The kubectl command with this env's kubeconfig, cache dir and HOME, not started yet.
    /// The flags come before `args`, so `exec … -- cmd` passes the command nothing extra.
    pub fn kubectl_command(&self, args: &[&str]) -> tokio::process::Command {
        let bin = kubectl_path().expect("kubectl");
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig().display()))
            .arg(format!(
                "--cache-dir={}",
                self.home.path().join("cache").display()
            ))
            .args(args)
            .env("HOME", self.home.path())
            .env_remove("KUBECONFIG");
        cmd
    }

    /// Runs `kubectl exec …` (or any command ending in `-- argv`) with the env's flags first.
    pub async fn kubectl_exec(&self, args: &[&str]) -> Out {
        self.kubectl_stdin(args, b"").await
    }

    /// Starts a long-running kubectl (`logs -f`, `port-forward`) whose stdout and stderr can be
    /// read while it runs; it is killed when dropped (or with [`stop_child`]).
    pub fn kubectl_child(&self, args: &[&str]) -> tokio::process::Child {
        self.kubectl_child_env(args, &[])
    }

    /// [`Self::kubectl_child`] with extra environment variables (`KUBECTL_…` feature switches).
    pub fn kubectl_child_env(&self, args: &[&str], vars: &[(&str, &str)]) -> tokio::process::Child {
        self.kubectl_command(args)
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl starts")
    }

    /// Runs kubectl with `input` on its standard input (`exec -i`).
    pub async fn kubectl_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        self.kubectl_stdin_env(args, input, &[]).await
    }

    /// [`Self::kubectl_stdin`] with extra environment variables (`KUBECTL_…` feature switches).
    pub async fn kubectl_stdin_env(
        &self,
        args: &[&str],
        input: &[u8],
        vars: &[(&str, &str)],
    ) -> Out {
        use tokio::io::AsyncWriteExt;
        let mut child = self
            .kubectl_command(args)
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl starts");
        let mut stdin = child.stdin.take().expect("stdin piped");
        stdin.write_all(input).await.expect("write stdin");
        drop(stdin);
        let out = child.wait_with_output().await.expect("kubectl runs");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Kills a kubectl started with [`Env::kubectl_child`] (by its PID) and waits for it.
pub async fn stop_child(child: &mut tokio::process::Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// A local TCP port that was free a moment ago (bound to :0, read, released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0");
    listener.local_addr().expect("local addr").port()
}

/// Reads lines from `reader` until one contains `want`; returns everything read (panics with
/// what was read when the stream ends first).
pub async fn read_until<R>(reader: &mut R, want: &str) -> String
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::AsyncBufReadExt;
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .await
            .expect("read kubectl output");
        seen.push_str(&line);
        if line.contains(want) {
            return seen;
        }
        assert!(n > 0, "output ended before {want:?}; read:\n{seen}");
    }
}

impl Env {
    /// Runs kubectl inside a pseudo-terminal (`script`), typing `input` into it: what a learner
    /// sees with `kubectl exec -it`. Output is the terminal's (stdout and stderr together).
    pub async fn kubectl_in_terminal(&self, args: &[&str], input: &[u8]) -> Out {
        self.kubectl_in_terminal_env(args, input, &[]).await
    }

    /// [`Self::kubectl_in_terminal`] with extra environment variables for kubectl.
    pub async fn kubectl_in_terminal_env(
        &self,
        args: &[&str],
        input: &[u8],
        vars: &[(&str, &str)],
    ) -> Out {
        use tokio::io::AsyncWriteExt;
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let bin = kubectl_path().expect("kubectl");
        let mut line = vec![
            quote(&bin.display().to_string()),
            quote(&format!("--kubeconfig={}", self.kubeconfig().display())),
            quote(&format!(
                "--cache-dir={}",
                self.home.path().join("cache").display()
            )),
        ];
        line.extend(args.iter().map(|a| quote(a)));
        let mut child = tokio::process::Command::new("script")
            .args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
            .env("HOME", self.home.path())
            .env_remove("KUBECONFIG")
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("script starts");
        let mut stdin = child.stdin.take().expect("stdin piped");
        stdin
            .write_all(input)
            .await
            .expect("type into the terminal");
        let out = child.wait_with_output().await.expect("script runs");
        drop(stdin);
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
