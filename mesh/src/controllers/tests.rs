use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::store::Preconditions;

fn deployments() -> ResourceKey {
    key("apps", "deployments")
}

fn replicasets() -> ResourceKey {
    key("apps", "replicasets")
}

fn ns(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image,
                                          "ports": [{"name": "http", "containerPort": 8080}]}]},
            },
        },
    })
}

/// Images of a real built-in workload (httpbin), in two versions for rollouts.
const IMAGE: &str = "docker.io/mccutchen/go-httpbin:v2.15.0";
const IMAGE_NEXT: &str = "docker.io/mccutchen/go-httpbin:v2.16.0";

/// A store with the default namespace and the controllers and the kubelet running on it.
struct Running {
    store: Store,
    stop: signal::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    kubelet: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start() -> Self {
        let store = Store::in_memory();
        store
            .create(&key("", "namespaces"), ns("default"))
            .expect("ns");
        let (stop, shutdown) = signal::channel(false);
        let network = crate::net::Network::new(store.clone());
        let (_, kubelet) = crate::kubelet::start(store.clone(), network, shutdown.clone());
        let task = tokio::spawn(run(store.clone(), shutdown));
        Self {
            store,
            stop,
            task,
            kubelet,
        }
    }

    /// Waits until `check` holds on the store (the controllers converge in milliseconds; the
    /// limit only keeps a broken controller from hanging the test run).
    async fn until(&self, what: &str, check: impl Fn(&Store) -> bool) {
        for _ in 0..2000 {
            if check(&self.store) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("never reached: {what}; objects: {:#?}", self.store.all());
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.expect("controllers stop cleanly");
        self.kubelet.await.expect("the kubelet stops cleanly");
    }
}

fn list(store: &Store, resource: &ResourceKey) -> Vec<Arc<Value>> {
    store.list(resource, Some("default")).0
}

fn pods_of(store: &Store, app: &str) -> Vec<Arc<Value>> {
    list(store, &pods())
        .into_iter()
        .filter(|p| meta::labels(p).any(|(k, v)| k == "app" && v == app))
        .collect()
}

fn running(p: &Value) -> bool {
    p.pointer("/status/phase") == Some(&json!("Running"))
}

#[tokio::test]
async fn a_deployment_gets_a_replicaset_and_running_pods_with_unique_loopback_ips() {
    let env = Running::start();
    env.store
        .create(&deployments(), deployment("web", 3, IMAGE))
        .expect("deploy");
    env.until("three running pods and an available deployment", |s| {
        pods_of(s, "web").iter().filter(|p| running(p)).count() == 3
            && s.get(&deployments(), Some("default"), "web")
                .is_ok_and(|d| d.pointer("/status/availableReplicas") == Some(&json!(3)))
    })
    .await;
    let rs = list(&env.store, &replicasets());
    assert_eq!(rs.len(), 1);
    let rs_name = meta::name(&rs[0]).expect("name").to_owned();
    let hash = template_hash(&deployment("web", 3, IMAGE)["spec"]["template"]);
    assert_eq!(rs_name, format!("web-{hash}"));
    let pods = pods_of(&env.store, "web");
    let mut ips: Vec<&str> = pods
        .iter()
        .map(|p| {
            p.pointer("/status/podIP")
                .and_then(Value::as_str)
                .expect("ip")
        })
        .collect();
    for p in &pods {
        let name = meta::name(p).expect("name");
        assert!(name.starts_with(&format!("{rs_name}-")) && name.len() == rs_name.len() + 6);
        assert!(controlled_by(
            p,
            meta::meta_str(&rs[0], "uid").expect("uid")
        ));
        assert_eq!(p.pointer("/spec/nodeName"), Some(&json!("meshwork")));
        assert_eq!(
            p.pointer("/status/containerStatuses/0/ready"),
            Some(&json!(true))
        );
        assert_eq!(
            meta::labels(p).find(|(k, _)| *k == "pod-template-hash"),
            Some(("pod-template-hash", hash.as_str()))
        );
    }
    ips.sort_unstable();
    ips.dedup();
    assert_eq!(ips.len(), 3, "pod IPs are unique");
    assert!(
        ips.iter()
            .all(|ip| ip.starts_with("127.") && *ip != "127.0.0.1")
    );
    let d = env
        .store
        .get(&deployments(), Some("default"), "web")
        .expect("deploy");
    assert_eq!(d.pointer("/status/observedGeneration"), Some(&json!(1)));
    let progressing = d["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Progressing")
        .expect("progressing");
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
    env.stop().await;
}

#[tokio::test]
async fn scaling_and_a_template_change_roll_pods_and_deleting_collects_everything() {
    let env = Running::start();
    env.store
        .create(&deployments(), deployment("web", 1, IMAGE))
        .expect("deploy");
    env.until("one running pod", |s| {
        pods_of(s, "web").iter().filter(|p| running(p)).count() == 1
    })
    .await;
    let mut d = (*env
        .store
        .get(&deployments(), Some("default"), "web")
        .expect("d"))
    .clone();
    d["spec"]["replicas"] = json!(2);
    env.store.update(&deployments(), d).expect("scale");
    env.until("two pods", |s| pods_of(s, "web").len() == 2)
        .await;

    let mut d = (*env
        .store
        .get(&deployments(), Some("default"), "web")
        .expect("d"))
    .clone();
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(IMAGE_NEXT);
    env.store.update(&deployments(), d).expect("new template");
    env.until("two new pods, old replicaset at zero", |s| {
        let pods = pods_of(s, "web");
        pods.len() == 2
            && pods.iter().all(|p| {
                p.pointer("/spec/containers/0/image") == Some(&json!(IMAGE_NEXT)) && running(p)
            })
            && list(s, &replicasets()).len() == 2
            && s.get(&deployments(), Some("default"), "web")
                .is_ok_and(|d| d.pointer("/status/updatedReplicas") == Some(&json!(2)))
    })
    .await;
    let replicas: Vec<i64> = {
        let mut r: Vec<i64> = list(&env.store, &replicasets())
            .iter()
            .map(|rs| rs["spec"]["replicas"].as_i64().expect("replicas"))
            .collect();
        r.sort_unstable();
        r
    };
    assert_eq!(replicas, [0, 2]);
    let events = list(&env.store, &events::events());
    assert!(events.iter().any(|e| e["reason"] == "ScalingReplicaSet"
        && e["message"].as_str().is_some_and(
            |m| m.starts_with("Scaled down replica set web-") && m.ends_with("from 2 to 0")
        )));
    assert!(events.iter().any(|e| e["reason"] == "SuccessfulCreate"));
    assert!(events.iter().any(|e| e["reason"] == "Scheduled"));

    env.store
        .delete(
            &deployments(),
            Some("default"),
            "web",
            &Preconditions::default(),
        )
        .expect("delete");
    env.until("replicasets and pods collected", |s| {
        list(s, &replicasets()).is_empty() && pods_of(s, "web").is_empty()
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn services_get_endpoints_and_slices_with_named_ports_and_load_balancer_status() {
    let env = Running::start();
    env.store
        .create(&deployments(), deployment("web", 2, IMAGE))
        .expect("deploy");
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
    });
    env.store
        .create(&service::services(), svc)
        .expect("service");
    env.until("endpoints with both pods", |s| {
        s.get(&key("", "endpoints"), Some("default"), "web")
            .is_ok_and(|e| {
                e.pointer("/subsets/0/addresses")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.len() == 2)
            })
    })
    .await;
    let ep = env
        .store
        .get(&key("", "endpoints"), Some("default"), "web")
        .expect("ep");
    assert_eq!(
        ep["subsets"][0]["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    let slices = list(&env.store, &key("discovery.k8s.io", "endpointslices"));
    assert_eq!(slices.len(), 1);
    assert_eq!(
        meta::labels(&slices[0]).find(|(k, _)| *k == "kubernetes.io/service-name"),
        Some(("kubernetes.io/service-name", "web"))
    );
    assert_eq!(slices[0]["endpoints"].as_array().map(Vec::len), Some(2));
    assert_eq!(slices[0]["ports"][0]["port"], 8080);
    let svc = env
        .store
        .get(&service::services(), Some("default"), "web")
        .expect("svc");
    assert_eq!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"],
        "127.0.0.1"
    );

    env.store
        .delete(
            &service::services(),
            Some("default"),
            "web",
            &Preconditions::default(),
        )
        .expect("delete svc");
    env.until("endpoints and slices gone", |s| {
        s.get(&key("", "endpoints"), Some("default"), "web")
            .is_err()
            && list(s, &key("discovery.k8s.io", "endpointslices")).is_empty()
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn statefulsets_daemonsets_and_default_service_accounts() {
    let env = Running::start();
    env.store
        .create(&key("", "namespaces"), ns("lab"))
        .expect("ns");
    let template = json!({"metadata": {"labels": {"app": "db"}},
                          "spec": {"containers": [{"name": "db", "image": IMAGE}]}});
    env.store
        .create(
            &key("apps", "statefulsets"),
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"name": "db", "namespace": "default"},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "db"}}, "template": template}}),
        )
        .expect("sts");
    let ds_template = json!({"metadata": {"labels": {"app": "agent"}},
                             "spec": {"containers": [{"name": "a", "image": IMAGE}]}});
    env.store
        .create(
            &key("apps", "daemonsets"),
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                   "metadata": {"name": "agent", "namespace": "default"},
                   "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": ds_template}}),
        )
        .expect("ds");
    env.until("db-0, db-1 and one agent pod running; default SAs", |s| {
        let db: Vec<String> = pods_of(s, "db")
            .iter()
            .filter(|p| running(p))
            .filter_map(|p| meta::name(p).map(str::to_owned))
            .collect();
        let mut db = db;
        db.sort();
        db == ["db-0", "db-1"]
            && pods_of(s, "agent").iter().filter(|p| running(p)).count() == 1
            && s.get(&key("", "serviceaccounts"), Some("lab"), "default")
                .is_ok()
            && s.get(&key("", "serviceaccounts"), Some("default"), "default")
                .is_ok()
    })
    .await;
    env.stop().await;
}

