//! Server-side apply and field ownership (`metadata.managedFields`), as a Kubernetes API server
//! keeps them.
//!
//! Every write records which *manager* set which fields, in Kubernetes' `FieldsV1` encoding
//! (`f:<field>`, `k:{"name":"x"}` for items of keyed lists, `v:<json>` for set members, `.` for
//! "the item itself"). An apply merges the applied configuration into the live object, removes
//! the fields its manager applied before and no longer applies (unless someone else owns them)
//! and refuses to change fields other managers own unless forced.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::PatchError;
use super::strategic::{self, ListStrategy};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Elem {
    /// A named field of a map or struct (`f:name`).
    Field(String),
    /// An item of a keyed list, by its merge key as compact JSON (`k:{"name":"x"}`).
    Key(String),
    /// A member of a set of scalars, as compact JSON (`v:"x"`).
    Value(String),
}

/// A field path from the object root.
pub type Path = Vec<Elem>;

/// A set of field paths: what one manager owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

/// Metadata fields the server owns; they are never part of a field set.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// How the fields of a kind are structured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schema {
    /// Custom resources have no merge keys outside `metadata`: their lists are atomic.
    pub custom: bool,
    /// `status` belongs to the status subresource and is ignored by main-resource writes.
    pub has_status: bool,
}

impl Schema {
    fn list_strategy(self, names: &[&str]) -> ListStrategy {
        if self.custom && names.first() != Some(&"metadata") {
            return ListStrategy::Replace;
        }
        strategic::list_strategy(names)
    }

    fn skipped(self, names: &[&str], subresource: Option<&str>) -> bool {
        match names {
            ["apiVersion" | "kind"] => true,
            ["metadata", f] => SERVER_METADATA.contains(f),
            ["status"] => self.has_status && subresource.is_none(),
            [first, ..] => subresource == Some("status") && *first != "status",
            [] => false,
        }
    }
}

impl FieldSet {
    /// Whether the set owns nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &[Elem]) -> bool {
        self.0.contains(path)
    }

    /// Whether `path` or anything below it is a member.
    fn owns_within(&self, path: &[Elem]) -> bool {
        self.0
            .range(path.to_vec()..)
            .next()
            .is_some_and(|p| p.starts_with(path))
    }

    /// The members, in order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    /// The fields of an applied configuration: every leaf value, and every item of a keyed list.
    pub fn of_applied(obj: &Value, schema: Schema, subresource: Option<&str>) -> Self {
        let mut set = Self::default();
        walk(
            obj,
            None,
            schema,
            subresource,
            &mut Vec::new(),
            &mut Vec::new(),
            Mode::Applied,
            &mut set,
        );
        set
    }

    /// The fields an update changed or added: leaves whose value differs, and maps or list items
    /// that did not exist before.
    pub fn of_update(
        old: Option<&Value>,
        new: &Value,
        schema: Schema,
        subresource: Option<&str>,
    ) -> Self {
        let mut set = Self::default();
        walk(
            new,
            Some(old.unwrap_or(&Value::Null)),
            schema,
            subresource,
            &mut Vec::new(),
            &mut Vec::new(),
            Mode::Changed,
            &mut set,
        );
        set
    }

    /// Keeps only the members that still exist in `obj`.
    fn retain_existing(&mut self, obj: &Value) {
        self.0.retain(|p| lookup(obj, p).is_some());
    }

    /// The `fieldsV1` JSON encoding.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for elem in path {
                let entry = node
                    .entry(encode(elem))
                    .or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(next) = entry else {
                    break;
                };
                node = next;
            }
        }
        // A member with members below it is marked with `.`; a member without is just `{}`.
        for path in &self.0 {
            if let Some(Value::Object(node)) = node_at(&mut root, path)
                && !node.is_empty()
            {
                node.insert(".".into(), json!({}));
            }
        }
        Value::Object(root)
    }

    /// Decodes `fieldsV1`; unknown or malformed parts are skipped.
    pub fn from_fields_v1(value: &Value) -> Self {
        let mut set = Self::default();
        decode(value, &mut Vec::new(), &mut set);
        set
    }
}

