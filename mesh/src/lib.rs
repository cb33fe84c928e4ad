//! meshwork's reference mesh: a local, Kubernetes-compatible control plane that the real
//! `kubectl` and the kube crate talk to.
//!
//! Modules:
//! - [`store`]: objects as JSON with resourceVersions, watch fan-out and durable snapshots.
//! - [`patch`]: JSON merge patch, JSON patch and strategic merge patch.
//! - [`meta`]: metadata helpers (uids, timestamps, ages, labels).

pub mod meta;
pub mod patch;
pub mod store;
