//! Strategic merge patch, as the Kubernetes API server applies it to built-in kinds.
//!
//! Like a JSON merge patch, but lists of objects are merged element by element using each
//! list's *merge key* (containers by `name`, container ports by `containerPort`, service ports
//! by `port`, …), and the patch may carry directives: `$patch: replace|delete|merge`,
//! `$setElementOrder/<list>`, `$retainKeys` and `$deleteFromPrimitiveList/<list>`.
//! Lists without a merge strategy are replaced whole.

use serde_json::{Map, Value};

use super::PatchError;

/// How a list field is merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the original (the default).
    Replace,
    /// Objects are matched by this key and merged; unmatched patch elements are appended.
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (e.g. `metadata.finalizers`).
    MergePrimitives,
}

/// The merge strategy of the list at `path` (field names from the object root, list indices omitted).
pub fn list_strategy(path: &[&str]) -> ListStrategy {
    let Some((field, parents)) = path.split_last() else {
        return ListStrategy::Replace;
    };
    let parent = parents.last().copied().unwrap_or("");
    match *field {
        "containers" | "initContainers" | "ephemeralContainers" => ListStrategy::MergeByKey("name"),
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" => {
            ListStrategy::MergeByKey("name")
        }
        "secrets" if parents.is_empty() => ListStrategy::MergeByKey("name"),
        "volumeMounts" => ListStrategy::MergeByKey("mountPath"),
        "volumeDevices" => ListStrategy::MergeByKey("devicePath"),
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            ListStrategy::MergeByKey("containerPort")
        }
        "ports" if parent == "spec" => ListStrategy::MergeByKey("port"),
        "hostAliases" => ListStrategy::MergeByKey("ip"),
        "conditions" => ListStrategy::MergeByKey("type"),
        "addresses" if parent == "status" => ListStrategy::MergeByKey("type"),
        "ownerReferences" => ListStrategy::MergeByKey("uid"),
        "topologySpreadConstraints" => ListStrategy::MergeByKey("topologyKey"),
        "finalizers" if parent == "metadata" => ListStrategy::MergePrimitives,
        _ => ListStrategy::Replace,
    }
}

const DIRECTIVE: &str = "$patch";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVES: &str = "$deleteFromPrimitiveList/";
const RETAIN_KEYS: &str = "$retainKeys";

/// Applies a strategic merge patch to `target` in place; on error the target is unchanged.
pub fn apply(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(patch_map) = patch else {
        return Err(PatchError::new(
            "a strategic merge patch must be a JSON object",
        ));
    };
    let mut work = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let mut path = Vec::new();
    if merge_map(&mut work, patch_map, &mut path)? == MapOutcome::Delete {
        work = Map::new();
    }
    *target = Value::Object(work);
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
enum MapOutcome {
    Keep,
    Delete,
}

fn directive(map: &Map<String, Value>) -> Result<Option<&str>, PatchError> {
    match map.get(DIRECTIVE) {
        None => Ok(None),
        Some(Value::String(s)) if matches!(s.as_str(), "replace" | "delete" | "merge") => {
            Ok(Some(s))
        }
        Some(other) => Err(PatchError::new(format!(
            "unknown patch type {other} in $patch"
        ))),
    }
}

fn merge_map<'a>(
    orig: &mut Map<String, Value>,
    patch: &'a Map<String, Value>,
    path: &mut Vec<&'a str>,
) -> Result<MapOutcome, PatchError> {
    match directive(patch)? {
        Some("delete") => return Ok(MapOutcome::Delete),
        Some("replace") => {
            let mut fresh = Map::new();
            let mut stripped = patch.clone();
            stripped.remove(DIRECTIVE);
            let mut sub: Vec<&str> = path.to_vec();
            merge_map(&mut fresh, &stripped, &mut sub)?;
            *orig = fresh;
            return Ok(MapOutcome::Keep);
        }
        _ => {}
    }
    for (key, values) in patch {
        if let Some(field) = key.strip_prefix(DELETE_PRIMITIVES) {
            let Value::Array(doomed) = values else {
                return Err(PatchError::new(format!("{key} must be a list")));
            };
            if let Some(Value::Array(list)) = orig.get_mut(field) {
                list.retain(|v| !doomed.contains(v));
            }
        }
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        path.push(key.as_str());
        let result = merge_field(orig, key, value, path);
        path.pop();
        result?;
    }
    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ORDER) {
            let Value::Array(order) = order else {
                return Err(PatchError::new(format!("{key} must be a list")));
            };
            path.push(field);
            let strategy = list_strategy(path);
            path.pop();
            if let Some(Value::Array(list)) = orig.get_mut(field) {
                reorder(list, order, strategy);
            }
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let Value::Array(keep) = retain else {
            return Err(PatchError::new("$retainKeys must be a list of field names"));
        };
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        orig.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(MapOutcome::Keep)
}

