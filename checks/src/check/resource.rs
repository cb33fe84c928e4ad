//! `resource` checks (being written).

use super::{Context, Finding};
use crate::course::ResourceCheck;

/// Evaluates a `resource` check.
pub async fn evaluate(_ctx: &Context, _check: &ResourceCheck) -> Finding {
    Finding::error("the resource check is not written yet")
}
