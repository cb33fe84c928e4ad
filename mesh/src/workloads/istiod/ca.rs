//! istiod's CA (citadel-lite, crate `meshwork-pilot`'s `ca`), as Istio's istiod finds it:
//!
//! - the `cacerts` Secret in istiod's namespace (a plugged-in CA: `ca-cert.pem`, `ca-key.pem`,
//!   `root-cert.pem`, `cert-chain.pem`) if there is one;
//! - else the `istio-ca-secret` Secret (the self-signed root), created on first start; the
//!   store is persisted in the state dir, so the root survives `meshwork mesh down`/`up`.
//!
//! Workload certificates live `DEFAULT_WORKLOAD_CERT_TTL` (istiod's env, Go duration syntax,
//! 24 h when unset). The root is published as ConfigMap `istio-ca-root-cert` (key
//! `root-cert.pem`) in every namespace, kept there as namespaces come and the map is changed or
//! deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use meshwork_pilot::ca::{self, Ca, PluggedFiles};
use serde_json::{Value, json};

use crate::store::{EventType, ResourceKey, Store, StoreError};

/// The Secret of a plugged-in CA.
pub const PLUGGED_SECRET: &str = "cacerts";
/// The Secret istiod keeps its self-signed root in.
pub const SELF_SIGNED_SECRET: &str = "istio-ca-secret";
/// The ConfigMap carrying the root in every namespace.
pub const ROOT_CONFIG_MAP: &str = "istio-ca-root-cert";
/// Its key.
pub const ROOT_CONFIG_MAP_KEY: &str = "root-cert.pem";
/// istiod's env variable for the workload certificate lifetime.
pub const TTL_ENV: &str = "DEFAULT_WORKLOAD_CERT_TTL";
/// Namespaces Istio does not publish the root to.
const SKIPPED_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

fn secrets() -> ResourceKey {
    ResourceKey::new("", "v1", "secrets")
}

fn config_maps() -> ResourceKey {
    ResourceKey::new("", "v1", "configmaps")
}

fn namespaces() -> ResourceKey {
    ResourceKey::new("", "v1", "namespaces")
}

/// The CA istiod signs with and where it came from, for its log.
pub struct Loaded {
    /// The CA.
    pub ca: Arc<Ca>,
    /// What to log about it (`info` lines).
    pub notes: Vec<String>,
    /// Problems to log as errors (a broken `cacerts` that was passed over).
    pub errors: Vec<String>,
}