fn merge_field<'a>(
    orig: &mut Map<String, Value>,
    key: &str,
    value: &'a Value,
    path: &mut Vec<&'a str>,
) -> Result<(), PatchError> {
    match value {
        Value::Null => {
            orig.remove(key);
        }
        Value::Object(patch_map) => {
            let mut child = match orig.remove(key) {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            if merge_map(&mut child, patch_map, path)? == MapOutcome::Keep {
                orig.insert(key.to_owned(), Value::Object(child));
            }
        }
        Value::Array(patch_list) => {
            let mut list = match orig.remove(key) {
                Some(Value::Array(l)) => l,
                _ => Vec::new(),
            };
            merge_list(&mut list, patch_list, path)?;
            orig.insert(key.to_owned(), Value::Array(list));
        }
        scalar => {
            orig.insert(key.to_owned(), scalar.clone());
        }
    }
    Ok(())
}

fn is_replace_marker(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.len() == 1 && m.get(DIRECTIVE).and_then(Value::as_str) == Some("replace")
    })
}

fn clean<'a>(v: &'a Value, path: &mut Vec<&'a str>) -> Result<Value, PatchError> {
    match v {
        Value::Object(m) => {
            let mut fresh = Map::new();
            merge_map(&mut fresh, m, path)?;
            Ok(Value::Object(fresh))
        }
        Value::Array(items) => {
            let mut fresh = Vec::new();
            merge_list(&mut fresh, items, path)?;
            Ok(Value::Array(fresh))
        }
        other => Ok(other.clone()),
    }
}

fn merge_list<'a>(
    orig: &mut Vec<Value>,
    patch: &'a [Value],
    path: &mut Vec<&'a str>,
) -> Result<(), PatchError> {
    let strategy = list_strategy(path);
    if patch.iter().any(is_replace_marker) || strategy == ListStrategy::Replace {
        let mut fresh = Vec::new();
        for item in patch.iter().filter(|v| !is_replace_marker(v)) {
            fresh.push(clean(item, path)?);
        }
        *orig = fresh;
        return Ok(());
    }
    match strategy {
        ListStrategy::Replace => Ok(()),
        ListStrategy::MergePrimitives => {
            for item in patch {
                if !orig.contains(item) {
                    orig.push(item.clone());
                }
            }
            Ok(())
        }
        ListStrategy::MergeByKey(merge_key) => {
            for item in patch {
                let Value::Object(item_map) = item else {
                    // Scalars in a keyed list: treat as set members, as the server does.
                    if !orig.contains(item) {
                        orig.push(item.clone());
                    }
                    continue;
                };
                let key_value = item_map.get(merge_key).ok_or_else(|| {
                    PatchError::new(format!(
                        "map: {item} does not contain declared merge key: {merge_key}"
                    ))
                })?;
                let position = orig
                    .iter()
                    .position(|o| o.get(merge_key) == Some(key_value));
                if directive(item_map)? == Some("delete") {
                    orig.retain(|o| o.get(merge_key) != Some(key_value));
                    continue;
                }
                match position {
                    Some(i) => {
                        let mut existing = match std::mem::take(&mut orig[i]) {
                            Value::Object(m) => m,
                            _ => Map::new(),
                        };
                        if merge_map(&mut existing, item_map, path)? == MapOutcome::Keep {
                            orig[i] = Value::Object(existing);
                        } else {
                            orig.remove(i);
                        }
                    }
                    None => orig.push(clean(item, path)?),
                }
            }
            Ok(())
        }
    }
}

fn reorder(list: &mut Vec<Value>, order: &[Value], strategy: ListStrategy) {
    let matches = |element: &Value, wanted: &Value| match strategy {
        ListStrategy::MergeByKey(k) => element.get(k).is_some() && element.get(k) == wanted.get(k),
        _ => element == wanted,
    };
    let mut rest = std::mem::take(list);
    for wanted in order {
        if let Some(i) = rest.iter().position(|e| matches(e, wanted)) {
            list.push(rest.remove(i));
        }
    }
    list.extend(rest);
}

#[cfg(test)]
mod tests;
