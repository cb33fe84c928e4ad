//! The object store: every API object as JSON, keyed by resource, namespace and name.
//!
//! One global, monotonically increasing resourceVersion orders all writes. Every acknowledged
//! write is durable first — appended to the write-ahead log and fsynced (see `wal`) — and then
//! fanned out to watchers (see [`watch`]). The log is folded into an atomic snapshot (see
//! `persist`) when it grows past the snapshot's size, and on open after replaying it.

mod persist;
mod wal;
mod watch;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::meta;
pub use persist::PersistError;
pub use watch::Watch;

/// How many past events the store keeps so that watches can resume from an older resourceVersion.
pub const DEFAULT_HISTORY: usize = 10_000;

/// Identifies a resource type: API group, version and plural resource name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group (`v1`).
    pub version: String,
    /// Plural lowercase resource name (`deployments`).
    pub resource: String,
}

impl ResourceKey {
    /// Builds a key from its three parts.
    pub fn new(group: &str, version: &str, resource: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            resource: resource.to_owned(),
        }
    }

    /// The `apiVersion` objects of this resource carry (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group-qualified resource as API errors name it (`pods`, `deployments.apps`).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.resource)
    }
}

/// What happened to an object, as watch streams report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// The object was created (or is reported as existing at the start of a watch).
    Added,
    /// The object was changed.
    Modified,
    /// The object was removed.
    Deleted,
}

/// One change to one object.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventType,
    /// The object's resource type.
    pub resource: ResourceKey,
    /// The object after the change (for deletions: its last state, with the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The resourceVersion of this change.
    pub resource_version: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object with that name exists.
    #[error("{} \"{name}\" not found", resource.group_resource())]
    NotFound {
        /// The resource type looked in.
        resource: ResourceKey,
        /// The requested name.
        name: String,
    },
    /// An object with that name already exists.
    #[error("{} \"{name}\" already exists", resource.group_resource())]
    AlreadyExists {
        /// The resource type.
        resource: ResourceKey,
        /// The conflicting name.
        name: String,
    },
    /// The write was based on a stale resourceVersion (or a failed uid precondition).
    #[error("Operation cannot be fulfilled on {} \"{name}\": {reason}", resource.group_resource())]
    Conflict {
        /// The resource type.
        resource: ResourceKey,
        /// The object's name.
        name: String,
        /// Why, in the API server's words.
        reason: String,
    },
    /// A watch asked to resume from a resourceVersion older than the kept history.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone {
        /// The resourceVersion the client asked for.
        requested: u64,
        /// The oldest resourceVersion the store can still resume from.
        oldest: u64,
    },
    /// The object cannot be stored as given (e.g. it has no name).
    #[error("{0}")]
    Invalid(String),
    /// The write could not be made durable; nothing was changed.
    #[error(transparent)]
    Persist(#[from] PersistError),
}

/// Result type for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Namespace and name of an object; cluster-scoped objects use an empty namespace.
type ObjectId = (String, String);

type Objects = BTreeMap<ResourceKey, BTreeMap<ObjectId, Arc<Value>>>;

/// The log is compacted once it is larger than the snapshot and at least this big.
const COMPACT_MIN_BYTES: u64 = 4 * 1024 * 1024;

struct Inner {
    objects: Objects,
    resource_version: u64,
    history: VecDeque<WatchEvent>,
    history_limit: usize,
    /// Watches may resume from any resourceVersion >= this one.
    history_floor: u64,
    /// Where writes go; `None` for an in-memory store.
    durable: Option<Durable>,
}

/// The on-disk half of a persistent store: the snapshot and the log after it.
struct Durable {
    snapshot: PathBuf,
    log: wal::Log,
    /// Size of the last snapshot written; the log is compacted when it outgrows it.
    snapshot_bytes: u64,
    /// Lower bound on the log's size before compaction (smaller in tests).
    compact_min: u64,
}