/// A Secret's `data` (base64) or `stringData` entry as text; empty when absent.
fn secret_entry(secret: &Value, key: &str) -> String {
    if let Some(text) = secret
        .pointer(&format!("/stringData/{}", key.replace('/', "~1")))
        .and_then(Value::as_str)
    {
        return text.to_owned();
    }
    secret
        .get("data")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// Loads istiod's CA from `namespace`'s Secrets, creating the self-signed root if there is none.
pub fn load_or_create(store: &Store, namespace: &str, now: SystemTime) -> Result<Loaded, String> {
    let mut errors = Vec::new();
    if let Ok(secret) = store.get(&secrets(), Some(namespace), PLUGGED_SECRET) {
        let files = PluggedFiles {
            ca_cert: secret_entry(&secret, "ca-cert.pem"),
            ca_key: secret_entry(&secret, "ca-key.pem"),
            root_cert: secret_entry(&secret, "root-cert.pem"),
            cert_chain: secret_entry(&secret, "cert-chain.pem"),
        };
        match Ca::plugged(&files) {
            Ok(ca) => {
                return Ok(Loaded {
                    ca: Arc::new(ca),
                    notes: vec![format!(
                        "Use plugged-in cert at the secret {namespace}/{PLUGGED_SECRET}"
                    )],
                    errors,
                });
            }
            Err(e) => errors.push(format!(
                "the plugged-in CA in Secret {namespace}/{PLUGGED_SECRET} cannot be used ({e}); \
                 signing with the self-signed root instead. Fix the Secret and restart istiod \
                 (kubectl rollout restart deployment/istiod -n {namespace})"
            )),
        }
    }
    if let Ok(secret) = store.get(&secrets(), Some(namespace), SELF_SIGNED_SECRET) {
        let cert = secret_entry(&secret, "ca-cert.pem");
        let key = secret_entry(&secret, "ca-key.pem");
        match Ca::self_signed(&cert, &key) {
            Ok(ca) => {
                return Ok(Loaded {
                    ca: Arc::new(ca),
                    notes: vec![format!(
                        "Load signing key and cert from existing secret {namespace}/{SELF_SIGNED_SECRET}"
                    )],
                    errors,
                });
            }
            Err(e) => {
                return Err(format!(
                    "the self-signed root in Secret {namespace}/{SELF_SIGNED_SECRET} cannot be \
                     used ({e}): delete it (kubectl delete secret {SELF_SIGNED_SECRET} -n \
                     {namespace}) and restart istiod to make a new root"
                ));
            }
        }
    }
    let ca = Ca::generate(now).map_err(|e| format!("could not make the mesh's root: {e}"))?;
    let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SELF_SIGNED_SECRET, "namespace": namespace},
        "type": "istio.io/ca-root",
        "data": {
            "ca-cert.pem": encode(ca.cert_pem()),
            "ca-key.pem": encode(ca.key_pem()),
            "cert-chain.pem": "",
            "key.pem": "",
            "root-cert.pem": "",
        },
    });
    match store.create(&secrets(), secret) {
        Ok(_) => {}
        // Another istiod got there first: use its root.
        Err(StoreError::AlreadyExists { .. }) => return load_or_create(store, namespace, now),
        Err(e) => {
            errors.push(format!(
                "could not store the new root in Secret {namespace}/{SELF_SIGNED_SECRET} ({e}): \
                 workloads will need new certificates when istiod restarts"
            ));
        }
    }
    Ok(Loaded {
        ca: Arc::new(ca),
        notes: vec![format!(
            "Generated a self-signed root and stored it in secret {namespace}/{SELF_SIGNED_SECRET}"
        )],
        errors,
    })
}

/// The workload certificate lifetime from istiod's env, and a warning when the value was not
/// usable or was raised to the minimum.
pub fn ttl(env: &[(String, String)]) -> (Duration, Option<String>) {
    let Some((_, text)) = env.iter().rev().find(|(k, _)| k == TTL_ENV) else {
        return (ca::DEFAULT_CERT_TTL, None);
    };
    match ca::parse_duration(text) {
        Some(d) if d == ca::clamp_ttl(d) => (d, None),
        Some(d) => {
            let used = ca::clamp_ttl(d);
            (
                used,
                Some(format!(
                    "{TTL_ENV}={text} is outside {}s..{}s: certificates live {}s",
                    ca::MIN_CERT_TTL.as_secs(),
                    ca::MAX_CERT_TTL.as_secs(),
                    used.as_secs()
                )),
            )
        }
        None => (
            ca::DEFAULT_CERT_TTL,
            Some(format!(
                "{TTL_ENV}={text:?} is not a duration (write e.g. 30s, 12h): certificates live 24h"
            )),
        ),
    }
}

/// The `istio-ca-root-cert` ConfigMap of `namespace` carrying `root_pem`.
fn root_config_map(namespace: &str, root_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": ROOT_CONFIG_MAP,
            "namespace": namespace,
            "labels": {"istio.io/config": "true"},
        },
        "data": {ROOT_CONFIG_MAP_KEY: root_pem},
    })
}

