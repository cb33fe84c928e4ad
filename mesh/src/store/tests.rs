use super::*;
use serde_json::json;

fn cm(name: &str, ns: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": ns}, "data": {"k": data}})
}

fn deploy(name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn cms() -> ResourceKey {
    ResourceKey::new("", "v1", "configmaps")
}

fn deployments() -> ResourceKey {
    ResourceKey::new("apps", "v1", "deployments")
}

fn rv_of(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .parse()
        .expect("number")
}

#[test]
fn create_sets_server_fields_and_get_returns_them() {
    let store = Store::in_memory();
    let created = store
        .create(&cms(), cm("a", "default", "1"))
        .expect("create");
    let meta = &created["metadata"];
    assert_eq!(meta["resourceVersion"], "1");
    assert_eq!(meta["uid"].as_str().map(str::len), Some(36));
    assert!(
        meta["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(
        meta.get("generation").is_none(),
        "configmaps have no spec, so no generation"
    );
    let got = store.get(&cms(), Some("default"), "a").expect("get");
    assert_eq!(got, created);
    assert_eq!(store.resource_version(), 1);
}

#[test]
fn duplicate_create_is_already_exists_with_api_wording() {
    let store = Store::in_memory();
    store
        .create(&deployments(), deploy("web", "nginx"))
        .expect("create");
    let err = store
        .create(&deployments(), deploy("web", "nginx"))
        .expect_err("dup");
    assert!(matches!(err, StoreError::AlreadyExists { .. }));
    assert_eq!(err.to_string(), "deployments.apps \"web\" already exists");
    assert_eq!(
        store.resource_version(),
        1,
        "a failed write does not advance the resourceVersion"
    );
}

#[test]
fn missing_object_is_not_found_with_api_wording() {
    let store = Store::in_memory();
    let err = store
        .get(&cms(), Some("default"), "nope")
        .expect_err("missing");
    assert_eq!(err.to_string(), "configmaps \"nope\" not found");
    let err = store
        .delete(&cms(), Some("default"), "nope", &Preconditions::default())
        .expect_err("missing");
    assert!(matches!(err, StoreError::NotFound { .. }));
}

#[test]
fn same_name_in_different_namespaces_are_different_objects() {
    let store = Store::in_memory();
    store.create(&cms(), cm("a", "one", "1")).expect("one");
    store.create(&cms(), cm("a", "two", "2")).expect("two");
    let (all, rv) = store.list(&cms(), None);
    assert_eq!(all.len(), 2);
    assert_eq!(rv, 2);
    let (two, _) = store.list(&cms(), Some("two"));
    assert_eq!(two.len(), 1);
    assert_eq!(two[0]["data"]["k"], "2");
}

#[test]
fn update_with_stale_resource_version_conflicts() {
    let store = Store::in_memory();
    let created = store
        .create(&cms(), cm("a", "default", "1"))
        .expect("create");
    let mut first = (*created).clone();
    first["data"]["k"] = json!("2");
    let updated = store.update(&cms(), first).expect("update with current rv");
    assert_eq!(rv_of(&updated), 2);
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(
        updated["metadata"]["creationTimestamp"],
        created["metadata"]["creationTimestamp"]
    );

    let mut stale = (*created).clone();
    stale["data"]["k"] = json!("3");
    let err = store.update(&cms(), stale).expect_err("stale rv");
    assert_eq!(
        err.to_string(),
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );
    let got = store.get(&cms(), Some("default"), "a").expect("get");
    assert_eq!(
        got["data"]["k"], "2",
        "the conflicting write changed nothing"
    );
}

#[test]
fn update_without_resource_version_is_unconditional() {
    let store = Store::in_memory();
    store
        .create(&cms(), cm("a", "default", "1"))
        .expect("create");
    let updated = store
        .update(&cms(), cm("a", "default", "9"))
        .expect("update");
    assert_eq!(updated["data"]["k"], "9");
}

#[test]
fn generation_grows_only_when_the_spec_changes() {
    let store = Store::in_memory();
    let created = store
        .create(&deployments(), deploy("web", "nginx:1"))
        .expect("create");
    assert_eq!(created["metadata"]["generation"], 1);

    let mut labelled = (*created).clone();
    labelled["metadata"]["labels"] = json!({"a": "b"});
    let labelled = store.update(&deployments(), labelled).expect("label");
    assert_eq!(labelled["metadata"]["generation"], 1);

    let mut status = (*labelled).clone();
    status["status"] = json!({"replicas": 1});
    let status = store.update(&deployments(), status).expect("status");
    assert_eq!(status["metadata"]["generation"], 1);

    let mut image = (*status).clone();
    image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let image = store.update(&deployments(), image).expect("image");
    assert_eq!(image["metadata"]["generation"], 2);
}

#[test]
fn no_op_update_keeps_the_resource_version() {
    let store = Store::in_memory();
    let created = store
        .create(&cms(), cm("a", "default", "1"))
        .expect("create");
    let again = store.update(&cms(), (*created).clone()).expect("no-op");
    assert_eq!(rv_of(&again), rv_of(&created));
    assert_eq!(store.resource_version(), 1);
}

#[test]
fn delete_honours_preconditions_and_reports_the_deletion_rv() {
    let store = Store::in_memory();
    let created = store
        .create(&cms(), cm("a", "default", "1"))
        .expect("create");
    let wrong = Preconditions {
        uid: Some("not-the-uid".into()),
        resource_version: None,
    };
    let err = store
        .delete(&cms(), Some("default"), "a", &wrong)
        .expect_err("uid mismatch");
    assert!(
        err.to_string()
            .contains("Precondition failed: UID in precondition: not-the-uid")
    );
    let right = Preconditions {
        uid: created["metadata"]["uid"].as_str().map(str::to_owned),
        resource_version: Some("1".into()),
    };
    let deleted = store
        .delete(&cms(), Some("default"), "a", &right)
        .expect("delete");
    assert_eq!(rv_of(&deleted), 2);
    assert!(store.get(&cms(), Some("default"), "a").is_err());
}

#[test]
fn delete_matching_removes_a_namespace_worth_in_one_go() {
    let store = Store::in_memory();
    store.create(&cms(), cm("a", "doomed", "1")).expect("a");
    store.create(&cms(), cm("b", "doomed", "1")).expect("b");
    store.create(&cms(), cm("c", "kept", "1")).expect("c");
    let gone = store
        .delete_matching(|_, obj| meta::namespace(obj) == Some("doomed"))
        .expect("delete");
    assert_eq!(gone.len(), 2);
    assert_eq!(store.list(&cms(), None).0.len(), 1);
    assert_eq!(store.resource_version(), 5);
}

#[tokio::test]
async fn watch_from_zero_lists_existing_then_follows_changes() {
    let store = Store::in_memory();
    store.create(&cms(), cm("a", "default", "1")).expect("a");
    store
        .create(&cms(), cm("other", "elsewhere", "1"))
        .expect("other");
    let mut w = store.watch(&cms(), Some("default"), None).expect("watch");
    let first = w.next().await.expect("event").expect("ok");
    assert_eq!(first.kind, EventType::Added);
    assert_eq!(first.object["metadata"]["name"], "a");

    store
        .create(&cms(), cm("x", "elsewhere", "1"))
        .expect("filtered out");
    store
        .create(&deployments(), deploy("d", "i"))
        .expect("other resource");
    store
        .update(&cms(), cm("a", "default", "2"))
        .expect("update");
    let second = w.next().await.expect("event").expect("ok");
    assert_eq!(second.kind, EventType::Modified);
    assert_eq!(second.object["data"]["k"], "2");
    store
        .delete(&cms(), Some("default"), "a", &Preconditions::default())
        .expect("delete");
    let third = w.next().await.expect("event").expect("ok");
    assert_eq!(third.kind, EventType::Deleted);
    assert_eq!(third.resource_version, store.resource_version());
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let store = Store::in_memory();
    store.create(&cms(), cm("a", "default", "1")).expect("a");
    let rv = store.resource_version();
    store.create(&cms(), cm("b", "default", "1")).expect("b");
    store.update(&cms(), cm("a", "default", "2")).expect("a2");
    let mut w = store.watch(&cms(), None, Some(rv)).expect("watch");
    let e1 = w.next().await.expect("event").expect("ok");
    let e2 = w.next().await.expect("event").expect("ok");
    assert_eq!(
        (e1.kind, e1.object["metadata"]["name"].clone()),
        (EventType::Added, json!("b"))
    );
    assert_eq!(
        (e2.kind, e2.object["metadata"]["name"].clone()),
        (EventType::Modified, json!("a"))
    );
    store.create(&cms(), cm("c", "default", "1")).expect("c");
    let e3 = w.next().await.expect("event").expect("ok");
    assert_eq!(e3.object["metadata"]["name"], "c");
}

#[test]
fn watch_from_before_the_kept_history_is_gone() {
    let store = Store::with_parts(BTreeMap::new(), 0, None, 3);
    for i in 0..6 {
        store
            .create(&cms(), cm(&format!("c{i}"), "default", "1"))
            .expect("create");
    }
    let err = store.watch(&cms(), None, Some(1)).expect_err("too old");
    assert!(matches!(err, StoreError::Gone { requested: 1, .. }));
    assert!(
        err.to_string().starts_with("too old resource version: 1 ("),
        "{err}"
    );
    assert!(store.watch(&cms(), None, Some(4)).is_ok());
}

#[test]
fn snapshot_survives_reopen_with_the_same_resource_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uid;
    {
        let opened = Store::open(dir.path()).expect("open");
        assert!(opened.notice.is_none());
        let store = opened.store;
        let created = store.create(&cms(), cm("a", "default", "1")).expect("a");
        uid = created["metadata"]["uid"].clone();
        store
            .create(&deployments(), deploy("web", "nginx"))
            .expect("web");
        store
            .delete(
                &deployments(),
                Some("default"),
                "web",
                &Preconditions::default(),
            )
            .expect("delete");
    }
    let store = Store::open(dir.path()).expect("reopen").store;
    let a = store.get(&cms(), Some("default"), "a").expect("a survives");
    assert_eq!(a["metadata"]["uid"], uid);
    assert!(store.get(&deployments(), Some("default"), "web").is_err());
    assert_eq!(
        store.resource_version(),
        3,
        "resourceVersions never go backwards"
    );
    let next = store.create(&cms(), cm("b", "default", "1")).expect("b");
    assert_eq!(rv_of(&next), 4);
    // History does not survive a restart: an old resourceVersion is Gone, the current one is fine.
    assert!(matches!(
        store.watch(&cms(), None, Some(1)),
        Err(StoreError::Gone { .. })
    ));
    assert!(store.watch(&cms(), None, Some(3)).is_ok());
}

#[test]
fn corrupt_snapshot_is_moved_aside_with_a_notice() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(STORE_FILE), b"{\"formatVersion\":1, trunc").expect("write");
    let opened = Store::open(dir.path()).expect("open");
    let notice = opened.notice.expect("notice");
    assert!(notice.contains("could not be read"), "{notice}");
    assert!(notice.contains("store.json.corrupt-"), "{notice}");
    assert_eq!(opened.store.list(&cms(), None).0.len(), 0);
    let moved: Vec<_> = std::fs::read_dir(dir.path())
        .expect("readdir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("store.json.corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1);
    // The fresh store writes a new, valid file.
    opened
        .store
        .create(&cms(), cm("a", "default", "1"))
        .expect("create");
    assert!(Store::open(dir.path()).expect("reopen").notice.is_none());
}

