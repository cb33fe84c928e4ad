//! A small seeded mutator: turns valid request bodies and query strings into hostile ones.
//!
//! Deterministic for a seed (xorshift64*), so a failure names the seed that reproduces it.

use serde_json::{Value, json};

/// A deterministic pseudo-random source.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Values of the wrong type (or shape) to put where metadata expects something else.
fn wrong_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(12345),
        2 => json!(-1.5e300),
        3 => json!(true),
        4 => json!([]),
        5 => json!({}),
        6 => json!(["a", {"b": null}]),
        7 => json!(""),
        8 => json!("UPPER_case with spaces!"),
        9 => Value::String("n".repeat(rng.below(400) + 250)),
        10 => json!({"k": [1, {"x": 2}]}),
        _ => Value::String("\u{0}\u{7f}\u{fffd}\u{1F600}../..%2f".into()),
    }
}

/// A value nested `depth` levels deep.
fn nested(depth: usize, arrays: bool) -> String {
    if arrays {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }
}

const META_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "labels",
    "annotations",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "ownerReferences",
    "finalizers",
    "generateName",
    "managedFields",
];

/// Changes the value (not the bytes): wrong types, wrong kinds, missing pieces.
fn mutate_value(rng: &mut Rng, mut v: Value) -> Value {
    match rng.below(9) {
        0..=2 => {
            let field = *rng.pick(META_FIELDS);
            let wrong = wrong_value(rng);
            match v.get_mut("metadata").and_then(Value::as_object_mut) {
                Some(m) => {
                    m.insert(field.into(), wrong);
                }
                None => v["metadata"] = json!({ field: wrong }),
            }
        }
        3 => {
            let key = *rng.pick(&["labels", "annotations"]);
            let k = rng
                .pick(&["a/b/c", "", "-x-", "ok", &"k".repeat(300)])
                .to_string();
            v["metadata"][key] = json!({ k: wrong_value(rng) });
        }
        4 => {
            let field = *rng.pick(&["apiVersion", "kind", "spec", "metadata", "status", "data"]);
            if rng.chance(50) {
                if let Some(o) = v.as_object_mut() {
                    o.remove(field);
                }
            } else {
                v[field] = wrong_value(rng);
            }
        }
        5 => v = wrong_value(rng),
        6 => {
            v["spec"]["replicas"] = rng
                .pick(&[json!(-3), json!("3"), json!(1e20), json!(null)])
                .clone();
            v["spec"]["selector"] = wrong_value(rng);
        }
        7 => {
            v["spec"]["template"]["spec"]["containers"] = rng
                .pick(&[json!("c"), json!([null]), json!([{"name": 7}]), json!([{}])])
                .clone();
        }
        _ => {
            v["spec"]["ports"] = rng
                .pick(&[
                    json!([{"port": "http"}]),
                    json!([{"port": 70000}]),
                    json!({}),
                    json!([[]]),
                ])
                .clone();
        }
    }
    v
}

/// A hostile body derived from `valid`.
pub fn body(rng: &mut Rng, valid: &Value) -> Vec<u8> {
    let text = serde_json::to_vec(valid).unwrap_or_default();
    match rng.below(10) {
        // Truncated anywhere.
        0 => text[..rng.below(text.len().max(1))].to_vec(),
        // A few bytes flipped, possibly into invalid UTF-8.
        1 => {
            let mut t = text;
            for _ in 0..=rng.below(8) {
                let i = rng.below(t.len().max(1));
                if let Some(b) = t.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            t
        }
        // Deep nesting where a value belongs.
        2 => {
            let depth = *rng.pick(&[100, 127, 128, 129, 500, 5_000, 50_000]);
            let deep = nested(depth, rng.chance(50));
            let at = *rng.pick(&["spec", "data", "metadata"]);
            let mut v = valid.clone();
            v[at] = json!("@@DEEP@@");
            serde_json::to_string(&v)
                .unwrap_or_default()
                .replace("\"@@DEEP@@\"", &deep)
                .into_bytes()
        }
        // Huge strings, under and over the body limit.
        3 => {
            let len = *rng.pick(&[70_000, 1 << 20, 3 << 20]);
            let mut v = valid.clone();
            if rng.chance(50) {
                v["metadata"]["name"] = Value::String("x".repeat(len));
            } else {
                v["metadata"]["annotations"] = json!({ "big": "y".repeat(len) });
            }
            serde_json::to_vec(&v).unwrap_or_default()
        }
        // Not JSON at all.
        4 => rng
            .pick(&[
                &b""[..],
                b"null",
                b"\xff\xfe\x00",
                b"k8s\x00\x0a\x02\x08",
                b"---\nkind: [",
                b"{\"a\":1,\"a\":2}",
                b"1e999999",
            ])
            .to_vec(),
        _ => serde_json::to_vec(&mutate_value(rng, valid.clone())).unwrap_or_default(),
    }
}

/// A JSON patch (`application/json-patch+json`) that may or may not make sense.
pub fn json_patch(rng: &mut Rng) -> Value {
    let op = *rng.pick(&["add", "remove", "replace", "move", "copy", "test", "frob"]);
    let path = *rng.pick(&[
        "/metadata/name",
        "/metadata/labels/a",
        "/metadata/labels/a~1b",
        "/data/k",
        "/spec/replicas",
        "/spec/ports/0/port",
        "/spec/ports/-",
        "/metadata/resourceVersion",
        "/kind",
        "",
        "/",
        "no-slash",
        "/data/~2",
        "/spec/template/spec/containers/99999999999999999999",
    ]);
    let mut p = json!({"op": op, "path": path});
    if rng.chance(70) {
        p["value"] = wrong_value(rng);
    }
    if rng.chance(30) {
        p["from"] = json!(*rng.pick(&["/metadata", "/data", "", "/metadata/name/x"]));
    }
    if rng.chance(20) {
        json!([p, p.clone(), {"op": "add", "path": "/metadata", "value": {"name": 1}}])
    } else if rng.chance(10) {
        p
    } else {
        json!([p])
    }
}

/// A query string with odd keys and values, percent-encoded.
pub fn query(rng: &mut Rng) -> String {
    const KEYS: &[&str] = &[
        "labelSelector",
        "fieldSelector",
        "resourceVersion",
        "resourceVersionMatch",
        "limit",
        "continue",
        "allowWatchBookmarks",
        "includeObject",
        "fieldManager",
        "dryRun",
        "pretty",
        "sendInitialEvents",
        "propagationPolicy",
        "zzz",
        "",
    ];
    const VALUES: &[&str] = &[
        "",
        "=",
        "==",
        "!=",
        "a in (b",
        "a notin (,)",
        "!!a",
        "a,b,,c",
        "metadata.name=x,spec.nope=y",
        "status.phase!=Running",
        "-1",
        "99999999999999999999999",
        "0.5",
        "true",
        "All",
        "Orphan",
        "\u{0}",
        "%zz",
        "\u{1F600}",
        "a=b=c",
        "app=web,tier",
    ];
    let n = rng.below(4) + 1;
    let mut out = form_urlencoded::Serializer::new(String::new());
    for _ in 0..n {
        let key = *rng.pick(KEYS);
        let value = if rng.chance(15) {
            "v".repeat(rng.below(5_000))
        } else {
            (*rng.pick(VALUES)).to_owned()
        };
        out.append_pair(key, &value);
    }
    out.finish()
}
