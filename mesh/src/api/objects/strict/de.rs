//! A serde `Deserializer` over a borrowed JSON tree that decodes like the API server's strict
//! JSON decoder: it records every key a struct does not declare (with its path, list indexes
//! included), skips explicit `null`s, and reports a wrongly typed value with the innermost Go
//! struct, the field path and the expected type, as Go's `encoding/json` words it.

use std::cell::RefCell;
use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use serde_json::{Map, Value};

/// One step of a path into an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A map key or struct field.
    Key(String),
    /// A list index.
    Index(usize),
}

/// Renders a path the way strict decoding errors show it: `spec.containers[0].name`.
pub fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// A link of the path from the root to the value being decoded (kept on the stack).
struct Frame<'p> {
    parent: Option<&'p Frame<'p>>,
    seg: FrameSeg<'p>,
}

#[derive(Clone, Copy)]
enum FrameSeg<'p> {
    /// A field of a struct: part of the Go path too.
    Field(&'p str),
    /// A key of a free-form map (labels, data): not part of the Go path.
    MapKey(&'p str),
    Index(usize),
}

fn collect(frame: Option<&Frame<'_>>) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut cur = frame;
    while let Some(f) = cur {
        segs.push(match f.seg {
            FrameSeg::Field(k) | FrameSeg::MapKey(k) => Seg::Key(k.to_owned()),
            FrameSeg::Index(i) => Seg::Index(i),
        });
        cur = f.parent;
    }
    segs.reverse();
    segs
}

fn go_path(frame: Option<&Frame<'_>>) -> String {
    let mut parts = Vec::new();
    let mut cur = frame;
    while let Some(f) = cur {
        if let FrameSeg::Field(k) = f.seg {
            parts.push(k);
        }
        cur = f.parent;
    }
    parts.reverse();
    parts.join(".")
}

/// Why decoding failed (boxed: errors travel through every level of the decode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError(Box<Failure>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    /// Go's word for the value found (`string`, `number 3.5`, `bool`, `array`, `object`), when
    /// the failure is a type mismatch.
    found: Option<String>,
    /// The expected type, in Go's spelling where known (`int32`, `v1.ContainerPort`).
    expected: String,
    /// A message for failures that are not type mismatches.
    message: String,
    /// Innermost Go struct and field path, once known.
    at: Option<(String, String)>,
    /// Set while probing the element type of a list.
    probe: Option<String>,
}

impl DeError {
    /// The error the way the API server's decoder reports it.
    pub fn go_message(&self) -> String {
        let f = &self.0;
        match (&f.found, &f.at) {
            (Some(found), Some((st, path))) if !path.is_empty() => format!(
                "json: cannot unmarshal {found} into Go struct field {st}.{path} of type {}",
                f.expected
            ),
            (Some(found), _) => format!(
                "json: cannot unmarshal {found} into Go value of type {}",
                f.expected
            ),
            (None, Some((st, path))) if !path.is_empty() => {
                format!("{} (in field {st}.{path})", f.message)
            }
            (None, _) => f.message.clone(),
        }
    }

    fn located(mut self, go_struct: &str, frame: Option<&Frame<'_>>) -> Self {
        if self.0.at.is_none() {
            self.0.at = Some((go_struct.to_owned(), go_path(frame)));
        }
        self
    }

    fn mismatch(found: String, expected: String) -> Self {
        Self(Box::new(Failure {
            found: Some(found),
            expected,
            message: String::new(),
            at: None,
            probe: None,
        }))
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.go_message())
    }
}

impl std::error::Error for DeError {}

fn found_word(unexp: &de::Unexpected<'_>) -> String {
    match unexp {
        de::Unexpected::Bool(_) => "bool".into(),
        de::Unexpected::Unsigned(n) => format!("number {n}"),
        de::Unexpected::Signed(n) => format!("number {n}"),
        de::Unexpected::Float(x) => format!("number {x}"),
        de::Unexpected::Str(_) | de::Unexpected::Char(_) => "string".into(),
        de::Unexpected::Seq => "array".into(),
        de::Unexpected::Map => "object".into(),
        de::Unexpected::Unit | de::Unexpected::Option => "null".into(),
        other => other.to_string(),
    }
}

