//! Table columns of custom resources: the CRD's `additionalPrinterColumns`, evaluated with the
//! simple JSONPath the API server accepts there, and formatted as the API server formats them.

use serde_json::{Value, json};

use crate::kinds::{Kind, PrinterColumn};
use crate::meta;

/// One step of a simple JSONPath.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// `.name` or `['name']`.
    Field(String),
    /// `[3]` (negative counts from the end).
    Index(i64),
    /// `[*]` or `.*`.
    All,
    /// `[?(@.a.b=="x")]`: the elements whose field equals the literal.
    Filter(Vec<String>, Value),
}

/// A parsed simple JSONPath (`.spec.hosts`, `.status.conditions[?(@.type=="Ready")].status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonPath(Vec<Step>);

fn field_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/'
}

impl JsonPath {
    /// Parses a path; `None` for anything this server cannot evaluate.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(t);
        let t = t.strip_prefix('$').unwrap_or(t);
        if !t.starts_with('.') && !t.starts_with('[') {
            return None;
        }
        let mut steps = Vec::new();
        let mut rest = t;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix(".*") {
                steps.push(Step::All);
                rest = r;
            } else if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(|c| !field_name(c)).unwrap_or(r.len());
                if end == 0 {
                    return None;
                }
                steps.push(Step::Field(r[..end].to_owned()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']')?;
                let inner = r[..end].trim();
                rest = &r[end + 1..];
                steps.push(Self::bracket(inner)?);
            } else {
                return None;
            }
        }
        Some(Self(steps))
    }

    fn bracket(inner: &str) -> Option<Step> {
        if inner == "*" {
            return Some(Step::All);
        }
        if let Ok(i) = inner.parse::<i64>() {
            return Some(Step::Index(i));
        }
        for quote in ['\'', '"'] {
            if let Some(name) = inner
                .strip_prefix(quote)
                .and_then(|s| s.strip_suffix(quote))
            {
                return Some(Step::Field(name.to_owned()));
            }
        }
        let cond = inner.strip_prefix("?(")?.strip_suffix(')')?;
        let (lhs, rhs) = cond.split_once("==")?;
        let path: Vec<String> = lhs
            .trim()
            .strip_prefix("@.")?
            .split('.')
            .map(str::to_owned)
            .collect();
        let rhs = rhs.trim();
        let value = ['\'', '"']
            .iter()
            .find_map(|q| rhs.strip_prefix(*q).and_then(|s| s.strip_suffix(*q)))
            .map(|s| json!(s))
            .or_else(|| serde_json::from_str(rhs).ok())?;
        Some(Step::Filter(path, value))
    }

    /// Every value the path selects in `root`, in document order.
    pub fn eval<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut cur = vec![root];
        for step in &self.0 {
            let mut next = Vec::new();
            for v in cur {
                match step {
                    Step::Field(f) => next.extend(v.get(f.as_str())),
                    Step::Index(i) => {
                        if let Some(a) = v.as_array() {
                            let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
                            let at = if *i < 0 { len + i } else { *i };
                            if let Ok(at) = usize::try_from(at) {
                                next.extend(a.get(at));
                            }
                        }
                    }
                    Step::All => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(m) => next.extend(m.values()),
                        _ => {}
                    },
                    Step::Filter(path, want) => {
                        if let Some(a) = v.as_array() {
                            next.extend(a.iter().filter(|e| {
                                path.iter()
                                    .try_fold(*e, |cur, p| cur.get(p.as_str()))
                                    .is_some_and(|got| got == want)
                            }));
                        }
                    }
                }
            }
            cur = next;
        }
        cur
    }
}

