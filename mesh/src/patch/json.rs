//! JSON patch (RFC 6902): a list of add/remove/replace/move/copy/test operations on JSON pointers.

use serde_json::Value;

use super::PatchError;

/// Applies a JSON patch document; on error the target is left unchanged.
pub fn apply(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| PatchError::new("json patch must be a list of operations"))?;
    let mut work = target.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut work, op).map_err(|e| PatchError::new(format!("operation {i}: {}", e.0)))?;
    }
    *target = work;
    Ok(())
}

fn str_field<'a>(op: &'a Value, field: &str) -> Result<&'a str, PatchError> {
    op.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| PatchError::new(format!("missing or non-string \"{field}\"")))
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), PatchError> {
    let kind = str_field(op, "op")?;
    let path = str_field(op, "path")?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| PatchError::new(format!("{kind} operation needs a \"value\"")))
    };
    match kind {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path).map(drop),
        "replace" => {
            let slot = pointer_mut(doc, path)?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = str_field(op, "from")?;
            if path.starts_with(from)
                && path.len() > from.len()
                && path[from.len()..].starts_with('/')
            {
                return Err(PatchError::new(format!(
                    "cannot move {from} into its own child {path}"
                )));
            }
            let moved = remove(doc, from)?;
            add(doc, path, moved)
        }
        "copy" => {
            let from = str_field(op, "from")?;
            let copied = pointer_mut(doc, from)?.clone();
            add(doc, path, copied)
        }
        "test" => {
            let want = value()?;
            let got = pointer_mut(doc, path)?;
            if *got == want {
                Ok(())
            } else {
                Err(PatchError::new(format!(
                    "test failed: value at {path} is {got}, not {want}"
                )))
            }
        }
        other => Err(PatchError::new(format!("unknown operation \"{other}\""))),
    }
}

fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| PatchError::new(format!("path \"{path}\" must start with /")))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn pointer_mut<'a>(doc: &'a mut Value, path: &str) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for token in tokens(path)? {
        cur = match cur {
            Value::Object(m) => m.get_mut(&token),
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| PatchError::new(format!("path {path} does not exist")))?;
    }
    Ok(cur)
}

fn split_parent(path: &str) -> Result<(String, String), PatchError> {
    let mut toks = tokens(path)?;
    let last = toks.pop().ok_or_else(|| {
        PatchError::new("the whole document cannot be the target of add or remove")
    })?;
    let parent = toks
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect::<String>();
    Ok((parent, last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_parent(path)?;
    match pointer_mut(doc, &parent)? {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            let index = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| {
                        PatchError::new(format!("index {last} out of range in {path}"))
                    })?
            };
            a.insert(index, value);
            Ok(())
        }
        _ => Err(PatchError::new(format!(
            "parent of {path} is not an object or array"
        ))),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (parent, last) = split_parent(path)?;
    let missing = || PatchError::new(format!("path {path} does not exist"));
    match pointer_mut(doc, &parent)? {
        Value::Object(m) => m.remove(&last).ok_or_else(missing),
        Value::Array(a) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(missing)?;
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(doc: Value, patch: Value) -> Result<Value, PatchError> {
        let mut d = doc;
        apply(&mut d, &patch)?;
        Ok(d)
    }

    #[test]
    fn add_replace_remove_on_maps_and_lists() {
        let doc = json!({"spec": {"replicas": 1, "ports": [{"port": 80}]}});
        let out = patched(
            doc,
            json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/spec/ports/-", "value": {"port": 443}},
                {"op": "add", "path": "/spec/ports/0", "value": {"port": 8080}},
                {"op": "add", "path": "/metadata", "value": {"labels": {"a/b": "c"}}},
                {"op": "remove", "path": "/metadata/labels/a~1b"},
            ]),
        )
        .expect("applies");
        assert_eq!(
            out,
            json!({"spec": {"replicas": 3, "ports": [{"port": 8080}, {"port": 80}, {"port": 443}]},
                   "metadata": {"labels": {}}})
        );
    }

    #[test]
    fn move_copy_and_test() {
        let doc = json!({"a": {"x": 1}, "b": []});
        let out = patched(
            doc,
            json!([
                {"op": "test", "path": "/a/x", "value": 1},
                {"op": "copy", "from": "/a/x", "path": "/b/0"},
                {"op": "move", "from": "/a", "path": "/c"},
            ]),
        )
        .expect("applies");
        assert_eq!(out, json!({"b": [1], "c": {"x": 1}}));
    }

    #[test]
    fn failures_leave_the_document_unchanged_and_say_why() {
        let doc = json!({"a": 1});
        let mut d = doc.clone();
        let err = apply(
            &mut d,
            &json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "remove", "path": "/nope"}]),
        )
        .expect_err("fails");
        assert_eq!(d, doc);
        assert_eq!(err.to_string(), "operation 1: path /nope does not exist");
        let err = patched(
            doc.clone(),
            json!([{"op": "test", "path": "/a", "value": 2}]),
        )
        .expect_err("test");
        assert!(err.to_string().contains("test failed"), "{err}");
        assert!(patched(doc.clone(), json!({"op": "add"})).is_err());
        assert!(patched(doc.clone(), json!([{"op": "frobnicate", "path": "/a"}])).is_err());
        assert!(patched(doc.clone(), json!([{"op": "add", "path": "a", "value": 1}])).is_err());
        assert!(
            patched(
                json!({"l": [1]}),
                json!([{"op": "add", "path": "/l/5", "value": 1}])
            )
            .is_err()
        );
        assert!(patched(doc, json!([{"op": "move", "from": "/a", "path": "/a/b"}])).is_err());
    }
}
