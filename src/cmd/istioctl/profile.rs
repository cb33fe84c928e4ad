//! Installation profiles and `--set` options: which of `manifests/istio/` a profile installs, in
//! which components, and what each `--set KEY=VALUE` means.

use std::fmt;

/// Where the install manifests live in the course content.
pub const DIR: &str = "manifests/istio";

/// One part of Istio that `install` reports as it goes (`✔ Istiod installed 🧠`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// The name istioctl gives it (`Ingress gateways`).
    pub name: &'static str,
    /// The mark istioctl prints after `installed`.
    pub emoji: &'static str,
    /// The manifest files (under [`DIR`]) that make it, applied in this order.
    pub files: &'static [&'static str],
    /// The Deployments (namespace, name) that must be available before it counts as installed.
    pub deployments: &'static [(&'static str, &'static str)],
    /// Components of the same stage are installed side by side; stages one after the other.
    pub stage: u8,
}

/// CRDs, the namespace, the mesh config and the injector webhook.
pub const CORE: Component = Component {
    name: "Istio core",
    emoji: "⛵️",
    files: &[
        "crds-networking.yaml",
        "crds-security-telemetry.yaml",
        "base.yaml",
    ],
    deployments: &[],
    stage: 0,
};
/// The control plane.
pub const ISTIOD: Component = Component {
    name: "Istiod",
    emoji: "🧠",
    files: &["istiod.yaml"],
    deployments: &[("istio-system", "istiod")],
    stage: 1,
};
/// The ingress gateway.
pub const INGRESS: Component = Component {
    name: "Ingress gateways",
    emoji: "🛬",
    files: &["ingressgateway.yaml"],
    deployments: &[("istio-system", "istio-ingressgateway")],
    stage: 2,
};
/// The egress gateway.
pub const EGRESS: Component = Component {
    name: "Egress gateways",
    emoji: "🛫",
    files: &["egressgateway.yaml"],
    deployments: &[("istio-system", "istio-egressgateway")],
    stage: 2,
};

/// Every component, in install order (uninstall goes backwards).
pub const ALL: &[Component] = &[CORE, ISTIOD, INGRESS, EGRESS];

/// An installation profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Its name (`demo`).
    pub name: &'static str,
    /// What it installs, in order.
    pub components: &'static [Component],
}

/// The profiles the reference mesh offers, the default first.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "default",
        components: &[CORE, ISTIOD, INGRESS],
    },
    Profile {
        name: "demo",
        components: &[CORE, ISTIOD, INGRESS, EGRESS],
    },
    Profile {
        name: "minimal",
        components: &[CORE, ISTIOD],
    },
];

/// Istio's profiles that have no meaning on the reference mesh.
const ELSEWHERE: &[&str] = &["ambient", "empty", "preview", "remote", "openshift"];

impl Profile {
    /// The component names as istioctl lists them: `Istio core, Istiod, and Ingress gateways`.
    pub fn component_list(&self) -> String {
        let names: Vec<&str> = self.components.iter().map(|c| c.name).collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
        }
    }
}

/// A `--set` option that cannot be used; the message says what would work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError(pub String);

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetError {}

fn profile_names() -> String {
    PROFILES
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the `--set` options ask for: a profile and mesh-config values.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The profile (the last `profile=` wins, as in istioctl).
    pub profile: Profile,
    /// `meshConfig.*` values, in order: the path below `meshConfig` and the value.
    pub mesh_config: Vec<(Vec<String>, serde_yaml::Value)>,
}