fn node_at<'a>(root: &'a mut Map<String, Value>, path: &[Elem]) -> Option<&'a mut Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = root.get_mut(&encode(first))?;
    for elem in rest {
        cur = cur.as_object_mut()?.get_mut(&encode(elem))?;
    }
    Some(cur)
}

fn encode(elem: &Elem) -> String {
    match elem {
        Elem::Field(f) => format!("f:{f}"),
        Elem::Key(k) => format!("k:{k}"),
        Elem::Value(v) => format!("v:{v}"),
    }
}

fn decode(value: &Value, path: &mut Path, set: &mut FieldSet) {
    let Some(map) = value.as_object() else {
        return;
    };
    if map.is_empty() && !path.is_empty() {
        set.0.insert(path.clone());
        return;
    }
    for (key, child) in map {
        if key == "." {
            if !path.is_empty() {
                set.0.insert(path.clone());
            }
            continue;
        }
        let elem = if let Some(f) = key.strip_prefix("f:") {
            Elem::Field(f.to_owned())
        } else if let Some(k) = key.strip_prefix("k:") {
            match serde_json::from_str::<Value>(k) {
                Ok(v @ Value::Object(_)) => Elem::Key(canonical(&v)),
                _ => continue,
            }
        } else if let Some(v) = key.strip_prefix("v:") {
            match serde_json::from_str::<Value>(v) {
                Ok(v) => Elem::Value(canonical(&v)),
                Err(_) => continue,
            }
        } else {
            continue;
        };
        path.push(elem);
        decode(child, path, set);
        path.pop();
    }
}

/// Compact JSON with object keys sorted, so equal keys encode equally.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        other => other.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Applied,
    Changed,
}

/// Whether a field exists in every object of its kind (a required struct or list in the Go
/// types, like `spec` or a pod's `containers`): creating it is not a change of its own, so an
/// update does not own it with a `.` marker. Custom resources are plain maps below `metadata`.
fn always_present(schema: Schema, names: &[&str]) -> bool {
    match names {
        [] | ["metadata"] => true,
        _ if schema.custom => false,
        ["spec" | "status"] => true,
        [.., "template"] | [.., "template", "metadata" | "spec"] => true,
        [.., "containers"] => true,
        _ => false,
    }
}

/// A label selector struct is atomic in Kubernetes' schema: it is owned as one field.
fn is_atomic_map(names: &[&str], value: &Map<String, Value>) -> bool {
    names.last() == Some(&"selector")
        && (value.contains_key("matchLabels") || value.contains_key("matchExpressions"))
}

