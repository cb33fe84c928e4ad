//! The pod changes Istio's `sidecar` injection template makes: the `istio-init` init container,
//! the `istio-proxy` container, the volumes they mount, and the labels and annotations Istio
//! sets (`sidecar.istio.io/status`, `kubectl.kubernetes.io/default-container`,
//! `security.istio.io/tlsMode`, the canonical service name and revision).
//!
//! The values are those of a default Istio install (`istioctl install`, profile `default` or
//! `demo`) without CNI, as a Kubernetes 1.33 cluster would show them; the pod annotations
//! Istio documents for the template (`sidecar.istio.io/logLevel`, `…/proxyImage`,
//! `…/interceptionMode`, `…/proxyCPU` and friends, `traffic.sidecar.istio.io/…`) change them
//! the same way.

use serde_json::{Map, Value, json};

use super::{Owner, Settings};

/// The proxy container's name.
pub const PROXY_CONTAINER: &str = "istio-proxy";
/// The init container that sets up the traffic redirection.
pub const INIT_CONTAINER: &str = "istio-init";
/// The annotation that records what was injected (and marks a pod as injected).
pub const STATUS_ANNOTATION: &str = "sidecar.istio.io/status";
/// kubectl's default container for `logs`, `exec`, `attach`, `cp`.
pub const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";
/// kubectl's older default container for `logs`.
pub const DEFAULT_LOGS_CONTAINER: &str = "kubectl.kubernetes.io/default-logs-container";

/// The volumes the template adds, in its order.
const VOLUMES: [&str; 8] = [
    "workload-socket",
    "credential-socket",
    "workload-certs",
    "istio-envoy",
    "istio-data",
    "istio-podinfo",
    "istio-token",
    "istiod-ca-cert",
];

/// Pilot-agent's status port (health, merged Prometheus metrics).
const STATUS_PORT: u16 = 15020;

fn annotation<'a>(meta: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    meta.get("annotations")?.get(key)?.as_str()
}

fn label<'a>(meta: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    meta.get("labels")?
        .get(key)?
        .as_str()
        .filter(|v| !v.is_empty())
}

/// Takes a map field out of `obj` (an empty map when missing or not a map); put it back with
/// `insert`.
fn take_map(obj: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match obj.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Takes a list field out of `obj` (empty when missing or not a list).
fn take_list(obj: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match obj.remove(key) {
        Some(Value::Array(v)) => v,
        _ => Vec::new(),
    }
}

fn name_of(v: &Value) -> Option<&str> {
    v.get("name").and_then(Value::as_str)
}

/// What an earlier injection recorded in `sidecar.istio.io/status`.
#[derive(Default)]
struct Previous {
    init_containers: Vec<String>,
    containers: Vec<String>,
    volumes: Vec<String>,
}

fn previous(meta: &Map<String, Value>) -> Option<Previous> {
    let status: Value = serde_json::from_str(annotation(meta, STATUS_ANNOTATION)?).ok()?;
    let names = |key: &str| -> Vec<String> {
        status
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    Some(Previous {
        init_containers: names("initContainers"),
        containers: names("containers"),
        volumes: names("volumes"),
    })
}

/// Removes what an earlier injection added, so that injecting twice gives the same pod.
fn strip(meta: &mut Map<String, Value>, spec: &mut Map<String, Value>) {
    let Some(prev) = previous(meta) else {
        return;
    };
    for (key, names) in [
        ("initContainers", &prev.init_containers),
        ("containers", &prev.containers),
        ("volumes", &prev.volumes),
    ] {
        if let Some(items) = spec.get_mut(key).and_then(Value::as_array_mut) {
            items.retain(|c| name_of(c).is_none_or(|n| !names.iter().any(|p| p == n)));
        }
    }
    if spec
        .get("initContainers")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        spec.remove("initContainers");
    }
    if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        a.remove(STATUS_ANNOTATION);
    }
}

/// One container port as Go's JSON encoding of a `ContainerPort` writes it (field order
/// name, hostPort, containerPort, protocol, hostIP; empty fields left out).
fn port_json(port: &Value) -> Option<String> {
    let number = port.get("containerPort")?.as_i64()?;
    let mut fields = Vec::new();
    if let Some(name) = port.get("name").and_then(Value::as_str) {
        fields.push(format!("\"name\":{}", json!(name)));
    }
    if let Some(host) = port
        .get("hostPort")
        .and_then(Value::as_i64)
        .filter(|p| *p != 0)
    {
        fields.push(format!("\"hostPort\":{host}"));
    }
    fields.push(format!("\"containerPort\":{number}"));
    let protocol = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP");
    fields.push(format!("\"protocol\":{}", json!(protocol)));
    if let Some(ip) = port
        .get("hostIP")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        fields.push(format!("\"hostIP\":{}", json!(ip)));
    }
    Some(format!("{{{}}}", fields.join(",")))
}