/// Go's name for what a serde visitor expects.
fn expected_word(exp: &dyn de::Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => {
            let (sign, bits) = text.split_at(1);
            if sign == "u" {
                format!("uint{bits}")
            } else {
                format!("int{bits}")
            }
        }
        "f32" => "float32".into(),
        "f64" => "float64".into(),
        "a string" => "string".into(),
        "a boolean" => "bool".into(),
        "a map" => "map[string]string".into(),
        _ => text,
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(Box::new(Failure {
            found: None,
            expected: String::new(),
            message: msg.to_string(),
            at: None,
            probe: None,
        }))
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let mut found = found_word(&unexp);
        // Go names the number only when it does not fit the integer type.
        if matches!(
            unexp,
            de::Unexpected::Unsigned(_) | de::Unexpected::Signed(_)
        ) {
            found = "number".into();
        }
        Self::mismatch(found, expected_word(exp))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::mismatch(found_word(&unexp), expected_word(exp))
    }
}

/// Go's package-qualified name of a k8s-openapi struct or newtype.
fn go_type(name: &str, package: &str) -> String {
    match name {
        "IntOrString" => "intstr.IntOrString".into(),
        "Quantity" => "resource.Quantity".into(),
        "Time" | "MicroTime" => format!("v1.{name}"),
        _ => format!("{package}.{name}"),
    }
}

/// Shared state of one decode.
pub struct Session {
    /// Go package name of the kind's own types (`v1`, `v2`).
    pub package: &'static str,
    /// Unknown fields found, in document order.
    pub unknown: RefCell<Vec<Vec<Seg>>>,
}

/// The deserializer for one value.
pub struct De<'de, 'p> {
    value: &'de Value,
    frame: Option<&'p Frame<'p>>,
    go_struct: &'p str,
    session: &'p Session,
}

impl<'de, 'p> De<'de, 'p> {
    /// A deserializer for a whole object whose Go type is `kind`.
    pub fn root(value: &'de Value, kind: &'p str, session: &'p Session) -> Self {
        Self {
            value,
            frame: None,
            go_struct: kind,
            session,
        }
    }

    fn mismatch(&self, expected: String) -> DeError {
        let found = match self.value {
            Value::Null => "null".to_owned(),
            Value::Bool(_) => "bool".to_owned(),
            Value::Number(_) => "number".to_owned(),
            Value::String(_) => "string".to_owned(),
            Value::Array(_) => "array".to_owned(),
            Value::Object(_) => "object".to_owned(),
        };
        DeError::mismatch(found, expected).located(self.go_struct, self.frame)
    }

    fn visit_object<V: Visitor<'de>>(
        self,
        map: &'de Map<String, Value>,
        fields: Option<&'static [&'static str]>,
        go_struct: &'p str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let access = MapAcc {
            iter: map.iter(),
            pending: None,
            fields,
            frame: self.frame,
            go_struct,
            session: self.session,
        };
        visitor.visit_map(access)
    }
}

impl<'de, 'p> Deserializer<'de> for De<'de, 'p> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (go_struct, frame) = (self.go_struct, self.frame);
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or_default())
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(SeqAcc {
                iter: items.iter().enumerate(),
                frame: self.frame,
                go_struct: self.go_struct,
                session: self.session,
            }),
            Value::Object(map) => self.visit_object(map, None, go_struct, visitor),
        };
        result.map_err(|e| e.located(go_struct, frame))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.value.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Value::Object(map) = self.value else {
            return Err(self.mismatch(go_type(name, self.session.package)));
        };
        let frame = self.frame;
        self.visit_object(map, Some(fields), name, visitor)
            .map_err(|e| e.located(name, frame))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let Value::Object(map) = self.value else {
            return Err(self.mismatch("map[string]string".into()));
        };
        let (go_struct, frame) = (self.go_struct, self.frame);
        self.visit_object(map, None, go_struct, visitor)
            .map_err(|e| e.located(go_struct, frame))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.value.is_array() {
            return self.deserialize_any(visitor);
        }
        // Learn the element type the way Go names it: feed the visitor one probing element.
        let probed = visitor.visit_seq(ProbeSeq {
            package: self.session.package,
            done: false,
        });
        let element = match probed {
            Err(DeError(failure)) if failure.probe.is_some() => failure.probe.unwrap_or_default(),
            _ => "interface {}".to_owned(),
        };
        Err(self.mismatch(format!("[]{element}")))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Value::String(s) => {
                let d = BorrowedStrDeserializer::<'de, DeError>::new(s.as_str());
                visitor.visit_enum(d)
            }
            _ => Err(self.mismatch("string".into())),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct tuple tuple_struct identifier
    }
}

