//! Unknown fields and type mismatches of a custom resource against its CRD's structural
//! `openAPIV3Schema`: `properties`, `items`, `additionalProperties`,
//! `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-int-or-string` and
//! `x-kubernetes-embedded-resource`, as the API server's pruning and type validation read them.

use serde_json::Value;

use super::de::{Seg, render};

/// A value whose JSON type is not the one the schema declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Field path (`spec.hosts`).
    pub field: String,
    /// The schema's type.
    pub expected: String,
    /// The JSON type found (`string`, `integer`, `number`, `boolean`, `array`, `object`).
    pub found: &'static str,
}

/// Walks an object against a schema, collecting what it finds.
#[derive(Default)]
pub struct Walker {
    /// Fields the schema does not declare (and does not preserve).
    pub unknown: Vec<Vec<Seg>>,
    /// Type mismatches.
    pub mismatches: Vec<Mismatch>,
    path: Vec<Seg>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool) == Some(true)
}

impl Walker {
    /// Walks a whole object: `apiVersion`, `kind` and `metadata` belong to every object and are
    /// checked elsewhere; everything else follows the schema.
    pub fn root(&mut self, schema: &Value, obj: &Value) {
        let Some(map) = obj.as_object() else {
            return;
        };
        for (k, v) in map {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") || v.is_null() {
                continue;
            }
            self.field(schema, k, v);
        }
    }

    /// One member `k` of an object whose schema is `parent`.
    fn field(&mut self, parent: &Value, k: &str, v: &Value) {
        self.path.push(Seg::Key(k.to_owned()));
        let declared = parent.get("properties").and_then(|p| p.get(k));
        match (declared, parent.get("additionalProperties")) {
            (Some(s), _) => self.value(s, v),
            (None, Some(add)) if add.is_object() => self.value(add, v),
            (None, Some(Value::Bool(true))) => {}
            (None, _) if flag(parent, "x-kubernetes-preserve-unknown-fields") => {}
            (None, _) => self.unknown.push(self.path.clone()),
        }
        self.path.pop();
    }

    fn value(&mut self, schema: &Value, v: &Value) {
        if v.is_null() {
            return;
        }
        let found = json_type(v);
        if flag(schema, "x-kubernetes-int-or-string") {
            if !matches!(found, "integer" | "string") {
                self.mismatch("integer or string", found);
            }
            return;
        }
        let declared = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let matches = match declared {
            "" => true,
            "number" => matches!(found, "number" | "integer"),
            t => t == found,
        };
        if !matches {
            self.mismatch(declared, found);
            return;
        }
        match v {
            Value::Object(map) => {
                let embedded = flag(schema, "x-kubernetes-embedded-resource");
                let free = declared.is_empty()
                    && schema.get("properties").is_none()
                    && schema.get("additionalProperties").is_none();
                if free && flag(schema, "x-kubernetes-preserve-unknown-fields") {
                    return;
                }
                for (k, item) in map {
                    if item.is_null()
                        || (embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                    {
                        continue;
                    }
                    self.field(schema, k, item);
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                    for (i, item) in items.iter().enumerate() {
                        self.path.push(Seg::Index(i));
                        self.value(item_schema, item);
                        self.path.pop();
                    }
                }
            }
            _ => {}
        }
    }

    fn mismatch(&mut self, expected: &str, found: &'static str) {
        self.mismatches.push(Mismatch {
            field: render(&self.path),
            expected: expected.to_owned(),
            found,
        });
    }
}
