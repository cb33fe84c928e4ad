//! fortio: its echo server (the image's default `fortio server`) and the `fortio curl` and
//! `fortio load` commands learners run with `kubectl exec`.
//!
//! Modules: `server` (the echo server on the HTTP port: `/`, `/echo`, `/debug`, `?status=`,
//! `?delay=`), `load` (the load generator and its summary: histogram, percentiles, codes),
//! `flags` (Go-style `-flag value` parsing and fortio's number formats).

mod flags;
mod load;
mod server;

#[cfg(test)]
mod tests;

use tokio::net::TcpListener;

use super::shell::{Interrupt, Output};
use super::{PodContext, Termination};

/// The fortio version the built-in one reports.
pub const VERSION: &str = "1.69.5";

/// Runs the container's main process: `fortio server` (echo on the HTTP port) unless the
/// container's command says otherwise.
pub async fn run_container(listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    let mut argv = ctx.command.clone();
    if argv
        .first()
        .is_some_and(|a| a.rsplit('/').next() == Some("fortio"))
    {
        argv.remove(0);
    }
    match argv.first().map(String::as_str) {
        None | Some("server") => server::serve(listeners, &ctx, &argv).await,
        Some(_) => {
            // `fortio load …` as the main process: it runs, logs its report, and exits.
            drop(listeners);
            let mut full = vec!["fortio".to_owned()];
            full.extend(argv);
            super::shell::run_logged(&ctx, &full).await
        }
    }
}

/// `fortio SUBCOMMAND …` run by `kubectl exec` (or a shell); returns the exit status.
pub(crate) async fn command(
    ctx: &PodContext,
    args: &[String],
    stdout: &Output,
    stderr: &Output,
    interrupt: &Interrupt,
) -> i32 {
    match args.first().map(String::as_str) {
        Some("load") => load::load(ctx, &args[1..], stdout, stderr, interrupt).await,
        Some("curl") => load::curl(ctx, &args[1..], stdout, stderr).await,
        Some("version") => {
            stdout.print(format!("{VERSION}\n")).await;
            0
        }
        Some("server") => {
            let addr = std::net::SocketAddr::new(ctx.ip, 8080);
            match TcpListener::bind(addr).await {
                Ok(listener) => {
                    let t = server::serve(vec![listener], ctx, &args[..1]).await;
                    t.exit_code
                }
                Err(e) => {
                    stderr
                        .print(format!(
                            "{}\n",
                            flags::log_line(
                                "fatal",
                                &format!("Unable to listen on {addr}: {e}"),
                                &[]
                            )
                        ))
                        .await;
                    1
                }
            }
        }
        Some("help" | "-h" | "--help") | None => {
            stderr.print(usage()).await;
            i32::from(args.is_empty())
        }
        Some(other) => {
            stderr
                .print(format!(
                    "{}Error: unknown command \"{other}\" (the reference mesh's fortio runs load, curl, server and version)\n",
                    usage()
                ))
                .await;
            1
        }
    }
}

fn usage() -> String {
    format!(
        "Φορτίο {VERSION} usage:\n\tfortio command [flags] target\nwhere command is one of: load (load testing), server (starts ui, rest api,\n http-echo, redirect, proxies, tcp-echo, udp-echo and grpc ping servers),\n curl (single URL debug), version (prints the full version information).\nwhere target is a url (http load tests) or host:port (grpc health test).\n"
    )
}