#[allow(clippy::too_many_arguments)]
fn walk<'a>(
    value: &'a Value,
    old: Option<&Value>,
    schema: Schema,
    subresource: Option<&str>,
    names: &mut Vec<&'a str>,
    path: &mut Path,
    mode: Mode,
    set: &mut FieldSet,
) {
    // `old` is `Some(Null)` when the parent existed but this field did not.
    let absent_before = matches!(old, Some(Value::Null));
    match value {
        Value::Object(map) if !map.is_empty() && !is_atomic_map(names, map) => {
            if mode == Mode::Changed && absent_before && !always_present(schema, names) {
                set.0.insert(path.clone());
            }
            for (k, v) in map {
                names.push(k);
                if schema.skipped(names, subresource) {
                    names.pop();
                    continue;
                }
                path.push(Elem::Field(k.clone()));
                let old_child = old.map(|o| o.get(k).unwrap_or(&Value::Null));
                walk(v, old_child, schema, subresource, names, path, mode, set);
                path.pop();
                names.pop();
            }
        }
        Value::Array(items) => match schema.list_strategy(names) {
            ListStrategy::MergeByKey(key) if items.iter().all(|i| i.get(key).is_some()) => {
                if mode == Mode::Changed && absent_before && !always_present(schema, names) {
                    set.0.insert(path.clone());
                }
                for item in items {
                    let Some(elem) = key_elem(item, key) else {
                        continue;
                    };
                    let old_item = old.map(|o| {
                        o.as_array()
                            .and_then(|l| {
                                l.iter().find(|i| key_elem(i, key).as_ref() == Some(&elem))
                            })
                            .unwrap_or(&Value::Null)
                    });
                    path.push(elem);
                    if mode == Mode::Applied || matches!(old_item, Some(Value::Null)) {
                        set.0.insert(path.clone());
                    }
                    if let Value::Object(fields) = item {
                        for (k, v) in fields {
                            names.push(k);
                            path.push(Elem::Field(k.clone()));
                            let old_child = old_item.map(|o| o.get(k).unwrap_or(&Value::Null));
                            walk(v, old_child, schema, subresource, names, path, mode, set);
                            path.pop();
                            names.pop();
                        }
                    }
                    path.pop();
                }
            }
            ListStrategy::MergePrimitives => {
                if mode == Mode::Changed && absent_before {
                    set.0.insert(path.clone());
                }
                for item in items {
                    let was = old
                        .and_then(Value::as_array)
                        .is_some_and(|l| l.contains(item));
                    if mode == Mode::Applied || !was {
                        path.push(Elem::Value(canonical(item)));
                        set.0.insert(path.clone());
                        path.pop();
                    }
                }
            }
            _ => leaf(value, old, path, mode, set),
        },
        _ => leaf(value, old, path, mode, set),
    }
}

fn leaf(value: &Value, old: Option<&Value>, path: &Path, mode: Mode, set: &mut FieldSet) {
    if path.is_empty() {
        return;
    }
    if mode == Mode::Applied || old != Some(value) {
        set.0.insert(path.clone());
    }
}

/// The path element of a keyed list item: its merge key (and value) as JSON.
fn key_elem(item: &Value, key: &str) -> Option<Elem> {
    let v = item.get(key)?;
    let mut m = Map::new();
    m.insert(key.to_owned(), v.clone());
    Some(Elem::Key(canonical(&Value::Object(m))))
}

fn matches_elem(item: &Value, elem: &Elem) -> bool {
    match elem {
        Elem::Key(k) => serde_json::from_str::<Value>(k)
            .ok()
            .and_then(|want| {
                want.as_object()
                    .map(|w| w.iter().all(|(f, v)| item.get(f) == Some(v)))
            })
            .unwrap_or(false),
        Elem::Value(v) => canonical(item) == *v,
        Elem::Field(_) => false,
    }
}

/// The value at `path`, if present.
pub fn lookup<'a>(obj: &'a Value, path: &[Elem]) -> Option<&'a Value> {
    let mut cur = obj;
    for elem in path {
        cur = match (elem, cur) {
            (Elem::Field(f), Value::Object(m)) => m.get(f)?,
            (_, Value::Array(items)) => items.iter().find(|i| matches_elem(i, elem))?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the value at `path` (a field, list item or set member); absent paths are ignored.
fn remove(obj: &mut Value, path: &[Elem]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for elem in parents {
        let next = match (elem, cur) {
            (Elem::Field(f), Value::Object(m)) => m.get_mut(f),
            (_, Value::Array(items)) => items.iter_mut().find(|i| matches_elem(i, elem)),
            _ => None,
        };
        let Some(next) = next else {
            return;
        };
        cur = next;
    }
    match (last, cur) {
        (Elem::Field(f), Value::Object(m)) => {
            m.remove(f);
        }
        (_, Value::Array(items)) => items.retain(|i| !matches_elem(i, last)),
        _ => {}
    }
}

/// Renders a path as Kubernetes prints it in conflicts: `.spec.containers[name="app"].image`.
pub fn display(path: &[Elem]) -> String {
    let mut out = String::new();
    for elem in path {
        match elem {
            Elem::Field(f) => {
                out.push('.');
                out.push_str(f);
            }
            Elem::Key(k) => {
                let parts: Vec<String> = serde_json::from_str::<Map<String, Value>>(k)
                    .map(|m| m.iter().map(|(f, v)| format!("{f}={v}")).collect())
                    .unwrap_or_default();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
            Elem::Value(v) => out.push_str(&format!("[={v}]")),
        }
    }
    out
}

/// Which fields one manager owns, and how it wrote them.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The `fieldManager` of the writes.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version the manager wrote with.
    pub api_version: String,
    /// The subresource written (`status`, `scale`), if any.
    pub subresource: Option<String>,
    /// When the set last changed.
    pub time: String,
    /// The owned fields.
    pub fields: FieldSet,
}

impl Entry {
    fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("apiVersion".into(), json!(self.api_version));
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), json!(s));
        }
        m.insert("time".into(), json!(self.time));
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Option<Self> {
        let s = |f: &str| v.get(f).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            manager: s("manager").unwrap_or_default(),
            operation: s("operation")?,
            api_version: s("apiVersion").unwrap_or_default(),
            subresource: s("subresource").filter(|s| !s.is_empty()),
            time: s("time").unwrap_or_default(),
            fields: v
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        })
    }

    /// How a conflict names this manager: `"kubectl-edit" using apps/v1`.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        format!("{s} using {}", self.api_version)
    }
}

