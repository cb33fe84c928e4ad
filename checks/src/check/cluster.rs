//! `cluster` checks (being written).

use super::{Context, Finding};
use crate::course::ClusterCheck;

/// Evaluates a `cluster` check.
pub async fn evaluate(_ctx: &Context, _check: &ClusterCheck) -> Finding {
    Finding::error("the cluster check is not written yet")
}
