//! The built-in commands of every container: what `kubectl exec` runs (`curl`, `fortio`,
//! `sh -c '…'` pipelines, `sleep`, `env`, `hostname`, `cat`, `grep`, …), and the main process
//! of images that are only a shell and tools (curl, busybox).
//!
//! Modules:
//! - `parse`: the shell language (quotes, expansions, pipelines, lists, loops, redirections).
//! - `interp`: runs parsed scripts; `interactive`: `sh` on a terminal or a piped stdin.
//! - `programs`: the programs on `PATH` (`grep`, `head`, `wc`, `sleep`, …); `curl`: curl and
//!   busybox wget through the mesh's HTTP client.
//! - `fs`: the container's files (well-known `/etc` files and what commands write).
//! - `io`: pipes and streams; `arith`: `$(( … ))`.

mod arith;
mod curl;
mod fs;
mod interactive;
mod interp;
pub(crate) mod io;
mod parse;
mod pilot_agent;
mod programs;

#[cfg(test)]
pub(crate) mod tests;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{PodContext, Termination};
use io::{Input, Io, Out};
use programs::Proc;

pub(crate) use io::{Interrupt, Out as Output};

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
///
/// Programs are found by basename (`/bin/sleep`, `/usr/bin/curl`); with `tty`, output lines
/// end in CRLF as a terminal's line discipline makes them, and stderr goes to stdout.
pub async fn exec(ctx: &PodContext, argv: &[String], io: Stdio) -> i32 {
    let Stdio {
        stdin,
        stdout,
        stderr,
        tty,
    } = io;
    if !tty {
        let io = Io {
            stdin: stdin.map_or_else(Input::none, Input::from_channel),
            stdout: Out::Chan(stdout),
            stderr: Out::Chan(stderr),
        };
        return run_argv(ctx, argv, io, false, Interrupt::default()).await;
    }
    // A terminal: translate LF to CRLF on the way out, stderr merged into stdout.
    let (tx, mut rx) = mpsc::channel::<Bytes>(io::PIPE_CAPACITY);
    let translate = async move {
        let mut last = 0u8;
        while let Some(chunk) = rx.recv().await {
            let mut out = Vec::with_capacity(chunk.len() + 8);
            for &b in chunk.iter() {
                if b == b'\n' && last != b'\r' {
                    out.push(b'\r');
                }
                out.push(b);
                last = b;
            }
            if stdout.send(Bytes::from(out)).await.is_err() {
                break;
            }
        }
        drop(stderr);
    };
    // Ctrl-C typed on the terminal interrupts the command (exit 130), as the terminal's
    // SIGINT would; an interactive shell reads its keys itself and handles Ctrl-C.
    let interactive = is_interactive_shell(argv);
    let (stdin, keys) = match stdin {
        Some(outer) if !interactive => {
            let (inner_tx, inner_rx) = mpsc::channel::<Bytes>(io::PIPE_CAPACITY);
            (Input::from_channel(inner_rx), Some((outer, inner_tx)))
        }
        Some(outer) => (Input::from_channel(outer), None),
        None => (Input::none(), None),
    };
    let out = tx.clone();
    let run = async move {
        let io = Io {
            stdin,
            stdout: Out::Chan(tx.clone()),
            stderr: Out::Chan(tx),
        };
        let interrupt = Interrupt::default();
        let command = run_argv(ctx, argv, io, true, interrupt.clone());
        let Some((mut outer, inner)) = keys else {
            return command.await;
        };
        // Each Ctrl-C is delivered; a program that does not handle it is stopped, one that
        // does (fortio load) ends by itself, and a second Ctrl-C stops it.
        let watch = async move {
            let mut inner = Some(inner);
            let mut presses = 0;
            while let Some(chunk) = outer.recv().await {
                let mut rest = chunk;
                while let Some(i) = rest.iter().position(|b| *b == 0x03) {
                    if let Some(tx) = &inner
                        && i > 0
                    {
                        let _ = tx.send(rest.slice(..i)).await;
                    }
                    let _ = out.send(Bytes::from_static(b"^C\n")).await;
                    presses += 1;
                    if !interrupt.fire() || presses > 1 {
                        return;
                    }
                    rest = rest.slice(i + 1..);
                }
                if let Some(tx) = &inner
                    && !rest.is_empty()
                    && tx.send(rest).await.is_err()
                {
                    inner = None;
                }
            }
            drop(inner);
            std::future::pending::<()>().await;
        };
        tokio::select! {
            status = command => status,
            () = watch => 130,
        }
    };
    let (status, ()) = futures::join!(run, translate);
    status
}

