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
    let store = Store::with_parts(Objects::new(), 0, None, None, 3);
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
    // The log's handle becomes read-only, so appends fail as on a full disk.
    store
        .lock()
        .durable
        .as_mut()
        .expect("persistent")
        .log
        .break_for_test()
        .expect("break");
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
    drop(store);
    let reopened = Store::open(dir.path()).expect("reopen");
    assert!(reopened.notice.is_none(), "{:?}", reopened.notice);
    assert_eq!(reopened.store.resource_version(), 1);
    assert_eq!(reopened.store.list(&cms(), None).0.len(), 1);
}

/// What a kill -9 leaves behind: the files as they are on disk right now, with the store still
/// open (nothing is flushed or compacted on the way out).
fn crash_copy(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(dir).expect("readdir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copy");
    }
    copy
}

fn log_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(LOG_FILE))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn names(store: &Store) -> Vec<String> {
    store
        .list(&cms(), None)
        .0
        .iter()
        .map(|o| meta::name(o).unwrap_or("").to_owned())
        .collect()
}

#[test]
fn every_acknowledged_write_survives_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open").store;
    store.create(&cms(), cm("a", "default", "1")).expect("a");
    store.create(&cms(), cm("b", "default", "1")).expect("b");
    store
        .update(&cms(), cm("a", "default", "2"))
        .expect("update a");
    store
        .begin_deletion(&cms(), Some("default"), "b", |_| {})
        .expect("mark b");
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
        .expect("delete web");
    // One appended line per write; the snapshot is not rewritten on every write.
    assert_eq!(log_lines(dir.path()).len(), 6);
    assert!(!dir.path().join(STORE_FILE).exists());

    let crashed = crash_copy(dir.path());
    let opened = Store::open(crashed.path()).expect("reopen after crash");
    assert!(opened.notice.is_none(), "{:?}", opened.notice);
    let after = opened.store;
    assert_eq!(after.resource_version(), 6);
    assert_eq!(names(&after), ["a", "b"]);
    for name in ["a", "b"] {
        assert_eq!(
            after.get(&cms(), Some("default"), name).expect("object"),
            store.get(&cms(), Some("default"), name).expect("object"),
            "{name} comes back exactly as acknowledged"
        );
    }
    assert!(after.get(&deployments(), Some("default"), "web").is_err());
    // Reopening folded the log into the snapshot.
    assert!(crashed.path().join(STORE_FILE).exists());
    assert!(log_lines(crashed.path()).is_empty());
}

#[test]
fn a_torn_last_line_is_dropped_and_the_log_continues_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open").store;
    for name in ["a", "b", "c"] {
        store.create(&cms(), cm(name, "default", "1")).expect(name);
    }
    let crashed = crash_copy(dir.path());
    // The start of a fourth record that the crash cut short (never acknowledged).
    let line = log_lines(dir.path())[0].clone();
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(crashed.path().join(LOG_FILE))
        .expect("log");
    std::io::Write::write_all(&mut log, &line.as_bytes()[..line.len() / 2]).expect("torn");
    drop(log);

    let opened = Store::open(crashed.path()).expect("open");
    assert!(
        opened.notice.is_none(),
        "a torn tail is not damage: {:?}",
        opened.notice
    );
    let store = opened.store;
    assert_eq!(names(&store), ["a", "b", "c"]);
    assert_eq!(store.resource_version(), 3);
    let d = store.create(&cms(), cm("d", "default", "1")).expect("d");
    assert_eq!(rv_of(&d), 4);
    let crashed_again = crash_copy(crashed.path());
    let again = Store::open(crashed_again.path()).expect("again");
    assert!(again.notice.is_none(), "{:?}", again.notice);
    assert_eq!(names(&again.store), ["a", "b", "c", "d"]);
}