fn owned_cm(name: &str, owner: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": "default", "ownerReferences": [owner_ref(owner)]}})
}

#[test]
fn orphan_keeps_dependents_and_foreground_removes_the_whole_tree() {
    let store = Store::in_memory();
    let cms = key("", "configmaps");
    let root = store
        .create(&cms, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "root", "namespace": "default"}}))
        .expect("root");
    let child = store.create(&cms, owned_cm("child", &root)).expect("child");
    store
        .create(&cms, owned_cm("grandchild", &child))
        .expect("grandchild");

    gc::before_delete(&store, &root, gc::Propagation::Orphan).expect("orphan");
    let child = store
        .get(&cms, Some("default"), "child")
        .expect("child kept");
    assert!(
        child.pointer("/metadata/ownerReferences").is_none(),
        "owner reference removed"
    );

    let root = store.get(&cms, Some("default"), "root").expect("root");
    store
        .update(&cms, {
            let mut c = (*child).clone();
            c["metadata"]["ownerReferences"] = json!([owner_ref(&root)]);
            c
        })
        .expect("re-own");
    gc::before_delete(&store, &root, gc::Propagation::Foreground).expect("foreground");
    let left: Vec<String> = list(&store, &cms)
        .iter()
        .filter_map(|c| meta::name(c).map(str::to_owned))
        .collect();
    assert_eq!(left, ["root"], "dependents and their dependents went first");
}

