//! `command` checks (being written).

use super::Finding;
use crate::course::CommandCheck;

/// Evaluates a `command` check.
pub async fn evaluate(_check: &CommandCheck) -> Finding {
    Finding::error("the command check is not written yet")
}
