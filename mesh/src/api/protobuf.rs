//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), as the imperative
//! `kubectl create ns|deployment|configmap|secret|serviceaccount` send them.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` message: `typeMeta` (1:
//! apiVersion, 2: kind), `raw` (2: the object's own protobuf), `contentEncoding` (3) and
//! `contentType` (4). The object is decoded into the JSON the same command would have sent,
//! following the field numbers of Kubernetes' `generated.proto` for the fields those commands
//! set; unknown fields are skipped. Only a small wire-format reader is needed: varints and
//! length-delimited fields (fixed-width fields are skipped).

use base64::Engine;
use serde_json::{Map, Value, json};

/// The first four bytes of every Kubernetes protobuf body.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The deepest nesting of messages accepted (the supported kinds need fewer than ten levels).
const MAX_DEPTH: usize = 32;

/// Why a protobuf body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtobufError {
    /// The body is not well-formed protobuf.
    #[error("the protobuf body is malformed: {0}")]
    Malformed(&'static str),
    /// The body holds a kind this server reads only as JSON.
    #[error(
        "{0} objects are read from JSON bodies only; send the object as application/json (for example with kubectl apply -f)"
    )]
    Unsupported(String),
}

/// A wire value of one field.
#[derive(Clone, Copy, Debug)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or(ProtobufError::Malformed("a number ends early"))?;
            self.buf = rest;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(ProtobufError::Malformed("a number is longer than 64 bits"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtobufError> {
        if n > self.buf.len() {
            return Err(ProtobufError::Malformed("a field is longer than the body"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field's number and value; fixed-width values are skipped (`None`).
    fn field(&mut self) -> Result<Option<(u64, Option<Wire<'a>>)>, ProtobufError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 {
            return Err(ProtobufError::Malformed("field number 0"));
        }
        let value = match tag & 7 {
            0 => Some(Wire::Varint(self.varint()?)),
            1 => {
                self.take(8)?;
                None
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| ProtobufError::Malformed("a length does not fit"))?;
                Some(Wire::Bytes(self.take(len)?))
            }
            5 => {
                self.take(4)?;
                None
            }
            _ => return Err(ProtobufError::Malformed("unsupported wire type")),
        };
        Ok(Some((number, value)))
    }
}

/// How one field of a message becomes JSON.
#[derive(Clone, Copy)]
enum Field {
    /// A string, omitted when empty.
    Str(&'static str),
    /// An integer that is always present when sent (a pointer field in Go).
    Int(&'static str),
    /// An integer omitted when zero.
    IntNonZero(&'static str),
    /// A boolean that is always present when sent (a pointer field in Go).
    Bool(&'static str),
    /// A boolean omitted when false.
    Flag(&'static str),
    /// A repeated string.
    Strings(&'static str),
    /// `map<string, string>`.
    StrMap(&'static str),
    /// `map<string, bytes>`, as base64 in JSON.
    BytesMap(&'static str),
    /// `map<string, Quantity>`.
    QuantityMap(&'static str),
    /// `IntOrString`.
    IntOrString(&'static str),
    /// A nested message.
    Msg(&'static str, &'static [(u64, Field)]),
    /// A repeated nested message.
    Msgs(&'static str, &'static [(u64, Field)]),
}

type Schema = &'static [(u64, Field)];

const OWNER_REFERENCE: Schema = &[
    (1, Field::Str("kind")),
    (3, Field::Str("name")),
    (4, Field::Str("uid")),
    (5, Field::Str("apiVersion")),
    (6, Field::Flag("controller")),
    (7, Field::Flag("blockOwnerDeletion")),
];

const OBJECT_META: Schema = &[
    (1, Field::Str("name")),
    (2, Field::Str("generateName")),
    (3, Field::Str("namespace")),
    (11, Field::StrMap("labels")),
    (12, Field::StrMap("annotations")),
    (13, Field::Msgs("ownerReferences", OWNER_REFERENCE)),
    (14, Field::Strings("finalizers")),
];

const NAMESPACE: Schema = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msg("spec", &[(1, Field::Strings("finalizers"))])),
];

const CONFIG_MAP: Schema = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::StrMap("data")),
    (3, Field::BytesMap("binaryData")),
    (4, Field::Bool("immutable")),
];

const SECRET: Schema = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::BytesMap("data")),
    (3, Field::Str("type")),
    (4, Field::StrMap("stringData")),
    (5, Field::Bool("immutable")),
];

const SERVICE_ACCOUNT: Schema = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msgs(
            "secrets",
            &[
                (1, Field::Str("kind")),
                (2, Field::Str("namespace")),
                (3, Field::Str("name")),
            ],
        ),
    ),
    (
        3,
        Field::Msgs("imagePullSecrets", &[(1, Field::Str("name"))]),
    ),
    (4, Field::Bool("automountServiceAccountToken")),
];

const LABEL_SELECTOR: Schema = &[
    (1, Field::StrMap("matchLabels")),
    (
        2,
        Field::Msgs(
            "matchExpressions",
            &[
                (1, Field::Str("key")),
                (2, Field::Str("operator")),
                (3, Field::Strings("values")),
            ],
        ),
    ),
];

const CONTAINER: Schema = &[
    (1, Field::Str("name")),
    (2, Field::Str("image")),
    (3, Field::Strings("command")),
    (4, Field::Strings("args")),
    (5, Field::Str("workingDir")),
    (
        6,
        Field::Msgs(
            "ports",
            &[
                (1, Field::Str("name")),
                (2, Field::IntNonZero("hostPort")),
                (3, Field::Int("containerPort")),
                (4, Field::Str("protocol")),
                (5, Field::Str("hostIP")),
            ],
        ),
    ),
    (
        7,
        Field::Msgs("env", &[(1, Field::Str("name")), (2, Field::Str("value"))]),
    ),
    (
        8,
        Field::Msg(
            "resources",
            &[
                (1, Field::QuantityMap("limits")),
                (2, Field::QuantityMap("requests")),
            ],
        ),
    ),
    (13, Field::Str("terminationMessagePath")),
    (14, Field::Str("imagePullPolicy")),
    (20, Field::Str("terminationMessagePolicy")),
];

const POD_SPEC: Schema = &[
    (2, Field::Msgs("containers", CONTAINER)),
    (3, Field::Str("restartPolicy")),
    (4, Field::Int("terminationGracePeriodSeconds")),
    (6, Field::Str("dnsPolicy")),
    (7, Field::StrMap("nodeSelector")),
    (8, Field::Str("serviceAccountName")),
];

const POD_TEMPLATE: Schema = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msg("spec", POD_SPEC)),
];

const DEPLOYMENT: Schema = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (
        2,
        Field::Msg(
            "spec",
            &[
                (1, Field::Int("replicas")),
                (2, Field::Msg("selector", LABEL_SELECTOR)),
                (3, Field::Msg("template", POD_TEMPLATE)),
                (
                    4,
                    Field::Msg(
                        "strategy",
                        &[
                            (1, Field::Str("type")),
                            (
                                2,
                                Field::Msg(
                                    "rollingUpdate",
                                    &[
                                        (1, Field::IntOrString("maxUnavailable")),
                                        (2, Field::IntOrString("maxSurge")),
                                    ],
                                ),
                            ),
                        ],
                    ),
                ),
                (5, Field::IntNonZero("minReadySeconds")),
                (6, Field::Int("revisionHistoryLimit")),
                (7, Field::Flag("paused")),
                (9, Field::Int("progressDeadlineSeconds")),
            ],
        ),
    ),
];

/// The kinds whose protobuf this server reads, by apiVersion and kind.
fn schema(api_version: &str, kind: &str) -> Option<Schema> {
    match (api_version, kind) {
        ("v1", "Namespace") => Some(NAMESPACE),
        ("v1", "ConfigMap") => Some(CONFIG_MAP),
        ("v1", "Secret") => Some(SECRET),
        ("v1", "ServiceAccount") => Some(SERVICE_ACCOUNT),
        ("apps/v1", "Deployment") => Some(DEPLOYMENT),
        _ => None,
    }
}

fn text(bytes: &[u8]) -> Result<String, ProtobufError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Malformed("a string is not UTF-8"))
}