/// Whether `argv` starts a shell that reads commands from its input (no `-c`, no script).
fn is_interactive_shell(argv: &[String]) -> bool {
    let Some((first, args)) = argv.split_first() else {
        return false;
    };
    matches!(programs::lookup(first), Some("sh" | "ash"))
        && args.iter().all(|a| a.starts_with('-') && !a.contains('c'))
}

/// Runs a command line with the container's environment, in its home directory.
async fn run_argv(
    ctx: &PodContext,
    argv: &[String],
    io: Io,
    tty: bool,
    interrupt: Interrupt,
) -> i32 {
    let cwd = ctx.env_var("HOME").unwrap_or("/").to_owned();
    let proc = Proc {
        ctx,
        env: ctx.env.clone(),
        cwd,
        fs: fs::Fs::of(ctx),
        io,
        depth: 0,
        tty,
        interrupt,
    };
    programs::run(proc, argv.to_vec(), false).await
}

/// Runs the container's main process (its command, or the image's default) to completion.
///
/// The process has no input; each line it writes (stdout and stderr) goes to the container's
/// log (`kubectl logs`), and its exit code ends the container. `curlimages/curl` without a
/// command is `curl` with no URL (exit 2, so the pod crash-loops as a real one does).
pub async fn run_container(image: Image, ctx: PodContext) -> Termination {
    let argv = main_process(image, &ctx.command);
    run_logged(&ctx, &argv).await
}

/// The main process of an image for a container's command (`command` and `args` joined): a
/// known program runs as itself, anything else is an argument list for the image's entrypoint.
fn main_process(image: Image, command: &[String]) -> Vec<String> {
    let entrypoint = match image {
        Image::Curl => "curl",
        Image::Busybox => "sh",
    };
    match command.first() {
        None => vec![entrypoint.to_owned()],
        Some(first) if programs::lookup(first).is_some() => command.to_vec(),
        Some(first) if image == Image::Busybox && first.contains('/') => command.to_vec(),
        Some(_) if image == Image::Curl => {
            let mut argv = vec![entrypoint.to_owned()];
            argv.extend_from_slice(command);
            argv
        }
        Some(_) => command.to_vec(),
    }
}

/// Runs `argv` as a container's main process, its output lines going to the container log.
pub(crate) async fn run_logged(ctx: &PodContext, argv: &[String]) -> Termination {
    let (tx, mut rx) = mpsc::channel::<Bytes>(io::PIPE_CAPACITY);
    let log = ctx.log.clone();
    let collect = async move {
        let mut partial: Vec<u8> = Vec::new();
        while let Some(chunk) = rx.recv().await {
            partial.extend_from_slice(&chunk);
            while let Some(i) = partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = partial.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                log.push(text.trim_end_matches('\r').to_owned());
            }
        }
        if !partial.is_empty() {
            log.push(String::from_utf8_lossy(&partial).into_owned());
        }
    };
    let run = async move {
        let io = Io {
            stdin: Input::none(),
            stdout: Out::Chan(tx.clone()),
            stderr: Out::Chan(tx),
        };
        run_argv(ctx, argv, io, false, Interrupt::default()).await
    };
    let (exit_code, ()) = futures::join!(run, collect);
    let shown = argv.join(" ");
    Termination {
        exit_code,
        message: if exit_code == 0 {
            format!("{shown} completed")
        } else {
            format!("{shown} exited with code {exit_code}")
        },
    }
}
