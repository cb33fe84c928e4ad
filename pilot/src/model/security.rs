//! Typed specs of the security.istio.io resources pilot translates: PeerAuthentication (mutual
//! TLS on a workload's inbound side), AuthorizationPolicy and RequestAuthentication, and the
//! networking.istio.io EnvoyFilter shape the reference mesh supports (a local rate limit).
//!
//! Field names follow Istio's API (camelCase in YAML).

use std::collections::BTreeMap;

use serde::Deserialize;

/// A workload selector: `selector.matchLabels` (absent: every workload of the namespace).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadSelector {
    /// Labels a workload must carry.
    pub match_labels: BTreeMap<String, String>,
}

/// The mutual-TLS mode of a PeerAuthentication.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    /// Inherit from the parent policy (namespace, then mesh); PERMISSIVE when none.
    #[default]
    Unset,
    /// Accept both plaintext and mutual TLS.
    Permissive,
    /// Accept only mutual TLS.
    Strict,
    /// Accept only plaintext.
    Disable,
}

/// `mtls` of a PeerAuthentication or one of its `portLevelMtls` entries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PeerMtls {
    /// The mode.
    pub mode: MtlsMode,
}

/// A PeerAuthentication spec (security.istio.io v1 / v1beta1).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PeerAuthentication {
    /// Which workloads of the namespace it applies to (none: the whole namespace, or the whole
    /// mesh in the root namespace `istio-system`).
    pub selector: Option<WorkloadSelector>,
    /// The mode for every port.
    pub mtls: Option<PeerMtls>,
    /// Per-port modes, keyed by the workload's (container) port number.
    pub port_level_mtls: BTreeMap<String, PeerMtls>,
}
