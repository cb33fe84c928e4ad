//! The built-in commands of every container: what `kubectl exec` runs (`curl`, `fortio`,
//! `sh -c '…'` pipelines, `sleep`, `env`, `hostname`, `cat`, `grep`, …), and the main process
//! of images that are only a shell and tools (curl, busybox).

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{PodContext, Termination};

/// Images whose main process is a command run by the built-in shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {
    /// `curlimages/curl`: entrypoint `curl` (the samples override it with `sleep infinity`).
    Curl,
    /// busybox: default command `sh`.
    Busybox,
}

/// The standard streams of an exec'd command.
#[derive(Debug)]
pub struct Stdio {
    /// Bytes typed or piped in; `None` without `-i`. The channel closing is end of input.
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    /// Standard output.
    pub stdout: mpsc::Sender<Bytes>,
    /// Standard error (with `tty`, written to stdout as a terminal would).
    pub stderr: mpsc::Sender<Bytes>,
    /// Whether a terminal is attached (`-t`): the shell echoes input and prints a prompt.
    pub tty: bool,
}

/// Runs `argv` in the container as `kubectl exec` does and returns its exit code (127 for an
/// unknown command, with `exec: "x": executable file not found in $PATH` on stderr).
pub async fn exec(ctx: &PodContext, argv: &[String], io: Stdio) -> i32 {
    let _ = (ctx, argv, io);
    127
}

/// Runs the container's main process (its command, or the image's default) to completion.
pub async fn run_container(image: Image, ctx: PodContext) -> Termination {
    let _ = (image, ctx);
    Termination::error("IN PROGRESS: the shell is being written")
}
