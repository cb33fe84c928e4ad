//! A quick look at a target (being written).

use super::{Target, TargetStatus};

/// Connects to the target's API and summarises what answered; never fails, never hangs
/// for more than a few seconds.
pub async fn probe(target: &dyn Target) -> TargetStatus {
    match target.client() {
        Err(e) => TargetStatus::Unconfigured(e.to_string()),
        Ok(_) => TargetStatus::Unreachable("probe not written yet".into()),
    }
}
