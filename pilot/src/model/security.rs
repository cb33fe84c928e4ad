//! Typed specs of the security.istio.io resources pilot translates: PeerAuthentication (mutual
//! TLS on a workload's inbound side), AuthorizationPolicy and RequestAuthentication, and the
//! networking.istio.io EnvoyFilter shape the reference mesh supports (a local rate limit).
//!
//! Field names follow Istio's API (camelCase in YAML).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Config;

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

impl PeerAuthentication {
    /// The selector's labels, when it selects workloads (an empty `matchLabels` selects the
    /// whole namespace, as Istio reads it).
    pub fn workload_labels(&self) -> Option<&BTreeMap<String, String>> {
        self.selector
            .as_ref()
            .map(|s| &s.match_labels)
            .filter(|labels| !labels.is_empty())
    }

    /// The mode of `mtls` (UNSET when absent).
    pub fn mode(&self) -> MtlsMode {
        self.mtls.as_ref().map_or(MtlsMode::Unset, |m| m.mode)
    }

    /// The `portLevelMtls` mode for `port`, if one is given (UNSET entries count as none).
    pub fn port_mode(&self, port: u16) -> Option<MtlsMode> {
        self.port_level_mtls
            .iter()
            .find(|(key, _)| key.trim().parse::<u16>().ok() == Some(port))
            .map(|(_, m)| m.mode)
            .filter(|m| *m != MtlsMode::Unset)
    }
}

/// The PeerAuthentications that apply to one workload, at each of Istio's three levels.
#[derive(Debug, Clone, Copy, Default)]
pub struct PeerAuthenticationLevels<'a> {
    /// The mesh-wide policy: the root namespace's policy without a selector.
    pub mesh: Option<&'a Config<PeerAuthentication>>,
    /// The namespace-wide policy: the workload's namespace's policy without a selector.
    pub namespace: Option<&'a Config<PeerAuthentication>>,
    /// The workload policy: a policy of the workload's namespace whose selector matches it.
    pub workload: Option<&'a Config<PeerAuthentication>>,
}