/// Reads the `--set KEY=VALUE` options: `profile=NAME` and `meshConfig.PATH=VALUE` (values read
/// as istioctl reads them: `true`/`false`, numbers, else strings).
pub fn settings(sets: &[String]) -> Result<Settings, SetError> {
    let mut chosen = PROFILES[0];
    let mut mesh_config = Vec::new();
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            return Err(SetError(format!(
                "--set {set}: expected KEY=VALUE, e.g. --set profile=demo"
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        if let Some(path) = key.strip_prefix("meshConfig.") {
            let path: Vec<String> = path.split('.').map(str::to_owned).collect();
            if path.iter().any(String::is_empty) {
                return Err(SetError(format!(
                    "--set {set}: `{key}` is not a field path; write it as in the mesh config, \
                     e.g. meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY"
                )));
            }
            mesh_config.push((path, scalar(value)));
            continue;
        }
        match key {
            "profile" => {
                chosen = match PROFILES.iter().find(|p| p.name == value) {
                    Some(p) => *p,
                    None if ELSEWHERE.contains(&value) => {
                        return Err(SetError(format!(
                            "--set profile={value}: the {value:?} profile is not available on the \
                             reference mesh; the profiles are: {}",
                            profile_names()
                        )));
                    }
                    None => {
                        return Err(SetError(format!(
                            "--set profile={value}: unknown profile {value:?}; the profiles are: {}",
                            profile_names()
                        )));
                    }
                };
            }
            other => {
                return Err(SetError(format!(
                    "--set {set}: `{other}` cannot be set on the reference mesh; only `profile` \
                     ({}) and `meshConfig.*` can. Change the mesh config later with `kubectl edit \
                     configmap istio -n istio-system`",
                    profile_names()
                )));
            }
        }
    }
    Ok(Settings {
        profile: chosen,
        mesh_config,
    })
}

/// A `--set` value as istioctl reads it.
fn scalar(value: &str) -> serde_yaml::Value {
    match value {
        "true" => serde_yaml::Value::Bool(true),
        "false" => serde_yaml::Value::Bool(false),
        _ => match value.parse::<i64>() {
            Ok(n) => serde_yaml::Value::Number(n.into()),
            Err(_) => serde_yaml::Value::String(value.to_owned()),
        },
    }
}

/// The name of the ConfigMap holding the mesh config, and its key.
pub const MESH_CONFIG_MAP: (&str, &str, &str) = ("istio-system", "istio", "mesh");

/// Applies `meshConfig.*` values to the install's objects: the `mesh` key of the `istio`
/// ConfigMap (YAML text) gets each value at its path.
pub fn apply_mesh_config(
    objects: &mut [serde_json::Value],
    values: &[(Vec<String>, serde_yaml::Value)],
) -> Result<(), SetError> {
    if values.is_empty() {
        return Ok(());
    }
    let (namespace, name, key) = MESH_CONFIG_MAP;
    let Some(map) = objects.iter_mut().find(|o| {
        o["kind"] == "ConfigMap"
            && o["metadata"]["name"] == name
            && o["metadata"]["namespace"] == namespace
    }) else {
        return Err(SetError(format!(
            "--set meshConfig.*: the install has no ConfigMap {namespace}/{name} to write it to"
        )));
    };
    let text = map["data"][key].as_str().unwrap_or_default();
    let mut mesh: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        SetError(format!(
            "the mesh config in ConfigMap {namespace}/{name} is not YAML: {e}"
        ))
    })?;
    if mesh.is_null() {
        mesh = serde_yaml::Value::Mapping(Default::default());
    }
    for (path, value) in values {
        let mut node = &mut mesh;
        for (i, part) in path.iter().enumerate() {
            let serde_yaml::Value::Mapping(m) = node else {
                return Err(SetError(format!(
                    "--set meshConfig.{}: meshConfig.{} is a value, not a section",
                    path.join("."),
                    path[..i].join(".")
                )));
            };
            let slot = serde_yaml::Value::String(part.clone());
            if i + 1 == path.len() {
                m.insert(slot, value.clone());
                break;
            }
            node = m
                .entry(slot)
                .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
        }
    }
    let text = serde_yaml::to_string(&mesh)
        .map_err(|e| SetError(format!("the mesh config cannot be written: {e}")))?;
    map["data"][key] = serde_json::Value::String(text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The profile the `--set` options choose.
    fn choose(sets: &[String]) -> Result<Profile, SetError> {
        settings(sets).map(|s| s.profile)
    }

    #[test]
    fn the_default_profile_installs_one_gateway_and_demo_both() {
        assert_eq!(choose(&[]).unwrap().name, "default");
        let demo = choose(&sets(&["profile=demo"])).unwrap();
        assert_eq!(
            demo.component_list(),
            "Istio core, Istiod, Ingress gateways, and Egress gateways"
        );
        assert_eq!(
            choose(&sets(&["profile=demo", "profile=minimal"]))
                .unwrap()
                .component_list(),
            "Istio core, and Istiod"
        );
    }

    #[test]
    fn unknown_profiles_and_keys_say_what_exists() {
        let err = choose(&sets(&["profile=nope"])).unwrap_err().0;
        assert!(err.contains("unknown profile \"nope\""), "{err}");
        assert!(err.contains("default, demo, minimal"), "{err}");
        let err = choose(&sets(&["profile=ambient"])).unwrap_err().0;
        assert!(err.contains("not available on the reference mesh"), "{err}");
        let err = choose(&sets(&["values.global.proxy.image=x"]))
            .unwrap_err()
            .0;
        assert!(
            err.contains("`values.global.proxy.image` cannot be set"),
            "{err}"
        );
        let err = choose(&sets(&["meshConfig..mode=x"])).unwrap_err().0;
        assert!(err.contains("not a field path"), "{err}");
        let err = choose(&sets(&["demo"])).unwrap_err().0;
        assert!(err.contains("expected KEY=VALUE"), "{err}");
    }

    #[test]
    fn mesh_config_values_land_in_the_istio_config_map() {
        let settings = settings(&sets(&[
            "profile=demo",
            "meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY",
            "meshConfig.enableTracing=false",
            "meshConfig.defaultConfig.concurrency=2",
        ]))
        .unwrap();
        assert_eq!(settings.profile.name, "demo");
        let mut objects = vec![serde_json::json!({
            "kind": "ConfigMap",
            "metadata": {"name": "istio", "namespace": "istio-system"},
            "data": {"mesh": "accessLogFile: /dev/stdout\ndefaultConfig:\n  discoveryAddress: x\n"}
        })];
        apply_mesh_config(&mut objects, &settings.mesh_config).unwrap();
        let mesh: serde_yaml::Value =
            serde_yaml::from_str(objects[0]["data"]["mesh"].as_str().unwrap()).unwrap();
        assert_eq!(mesh["outboundTrafficPolicy"]["mode"], "REGISTRY_ONLY");
        assert_eq!(mesh["enableTracing"], false);
        assert_eq!(mesh["defaultConfig"]["concurrency"], 2);
        assert_eq!(mesh["defaultConfig"]["discoveryAddress"], "x");
        assert_eq!(mesh["accessLogFile"], "/dev/stdout");
        let err = apply_mesh_config(
            &mut objects,
            &settings_of(&["meshConfig.accessLogFile.x=1"]),
        )
        .unwrap_err();
        assert!(err.0.contains("is a value, not a section"), "{err}");
    }

    fn settings_of(s: &[&str]) -> Vec<(Vec<String>, serde_yaml::Value)> {
        settings(&sets(s)).unwrap().mesh_config
    }

    #[test]
    fn every_file_of_the_install_belongs_to_a_component_and_exists() {
        let content = crate::content::embedded();
        let mut files: Vec<String> = content
            .paths_under(DIR)
            .filter(|p| p.ends_with(".yaml"))
            .map(str::to_owned)
            .collect();
        files.sort();
        let mut used: Vec<String> = ALL
            .iter()
            .flat_map(|c| c.files.iter().map(|f| format!("{DIR}/{f}")))
            .collect();
        used.sort();
        assert_eq!(files, used);
    }

    #[test]
    fn the_manifests_run_the_release_this_meshwork_reports() {
        let content = crate::content::embedded();
        let version = meshwork_mesh::workloads::istiod::VERSION;
        let mut images = 0;
        for c in ALL {
            for f in c.files {
                let path = format!("{DIR}/{f}");
                let objects = meshwork_checks::manifest::objects(&content, &path).unwrap();
                for o in objects {
                    let containers = o
                        .pointer("/spec/template/spec/containers")
                        .and_then(|c| c.as_array())
                        .cloned()
                        .unwrap_or_default();
                    for c in containers {
                        let image = c["image"].as_str().unwrap();
                        assert!(image.ends_with(&format!(":{version}")), "{path}: {image}");
                        images += 1;
                    }
                }
            }
        }
        assert_eq!(images, 3);
    }
}
