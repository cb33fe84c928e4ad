use serde_json::json;

use super::*;

/// A minimal protobuf writer for building test bodies.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(b);
                return;
            }
            self.0.push(b | 0x80);
        }
    }
    fn bytes(mut self, field: u64, data: &[u8]) -> Self {
        self.varint(field << 3 | 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
        self
    }
    fn str(self, field: u64, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(self, field: u64, m: Pb) -> Self {
        self.bytes(field, &m.0)
    }
    fn int(mut self, field: u64, v: u64) -> Self {
        self.varint(field << 3);
        self.varint(v);
        self
    }
    fn entry(self, field: u64, k: &str, v: &[u8]) -> Self {
        self.msg(field, Pb::default().str(1, k).bytes(2, v))
    }
}

fn envelope(api_version: &str, kind: &str, raw: Pb) -> Vec<u8> {
    let unknown = Pb::default()
        .msg(1, Pb::default().str(1, api_version).str(2, kind))
        .msg(2, raw)
        .str(3, "")
        .str(4, "");
    let mut out = MAGIC.to_vec();
    out.extend(unknown.0);
    out
}

fn meta(name: &str) -> Pb {
    // Go always writes optional strings, even empty ones: generateName and namespace are "".
    Pb::default().str(1, name).str(2, "").str(3, "")
}

#[test]
fn namespaces_configmaps_and_secrets_decode_to_their_json() {
    let ns = decode(&envelope(
        "v1",
        "Namespace",
        Pb::default().msg(1, meta("foo")).msg(2, Pb::default()),
    ))
    .expect("namespace");
    assert_eq!(
        ns,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}, "spec": {}})
    );

    let cm = Pb::default()
        .msg(1, meta("c").entry(11, "team", b"a"))
        .entry(2, "a", b"b")
        .entry(2, "x", b"y");
    let cm = decode(&envelope("v1", "ConfigMap", cm)).expect("configmap");
    assert_eq!(cm["data"], json!({"a": "b", "x": "y"}));
    assert_eq!(cm["metadata"]["labels"], json!({"team": "a"}));

    let secret = Pb::default()
        .msg(1, meta("s"))
        .entry(2, "p", b"q\x00\xff")
        .str(3, "Opaque");
    let secret = decode(&envelope("v1", "Secret", secret)).expect("secret");
    assert_eq!(
        secret["data"],
        json!({"p": "cQD/"}),
        "bytes come out as base64"
    );
    assert_eq!(secret["type"], "Opaque");
}

#[test]
fn a_deployment_decodes_replicas_selector_and_containers() {
    let labels = || Pb::default().str(1, "app").str(2, "web");
    let container = Pb::default()
        .str(1, "nginx")
        .str(2, "nginx:1.27")
        .msg(
            6,
            Pb::default().str(1, "").int(2, 0).int(3, 80).str(4, "TCP"),
        )
        .msg(8, Pb::default());
    let spec = Pb::default()
        .int(1, 2)
        .msg(2, Pb::default().msg(1, labels()))
        .msg(
            3,
            Pb::default()
                .msg(1, meta("").msg(11, labels()))
                .msg(2, Pb::default().msg(2, container)),
        )
        .msg(4, Pb::default())
        .int(5, 0);
    let raw = Pb::default()
        .msg(1, meta("web").msg(11, labels()))
        .msg(2, spec)
        .msg(3, Pb::default());
    let d = decode(&envelope("apps/v1", "Deployment", raw)).expect("deployment");
    assert_eq!(
        d,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                             "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                             "resources": {}}]},
                },
                "strategy": {},
            },
        })
    );
}

#[test]
fn bad_bodies_are_errors_not_panics() {
    assert!(matches!(
        decode(b"not protobuf"),
        Err(ProtobufError::Malformed(_))
    ));
    assert!(matches!(
        decode(b"k8s\0\x0a\xff"),
        Err(ProtobufError::Malformed(_))
    ));
    assert!(matches!(
        decode(b"k8s\0\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        Err(ProtobufError::Malformed(_))
    ));
    let pod = envelope("v1", "Pod", Pb::default().msg(1, meta("p")));
    assert_eq!(
        decode(&pod),
        Err(ProtobufError::Unsupported("v1 Pod".into()))
    );
    // Deep nesting where strings are expected is an error, not a stack overflow.
    let mut deep = Pb::default();
    for _ in 0..100 {
        deep = Pb::default().msg(2, Pb::default().msg(3, deep));
    }
    let body = envelope("apps/v1", "Deployment", deep);
    assert!(matches!(decode(&body), Err(ProtobufError::Malformed(_))));
    // Every truncation of a valid body is handled.
    let full = envelope(
        "v1",
        "ConfigMap",
        Pb::default().msg(1, meta("c")).entry(2, "a", b"b"),
    );
    for n in 0..full.len() {
        let _ = decode(&full[..n]);
    }
}