/// Reads `metadata.managedFields`.
pub fn entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

fn store_entries(obj: &mut Value, entries: &[Entry]) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if list.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Who is writing: the manager, its API version and the subresource.
#[derive(Clone, Debug)]
pub struct Writer<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// The apiVersion of the request.
    pub api_version: &'a str,
    /// The subresource written, if any.
    pub subresource: Option<&'a str>,
    /// The current time, RFC 3339.
    pub time: &'a str,
}

/// Records a non-apply write (create, update, patch): the changed fields move to the writer's
/// `Update` entry, removed fields leave every entry. `managedFields` the writer set itself
/// (different from the old object's) are taken as given.
pub fn record_update(old: Option<&Value>, new: &mut Value, schema: Schema, writer: &Writer<'_>) {
    let old_entries = old.map(entries).unwrap_or_default();
    let sent = new.pointer("/metadata/managedFields");
    let explicit = sent.is_some() && sent != old.and_then(|o| o.pointer("/metadata/managedFields"));
    let mut list = if explicit { entries(new) } else { old_entries };
    let changed = FieldSet::of_update(old, new, schema, writer.subresource);
    let me = Entry {
        manager: writer.manager.to_owned(),
        operation: "Update".into(),
        api_version: writer.api_version.to_owned(),
        subresource: writer.subresource.map(str::to_owned),
        time: writer.time.to_owned(),
        fields: changed.clone(),
    };
    for e in &mut list {
        e.fields.0.retain(|p| !changed.contains(p));
    }
    if !changed.is_empty() {
        match list.iter_mut().find(|e| e.same_manager(&me)) {
            Some(e) => {
                e.fields.0.extend(changed.0);
                e.api_version = me.api_version;
                e.time = me.time;
            }
            None => list.push(me),
        }
    }
    for e in &mut list {
        e.fields.retain_existing(new);
    }
    store_entries(new, &list);
}

/// Records a controller's write of a built-in object's `status` as the status subresource
/// `Update` of `manager` (`kube-controller-manager`, `kubelet`), as a real cluster shows it.
pub fn record_status_write(old: &Value, new: &mut Value, manager: &str) {
    let api_version = new
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1")
        .to_owned();
    let time = crate::meta::now_rfc3339();
    let writer = Writer {
        manager,
        api_version: &api_version,
        subresource: Some("status"),
        time: &time,
    };
    let schema = Schema {
        custom: false,
        has_status: true,
    };
    record_update(Some(old), new, schema, &writer);
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// Fields owned by other managers would change: (owner description, field path) pairs.
    Conflicts(Vec<(String, String)>),
    /// The applied configuration could not be merged.
    Invalid(PatchError),
}