impl<'a> PeerAuthenticationLevels<'a> {
    /// Finds the policies for a workload in `namespace` with `labels`; `root` is the mesh's root
    /// namespace (`istio-system`). Where several qualify at one level, the first wins (Istio
    /// takes the oldest).
    pub fn of(
        policies: &'a [Config<PeerAuthentication>],
        root: &str,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Self {
        let wide = |ns: &str| {
            policies
                .iter()
                .find(|p| p.namespace == ns && p.spec.workload_labels().is_none())
        };
        PeerAuthenticationLevels {
            mesh: wide(root),
            namespace: if namespace == root {
                None
            } else {
                wide(namespace)
            },
            workload: policies.iter().find(|p| {
                p.namespace == namespace
                    && p.spec
                        .workload_labels()
                        .is_some_and(|sel| super::labels_match(sel, labels))
            }),
        }
    }

    /// The mode in force on the workload's (container) port `port`, with Istio's precedence:
    /// the workload policy's `portLevelMtls`, then its `mtls`, then the namespace's, then the
    /// mesh's; UNSET inherits from the level above, and PERMISSIVE is the default. Port-level
    /// settings count only in workload policies (Istio ignores them elsewhere). Never UNSET.
    pub fn mode(&self, port: u16) -> MtlsMode {
        let mut mode = MtlsMode::Unset;
        for level in [self.mesh, self.namespace, self.workload]
            .into_iter()
            .flatten()
        {
            if level.spec.mode() != MtlsMode::Unset {
                mode = level.spec.mode();
            }
        }
        if let Some(port_mode) = self.workload.and_then(|w| w.spec.port_mode(port)) {
            mode = port_mode;
        }
        if mode == MtlsMode::Unset {
            MtlsMode::Permissive
        } else {
            mode
        }
    }
}

impl MtlsMode {
    /// Istio's spelling: `STRICT`, `PERMISSIVE`, `DISABLE`, `UNSET`.
    pub fn as_str(self) -> &'static str {
        match self {
            MtlsMode::Unset => "UNSET",
            MtlsMode::Permissive => "PERMISSIVE",
            MtlsMode::Strict => "STRICT",
            MtlsMode::Disable => "DISABLE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(ns: &str, name: &str, spec: serde_json::Value) -> Config<PeerAuthentication> {
        Config {
            namespace: ns.into(),
            name: name.into(),
            spec: serde_json::from_value(spec).unwrap(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn mode(policies: &[Config<PeerAuthentication>], ns: &str, app: &str, port: u16) -> MtlsMode {
        PeerAuthenticationLevels::of(policies, "istio-system", ns, &labels(&[("app", app)]))
            .mode(port)
    }

    #[test]
    fn without_policies_workloads_are_permissive() {
        assert_eq!(mode(&[], "foo", "httpbin", 8080), MtlsMode::Permissive);
    }

    #[test]
    fn workload_beats_namespace_beats_mesh() {
        let mesh = policy(
            "istio-system",
            "default",
            json!({"mtls": {"mode": "STRICT"}}),
        );
        let ns = policy("foo", "default", json!({"mtls": {"mode": "PERMISSIVE"}}));
        let workload = policy(
            "foo",
            "httpbin",
            json!({"selector": {"matchLabels": {"app": "httpbin"}}, "mtls": {"mode": "DISABLE"}}),
        );
        let all = [mesh.clone(), ns.clone(), workload];
        assert_eq!(mode(&all, "foo", "httpbin", 8080), MtlsMode::Disable);
        assert_eq!(mode(&all, "foo", "curl", 80), MtlsMode::Permissive);
        assert_eq!(mode(&all, "bar", "httpbin", 8080), MtlsMode::Strict);
        assert_eq!(
            mode(&[mesh, ns], "foo", "httpbin", 8080),
            MtlsMode::Permissive
        );
    }

    #[test]
    fn unset_inherits_from_the_level_above() {
        let ns = policy("foo", "default", json!({"mtls": {"mode": "STRICT"}}));
        let workload = policy(
            "foo",
            "httpbin",
            json!({"selector": {"matchLabels": {"app": "httpbin"}}, "mtls": {"mode": "UNSET"}}),
        );
        let no_mtls = policy(
            "foo",
            "curl",
            json!({"selector": {"matchLabels": {"app": "curl"}}}),
        );
        let all = [ns, workload, no_mtls];
        assert_eq!(mode(&all, "foo", "httpbin", 8080), MtlsMode::Strict);
        assert_eq!(mode(&all, "foo", "curl", 80), MtlsMode::Strict);
    }

    #[test]
    fn port_level_mtls_overrides_the_workload_mode_for_its_port_only() {
        let workload = policy(
            "foo",
            "httpbin",
            json!({"selector": {"matchLabels": {"app": "httpbin"}},
                   "mtls": {"mode": "STRICT"},
                   "portLevelMtls": {"8080": {"mode": "DISABLE"}, "9000": {"mode": "UNSET"}}}),
        );
        let all = [workload];
        assert_eq!(mode(&all, "foo", "httpbin", 8080), MtlsMode::Disable);
        assert_eq!(mode(&all, "foo", "httpbin", 9000), MtlsMode::Strict);
        assert_eq!(mode(&all, "foo", "httpbin", 9001), MtlsMode::Strict);
    }

    #[test]
    fn port_level_mtls_counts_only_in_workload_policies() {
        let ns = policy(
            "foo",
            "default",
            json!({"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8080": {"mode": "DISABLE"}}}),
        );
        assert_eq!(mode(&[ns], "foo", "httpbin", 8080), MtlsMode::Strict);
    }

    #[test]
    fn an_empty_selector_is_namespace_wide_and_root_workload_policies_stay_in_the_root() {
        let empty = policy(
            "foo",
            "default",
            json!({"selector": {"matchLabels": {}}, "mtls": {"mode": "STRICT"}}),
        );
        assert_eq!(mode(&[empty], "foo", "anything", 80), MtlsMode::Strict);
        let root_workload = policy(
            "istio-system",
            "gw",
            json!({"selector": {"matchLabels": {"app": "httpbin"}}, "mtls": {"mode": "STRICT"}}),
        );
        assert_eq!(
            mode(&[root_workload], "foo", "httpbin", 8080),
            MtlsMode::Permissive
        );
    }

    #[test]
    fn modes_parse_in_istios_spelling_and_unknown_ones_are_errors() {
        let ok: PeerAuthentication =
            serde_json::from_value(json!({"mtls": {"mode": "STRICT"}})).unwrap();
        assert_eq!(ok.mode(), MtlsMode::Strict);
        assert!(
            serde_json::from_value::<PeerAuthentication>(json!({"mtls": {"mode": "strict"}}))
                .is_err()
        );
    }
}