#[test]
fn a_damaged_line_inside_the_log_keeps_what_came_before_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open").store;
    for name in ["a", "b", "c"] {
        store.create(&cms(), cm(name, "default", "1")).expect(name);
    }
    let crashed = crash_copy(dir.path());
    let mut lines = log_lines(crashed.path());
    lines[1] = lines[1].replacen('{', "#", 1);
    std::fs::write(crashed.path().join(LOG_FILE), lines.join("\n") + "\n").expect("damage");

    let opened = Store::open(crashed.path()).expect("open");
    let notice = opened.notice.expect("a notice");
    assert!(notice.contains("write-ahead log"), "{notice}");
    assert!(notice.contains("up to resourceVersion 1"), "{notice}");
    assert!(notice.contains("store.wal.corrupt-"), "{notice}");
    assert_eq!(names(&opened.store), ["a"]);
    let moved = std::fs::read_dir(crashed.path())
        .expect("readdir")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("store.wal.corrupt-")
        })
        .count();
    assert_eq!(moved, 1, "the damaged log is kept for inspection");
    // The store carries on from there.
    let b = opened
        .store
        .create(&cms(), cm("b", "default", "2"))
        .expect("b again");
    assert_eq!(rv_of(&b), 2);
}

#[test]
fn compaction_then_more_writes_then_a_crash_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Compact as soon as the log outgrows the snapshot.
    let store = Store::open_tuned(dir.path(), DEFAULT_HISTORY, 1)
        .expect("open")
        .store;
    for i in 0..20 {
        store
            .create(&cms(), cm(&format!("cm-{i:02}"), "default", "1"))
            .expect("create");
    }
    let snapshot = std::fs::read_to_string(dir.path().join(STORE_FILE)).expect("compacted");
    assert!(
        snapshot.contains("cm-0"),
        "the snapshot holds compacted objects"
    );
    let in_log = log_lines(dir.path()).len();
    assert!(in_log < 20, "the log was truncated ({in_log} lines)");
    for i in 0..5 {
        store
            .update(&cms(), cm(&format!("cm-{i:02}"), "default", "2"))
            .expect("update");
    }
    store
        .delete(&cms(), Some("default"), "cm-19", &Preconditions::default())
        .expect("delete");
    let crashed = crash_copy(dir.path());
    let after = Store::open(crashed.path()).expect("reopen").store;
    assert_eq!(after.resource_version(), 26);
    assert_eq!(names(&after).len(), 19);
    for i in 0..19 {
        let name = format!("cm-{i:02}");
        assert_eq!(
            after.get(&cms(), Some("default"), &name).expect("object"),
            store.get(&cms(), Some("default"), &name).expect("object"),
        );
    }
}

#[test]
fn a_crash_between_snapshot_and_log_truncation_replays_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open").store;
    store.create(&cms(), cm("a", "default", "1")).expect("a");
    store
        .delete(&cms(), Some("default"), "a", &Preconditions::default())
        .expect("delete a");
    store.create(&cms(), cm("b", "default", "1")).expect("b");
    let stale_log = std::fs::read(dir.path().join(LOG_FILE)).expect("log");
    store.compact().expect("compact");
    assert!(log_lines(dir.path()).is_empty());
    // As if the crash came after the snapshot's rename but before the log was emptied.
    std::fs::write(dir.path().join(LOG_FILE), &stale_log).expect("restore log");
    let crashed = crash_copy(dir.path());
    let opened = Store::open(crashed.path()).expect("reopen");
    assert!(opened.notice.is_none(), "{:?}", opened.notice);
    assert_eq!(names(&opened.store), ["b"]);
    assert_eq!(opened.store.resource_version(), 3);
}

#[test]
fn resource_versions_never_go_backwards_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = 0;
    for round in 0..4 {
        let store = Store::open(dir.path()).expect("open").store;
        assert_eq!(store.resource_version(), seen, "round {round}");
        let created = store
            .create(&cms(), cm(&format!("r{round}"), "default", "1"))
            .expect("create");
        assert!(rv_of(&created) > seen);
        // End on a delete, whose resourceVersion no stored object carries.
        store
            .delete(
                &cms(),
                Some("default"),
                &format!("r{round}"),
                &Preconditions::default(),
            )
            .expect("delete");
        seen = store.resource_version();
        assert_eq!(seen, rv_of(&created) + 1);
        if round % 2 == 1 {
            store.compact().expect("compact");
        }
    }
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
