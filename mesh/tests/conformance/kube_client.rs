//! The kube crate, as the check engine uses it, against the mesh: list, patch, watch.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};

use super::harness::Env;

fn config_map(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "data": {"key": value},
    }))
    .expect("configmap")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_lists_patches_and_watches() {
    let env = Env::start().await;
    let client = env.kube_client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &config_map("demo", "1"))
        .await
        .expect("create");
    let rv = created.metadata.resource_version.clone().expect("rv");

    let mut events = cms
        .watch(&WatchParams::default().labels("app=demo"), &rv)
        .await
        .expect("watch")
        .boxed();

    let merged = cms
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"key": "2", "extra": "x"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        merged
            .data
            .as_ref()
            .and_then(|d| d.get("key"))
            .map(String::as_str),
        Some("2")
    );
    let strategic = cms
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Strategic(serde_json::json!({"data": {"extra": null}})),
        )
        .await
        .expect("strategic patch");
    assert!(
        strategic
            .data
            .as_ref()
            .is_some_and(|d| !d.contains_key("extra"))
    );

    let first = events
        .try_next()
        .await
        .expect("watch ok")
        .expect("an event");
    match first {
        WatchEvent::Modified(cm) => {
            assert_eq!(
                cm.data
                    .as_ref()
                    .and_then(|d| d.get("extra"))
                    .map(String::as_str),
                Some("x")
            );
        }
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    let second = events
        .try_next()
        .await
        .expect("watch ok")
        .expect("an event");
    assert!(matches!(second, WatchEvent::Modified(_)), "{second:?}");

    let listed = cms
        .list(&ListParams::default().labels("app=demo"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    let none = cms
        .list(&ListParams::default().labels("app=other"))
        .await
        .expect("list");
    assert!(none.items.is_empty());

    // A stale resourceVersion is a 409 the check engine can recognise.
    let mut stale = created.clone();
    stale.data = Some([("key".to_owned(), "stale".to_owned())].into());
    let err = cms
        .replace("demo", &PostParams::default(), &stale)
        .await
        .expect_err("conflict");
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409);
            assert!(
                status.message.contains("the object has been modified"),
                "{}",
                status.message
            );
        }
        other => panic!("expected an API error, got {other}"),
    }
    drop(events);
    env.stop().await;
}

/// A watch with a label selector sees an object leave the selection as DELETED and come back
/// as ADDED, as a Kubernetes API server's watch cache reports it (`kubectl get -l … -w` relies
/// on this to drop rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_watch_reports_objects_leaving_and_entering_the_selection() {
    let env = Env::start().await;
    let client = env.kube_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = cms
        .create(&PostParams::default(), &config_map("moving", "1"))
        .await
        .expect("create");
    let rv = created.metadata.resource_version.clone().expect("rv");
    let mut events = cms
        .watch(&WatchParams::default().labels("app=demo"), &rv)
        .await
        .expect("watch")
        .boxed();
    let relabel = |app: &'static str| {
        let cms = cms.clone();
        async move {
            cms.patch(
                "moving",
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"labels": {"app": app}}})),
            )
            .await
            .expect("relabel")
        }
    };
    relabel("other").await;
    // A change outside the selection is not reported at all.
    cms.patch(
        "moving",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"data": {"key": "2"}})),
    )
    .await
    .expect("patch");
    relabel("demo").await;
    cms.delete("moving", &Default::default())
        .await
        .expect("delete");

    let mut seen = Vec::new();
    for _ in 0..3 {
        // Without the selection bookkeeping the third event never comes: fail, don't hang.
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.try_next())
            .await
            .unwrap_or_else(|_| panic!("no further event after {seen:?}"))
            .expect("watch ok")
            .expect("an event");
        seen.push(match event {
            WatchEvent::Added(cm) => format!("ADDED {}", cm.data.unwrap_or_default()["key"]),
            WatchEvent::Modified(cm) => format!("MODIFIED {}", cm.data.unwrap_or_default()["key"]),
            WatchEvent::Deleted(cm) => format!("DELETED {}", cm.data.unwrap_or_default()["key"]),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(seen, ["DELETED 1", "ADDED 2", "DELETED 2"]);
}
