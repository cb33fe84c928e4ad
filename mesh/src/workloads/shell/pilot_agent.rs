//! `pilot-agent` in an `istio-proxy` container: `pilot-agent request [--debug-port N] METHOD
//! PATH` sends a request to the pod's Envoy admin interface and prints the answer, as Istio's
//! agent does (`pilot-agent request GET stats`, `GET config_dump`, `GET clusters`,
//! `POST 'logging?level=debug'`). In the reference mesh the admin listens on a port of
//! 127.0.0.1 of its own, which the agent knows; `--debug-port` is accepted and ignored.

use super::programs::Proc;
use crate::envoy;

const USAGE: &str = "Usage:\n  pilot-agent request <method> <path> [flags]\n\n\
Makes an HTTP request to the Envoy admin API, e.g.\n  pilot-agent request GET stats\n  \
pilot-agent request GET config_dump\n  pilot-agent request POST 'logging?level=debug'\n";

/// Runs `pilot-agent ARGS`; returns the exit status.
pub(crate) async fn run(p: &Proc<'_>, args: &[String]) -> i32 {
    let ctx = p.ctx;
    let Some(proxy) =
        envoy::registered(&ctx.namespace, &ctx.pod).filter(|r| r.container == ctx.container)
    else {
        let text = format!(
            "pilot-agent: no Envoy runs in container {:?} of pod {}: pilot-agent is in the \
             istio-proxy container (kubectl exec {} -c istio-proxy -- pilot-agent …)\n",
            ctx.container, ctx.pod, ctx.pod
        );
        p.io.stderr.print(text).await;
        return 127;
    };
    let mut words = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--debug-port" => {
                iter.next();
            }
            a if a.starts_with("--debug-port=") => {}
            "-h" | "--help" => {
                p.io.stdout.print(USAGE).await;
                return 0;
            }
            _ => words.push(arg.as_str()),
        }
    }
    let (method, path) = match words.as_slice() {
        ["request", method, path, ..] => (*method, *path),
        ["request", ..] => {
            p.io.stderr
                .print(format!("Error: requires at least 2 arg(s)\n{USAGE}"))
                .await;
            return 1;
        }
        [other, ..] => {
            p.io.stderr
                .print(format!(
                    "Error: unknown command {other:?} for \"pilot-agent\" (the reference mesh's \
                     agent offers `request`)\n"
                ))
                .await;
            return 1;
        }
        [] => {
            p.io.stdout.print(USAGE).await;
            return 0;
        }
    };
    let Ok(method) = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        p.io.stderr
            .print(format!("Error: invalid method {method:?}\n"))
            .await;
        return 1;
    };
    match envoy::admin_request(proxy.admin, method, path).await {
        Ok(response) if (200..300).contains(&response.status) => {
            p.io.stdout.write(response.body).await;
            0
        }
        Ok(response) => {
            p.io.stderr
                .print(format!(
                    "Error: received unsuccessful status code {}: {}\n",
                    response.status,
                    response.text().trim_end()
                ))
                .await;
            1
        }
        Err(e) => {
            p.io.stderr.print(format!("Error: {e}\n")).await;
            1
        }
    }
}