/// Makes `namespace`'s `istio-ca-root-cert` carry `root_pem`; the error names what failed.
fn ensure_root(store: &Store, namespace: &str, root_pem: &str) -> Result<(), String> {
    let wanted = root_config_map(namespace, root_pem);
    let result = match store.get(&config_maps(), Some(namespace), ROOT_CONFIG_MAP) {
        Ok(existing) => {
            if existing.pointer(&format!("/data/{ROOT_CONFIG_MAP_KEY}")) == Some(&json!(root_pem)) {
                return Ok(());
            }
            let mut updated = (*existing).clone();
            updated["data"] = wanted["data"].clone();
            if let Some(meta) = updated["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
            store.update(&config_maps(), updated).map(|_| ())
        }
        Err(_) => match store.create(&config_maps(), wanted) {
            Err(StoreError::AlreadyExists { .. }) => Ok(()),
            other => other.map(|_| ()),
        },
    };
    result.map_err(|e| format!("could not publish {namespace}/{ROOT_CONFIG_MAP}: {e}"))
}

/// Whether the root goes into this namespace object (not a system one, not being deleted).
fn publishes_to(namespace: &Value) -> Option<&str> {
    let name = namespace.pointer("/metadata/name")?.as_str()?;
    let deleting = namespace.pointer("/metadata/deletionTimestamp").is_some()
        || namespace.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating");
    (!deleting && !SKIPPED_NAMESPACES.contains(&name)).then_some(name)
}

/// Publishes the root to every namespace now; returns the errors (to log).
pub fn publish_all(store: &Store, root_pem: &str) -> Vec<String> {
    let (all, _) = store.list(&namespaces(), None);
    all.iter()
        .filter_map(|ns| publishes_to(ns))
        .filter_map(|ns| ensure_root(store, ns, root_pem).err())
        .collect()
}

/// Keeps `istio-ca-root-cert` in every namespace until the store closes, logging failures
/// through `log`.
pub async fn keep_root_published(store: Store, root_pem: String, log: impl Fn(&str)) {
    let mut last_errors: BTreeMap<String, ()> = BTreeMap::new();
    let mut report = |errors: Vec<String>| {
        for e in &errors {
            if !last_errors.contains_key(e) {
                log(e);
            }
        }
        last_errors = errors.into_iter().map(|e| (e, ())).collect();
    };
    loop {
        let (mut changes, _) = store.watch_all();
        report(publish_all(&store, &root_pem));
        loop {
            match changes.next().await {
                None => return,
                Some(Err(_)) => break,
                Some(Ok(event)) => {
                    let resource = &event.resource;
                    if resource.group.is_empty() && resource.resource == "namespaces" {
                        if event.kind != EventType::Deleted
                            && let Some(ns) = publishes_to(&event.object)
                        {
                            report(
                                ensure_root(&store, ns, &root_pem)
                                    .err()
                                    .into_iter()
                                    .collect(),
                            );
                        }
                    } else if resource.group.is_empty()
                        && resource.resource == "configmaps"
                        && event
                            .object
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            == Some(ROOT_CONFIG_MAP)
                    {
                        let ns = event
                            .object
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let live = store
                            .get(&namespaces(), None, ns)
                            .ok()
                            .is_some_and(|n| publishes_to(&n).is_some());
                        if live {
                            report(
                                ensure_root(&store, ns, &root_pem)
                                    .err()
                                    .into_iter()
                                    .collect(),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace(store: &Store, name: &str) {
        store
            .create(
                &namespaces(),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            )
            .unwrap();
    }

    fn root_in(store: &Store, ns: &str) -> Option<String> {
        store
            .get(&config_maps(), Some(ns), ROOT_CONFIG_MAP)
            .ok()
            .and_then(|m| m["data"][ROOT_CONFIG_MAP_KEY].as_str().map(str::to_owned))
    }

    #[test]
    fn the_first_start_makes_a_root_and_later_starts_load_the_same_one() {
        let store = Store::in_memory();
        let first = load_or_create(&store, "istio-system", SystemTime::now()).unwrap();
        assert!(
            first.notes[0].starts_with("Generated a self-signed root"),
            "{:?}",
            first.notes
        );
        assert!(!first.ca.is_plugged());
        let stored = store
            .get(&secrets(), Some("istio-system"), SELF_SIGNED_SECRET)
            .unwrap();
        assert_eq!(stored["type"], "istio.io/ca-root");
        let again = load_or_create(&store, "istio-system", SystemTime::now()).unwrap();
        assert!(again.notes[0].starts_with("Load signing key and cert from existing secret"));
        assert_eq!(again.ca.root_pem(), first.ca.root_pem());
        assert!(again.errors.is_empty());
    }

    #[test]
    fn a_cacerts_secret_wins_and_a_broken_one_is_reported_and_passed_over() {
        let store = Store::in_memory();
        // A plug-in CA: an intermediate made by another root.
        let root = Ca::generate(SystemTime::now()).unwrap();
        let encode = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let files = json!({
            "ca-cert.pem": encode(root.cert_pem()),
            "ca-key.pem": encode(root.key_pem()),
            "root-cert.pem": encode(root.root_pem()),
            "cert-chain.pem": encode(root.cert_pem()),
        });
        store
            .create(
                &secrets(),
                json!({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": PLUGGED_SECRET, "namespace": "istio-system"},
                       "data": files}),
            )
            .unwrap();
        let loaded = load_or_create(&store, "istio-system", SystemTime::now()).unwrap();
        assert!(loaded.ca.is_plugged());
        assert_eq!(loaded.ca.root_pem().trim(), root.root_pem().trim());
        assert!(loaded.notes[0].contains("plugged-in cert"));

        let mut broken = (*store
            .get(&secrets(), Some("istio-system"), PLUGGED_SECRET)
            .unwrap())
        .clone();
        broken["data"]["ca-key.pem"] = json!(encode("garbage"));
        broken["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        store.update(&secrets(), broken).unwrap();
        let loaded = load_or_create(&store, "istio-system", SystemTime::now()).unwrap();
        assert!(!loaded.ca.is_plugged());
        assert!(
            loaded.errors[0].contains("cacerts cannot be used (ca-key.pem:"),
            "{:?}",
            loaded.errors
        );
    }

    #[test]
    fn the_ttl_comes_from_istiods_env_within_bounds() {
        let env = |v: &str| vec![(TTL_ENV.to_owned(), v.to_owned())];
        assert_eq!(ttl(&[]), (ca::DEFAULT_CERT_TTL, None));
        assert_eq!(ttl(&env("30s")), (Duration::from_secs(30), None));
        let (short, warning) = ttl(&env("1s"));
        assert_eq!(short, ca::MIN_CERT_TTL);
        assert!(warning.unwrap().contains("certificates live 10s"));
        let (default, warning) = ttl(&env("soon"));
        assert_eq!(default, ca::DEFAULT_CERT_TTL);
        assert!(warning.unwrap().contains("is not a duration"));
    }

    #[tokio::test]
    async fn the_root_is_published_in_every_namespace_and_kept_there() {
        let store = Store::in_memory();
        namespace(&store, "default");
        namespace(&store, "kube-system");
        let root = "-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----\n".to_owned();
        let task = tokio::spawn(keep_root_published(store.clone(), root.clone(), |_| {}));
        let wait = |ns: &'static str, store: Store, want: Option<String>| async move {
            for _ in 0..500 {
                if root_in(&store, ns) == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("{ns}: {:?} != {want:?}", root_in(&store, ns));
        };
        wait("default", store.clone(), Some(root.clone())).await;
        assert_eq!(root_in(&store, "kube-system"), None);
        namespace(&store, "foo");
        wait("foo", store.clone(), Some(root.clone())).await;
        // Deleted or edited by hand: put back.
        store
            .delete(
                &config_maps(),
                Some("foo"),
                ROOT_CONFIG_MAP,
                &Default::default(),
            )
            .unwrap();
        wait("foo", store.clone(), Some(root.clone())).await;
        task.abort();
    }
}