struct MapAcc<'de, 'p> {
    iter: serde_json::map::Iter<'de>,
    pending: Option<(&'de str, &'de Value)>,
    fields: Option<&'static [&'static str]>,
    frame: Option<&'p Frame<'p>>,
    go_struct: &'p str,
    session: &'p Session,
}

impl<'de> de::MapAccess<'de> for MapAcc<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (k, v) in self.iter.by_ref() {
            // A real server drops explicit nulls: they mean "unset".
            if v.is_null() {
                continue;
            }
            if let Some(fields) = self.fields
                && !fields.contains(&k.as_str())
            {
                let leaf = Frame {
                    parent: self.frame,
                    seg: FrameSeg::Field(k),
                };
                self.session.unknown.borrow_mut().push(collect(Some(&leaf)));
                continue;
            }
            self.pending = Some((k, v));
            let key = BorrowedStrDeserializer::<'de, DeError>::new(k.as_str());
            return seed.deserialize(key).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let Some((k, v)) = self.pending.take() else {
            return Err(de::Error::custom("a value was read before its key"));
        };
        let frame = Frame {
            parent: self.frame,
            seg: if self.fields.is_some() {
                FrameSeg::Field(k)
            } else {
                FrameSeg::MapKey(k)
            },
        };
        seed.deserialize(De {
            value: v,
            frame: Some(&frame),
            go_struct: self.go_struct,
            session: self.session,
        })
    }
}

struct SeqAcc<'de, 'p> {
    iter: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    frame: Option<&'p Frame<'p>>,
    go_struct: &'p str,
    session: &'p Session,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'de, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, v)) = self.iter.next() else {
            return Ok(None);
        };
        let frame = Frame {
            parent: self.frame,
            seg: FrameSeg::Index(i),
        };
        seed.deserialize(De {
            value: v,
            frame: Some(&frame),
            go_struct: self.go_struct,
            session: self.session,
        })
        .map(Some)
    }
}

/// A sequence of one element whose deserializer fails with the Go name of the type asked for.
struct ProbeSeq {
    package: &'static str,
    done: bool,
}

impl<'de> de::SeqAccess<'de> for ProbeSeq {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        seed.deserialize(Probe {
            package: self.package,
        })
        .map(Some)
    }
}

struct Probe {
    package: &'static str,
}

impl Probe {
    fn found(&self, t: &str) -> DeError {
        let mut e: DeError = de::Error::custom("probe");
        e.0.probe = Some(t.to_owned());
        e
    }
}

macro_rules! probe_as {
    ($($method:ident => $go:expr),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
            Err(self.found($go))
        })*
    };
}

impl<'de> Deserializer<'de> for Probe {
    type Error = DeError;

    probe_as! {
        deserialize_any => "interface {}",
        deserialize_bool => "bool",
        deserialize_i8 => "int8",
        deserialize_i16 => "int16",
        deserialize_i32 => "int32",
        deserialize_i64 => "int64",
        deserialize_u8 => "uint8",
        deserialize_u16 => "uint16",
        deserialize_u32 => "uint32",
        deserialize_u64 => "uint64",
        deserialize_f32 => "float32",
        deserialize_f64 => "float64",
        deserialize_char => "string",
        deserialize_str => "string",
        deserialize_string => "string",
        deserialize_bytes => "[]byte",
        deserialize_byte_buf => "[]byte",
        deserialize_unit => "interface {}",
        deserialize_seq => "[]interface {}",
        deserialize_map => "map[string]string",
        deserialize_identifier => "string",
        deserialize_ignored_any => "interface {}",
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(self.found(&go_type(name, self.package)))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(self.found(&go_type(name, self.package)))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, DeError> {
        Err(self.found("[]interface {}"))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(self.found(&go_type(name, self.package)))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(self.found(&go_type(name, self.package)))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(self.found("string"))
    }
}