#[test]
fn background_collection_deletes_objects_whose_owners_are_all_gone() {
    let store = Store::in_memory();
    let cms = key("", "configmaps");
    let a = store
        .create(&cms, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}}))
        .expect("a");
    let b = store
        .create(&cms, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "default"}}))
        .expect("b");
    let mut shared = owned_cm("shared", &a);
    shared["metadata"]["ownerReferences"] = json!([owner_ref(&a), owner_ref(&b)]);
    store.create(&cms, shared).expect("shared");
    store.create(&cms, owned_cm("only-a", &a)).expect("only-a");
    store
        .delete(&cms, Some("default"), "a", &Preconditions::default())
        .expect("delete a");
    let uid = meta::meta_str(&a, "uid").expect("uid");
    assert_eq!(gc::orphaned_owner_uids(&store.all()), [uid.to_owned()]);
    gc::collect(&store, uid).expect("collect");
    let left: Vec<String> = list(&store, &cms)
        .iter()
        .filter_map(|c| meta::name(c).map(str::to_owned))
        .collect();
    assert_eq!(left, ["b", "shared"], "an object with a live owner stays");
}

#[test]
fn template_hashes_are_stable_and_follow_the_template() {
    let a = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}, "metadata": {"labels": {"app": "a"}}});
    let b = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "x", "name": "a"}]}});
    assert_eq!(
        template_hash(&a),
        template_hash(&b),
        "key order does not matter"
    );
    let c = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "y", "name": "a"}]}});
    assert_ne!(template_hash(&a), template_hash(&c));
    assert!(
        template_hash(&a)
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric())
    );
}