fn bytes_of(wire: Option<Wire<'_>>) -> Result<&[u8], ProtobufError> {
    match wire {
        Some(Wire::Bytes(b)) => Ok(b),
        _ => Err(ProtobufError::Malformed("a field has the wrong wire type")),
    }
}

fn varint_of(wire: Option<Wire<'_>>) -> Result<u64, ProtobufError> {
    match wire {
        Some(Wire::Varint(v)) => Ok(v),
        _ => Err(ProtobufError::Malformed("a field has the wrong wire type")),
    }
}

/// Reads a map entry (key = 1, value = 2).
fn entry(bytes: &[u8]) -> Result<(String, &[u8]), ProtobufError> {
    let mut r = Reader { buf: bytes };
    let (mut key, mut value) = (String::new(), &[][..]);
    while let Some((n, w)) = r.field()? {
        match n {
            1 => key = text(bytes_of(w)?)?,
            2 => value = bytes_of(w)?,
            _ => {}
        }
    }
    Ok((key, value))
}

/// A varint as a signed 32/64-bit integer (negative numbers are sign-extended to 64 bits).
fn signed(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

fn map_insert(out: &mut Map<String, Value>, name: &str, key: String, value: Value) {
    if let Value::Object(m) = out.entry(name).or_insert_with(|| json!({})) {
        m.insert(key, value);
    }
}

fn message(bytes: &[u8], schema: Schema, depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::Malformed("messages are nested too deeply"));
    }
    let mut out = Map::new();
    let mut r = Reader { buf: bytes };
    while let Some((number, wire)) = r.field()? {
        let Some((_, field)) = schema.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        match *field {
            Field::Str(name) => {
                let s = text(bytes_of(wire)?)?;
                if !s.is_empty() {
                    out.insert(name.into(), json!(s));
                }
            }
            Field::Int(name) => {
                out.insert(name.into(), json!(signed(varint_of(wire)?)));
            }
            Field::IntNonZero(name) => {
                let v = signed(varint_of(wire)?);
                if v != 0 {
                    out.insert(name.into(), json!(v));
                }
            }
            Field::Bool(name) => {
                out.insert(name.into(), json!(varint_of(wire)? != 0));
            }
            Field::Flag(name) => {
                if varint_of(wire)? != 0 {
                    out.insert(name.into(), json!(true));
                }
            }
            Field::Strings(name) => {
                let s = text(bytes_of(wire)?)?;
                let slot = out.entry(name).or_insert_with(|| json!([]));
                if let Value::Array(a) = slot {
                    a.push(json!(s));
                }
            }
            Field::StrMap(name) => {
                let (k, v) = entry(bytes_of(wire)?)?;
                map_insert(&mut out, name, k, json!(text(v)?));
            }
            Field::BytesMap(name) => {
                let (k, v) = entry(bytes_of(wire)?)?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(v);
                map_insert(&mut out, name, k, json!(encoded));
            }
            Field::QuantityMap(name) => {
                let (k, v) = entry(bytes_of(wire)?)?;
                // Quantity { string = 1 }
                let q = message(v, &[(1, Field::Str("q"))], depth + 1)?;
                let q = q.get("q").cloned().unwrap_or(json!("0"));
                map_insert(&mut out, name, k, q);
            }
            Field::IntOrString(name) => {
                // IntOrString { type = 1 (0 int, 1 string), intVal = 2, strVal = 3 }
                let v = message(
                    bytes_of(wire)?,
                    &[
                        (1, Field::Int("type")),
                        (2, Field::Int("int")),
                        (3, Field::Str("str")),
                    ],
                    depth + 1,
                )?;
                let value = if v.get("type").and_then(Value::as_i64) == Some(1) {
                    v.get("str").cloned().unwrap_or(json!(""))
                } else {
                    v.get("int").cloned().unwrap_or(json!(0))
                };
                out.insert(name.into(), value);
            }
            Field::Msg(name, inner) => {
                out.insert(name.into(), message(bytes_of(wire)?, inner, depth + 1)?);
            }
            Field::Msgs(name, inner) => {
                let item = message(bytes_of(wire)?, inner, depth + 1)?;
                let slot = out.entry(name).or_insert_with(|| json!([]));
                if let Value::Array(a) = slot {
                    a.push(item);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a `k8s\0`-prefixed protobuf body into the JSON object it describes.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(MAGIC).ok_or(ProtobufError::Malformed(
        "the body does not start with k8s\\0",
    ))?;
    let mut r = Reader { buf: envelope };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((number, wire)) = r.field()? {
        match number {
            1 => {
                let mut t = Reader {
                    buf: bytes_of(wire)?,
                };
                while let Some((n, w)) = t.field()? {
                    match n {
                        1 => api_version = text(bytes_of(w)?)?,
                        2 => kind = text(bytes_of(w)?)?,
                        _ => {}
                    }
                }
            }
            2 => raw = bytes_of(wire)?,
            3 if !bytes_of(wire)?.is_empty() => {
                return Err(ProtobufError::Malformed(
                    "compressed (contentEncoding) bodies are not supported",
                ));
            }
            _ => {}
        }
    }
    let schema = schema(&api_version, &kind).ok_or_else(|| {
        ProtobufError::Unsupported(if kind.is_empty() {
            "untyped".to_owned()
        } else {
            format!("{api_version} {kind}")
        })
    })?;
    let mut obj = message(raw, schema, 0)?;
    if let Value::Object(m) = &mut obj {
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!(kind));
        m.entry("metadata").or_insert_with(|| json!({}));
    }
    Ok(obj)
}

#[cfg(test)]
mod tests;