impl Durable {
    /// Appends one committed write to the log and fsyncs it.
    fn append(&mut self, rv: u64, changes: &[wal::ChangeOut<'_>]) -> Result<(), PersistError> {
        self.log.append(rv, changes)
    }

    /// Writes `objects` as the snapshot at `rv`, then empties the log. A crash between the two
    /// is harmless: replay skips log records at or below the snapshot's resourceVersion.
    fn compact(&mut self, objects: &Objects, rv: u64) -> Result<(), PersistError> {
        let all = objects
            .iter()
            .flat_map(|(k, m)| m.values().map(move |v| (k, v.as_ref())));
        self.snapshot_bytes = persist::save(&self.snapshot, rv, all)?;
        self.log.clear()
    }

    fn wants_compaction(&self) -> bool {
        let len = self.log.len();
        len >= self.compact_min && len >= self.snapshot_bytes
    }
}

/// The shared object store (cheap to clone; all clones see the same objects).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    events: broadcast::Sender<WatchEvent>,
    file: Option<Arc<PathBuf>>,
}

/// A store opened from disk, with a notice when the previous state file had to be set aside.
pub struct Opened {
    /// The store.
    pub store: Store,
    /// Set when the state file was unreadable and moved aside; says where it went.
    pub notice: Option<String>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("file", &self.file).finish()
    }
}

/// The file name of the snapshot inside the state directory.
pub const STORE_FILE: &str = "store.json";

/// The file name of the write-ahead log inside the state directory.
pub const LOG_FILE: &str = "store.wal";

impl Store {
    /// An empty store that lives only in memory (tests, benchmarks).
    pub fn in_memory() -> Self {
        Self::with_parts(Objects::new(), 0, None, None, DEFAULT_HISTORY)
    }

    /// Opens (or creates) the store persisted in `state_dir`: the snapshot `store.json` plus the
    /// write-ahead log `store.wal` replayed over it.
    ///
    /// A snapshot that cannot be parsed is renamed to `store.json.corrupt-<time>` and the store
    /// starts empty; a log damaged before its last line is renamed likewise and the changes
    /// before the damage are kept; [`Opened::notice`] then says so. A torn last log line (a write
    /// a crash cut short, never acknowledged) is dropped silently.
    pub fn open(state_dir: &Path) -> Result<Opened, PersistError> {
        Self::open_with_history(state_dir, DEFAULT_HISTORY)
    }

    /// Like [`Store::open`] with a custom watch-history length.
    pub fn open_with_history(state_dir: &Path, history: usize) -> Result<Opened, PersistError> {
        Self::open_tuned(state_dir, history, COMPACT_MIN_BYTES)
    }

    fn open_tuned(
        state_dir: &Path,
        history: usize,
        compact_min: u64,
    ) -> Result<Opened, PersistError> {
        std::fs::create_dir_all(state_dir).map_err(|source| PersistError::Io {
            action: "create",
            path: state_dir.to_owned(),
            source,
        })?;
        let file = state_dir.join(STORE_FILE);
        let log_file = state_dir.join(LOG_FILE);
        let loaded = persist::load(&file)?;
        let mut objects = Objects::new();
        for (resource, object) in loaded.objects {
            let id = object_id(&object);
            objects
                .entry(resource)
                .or_default()
                .insert(id, Arc::new(object));
        }
        let replayed = wal::replay(&log_file, loaded.resource_version)?;
        let mut resource_version = loaded.resource_version;
        for record in replayed.records {
            for change in record.changes {
                match change {
                    wal::Change::Put { resource, object } => {
                        let id = object_id(&object);
                        objects
                            .entry(resource)
                            .or_default()
                            .insert(id, Arc::new(object));
                    }
                    wal::Change::Delete {
                        resource,
                        namespace,
                        name,
                    } => {
                        if let Some(m) = objects.get_mut(&resource) {
                            m.remove(&(namespace, name));
                        }
                    }
                }
            }
            resource_version = record.rv;
        }
        let mut durable = Durable {
            snapshot: file.clone(),
            log: wal::Log::open(&log_file)?,
            snapshot_bytes: std::fs::metadata(&file).map_or(0, |m| m.len()),
            compact_min,
        };
        // Start from a clean pair: the snapshot holds everything, the log is empty (this also
        // drops a torn tail before anything is appended after it).
        if replayed.bytes > 0 || replayed.torn_tail || replayed.notice.is_some() {
            durable.compact(&objects, resource_version)?;
        }
        let notice = match (loaded.notice, replayed.notice) {
            (Some(a), Some(b)) => Some(format!("{a}\n{b}")),
            (a, b) => a.or(b),
        };
        let store = Self::with_parts(
            objects,
            resource_version,
            Some(durable),
            Some(Arc::new(file)),
            history,
        );
        Ok(Opened { store, notice })
    }

