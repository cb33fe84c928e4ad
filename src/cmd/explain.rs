//! `meshwork explain`: recent requests, hop by hop, from the proxies' access logs — the route
//! rule each hop matched, the subset and upstream chosen, timing, status and Envoy's response
//! flags in words. The work is done by `meshwork_checks::explain` (which the TUI reuses); this
//! module reads the options, connects to the target and prints.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use meshwork_checks::TargetSpec;
use meshwork_checks::explain::{self, Query};

use super::{CmdResult, EXIT_FAILED, Global, runtime};

/// Examples shown after `explain --help`.
pub const HELP: &str = "\
Examples:
  meshwork explain                          the last 10 requests in the default namespace
  meshwork explain --path /productpage      only requests for /productpage
  meshwork explain --failed --since 10m     what went wrong in the last 10 minutes
  meshwork explain --id 4a3d6a0a            one request, by (the start of) its x-request-id
  meshwork explain -o json                  the same as JSON

Each request is a tree of hops joined by x-request-id: the ingress gateway, each sidecar's
outbound call and the next sidecar's inbound side. For each routed hop it names the
VirtualService rule that matched (read from the proxy's configuration), the subset and pod
chosen, and Envoy's response flags in words (UO: circuit breaker open, UT: upstream timeout,
DI/FI: fault injected, NR: no route, …).

Exit codes: 0 requests shown, 1 none found (the message says why), 2 the command could not run.";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A tree of hops per request
    Text,
    /// One JSON document
    Json,
}

/// Options of `meshwork explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Whose sidecars to read (default: the kubeconfig's namespace, `default` on the reference
    /// mesh); the gateways in istio-system are always read
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// How far back to look: 30s, 2m, 1h
    #[arg(long, default_value = "2m", value_parser = parse_since)]
    pub since: Duration,
    /// Show at most this many requests (the most recent)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Only the request with this x-request-id (or the start of it)
    #[arg(long, value_name = "REQUEST_ID")]
    pub id: Option<String>,
    /// Only requests whose path starts with this
    #[arg(long)]
    pub path: Option<String>,
    /// Only requests where a hop failed (no response, 5xx, or a failure flag)
    #[arg(long)]
    pub failed: bool,
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: Output,
}

fn parse_since(text: &str) -> Result<Duration, String> {
    explain::parse_since(text)
}

/// Runs `meshwork explain`.
pub fn run(global: &Global, args: &ExplainArgs) -> CmdResult {
    let spec = global.target()?;
    let query = Query {
        namespace: args.namespace.clone(),
        since: args.since,
        limit: usize::try_from(args.limit).unwrap_or(10),
        id: args.id.clone(),
        path: args.path.clone(),
        failed: args.failed,
    };
    let rt = runtime()?;
    let report = rt.block_on(async {
        if spec == TargetSpec::Reference {
            require_running_mesh().await?;
        }
        let target = super::connect_target(&spec, false).await;
        if let Err(e) = target.client() {
            anyhow::bail!("{e}");
        }
        explain::explain(target.as_ref(), &query)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    })?;
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            let text = serde_json::to_string_pretty(&report)
                .context("failed to write the report as JSON")?;
            writeln!(stdout, "{text}")?;
        }
        Output::Text => {
            if report.notice.is_some() {
                // Nothing to show: the reason goes where errors go.
                eprint!("{}", explain::text::render(&report));
            } else {
                write!(stdout, "{}", explain::text::render(&report))?;
            }
        }
    }
    Ok(if report.requests.is_empty() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Fails with what to do when the reference mesh does not run (there is nothing to explain).
async fn require_running_mesh() -> anyhow::Result<()> {
    let dir = super::mesh::state_dir()?;
    match meshwork_mesh::lifecycle::status(&dir).await? {
        meshwork_mesh::lifecycle::State::Running(_) => Ok(()),
        _ => anyhow::bail!(
            "the reference mesh is not running, so no request went through it; start it with \
             `meshwork mesh up`, install Istio (`meshwork istioctl install`) and send some \
             traffic first (or explain a live cluster's requests with --target cluster)"
        ),
    }
}
