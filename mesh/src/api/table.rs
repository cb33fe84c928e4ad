//! Server-side Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`) with the
//! columns a real API server prints for each kind; priority-1 columns appear with `-o wide`.

mod custom;

use serde_json::{Map, Value, json};

pub use custom::JsonPath;

use crate::kinds::Kind;
use crate::meta;

/// What each row's `object` carries (`includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata` (the default; kubectl reads labels from it for `-L`).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter; unknown values fall back to the default.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

struct Column {
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    priority: u8,
    description: &'static str,
}

const fn col(
    name: &'static str,
    kind: &'static str,
    format: &'static str,
    priority: u8,
    description: &'static str,
) -> Column {
    Column {
        name,
        kind,
        format,
        priority,
        description,
    }
}

const NAME: Column = col(
    "Name",
    "string",
    "name",
    0,
    "Name must be unique within a namespace.",
);
const AGE: Column = col(
    "Age",
    "string",
    "",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

fn columns(resource: &str) -> Vec<Column> {
    match resource {
        "namespaces" => vec![
            NAME,
            col("Status", "string", "", 0, "The status of the namespace"),
            AGE,
        ],
        "pods" => vec![
            NAME,
            col(
                "Ready",
                "string",
                "",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                "",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                "",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            AGE,
            col(
                "IP",
                "string",
                "",
                1,
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            col(
                "Node",
                "string",
                "",
                1,
                "NodeName is a request to schedule this pod onto a specific node.",
            ),
            col(
                "Nominated Node",
                "string",
                "",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
            ),
            col(
                "Readiness Gates",
                "string",
                "",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
        "services" => vec![
            NAME,
            col(
                "Type",
                "string",
                "",
                0,
                "type determines how the Service is exposed.",
            ),
            col(
                "Cluster-IP",
                "string",
                "",
                0,
                "clusterIP is the IP address of the service.",
            ),
            col(
                "External-IP",
                "string",
                "",
                0,
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
            ),
            col(
                "Port(s)",
                "string",
                "",
                0,
                "The list of ports that are exposed by this service.",
            ),
            AGE,
            col(
                "Selector",
                "string",
                "",
                1,
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ],
        "deployments" => vec![
            NAME,
            col(
                "Ready",
                "string",
                "",
                0,
                "Number of the pod with ready state",
            ),
            col(
                "Up-to-date",
                "integer",
                "",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "integer",
                "",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            col(
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
            col(
                "Selector",
                "string",
                "",
                1,
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ],
        "configmaps" => vec![
            NAME,
            col("Data", "string", "", 0, "Number of data entries"),
            AGE,
        ],
        // Istio's install lists its injector this way (`kubectl get mutatingwebhookconfigurations`).
        "mutatingwebhookconfigurations" | "validatingwebhookconfigurations" => vec![
            NAME,
            col(
                "Webhooks",
                "integer",
                "",
                0,
                "Webhooks indicates the number of webhooks",
            ),
            AGE,
        ],
        "secrets" => vec![
            NAME,
            col("Type", "string", "", 0, "The type of the secret"),
            col("Data", "string", "", 0, "Number of data entries"),
            AGE,
        ],
        "nodes" => vec![
            NAME,
            col("Status", "string", "", 0, "The status of the node"),
            col("Roles", "string", "", 0, "The roles of the node"),
            AGE,
            col(
                "Version",
                "string",
                "",
                0,
                "Kubelet Version reported by the node.",
            ),
        ],
        "serviceaccounts" => vec![
            NAME,
            col("Secrets", "string", "", 0, "Number of secrets"),
            AGE,
        ],
        "replicasets" => vec![
            NAME,
            col("Desired", "integer", "", 0, "Number of desired pods."),
            col("Current", "integer", "", 0, "Number of actual replicas."),
            col(
                "Ready",
                "integer",
                "",
                0,
                "The number of ready replicas for this replica set.",
            ),
            AGE,
            col(
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
            col("Selector", "string", "", 1, "Label selector for pods."),
        ],
        "statefulsets" => vec![
            NAME,
            col(
                "Ready",
                "string",
                "",
                0,
                "Number of the pod with ready state",
            ),
            AGE,
            col(
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
        ],
        "daemonsets" => vec![
            NAME,
            col(
                "Desired",
                "integer",
                "",
                0,
                "The total number of nodes that should be running the daemon pod.",
            ),
            col(
                "Current",
                "integer",
                "",
                0,
                "The number of nodes that are running at least 1 daemon pod.",
            ),
            col(
                "Ready",
                "integer",
                "",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
            ),
            col(
                "Up-to-date",
                "integer",
                "",
                0,
                "The total number of nodes that are running updated daemon pod",
            ),
            col(
                "Available",
                "integer",
                "",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
            ),
            col(
                "Node Selector",
                "string",
                "",
                0,
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
            AGE,
            col(
                "Containers",
                "string",
                "",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                "",
                1,
                "Images referenced by each container in the template.",
            ),
            col(
                "Selector",
                "string",
                "",
                1,
                "A label query over pods that are managed by the daemon set.",
            ),
        ],
        "endpoints" => vec![
            NAME,
            col("Endpoints", "string", "", 0, "Endpoints of the service"),
            AGE,
        ],
        "endpointslices" => vec![
            NAME,
            col(
                "AddressType",
                "string",
                "",
                0,
                "The IP protocol for this slice",
            ),
            col("Ports", "string", "", 0, "Ports of the slice"),
            col("Endpoints", "string", "", 0, "Endpoints of the slice"),
            AGE,
        ],
        "events" => vec![
            col(
                "Last Seen",
                "string",
                "",
                0,
                "Time when last event occurred",
            ),
            col(
                "Type",
                "string",
                "",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future.",
            ),
            col(
                "Reason",
                "string",
                "",
                0,
                "This should be a short, machine understandable string that gives the reason for this event being generated.",
            ),
            col(
                "Object",
                "string",
                "",
                0,
                "The object that this event is about.",
            ),
            col(
                "Subobject",
                "string",
                "",
                1,
                "Subobject of the involved object",
            ),
            col(
                "Source",
                "string",
                "",
                1,
                "The component reporting this event.",
            ),
            col(
                "Message",
                "string",
                "",
                0,
                "A human-readable description of the status of this operation.",
            ),
            col(
                "First Seen",
                "string",
                "",
                1,
                "The time at which the event was first recorded.",
            ),
            col(
                "Count",
                "string",
                "",
                1,
                "The number of times this event has occurred.",
            ),
            col(
                "Name",
                "string",
                "name",
                1,
                "Name must be unique within a namespace.",
            ),
        ],
        "customresourcedefinitions" => vec![
            NAME,
            col(
                "Created At",
                "date",
                "",
                0,
                "CreationTimestamp is a timestamp representing the server time when this object was created.",
            ),
        ],
        _ => vec![NAME, AGE],
    }
}

fn s(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(x) if !x.is_empty() => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int(v: &Value, path: &[&str]) -> i64 {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return 0,
        }
    }
    cur.as_i64().unwrap_or(0)
}

fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return &[],
        }
    }
    cur.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn selector_text(map: Option<&Value>) -> String {
    let pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            let mut p: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            p.sort();
            p
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        "<none>".to_owned()
    } else {
        pairs.join(",")
    }
}

fn pod_cells(o: &Value) -> Vec<Value> {
    let total = list(o, &["spec", "containers"]).len();
    let statuses = list(o, &["status", "containerStatuses"]);
    let ready = statuses
        .iter()
        .filter(|c| c.get("ready") == Some(&Value::Bool(true)))
        .count();
    let restarts: i64 = statuses.iter().map(|c| int(c, &["restartCount"])).sum();
    let waiting = statuses.iter().find_map(|c| {
        s(c, &["state", "waiting", "reason"]).or_else(|| s(c, &["state", "terminated", "reason"]))
    });
    let status = if meta::meta_str(o, "deletionTimestamp").is_some() {
        "Terminating".to_owned()
    } else {
        waiting
            .or_else(|| s(o, &["status", "reason"]))
            .or_else(|| s(o, &["status", "phase"]))
            .unwrap_or_else(|| "Pending".to_owned())
    };
    let gates = list(o, &["spec", "readinessGates"]);
    let gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let conditions = list(o, &["status", "conditions"]);
        let passing = gates
            .iter()
            .filter(|g| {
                conditions.iter().any(|c| {
                    c.get("type") == g.get("conditionType")
                        && c.get("status") == Some(&json!("True"))
                })
            })
            .count();
        format!("{passing}/{}", gates.len())
    };
    vec![
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts.to_string()),
        json!(meta::age(o)),
        json!(s(o, &["status", "podIP"]).unwrap_or_else(|| "<none>".into())),
        json!(s(o, &["spec", "nodeName"]).unwrap_or_else(|| "<none>".into())),
        json!(s(o, &["status", "nominatedNodeName"]).unwrap_or_else(|| "<none>".into())),
        json!(gates),
    ]
}

fn service_cells(o: &Value) -> Vec<Value> {
    let kind = s(o, &["spec", "type"]).unwrap_or_else(|| "ClusterIP".into());
    let cluster_ip = s(o, &["spec", "clusterIP"]).unwrap_or_else(|| "<none>".into());
    let mut external: Vec<String> = list(o, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|i| s(i, &["ip"]).or_else(|| s(i, &["hostname"])))
        .collect();
    external.extend(
        list(o, &["spec", "externalIPs"])
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned)),
    );
    let external = if !external.is_empty() {
        external.join(",")
    } else if kind == "LoadBalancer" {
        "<pending>".to_owned()
    } else if kind == "ExternalName" {
        s(o, &["spec", "externalName"]).unwrap_or_else(|| "<none>".into())
    } else {
        "<none>".to_owned()
    };
    let ports: Vec<String> = list(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int(p, &["port"]);
            let proto = s(p, &["protocol"]).unwrap_or_else(|| "TCP".into());
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(node) if node > 0 => format!("{port}:{node}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    };
    vec![
        json!(kind),
        json!(cluster_ip),
        json!(external),
        json!(ports),
        json!(meta::age(o)),
        json!(selector_text(o.pointer("/spec/selector"))),
    ]
}

fn deployment_cells(o: &Value) -> Vec<Value> {
    let desired = o
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let containers = list(o, &["spec", "template", "spec", "containers"]);
    let names: Vec<String> = containers.iter().filter_map(|c| s(c, &["name"])).collect();
    let images: Vec<String> = containers.iter().filter_map(|c| s(c, &["image"])).collect();
    let mut selector = selector_text(o.pointer("/spec/selector/matchLabels"));
    if o.pointer("/spec/selector/matchExpressions").is_some() && selector == "<none>" {
        selector = "<complex>".into();
    }
    vec![
        json!(format!(
            "{}/{desired}",
            int(o, &["status", "readyReplicas"])
        )),
        json!(int(o, &["status", "updatedReplicas"])),
        json!(int(o, &["status", "availableReplicas"])),
        json!(meta::age(o)),
        json!(names.join(",")),
        json!(images.join(",")),
        json!(selector),
    ]
}

fn node_cells(o: &Value) -> Vec<Value> {
    let ready = list(o, &["status", "conditions"])
        .iter()
        .find(|c| c.get("type") == Some(&json!("Ready")))
        .and_then(|c| c.get("status").and_then(Value::as_str))
        .map(|st| if st == "True" { "Ready" } else { "NotReady" })
        .unwrap_or("Unknown");
    let mut roles: Vec<String> = meta::labels(o)
        .filter_map(|(k, _)| {
            k.strip_prefix("node-role.kubernetes.io/")
                .map(str::to_owned)
        })
        .collect();
    roles.sort();
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.join(",")
    };
    vec![
        json!(ready),
        json!(roles),
        json!(meta::age(o)),
        json!(s(o, &["status", "nodeInfo", "kubeletVersion"]).unwrap_or_default()),
    ]
}

fn containers_and_images(o: &Value) -> (String, String) {
    let containers = list(o, &["spec", "template", "spec", "containers"]);
    let names: Vec<String> = containers.iter().filter_map(|c| s(c, &["name"])).collect();
    let images: Vec<String> = containers.iter().filter_map(|c| s(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// At most three addresses, then `+ N more...`, as kubectl prints endpoints.
fn abbreviated(addrs: &[String]) -> String {
    match addrs.len() {
        0 => "<none>".to_owned(),
        1..=3 => addrs.join(","),
        n => format!("{} + {} more...", addrs[..3].join(","), n - 3),
    }
}

fn event_cells(o: &Value) -> Vec<Value> {
    let last = s(o, &["lastTimestamp"])
        .or_else(|| s(o, &["eventTime"]))
        .or_else(|| s(o, &["firstTimestamp"]));
    let since = |t: Option<String>| {
        t.and_then(|t| meta::parse_timestamp(&t))
            .map(|t| meta::human_duration(jiff::Timestamp::now().as_second() - t.as_second()))
            .unwrap_or_else(|| "<unknown>".to_owned())
    };
    let object = format!(
        "{}/{}",
        s(o, &["involvedObject", "kind"])
            .unwrap_or_default()
            .to_ascii_lowercase(),
        s(o, &["involvedObject", "name"]).unwrap_or_default()
    );
    let source = match (s(o, &["source", "component"]), s(o, &["source", "host"])) {
        (Some(c), Some(h)) => format!("{c}, {h}"),
        (Some(c), None) => c,
        _ => s(o, &["reportingComponent"]).unwrap_or_default(),
    };
    vec![
        json!(since(last)),
        json!(s(o, &["type"]).unwrap_or_default()),
        json!(s(o, &["reason"]).unwrap_or_default()),
        json!(object),
        json!(s(o, &["involvedObject", "fieldPath"]).unwrap_or_default()),
        json!(source),
        json!(s(o, &["message"]).unwrap_or_default()),
        json!(since(s(o, &["firstTimestamp"]))),
        json!(int(o, &["count"]).max(1).to_string()),
        json!(meta::name(o).unwrap_or_default()),
    ]
}

fn count(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// The row cells (after the name) for one object.
fn cells(resource: &str, o: &Value) -> Vec<Value> {
    match resource {
        "namespaces" => vec![
            json!(s(o, &["status", "phase"]).unwrap_or_else(|| "Active".into())),
            json!(meta::age(o)),
        ],
        "pods" => pod_cells(o),
        "services" => service_cells(o),
        "deployments" => deployment_cells(o),
        "nodes" => node_cells(o),
        "configmaps" => vec![
            json!(count(o.get("data")) + count(o.get("binaryData"))),
            json!(meta::age(o)),
        ],
        "mutatingwebhookconfigurations" | "validatingwebhookconfigurations" => {
            vec![json!(count(o.get("webhooks"))), json!(meta::age(o))]
        }
        "secrets" => vec![
            json!(s(o, &["type"]).unwrap_or_else(|| "Opaque".into())),
            json!(count(o.get("data"))),
            json!(meta::age(o)),
        ],
        "serviceaccounts" => vec![json!(count(o.get("secrets"))), json!(meta::age(o))],
        "replicasets" => {
            let (names, images) = containers_and_images(o);
            vec![
                json!(
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                ),
                json!(int(o, &["status", "replicas"])),
                json!(int(o, &["status", "readyReplicas"])),
                json!(meta::age(o)),
                json!(names),
                json!(images),
                json!(selector_text(o.pointer("/spec/selector/matchLabels"))),
            ]
        }
        "statefulsets" => {
            let (names, images) = containers_and_images(o);
            vec![
                json!(format!(
                    "{}/{}",
                    int(o, &["status", "readyReplicas"]),
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(meta::age(o)),
                json!(names),
                json!(images),
            ]
        }
        "daemonsets" => {
            let (names, images) = containers_and_images(o);
            vec![
                json!(int(o, &["status", "desiredNumberScheduled"])),
                json!(int(o, &["status", "currentNumberScheduled"])),
                json!(int(o, &["status", "numberReady"])),
                json!(int(o, &["status", "updatedNumberScheduled"])),
                json!(int(o, &["status", "numberAvailable"])),
                json!(selector_text(o.pointer("/spec/template/spec/nodeSelector"))),
                json!(meta::age(o)),
                json!(names),
                json!(images),
                json!(selector_text(o.pointer("/spec/selector/matchLabels"))),
            ]
        }
        "endpoints" => {
            let mut addrs = Vec::new();
            for subset in list(o, &["subsets"]) {
                for a in list(subset, &["addresses"]) {
                    for p in list(subset, &["ports"]) {
                        addrs.push(format!(
                            "{}:{}",
                            s(a, &["ip"]).unwrap_or_default(),
                            int(p, &["port"])
                        ));
                    }
                    if list(subset, &["ports"]).is_empty() {
                        addrs.push(s(a, &["ip"]).unwrap_or_default());
                    }
                }
            }
            vec![json!(abbreviated(&addrs)), json!(meta::age(o))]
        }
        "endpointslices" => {
            let ports: Vec<String> = list(o, &["ports"])
                .iter()
                .map(|p| int(p, &["port"]).to_string())
                .collect();
            let addrs: Vec<String> = list(o, &["endpoints"])
                .iter()
                .flat_map(|e| {
                    list(e, &["addresses"])
                        .iter()
                        .filter_map(|a| a.as_str().map(str::to_owned))
                })
                .collect();
            vec![
                json!(s(o, &["addressType"]).unwrap_or_default()),
                json!(if ports.is_empty() {
                    "<unset>".to_owned()
                } else {
                    ports.join(",")
                }),
                json!(abbreviated(&addrs)),
                json!(meta::age(o)),
            ]
        }
        "customresourcedefinitions" => vec![json!(
            meta::meta_str(o, "creationTimestamp").unwrap_or_default()
        )],
        _ => vec![json!(meta::age(o))],
    }
}

fn row(kind: &Kind, o: &Value, include: IncludeObject) -> Value {
    let c = if kind.is_custom() {
        let mut c = vec![json!(meta::name(o).unwrap_or_default())];
        c.extend(custom::cells(kind, o));
        c
    } else if kind.resource == "events" {
        event_cells(o)
    } else {
        let mut c = vec![json!(meta::name(o).unwrap_or_default())];
        c.extend(cells(&kind.resource, o));
        c
    };
    let mut r = json!({"cells": c});
    match include {
        IncludeObject::None => {}
        IncludeObject::Object => r["object"] = o.clone(),
        IncludeObject::Metadata => {
            // Without managedFields: kubectl reads names and labels from row objects, and the
            // field sets of every manager made a 1,000-pod table several times larger.
            let metadata: Map<String, Value> = o
                .get("metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| k.as_str() != "managedFields")
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            r["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
            });
        }
    }
    r
}

/// A `meta.k8s.io/v1` Table of objects; `with_columns` is false for watch events after the first.
pub fn table<'a>(
    kind: &Kind,
    objects: impl IntoIterator<Item = &'a Value>,
    include: IncludeObject,
    resource_version: u64,
    with_columns: bool,
) -> Value {
    let cols: Vec<Value> = if !with_columns {
        Vec::new()
    } else if kind.is_custom() {
        custom::columns(kind)
    } else {
        columns(&kind.resource)
            .iter()
            .map(|c| {
                json!({"name": c.name, "type": c.kind, "format": c.format,
                       "description": c.description, "priority": c.priority})
            })
            .collect()
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": cols,
        "rows": objects.into_iter().map(|o| row(kind, o, include)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds;

    fn headers(t: &Value) -> Vec<String> {
        t["columnDefinitions"]
            .as_array()
            .expect("cols")
            .iter()
            .map(|c| c["name"].as_str().expect("name").to_owned())
            .collect()
    }

    #[test]
    fn pod_rows_show_readiness_status_and_wide_columns() {
        let pods = kinds::find("", "v1", "pods").expect("pods");
        let pod = json!({"metadata": {"name": "web-1", "creationTimestamp": meta::now_rfc3339(), "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "meshwork"},
            "status": {"phase": "Running", "podIP": "127.1.0.5",
                       "containerStatuses": [{"ready": true, "restartCount": 2}, {"ready": false, "restartCount": 1}]}});
        let t = table(&pods, [&pod], IncludeObject::Metadata, 7, true);
        assert_eq!(
            headers(&t),
            [
                "Name",
                "Ready",
                "Status",
                "Restarts",
                "Age",
                "IP",
                "Node",
                "Nominated Node",
                "Readiness Gates"
            ]
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "web-1",
                "1/2",
                "Running",
                "3",
                "0s",
                "127.1.0.5",
                "meshwork",
                "<none>",
                "<none>"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["metadata"]["labels"]["app"], "web");
        assert_eq!(t["metadata"]["resourceVersion"], "7");
        let wide: Vec<u64> = t["columnDefinitions"]
            .as_array()
            .expect("cols")
            .iter()
            .map(|c| c["priority"].as_u64().expect("p"))
            .collect();
        assert_eq!(wide, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
        let bare = json!({"metadata": {"name": "new"}, "spec": {"containers": [{"name": "a"}]}});
        let t = table(&pods, [&bare], IncludeObject::None, 1, false);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "new",
                "0/1",
                "Pending",
                "0",
                "<unknown>",
                "<none>",
                "<none>",
                "<none>",
                "<none>"
            ])
        );
        assert!(t["rows"][0].get("object").is_none());
        assert_eq!(t["columnDefinitions"], json!([]));
    }

    #[test]
    fn service_rows_show_ports_and_selector() {
        let svcs = kinds::find("", "v1", "services").expect("services");
        let svc = json!({"metadata": {"name": "productpage"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.12", "selector": {"app": "productpage", "a": "b"},
                     "ports": [{"port": 9080, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}});
        let t = table(&svcs, [&svc], IncludeObject::Metadata, 1, true);
        assert_eq!(
            headers(&t),
            [
                "Name",
                "Type",
                "Cluster-IP",
                "External-IP",
                "Port(s)",
                "Age",
                "Selector"
            ]
        );
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "NodePort");
        assert_eq!(cells[3], "<none>");
        assert_eq!(cells[4], "9080:30080/TCP,53/UDP");
        assert_eq!(cells[6], "a=b,app=productpage");
        let lb = json!({"metadata": {"name": "gw"}, "spec": {"type": "LoadBalancer", "ports": []}});
        let t = table(&svcs, [&lb], IncludeObject::Metadata, 1, true);
        assert_eq!(t["rows"][0]["cells"][3], "<pending>");
    }

    #[test]
    fn deployment_rows_count_replicas() {
        let d = kinds::find("apps", "v1", "deployments").expect("deployments");
        let dep = json!({"metadata": {"name": "reviews-v1"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "reviews"}},
                     "template": {"spec": {"containers": [{"name": "reviews", "image": "r:1"}]}}},
            "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}});
        let t = table(&d, [&dep], IncludeObject::Metadata, 1, true);
        assert_eq!(
            headers(&t),
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "reviews-v1",
                "1/2",
                2,
                1,
                "<unknown>",
                "reviews",
                "r:1",
                "app=reviews"
            ])
        );
    }

    #[test]
    fn other_kinds_get_name_and_age() {
        let rs = kinds::find("rbac.authorization.k8s.io", "v1", "roles").expect("roles");
        let t = table(
            &rs,
            [&json!({"metadata": {"name": "r"}})],
            IncludeObject::Metadata,
            1,
            true,
        );
        assert_eq!(headers(&t), ["Name", "Age"]);
        let ns = kinds::find("", "v1", "namespaces").expect("ns");
        let t = table(
            &ns,
            [&json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}})],
            IncludeObject::Metadata,
            1,
            true,
        );
        assert_eq!(headers(&t), ["Name", "Status", "Age"]);
        assert_eq!(t["rows"][0]["cells"][1], "Active");
    }
}