/// `ISTIO_META_POD_PORTS`: the app containers' ports, laid out as Istio's template renders them.
fn pod_ports(containers: &[Value]) -> String {
    let ports: Vec<String> = containers
        .iter()
        .filter_map(|c| c.get("ports").and_then(Value::as_array))
        .flatten()
        .filter_map(port_json)
        .collect();
    let mut out = String::from("[");
    for (i, p) in ports.iter().enumerate() {
        out.push_str("\n    ");
        if i > 0 {
            out.push(',');
        }
        out.push_str(p);
    }
    out.push_str("\n]");
    out
}

fn field_env(name: &str, path: &str) -> Value {
    json!({"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}})
}

fn resource_env(name: &str, resource: &str) -> Value {
    json!({"name": name, "valueFrom": {"resourceFieldRef": {"divisor": "0", "resource": resource}}})
}

fn value_env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// The proxy's resources: the `sidecar.istio.io/proxyCPU` … annotations, else Istio's defaults.
fn proxy_resources(meta: &Map<String, Value>) -> Value {
    let keys = [
        ("sidecar.istio.io/proxyCPU", "requests", "cpu"),
        ("sidecar.istio.io/proxyMemory", "requests", "memory"),
        ("sidecar.istio.io/proxyCPULimit", "limits", "cpu"),
        ("sidecar.istio.io/proxyMemoryLimit", "limits", "memory"),
    ];
    if keys.iter().all(|(k, _, _)| annotation(meta, k).is_none()) {
        return json!({
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        });
    }
    let mut resources = json!({});
    for (key, group, resource) in keys {
        if let Some(v) = annotation(meta, key) {
            if resources.get(group).is_none() {
                resources[group] = json!({});
            }
            resources[group][resource] = json!(v);
        }
    }
    resources
}

/// `istio-iptables` arguments: the ports and ranges the redirection covers.
fn init_args(meta: &Map<String, Value>, mode: &str) -> Vec<String> {
    let traffic = |key: &str, default: &str| {
        annotation(meta, &format!("traffic.sidecar.istio.io/{key}"))
            .unwrap_or(default)
            .to_owned()
    };
    let mut excluded_inbound = format!("15090,15021,{STATUS_PORT}");
    let extra = traffic("excludeInboundPorts", "");
    if !extra.is_empty() {
        excluded_inbound = format!("{excluded_inbound},{extra}");
    }
    let mut args: Vec<String> = [
        "istio-iptables",
        "-p",
        "15001",
        "-z",
        "15006",
        "-u",
        "1337",
        "-m",
        mode,
        "-i",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(traffic("includeOutboundIPRanges", "*"));
    args.push("-x".to_owned());
    args.push(traffic("excludeOutboundIPRanges", ""));
    args.push("-b".to_owned());
    args.push(traffic("includeInboundPorts", "*"));
    args.push("-d".to_owned());
    args.push(excluded_inbound);
    if let Some(ports) = annotation(meta, "traffic.sidecar.istio.io/excludeOutboundPorts") {
        args.push("-o".to_owned());
        args.push(ports.to_owned());
    }
    args.push("--log_output_level=default:info".to_owned());
    args
}

fn init_container(image: &str, meta: &Map<String, Value>, mode: &str) -> Value {
    json!({
        "name": INIT_CONTAINER,
        "image": image,
        "args": init_args(meta, mode),
        "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "10m", "memory": "40Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
            "privileged": false,
            "readOnlyRootFilesystem": false,
            "runAsGroup": 0,
            "runAsNonRoot": false,
            "runAsUser": 0,
        },
    })
}

fn proxy_container(
    image: &str,
    meta: &Map<String, Value>,
    app: &[Value],
    mode: &str,
    owner: &Owner,
    settings: &Settings,
) -> Value {
    let log_level = annotation(meta, "sidecar.istio.io/logLevel").unwrap_or("warning");
    let component_level =
        annotation(meta, "sidecar.istio.io/componentLogLevel").unwrap_or("misc:error");
    let app_names: Vec<&str> = app.iter().filter_map(name_of).collect();
    let mut env = vec![
        value_env("PILOT_CERT_PROVIDER", "istiod"),
        value_env(
            "CA_ADDR",
            &format!("istiod.{}.svc:15012", settings.istio_namespace),
        ),
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
        field_env("INSTANCE_IP", "status.podIP"),
        field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
        field_env("HOST_IP", "status.hostIP"),
        resource_env("ISTIO_CPU_LIMIT", "limits.cpu"),
        value_env("PROXY_CONFIG", "{}\n"),
        value_env("ISTIO_META_POD_PORTS", &pod_ports(app)),
        value_env("ISTIO_META_APP_CONTAINERS", &app_names.join(",")),
        resource_env("GOMEMLIMIT", "limits.memory"),
        resource_env("GOMAXPROCS", "limits.cpu"),
        value_env("ISTIO_META_CLUSTER_ID", &settings.cluster_id),
        field_env("ISTIO_META_NODE_NAME", "spec.nodeName"),
        value_env("ISTIO_META_INTERCEPTION_MODE", mode),
    ];
    if !owner.name.is_empty() {
        env.push(value_env("ISTIO_META_WORKLOAD_NAME", &owner.name));
        if !owner.api_version.is_empty() && !owner.kind.is_empty() {
            let namespace = if owner.namespace.is_empty() {
                "default"
            } else {
                owner.namespace.as_str()
            };
            env.push(value_env(
                "ISTIO_META_OWNER",
                &format!(
                    "kubernetes://apis/{}/namespaces/{namespace}/{}s/{}",
                    owner.api_version,
                    owner.kind.to_ascii_lowercase(),
                    owner.name
                ),
            ));
        }
    }
    env.push(value_env("ISTIO_META_MESH_ID", &settings.trust_domain));
    env.push(value_env("TRUST_DOMAIN", &settings.trust_domain));
    let probe = |period: u64, failures: u64| {
        json!({
            "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
            "initialDelaySeconds": 0,
            "periodSeconds": period,
            "timeoutSeconds": 3,
            "successThreshold": 1,
            "failureThreshold": failures,
        })
    };
    let mount = |name: &str, path: &str| json!({"name": name, "mountPath": path});
    json!({
        "name": PROXY_CONTAINER,
        "image": image,
        "args": [
            "proxy",
            "sidecar",
            "--domain",
            format!("$(POD_NAMESPACE).svc.{}", settings.cluster_domain),
            format!("--proxyLogLevel={log_level}"),
            format!("--proxyComponentLogLevel={component_level}"),
            "--log_output_level=default:info",
        ],
        "env": env,
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": probe(15, 4),
        "startupProbe": probe(1, 600),
        "resources": proxy_resources(meta),
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsGroup": 1337,
            "runAsNonRoot": true,
            "runAsUser": 1337,
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"),
            mount("credential-socket", "/var/run/secrets/credential-uds"),
            mount("workload-certs", "/var/run/secrets/workload-spiffe-credentials"),
            mount("istiod-ca-cert", "/var/run/secrets/istio"),
            mount("istio-data", "/var/lib/istio/data"),
            mount("istio-envoy", "/etc/istio/proxy"),
            mount("istio-token", "/var/run/secrets/tokens"),
            mount("istio-podinfo", "/etc/istio/pod"),
        ],
    })
}

fn volumes() -> Vec<Value> {
    vec![
        json!({"name": "workload-socket", "emptyDir": {}}),
        json!({"name": "credential-socket", "emptyDir": {}}),
        json!({"name": "workload-certs", "emptyDir": {}}),
        json!({"name": "istio-envoy", "emptyDir": {"medium": "Memory"}}),
        json!({"name": "istio-data", "emptyDir": {}}),
        json!({"name": "istio-podinfo", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}},
            {"path": "annotations", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.annotations"}},
        ]}}),
        json!({"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {
            "audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}}),
        json!({"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}}),
    ]
}

/// The `sidecar.istio.io/status` value, with Istio's key order.
fn status(settings: &Settings, with_init: bool) -> String {
    let inits: &[&str] = if with_init { &[INIT_CONTAINER] } else { &[] };
    format!(
        "{{\"initContainers\":{},\"containers\":[{}],\"volumes\":{},\"imagePullSecrets\":null,\"revision\":{}}}",
        json!(inits),
        json!(PROXY_CONTAINER),
        json!(VOLUMES),
        json!(settings.revision),
    )
}

/// Fields of `ours` that `theirs` does not set, added to `theirs` (a container the pod already
/// names `istio-proxy` customizes the injected one, as Istio documents).
fn overlay(ours: Value, theirs: &mut Value) {
    if let (Value::Object(ours), Some(theirs)) = (ours, theirs.as_object_mut()) {
        for (k, v) in ours {
            theirs.entry(k).or_insert(v);
        }
    }
}

/// Injects the sidecar into a pod or pod template (`metadata` and `spec`).
pub(super) fn inject(template: &mut Value, owner: &Owner, settings: &Settings) {
    let Some(obj) = template.as_object_mut() else {
        return;
    };
    let mut meta = take_map(obj, "metadata");
    let mut spec = take_map(obj, "spec");
    strip(&mut meta, &mut spec);

    let image = annotation(&meta, "sidecar.istio.io/proxyImage")
        .map_or_else(|| settings.proxy_image(), str::to_owned);
    let mode = annotation(&meta, "sidecar.istio.io/interceptionMode")
        .unwrap_or("REDIRECT")
        .to_owned();
    let mut containers = take_list(&mut spec, "containers");
    let custom = containers
        .iter()
        .position(|c| name_of(c) == Some(PROXY_CONTAINER))
        .map(|i| containers.remove(i));
    let first_app = containers.first().and_then(name_of).map(str::to_owned);

    // istio-init runs first; istio-proxy comes after the app's containers.
    if mode != "NONE" {
        let mut inits = take_list(&mut spec, "initContainers");
        inits.retain(|c| name_of(c) != Some(INIT_CONTAINER));
        inits.insert(0, init_container(&image, &meta, &mode));
        spec.insert("initContainers".into(), Value::Array(inits));
    }
    let proxy = proxy_container(&image, &meta, &containers, &mode, owner, settings);
    containers.push(match custom {
        Some(mut custom) => {
            overlay(proxy, &mut custom);
            custom
        }
        None => proxy,
    });
    spec.insert("containers".into(), Value::Array(containers));
    let mut vols = take_list(&mut spec, "volumes");
    for v in volumes() {
        if !vols.iter().any(|have| name_of(have) == name_of(&v)) {
            vols.push(v);
        }
    }
    spec.insert("volumes".into(), Value::Array(vols));

    let canonical_name = label(&meta, "service.istio.io/canonical-name")
        .or_else(|| label(&meta, "app.kubernetes.io/name"))
        .or_else(|| label(&meta, "app"))
        .unwrap_or(owner.name.as_str())
        .to_owned();
    let canonical_revision = label(&meta, "service.istio.io/canonical-revision")
        .or_else(|| label(&meta, "app.kubernetes.io/version"))
        .or_else(|| label(&meta, "version"))
        .unwrap_or("latest")
        .to_owned();
    let mut labels = take_map(&mut meta, "labels");
    labels.insert("security.istio.io/tlsMode".into(), json!("istio"));
    labels.insert(
        "service.istio.io/canonical-name".into(),
        json!(canonical_name),
    );
    labels.insert(
        "service.istio.io/canonical-revision".into(),
        json!(canonical_revision),
    );
    meta.insert("labels".into(), Value::Object(labels));

    let mut annotations = take_map(&mut meta, "annotations");
    annotations.insert("istio.io/rev".into(), json!(settings.revision));
    if let Some(first) = first_app {
        annotations
            .entry(DEFAULT_CONTAINER)
            .or_insert_with(|| json!(first));
        annotations
            .entry(DEFAULT_LOGS_CONTAINER)
            .or_insert_with(|| json!(first));
    }
    if annotations.get("prometheus.io/scrape") != Some(&json!("false")) {
        annotations.insert("prometheus.io/path".into(), json!("/stats/prometheus"));
        annotations.insert("prometheus.io/port".into(), json!(STATUS_PORT.to_string()));
        annotations.insert("prometheus.io/scrape".into(), json!("true"));
    }
    annotations.insert(
        STATUS_ANNOTATION.into(),
        json!(status(settings, mode != "NONE")),
    );
    meta.insert("annotations".into(), Value::Object(annotations));

    obj.insert("metadata".into(), Value::Object(meta));
    obj.insert("spec".into(), Value::Object(spec));
}