#[test]
fn failed_persist_changes_nothing_and_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open").store;
    store.create(&cms(), cm("a", "default", "1")).expect("a");
    // Make the temp file path a directory so the atomic write cannot create it.
    std::fs::create_dir(dir.path().join("store.json.tmp")).expect("block tmp");
    let err = store
        .create(&cms(), cm("b", "default", "1"))
        .expect_err("persist fails");
    assert!(
        err.to_string().contains("state directory is writable"),
        "{err}"
    );
    assert!(store.get(&cms(), Some("default"), "b").is_err());
    assert_eq!(store.resource_version(), 1);
    let err = store
        .delete(&cms(), Some("default"), "a", &Preconditions::default())
        .expect_err("persist fails");
    assert!(matches!(err, StoreError::Persist(_)));
    assert!(store.get(&cms(), Some("default"), "a").is_ok());
}

#[test]
fn begin_deletion_sets_the_timestamp_once_and_update_keeps_it() {
    let store = Store::in_memory();
    store.create(&cms(), cm("a", "default", "1")).expect("a");
    let marked = store
        .begin_deletion(&cms(), Some("default"), "a", |o| {
            o["data"]["k"] = json!("bye")
        })
        .expect("mark");
    let ts = marked["metadata"]["deletionTimestamp"].clone();
    assert!(ts.is_string());
    assert_eq!(marked["data"]["k"], "bye");
    let again = store
        .begin_deletion(&cms(), Some("default"), "a", |_| {})
        .expect("again");
    assert_eq!(
        again["metadata"]["resourceVersion"],
        marked["metadata"]["resourceVersion"]
    );
    let updated = store
        .update(&cms(), cm("a", "default", "2"))
        .expect("update");
    assert_eq!(
        updated["metadata"]["deletionTimestamp"], ts,
        "clients cannot clear it"
    );
}
