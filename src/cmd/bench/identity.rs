//! `meshwork bench --mesh`: citadel-lite's figures — workload certificates issued and pushed over
//! SDS to 100 workloads (real gRPC ADS streams to pilot-lite's server on loopback, each asking for
//! `default` and `ROOTCA` as a sidecar does), and all 100 re-issued and pushed again after a CA
//! change, which is what rotating every certificate at once costs. Target: under 1 s each.

use std::io::Write;
use std::time::Duration;

use meshwork_pilot::server::bench::sds_figures;

use super::{ms, write_row};

/// How many workloads the figures are for.
const WORKLOADS: usize = 100;

/// Measures `runs` times (1 to 5) and writes the two rows.
pub fn run(out: &mut impl Write, runs: u32, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let mut first: Vec<Duration> = Vec::new();
    let mut again: Vec<Duration> = Vec::new();
    for _ in 0..runs.clamp(1, 5) {
        let figures = rt
            .block_on(sds_figures(WORKLOADS))
            .map_err(|e| anyhow::anyhow!("the certificate figures failed: {e}"))?;
        first.push(figures.first_issue);
        again.push(figures.reissue);
    }
    write_row(out, "certs: issue+push 100 (SDS)", first, ms, "< 1 s")?;
    write_row(out, "certs: re-issue+push all 100", again, ms, "< 1 s")?;
    Ok(())
}
