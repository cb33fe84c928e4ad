//! Typed specs of the request-level policies pilot translates: AuthorizationPolicy,
//! RequestAuthentication (security.istio.io) and the EnvoyFilter shape the reference mesh supports.
//!
//! Field names follow Istio's API (camelCase in YAML).

use serde::Deserialize;

use super::security::WorkloadSelector;

/// An AuthorizationPolicy spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationPolicy {
    /// Which workloads it applies to (none: the namespace, or the mesh in `istio-system`).
    pub selector: Option<WorkloadSelector>,
    /// ALLOW (default), DENY, AUDIT or CUSTOM.
    pub action: Option<String>,
    /// The rules (kept as JSON until the policy translation reads them).
    pub rules: Vec<serde_json::Value>,
}

/// A RequestAuthentication spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestAuthentication {
    /// Which workloads it applies to.
    pub selector: Option<WorkloadSelector>,
    /// The JWT rules (kept as JSON until the policy translation reads them).
    pub jwt_rules: Vec<serde_json::Value>,
}

/// An EnvoyFilter spec (networking.istio.io); only its shape is kept here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyFilter {
    /// Which workloads it applies to.
    pub workload_selector: Option<WorkloadSelector>,
    /// The patches (kept as JSON until the policy translation reads them).
    pub config_patches: Vec<serde_json::Value>,
}