    fn with_parts(
        objects: Objects,
        resource_version: u64,
        durable: Option<Durable>,
        file: Option<Arc<PathBuf>>,
        history_limit: usize,
    ) -> Self {
        let (events, _) = broadcast::channel(4096);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                objects,
                resource_version,
                history: VecDeque::new(),
                history_limit: history_limit.max(1),
                history_floor: resource_version,
                durable,
            })),
            events,
            file,
        }
    }

    /// Folds the write-ahead log into a fresh snapshot now (it also happens on its own when the
    /// log grows, and on open); a no-op for an in-memory store.
    pub fn compact(&self) -> Result<(), PersistError> {
        let mut inner = self.lock();
        let Inner {
            objects,
            resource_version,
            durable,
            ..
        } = &mut *inner;
        match durable {
            Some(d) => d.compact(objects, *resource_version),
            None => Ok(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a panic happened while holding it; the data is still
        // consistent because every mutation is rolled back before an error is returned.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// Reads one object.
    pub fn get(
        &self,
        resource: &ResourceKey,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Arc<Value>> {
        let id = (namespace.unwrap_or("").to_owned(), name.to_owned());
        Self::existing(&self.lock(), resource, &id)
    }

    /// Lists objects of a resource (all namespaces when `namespace` is `None`), sorted by namespace
    /// and name, with the store's current resourceVersion.
    pub fn list(&self, resource: &ResourceKey, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .get(resource)
            .map(|m| {
                m.iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
                    .map(|(_, v)| Arc::clone(v))
                    .collect()
            })
            .unwrap_or_default();
        (items, inner.resource_version)
    }

    /// The resource types that currently hold at least one object.
    pub fn resources_with_objects(&self) -> Vec<ResourceKey> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Creates an object; sets uid, creationTimestamp, resourceVersion and (when it has a spec) generation.
    pub fn create(&self, resource: &ResourceKey, mut object: Value) -> Result<Arc<Value>> {
        let name = meta::name(&object)
            .ok_or_else(|| {
                StoreError::Invalid("metadata.name: Required value: name is required".into())
            })?
            .to_owned();
        let id = object_id(&object);
        let mut inner = self.lock();
        if inner
            .objects
            .get(resource)
            .is_some_and(|m| m.contains_key(&id))
        {
            return Err(StoreError::AlreadyExists {
                resource: resource.clone(),
                name,
            });
        }
        let rv = inner.resource_version + 1;
        let has_spec = object.get("spec").is_some();
        if let Some(m) = meta::metadata_mut(&mut object) {
            m.insert("uid".into(), Value::String(meta::new_uid()));
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
            m.insert(
                "creationTimestamp".into(),
                Value::String(meta::now_rfc3339()),
            );
            if has_spec {
                m.insert("generation".into(), Value::from(1));
            } else {
                m.remove("generation");
            }
            m.remove("deletionTimestamp");
        }
        let object = Arc::new(object);
        self.commit_put(&mut inner, EventType::Added, resource, id, &object, rv)?;
        Ok(object)
    }

    /// Replaces an object.
    ///
    /// When the new object carries `metadata.resourceVersion`, it must equal the stored one
    /// (optimistic concurrency); otherwise the write is unconditional. uid and
    /// creationTimestamp are kept from the stored object; generation grows when the spec
    /// changes. A write that changes nothing returns the stored object unchanged.
    pub fn update(&self, resource: &ResourceKey, mut object: Value) -> Result<Arc<Value>> {
        let name = meta::name(&object)
            .ok_or_else(|| {
                StoreError::Invalid("metadata.name: Required value: name is required".into())
            })?
            .to_owned();
        let id = object_id(&object);
        let mut inner = self.lock();
        let old = Self::existing(&inner, resource, &id)?;
        let old_rv = meta::meta_str(&old, "resourceVersion")
            .unwrap_or("")
            .to_owned();
        if let Some(given) = meta::meta_str(&object, "resourceVersion")
            && given != old_rv
        {
            return Err(StoreError::Conflict {
                resource: resource.clone(),
                name,
                reason: CONFLICT_REASON.into(),
            });
        }
        let old_generation = meta::metadata(&old)
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64);
        let spec_changed = old.get("spec") != object.get("spec");
        if let Some(m) = meta::metadata_mut(&mut object) {
            for field in ["uid", "creationTimestamp", "deletionTimestamp"] {
                match meta::metadata(&old).and_then(|o| o.get(field)) {
                    Some(v) => m.insert(field.into(), v.clone()),
                    None => m.remove(field),
                };
            }
            m.insert("resourceVersion".into(), Value::String(old_rv.clone()));
            let generation = match old_generation {
                Some(g) if spec_changed => Some(g + 1),
                Some(g) => Some(g),
                None if object_has_spec(&old) || spec_changed => Some(1),
                None => None,
            };
            match generation {
                Some(g) => m.insert("generation".into(), Value::from(g)),
                None => m.remove("generation"),
            };
        }
        if object == *old {
            return Ok(old);
        }
        let rv = inner.resource_version + 1;
        if let Some(m) = meta::metadata_mut(&mut object) {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let object = Arc::new(object);
        self.commit_put(&mut inner, EventType::Modified, resource, id, &object, rv)?;
        Ok(object)
    }

    /// Marks an object as being deleted: sets `metadata.deletionTimestamp` (which clients cannot
    /// set through [`Store::update`]) and lets `mutate` adjust the rest (e.g. a Terminating phase).
    ///
    /// Returns the object unchanged when it is already being deleted.
    pub fn begin_deletion(
        &self,
        resource: &ResourceKey,
        namespace: Option<&str>,
        name: &str,
        mutate: impl FnOnce(&mut Value),
    ) -> Result<Arc<Value>> {
        let id = (namespace.unwrap_or("").to_owned(), name.to_owned());
        let mut inner = self.lock();
        let old = Self::existing(&inner, resource, &id)?;
        if meta::meta_str(&old, "deletionTimestamp").is_some() {
            return Ok(old);
        }
        let rv = inner.resource_version + 1;
        let mut object = (*old).clone();
        mutate(&mut object);
        if let Some(m) = meta::metadata_mut(&mut object) {
            m.insert(
                "deletionTimestamp".into(),
                Value::String(meta::now_rfc3339()),
            );
            m.insert("deletionGracePeriodSeconds".into(), Value::from(0));
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let object = Arc::new(object);
        self.commit_put(&mut inner, EventType::Modified, resource, id, &object, rv)?;
        Ok(object)
    }

    /// Deletes an object, optionally only if its uid and/or resourceVersion still match.
    ///
    /// Returns the object as it was, carrying the deletion's resourceVersion.
    pub fn delete(
        &self,
        resource: &ResourceKey,
        namespace: Option<&str>,
        name: &str,
        preconditions: &Preconditions,
    ) -> Result<Arc<Value>> {
        let id = (namespace.unwrap_or("").to_owned(), name.to_owned());
        let mut inner = self.lock();
        let old = Self::existing(&inner, resource, &id)?;
        if let Some(uid) = &preconditions.uid
            && meta::meta_str(&old, "uid") != Some(uid.as_str())
        {
            return Err(StoreError::Conflict {
                resource: resource.clone(),
                name: name.to_owned(),
                reason: format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::meta_str(&old, "uid").unwrap_or("")
                ),
            });
        }
        if let Some(rv) = &preconditions.resource_version
            && meta::meta_str(&old, "resourceVersion") != Some(rv.as_str())
        {
            return Err(StoreError::Conflict {
                resource: resource.clone(),
                name: name.to_owned(),
                reason: CONFLICT_REASON.into(),
            });
        }
        let deleted = self.delete_ids(&mut inner, vec![(resource.clone(), id)])?;
        deleted
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound {
                resource: resource.clone(),
                name: name.to_owned(),
            })
    }

    /// Deletes every object for which `select(resource, object)` is true, durably, in one write.
    pub fn delete_matching(
        &self,
        select: impl Fn(&ResourceKey, &Value) -> bool,
    ) -> Result<Vec<(ResourceKey, Arc<Value>)>> {
        let mut inner = self.lock();
        let ids: Vec<(ResourceKey, ObjectId)> = inner
            .objects
            .iter()
            .flat_map(|(k, m)| {
                m.iter()
                    .filter(|(_, v)| select(k, v))
                    .map(|(id, _)| (k.clone(), id.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let keys: Vec<ResourceKey> = ids.iter().map(|(k, _)| k.clone()).collect();
        let deleted = self.delete_ids(&mut inner, ids)?;
        Ok(keys.into_iter().zip(deleted).collect())
    }

    fn delete_ids(
        &self,
        inner: &mut MutexGuard<'_, Inner>,
        ids: Vec<(ResourceKey, ObjectId)>,
    ) -> Result<Vec<Arc<Value>>> {
        let mut removed = Vec::new();
        for (resource, id) in ids {
            if let Some(old) = inner.objects.get(&resource).and_then(|m| m.get(&id)) {
                let old = Arc::clone(old);
                removed.push((resource, id, old));
            }
        }
        if removed.is_empty() {
            return Ok(Vec::new());
        }
        let previous_rv = inner.resource_version;
        let rv = previous_rv + removed.len() as u64;
        if let Some(durable) = &mut inner.durable {
            let changes: Vec<wal::ChangeOut<'_>> = removed
                .iter()
                .map(|(resource, (namespace, name), _)| wal::ChangeOut::Delete {
                    resource,
                    namespace,
                    name,
                })
                .collect();
            durable.append(rv, &changes)?;
        }
        for (resource, id, _) in &removed {
            if let Some(m) = inner.objects.get_mut(resource) {
                m.remove(id);
            }
        }
        inner.resource_version = rv;
        Self::maybe_compact(inner);
        let mut out = Vec::new();
        for (rv, (resource, _, old)) in (previous_rv + 1..).zip(removed) {
            let mut last = (*old).clone();
            if let Some(m) = meta::metadata_mut(&mut last) {
                m.insert("resourceVersion".into(), Value::String(rv.to_string()));
            }
            let last = Arc::new(last);
            self.publish(inner, EventType::Deleted, &resource, Arc::clone(&last), rv);
            out.push(last);
        }
        Ok(out)
    }

    /// Starts a watch on a resource (optionally one namespace).
    ///
    /// With `from = None` (or `Some(0)`), the watch first reports every existing object as
    /// `ADDED`; with `Some(rv)` it reports every change after `rv`, or fails with
    /// [`StoreError::Gone`] when `rv` is older than the kept history.
    pub fn watch(
        &self,
        resource: &ResourceKey,
        namespace: Option<&str>,
        from: Option<u64>,
    ) -> Result<Watch> {
        let inner = self.lock();
        let filter = watch::Filter {
            resource: Some(resource.clone()),
            namespace: namespace.map(str::to_owned),
        };
        let mut backlog = VecDeque::new();
        match from {
            None | Some(0) => {
                let mut existing: Vec<(u64, Arc<Value>)> = inner
                    .objects
                    .get(resource)
                    .into_iter()
                    .flat_map(|m| m.iter())
                    .filter(|((ns, _), _)| namespace.is_none_or(|want| want == ns))
                    .map(|(_, v)| (object_rv(v), Arc::clone(v)))
                    .collect();
                existing.sort_by_key(|(rv, _)| *rv);
                for (rv, object) in existing {
                    backlog.push_back(WatchEvent {
                        kind: EventType::Added,
                        resource: resource.clone(),
                        object,
                        resource_version: rv,
                    });
                }
            }
            Some(rv) => {
                if rv < inner.history_floor {
                    return Err(StoreError::Gone {
                        requested: rv,
                        oldest: inner.history_floor,
                    });
                }
                backlog.extend(
                    inner
                        .history
                        .iter()
                        .filter(|e| e.resource_version > rv && filter.matches(e))
                        .cloned(),
                );
            }
        }
        Ok(Watch::new(
            filter,
            backlog,
            self.events.subscribe(),
            inner.resource_version,
        ))
    }

    /// Watches every change to every resource from now on (what in-process controllers use).
    ///
    /// Returns the watch and a snapshot of all objects at the moment it started, so a
    /// controller can reconcile everything once and then follow the changes without a gap.
    pub fn watch_all(&self) -> (Watch, Vec<(ResourceKey, Arc<Value>)>) {
        let inner = self.lock();
        let snapshot = all_objects(&inner);
        let filter = watch::Filter {
            resource: None,
            namespace: None,
        };
        let watch = Watch::new(
            filter,
            VecDeque::new(),
            self.events.subscribe(),
            inner.resource_version,
        );
        (watch, snapshot)
    }

    /// Every object of every resource, in resource, namespace and name order.
    pub fn all(&self) -> Vec<(ResourceKey, Arc<Value>)> {
        all_objects(&self.lock())
    }

    fn publish(
        &self,
        inner: &mut Inner,
        kind: EventType,
        resource: &ResourceKey,
        object: Arc<Value>,
        rv: u64,
    ) {
        let event = WatchEvent {
            kind,
            resource: resource.clone(),
            object,
            resource_version: rv,
        };
        inner.history.push_back(event.clone());
        while inner.history.len() > inner.history_limit {
            if let Some(evicted) = inner.history.pop_front() {
                inner.history_floor = evicted.resource_version;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(event);
    }

    /// The stored object with this id, or `NotFound` naming it.
    fn existing(inner: &Inner, resource: &ResourceKey, id: &ObjectId) -> Result<Arc<Value>> {
        inner
            .objects
            .get(resource)
            .and_then(|m| m.get(id))
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                resource: resource.clone(),
                name: id.1.clone(),
            })
    }

    /// Makes `object` (at resourceVersion `rv`) durable, then visible in memory, then tells
    /// watchers (`kind`).
    ///
    /// Nothing changes when the log append fails.
    fn commit_put(
        &self,
        inner: &mut Inner,
        kind: EventType,
        resource: &ResourceKey,
        id: ObjectId,
        object: &Arc<Value>,
        rv: u64,
    ) -> Result<(), PersistError> {
        if let Some(durable) = &mut inner.durable {
            durable.append(rv, &[wal::ChangeOut::Put { resource, object }])?;
        }
        inner
            .objects
            .entry(resource.clone())
            .or_default()
            .insert(id, Arc::clone(object));
        inner.resource_version = rv;
        Self::maybe_compact(inner);
        self.publish(inner, kind, resource, Arc::clone(object), rv);
        Ok(())
    }

    /// Compacts the log when it has grown; a failure is logged and retried on a later write
    /// (the write itself is already durable in the log).
    fn maybe_compact(inner: &mut Inner) {
        let Inner {
            objects,
            resource_version,
            durable,
            ..
        } = inner;
        if let Some(d) = durable
            && d.wants_compaction()
            && let Err(e) = d.compact(objects, *resource_version)
        {
            tracing::warn!("compacting the store's log failed (will retry): {e}");
        }
    }
}

/// Preconditions for a delete, as in `DeleteOptions.preconditions`.
#[derive(Clone, Debug, Default)]
pub struct Preconditions {
    /// The object's uid must be this.
    pub uid: Option<String>,
    /// The object's resourceVersion must be this.
    pub resource_version: Option<String>,
}

/// The API server's wording for a stale-resourceVersion conflict.
pub const CONFLICT_REASON: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

fn all_objects(inner: &Inner) -> Vec<(ResourceKey, Arc<Value>)> {
    inner
        .objects
        .iter()
        .flat_map(|(k, m)| m.values().map(move |v| (k.clone(), Arc::clone(v))))
        .collect()
}

fn object_id(object: &Value) -> ObjectId {
    (
        meta::namespace(object).unwrap_or("").to_owned(),
        meta::name(object).unwrap_or("").to_owned(),
    )
}

fn object_rv(object: &Value) -> u64 {
    meta::meta_str(object, "resourceVersion")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn object_has_spec(object: &Value) -> bool {
    object.get("spec").is_some()
}

#[cfg(test)]
mod tests;