impl ApplyError {
    /// The message a Kubernetes API server gives for conflicts.
    pub fn message(&self) -> String {
        match self {
            Self::Invalid(e) => e.to_string(),
            Self::Conflicts(list) => {
                let n = list.len();
                let plural = if n == 1 { "" } else { "s" };
                let mut owners: Vec<&str> = list.iter().map(|(o, _)| o.as_str()).collect();
                owners.dedup();
                if n == 1 {
                    let (owner, field) = &list[0];
                    return format!("Apply failed with 1 conflict: conflict with {owner}: {field}");
                }
                let mut text = format!("Apply failed with {n} conflict{plural}: ");
                let mut groups: Vec<String> = Vec::new();
                for owner in owners {
                    let fields: Vec<String> = list
                        .iter()
                        .filter(|(o, _)| o == owner)
                        .map(|(_, f)| format!("- {f}"))
                        .collect();
                    groups.push(format!("conflicts with {owner}:\n{}", fields.join("\n")));
                }
                text.push_str(&groups.join("\n"));
                text
            }
        }
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(m) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    copy
}

/// Applies `applied` to `live` (`None` when the object does not exist yet) for `writer`,
/// returning the new object with its managed fields.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    schema: Schema,
    writer: &Writer<'_>,
    force: bool,
) -> Result<Value, ApplyError> {
    let mut applied = applied.clone();
    if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    let set = FieldSet::of_applied(&applied, schema, writer.subresource);
    let me = Entry {
        manager: writer.manager.to_owned(),
        operation: "Apply".into(),
        api_version: writer.api_version.to_owned(),
        subresource: writer.subresource.map(str::to_owned),
        time: writer.time.to_owned(),
        fields: set.clone(),
    };
    let Some(live) = live else {
        let mut obj = applied;
        store_entries(&mut obj, std::slice::from_ref(&me));
        return Ok(obj);
    };
    let mut merged = live.clone();
    if schema.custom {
        super::merge::apply(&mut merged, &applied);
    } else {
        strategic::apply(&mut merged, &applied).map_err(ApplyError::Invalid)?;
    }
    let mut list = entries(live);
    let position = list.iter().position(|e| e.same_manager(&me));
    let previous_entry = position.map(|i| list.remove(i));
    let previous = previous_entry
        .as_ref()
        .map(|e| e.fields.clone())
        .unwrap_or_default();

    // Conflicts: fields this apply changes that another manager owns.
    let mut conflicts = Vec::new();
    for path in set.paths() {
        let before = lookup(live, path);
        let after = lookup(&merged, path);
        let item = matches!(path.last(), Some(Elem::Key(_)));
        let changes = if item {
            before.is_some() != after.is_some()
        } else {
            before.is_some() && before != after
        };
        if !changes {
            continue;
        }
        for e in &mut list {
            if e.fields.contains(path) {
                if force {
                    e.fields.0.remove(path);
                } else {
                    conflicts.push((e.describe(), display(path)));
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }

    // Fields this manager stops applying go, unless another manager owns them (or a part).
    for path in previous.paths().filter(|p| !set.contains(p)) {
        if set.owns_within(path) || list.iter().any(|e| e.fields.owns_within(path)) {
            continue;
        }
        remove(&mut merged, path);
    }
    let mut me = me;
    if let Some(prev) = previous_entry
        && prev.fields == me.fields
        && prev.api_version == me.api_version
        && without_managed_fields(&merged) == without_managed_fields(live)
    {
        // Nothing changed: the entry keeps its time, so the write is a no-op.
        me.time = prev.time;
    }
    // The entry keeps its place, so an unchanged apply leaves the object byte-for-byte equal.
    list.insert(position.unwrap_or(list.len()).min(list.len()), me);
    for e in &mut list {
        e.fields.retain_existing(&merged);
    }
    store_entries(&mut merged, &list);
    Ok(merged)
}

#[cfg(test)]
mod tests;