/// Compact JSON as Go's `json.Marshal` writes it (sorted keys, `<`, `>` and `&` escaped).
fn go_json(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The cell of one printer column for one object (`null` when the path selects nothing).
fn cell(column: &PrinterColumn, obj: &Value) -> Value {
    let Some(path) = JsonPath::parse(&column.json_path) else {
        return Value::Null;
    };
    let Some(value) = path.eval(obj).into_iter().next() else {
        return Value::Null;
    };
    match column.type_.as_str() {
        "string" => match value {
            Value::String(s) => json!(s),
            Value::Array(_) | Value::Object(_) => json!(go_json(value)),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
        "integer" => value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        "number" => value.as_f64().map_or(Value::Null, |f| json!(f)),
        "boolean" => value.as_bool().map_or(Value::Null, |b| json!(b)),
        "date" => match value.as_str() {
            Some(s) => match meta::parse_timestamp(s) {
                Some(t) => json!(meta::human_duration(
                    jiff::Timestamp::now().as_second() - t.as_second()
                )),
                None => json!("<invalid>"),
            },
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// The column definitions of a custom resource's Table (NAME first; NAME and AGE without
/// printer columns).
pub(super) fn columns(kind: &Kind) -> Vec<Value> {
    let name = json!({"name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.",
        "priority": 0});
    let printer = kind
        .custom
        .as_ref()
        .map_or(&[][..], |c| c.columns.as_slice());
    if printer.is_empty() {
        return vec![
            name,
            json!({"name": "Age", "type": "date", "format": "",
                "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
                "priority": 0}),
        ];
    }
    let mut out = vec![name];
    out.extend(printer.iter().map(|c| {
        json!({"name": c.name, "type": c.type_, "format": c.format,
            "description": c.description, "priority": c.priority})
    }));
    out
}

/// The cells after the name for one custom resource.
pub(super) fn cells(kind: &Kind, obj: &Value) -> Vec<Value> {
    let printer = kind
        .custom
        .as_ref()
        .map_or(&[][..], |c| c.columns.as_slice());
    if printer.is_empty() {
        return vec![json!(meta::age(obj))];
    }
    printer.iter().map(|c| cell(c, obj)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(ty: &str, path: &str) -> PrinterColumn {
        PrinterColumn {
            name: "X".into(),
            type_: ty.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: path.into(),
        }
    }

    #[test]
    fn simple_paths_select_fields_indexes_and_filtered_elements() {
        let obj = json!({"spec": {"hosts": ["a", "b"], "n": 3},
            "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let first = |p: &str| {
            JsonPath::parse(p)
                .expect(p)
                .eval(&obj)
                .first()
                .map(|v| (*v).clone())
        };
        assert_eq!(first(".spec.hosts"), Some(json!(["a", "b"])));
        assert_eq!(first(".spec.hosts[1]"), Some(json!("b")));
        assert_eq!(first(".spec.hosts[-1]"), Some(json!("b")));
        assert_eq!(first("{.spec.n}"), Some(json!(3)));
        assert_eq!(
            first(r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(json!("True"))
        );
        assert_eq!(first(".spec.missing"), None);
        assert!(JsonPath::parse("spec.hosts").is_none());
        assert!(JsonPath::parse(".spec[").is_none());
    }

    #[test]
    fn cells_print_strings_raw_arrays_as_json_and_dates_as_ages() {
        let obj = json!({"metadata": {"creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"hosts": ["reviews", "a&b"], "gateways": "gw", "replicas": 2.0, "on": true}});
        assert_eq!(
            cell(&column("string", ".spec.hosts"), &obj),
            json!("[\"reviews\",\"a\\u0026b\"]")
        );
        assert_eq!(cell(&column("string", ".spec.gateways"), &obj), json!("gw"));
        assert_eq!(cell(&column("string", ".spec.none"), &obj), Value::Null);
        assert_eq!(cell(&column("integer", ".spec.replicas"), &obj), json!(2));
        assert_eq!(cell(&column("boolean", ".spec.on"), &obj), json!(true));
        let age = cell(&column("date", ".metadata.creationTimestamp"), &obj);
        assert!(
            age.as_str()
                .is_some_and(|a| a.ends_with('d') || a.contains('y')),
            "{age}"
        );
    }
}
