//! citadel-lite on the reference mesh, with the real kubectl and the real Envoys: istiod makes
//! its self-signed root on first start (Secret `istio-ca-secret`) and publishes it as ConfigMap
//! `istio-ca-root-cert` in every namespace, new ones included; an injected pod's sidecar holds
//! `default` (its SPIFFE certificate) and `ROOTCA` (that root) from SDS; the root survives a
//! mesh restart; with `DEFAULT_WORKLOAD_CERT_TTL` set short on istiod, the certificate rotates
//! while requests through mutual TLS keep succeeding.
//!
//! These tests need Envoy 1.40 (`meshwork mesh install-envoy`, or `MESHWORK_ENVOY`); without
//! it they fail, unless `MESHWORK_SKIP_ENVOY=1` says Envoy tests are off.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::harness::{Env, kubectl_path};
use super::istio_env::{envoy_present, eventually, install_dir, pod, pods_ready};

const SAMPLES: &str = "/work/shared/istio-samples/samples";

/// `data.root-cert.pem` of `istio-ca-root-cert` in `namespace`, once it is there.
async fn published_root(env: &Env, namespace: &str) -> String {
    eventually(
        &format!("istio-ca-root-cert in {namespace}"),
        Duration::from_secs(30),
        || async {
            let out = env
                .kubectl(&[
                    "get",
                    "configmap",
                    "istio-ca-root-cert",
                    "-n",
                    namespace,
                    "-o",
                    "jsonpath={.data.root-cert\\.pem}",
                ])
                .await;
            (out.code == 0 && out.stdout.contains("BEGIN CERTIFICATE")).then_some(out.stdout)
        },
    )
    .await
}

/// Istio installed and istiod ready.
async fn install_istio(env: &Env) {
    env.ok(&["apply", "-f", install_dir().to_str().expect("path")])
        .await;
    eventually("istiod's pod", Duration::from_secs(60), || async {
        let pods = env
            .ok(&[
                "get",
                "pods",
                "-n",
                "istio-system",
                "-l",
                "app=istiod",
                "-o",
                "name",
            ])
            .await;
        (!pods.trim().is_empty()).then_some(())
    })
    .await;
    env.ok(&[
        "wait",
        "-n",
        "istio-system",
        "--for=condition=ready",
        "pod",
        "-l",
        "app=istiod",
        "--timeout=120s",
    ])
    .await;
}

/// One certificate of Envoy's admin `/certs`.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    serial: String,
    uris: Vec<String>,
    lifetime: Duration,
}

/// `pilot-agent request GET PATH` in the pod's istio-proxy container, as JSON (`null` when it
/// printed none).
async fn pilot_agent(env: &Env, namespace: &str, pod: &str, path: &str) -> Value {
    let out = env
        .kubectl_exec(&[
            "exec",
            pod,
            "-n",
            namespace,
            "-c",
            "istio-proxy",
            "--",
            "pilot-agent",
            "request",
            "GET",
            path,
        ])
        .await;
    serde_json::from_str(&out.stdout).unwrap_or(Value::Null)
}

/// The certificate chains (leaf first) the pod's sidecar holds, read as istioctl does: `pilot-agent
/// request GET certs` in its istio-proxy container.
async fn sidecar_certs(env: &Env, namespace: &str, pod: &str) -> Vec<Held> {
    let certs = pilot_agent(env, namespace, pod, "certs").await;
    let time = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
            .unwrap_or_default()
    };
    certs["certificates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["cert_chain"].as_array()?.first().cloned())
        .map(|leaf| Held {
            serial: leaf["serial_number"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            uris: leaf["subject_alt_names"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["uri"].as_str().map(str::to_owned))
                .collect(),
            lifetime: Duration::from_secs(
                u64::try_from(time(&leaf["expiration_time"]) - time(&leaf["valid_from"]))
                    .unwrap_or_default(),
            ),
        })
        .collect()
}

/// The names of the secrets the sidecar holds active (`config_dump`).
async fn active_secrets(env: &Env, namespace: &str, pod: &str) -> Vec<(String, Value)> {
    let dump = pilot_agent(env, namespace, pod, "config_dump").await;
    dump["configs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["@type"].as_str() == Some("type.googleapis.com/envoy.admin.v3.SecretsConfigDump")
        })
        .flat_map(|c| {
            c["dynamic_active_secrets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["secret"].clone(),
            )
        })
        .collect()
}

/// `curl` from the curl pod to httpbin's `/ip`: the status code curl printed.
async fn request(env: &Env, client: &str) -> String {
    let out = env
        .kubectl_exec(&[
            "exec",
            client,
            "-c",
            "curl",
            "--",
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://httpbin:8000/ip",
        ])
        .await;
    format!(
        "{} (exit {}, {})",
        out.stdout.trim(),
        out.code,
        out.stderr.trim()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_certificates_over_sds_the_published_root_and_rotation() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let mut env = Env::start().await;
    install_istio(&env).await;

    // The self-signed root, stored as Istio stores it and published in every namespace.
    let stored = env
        .ok(&[
            "get",
            "secret",
            "istio-ca-secret",
            "-n",
            "istio-system",
            "-o",
            "jsonpath={.type}",
        ])
        .await;
    assert_eq!(stored, "istio.io/ca-root");
    let root = published_root(&env, "default").await;
    assert_eq!(published_root(&env, "istio-system").await, root);
    env.ok(&["create", "namespace", "foo"]).await;
    assert_eq!(
        published_root(&env, "foo").await,
        root,
        "a new namespace gets the root"
    );
    // Deleted by hand: istiod puts it back.
    env.ok(&["delete", "configmap", "istio-ca-root-cert", "-n", "foo"])
        .await;
    assert_eq!(published_root(&env, "foo").await, root);

    // Injected workloads: each sidecar holds its SPIFFE certificate and the root.
    env.ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    for sample in ["httpbin/httpbin.yaml", "curl/curl.yaml"] {
        env.ok(&["apply", "-f", &format!("{SAMPLES}/{sample}")])
            .await;
    }
    pods_ready(&env, "default", 2).await;
    let httpbin = pod(&env, "default", "httpbin").await;
    let identity = "spiffe://cluster.local/ns/default/sa/httpbin";
    let held = eventually(
        "httpbin's certificate in its sidecar",
        Duration::from_secs(30),
        || {
            let (env, httpbin) = (&env, &httpbin);
            async move {
                let certs = sidecar_certs(env, "default", httpbin).await;
                certs.into_iter().find(|c| c.uris == [identity])
            }
        },
    )
    .await;
    assert_eq!(
        held.lifetime,
        Duration::from_secs(24 * 3600 + 60),
        "24 h from 1 min ago"
    );
    let secrets = active_secrets(&env, "default", &httpbin).await;
    let names: Vec<&str> = secrets.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"default") && names.contains(&"ROOTCA"),
        "{names:?}"
    );
    let istiod = pod(&env, "istio-system", "istiod").await;
    let logs = env.ok(&["logs", "-n", "istio-system", &istiod]).await;
    assert!(
        logs.lines().any(|l| l.contains(
            "\tca\tsigned the certificate of spiffe://cluster.local/ns/default/sa/httpbin"
        )),
        "istiod logs the signing:\n{logs}"
    );
    let client = pod(&env, "default", "curl").await;
    assert!(request(&env, &client).await.starts_with("200 "));

    // The root survives a restart of the mesh.
    env.restart().await;
    install_istio(&env).await;
    assert_eq!(
        published_root(&env, "default").await,
        root,
        "same root after a restart"
    );

    // Short-lived certificates: rotated at half their lifetime, traffic unaffected.
    env.ok(&[
        "set",
        "env",
        "deployment/istiod",
        "-n",
        "istio-system",
        "DEFAULT_WORKLOAD_CERT_TTL=10s",
    ])
    .await;
    env.ok(&[
        "rollout",
        "status",
        "deployment/istiod",
        "-n",
        "istio-system",
        "--timeout=120s",
    ])
    .await;
    pods_ready(&env, "default", 2).await;
    let httpbin = pod(&env, "default", "httpbin").await;
    let client = pod(&env, "default", "curl").await;
    let short = Duration::from_secs(10 + 60);
    let first = eventually(
        "a 10 s certificate in httpbin's sidecar",
        Duration::from_secs(60),
        || {
            let (env, httpbin) = (&env, &httpbin);
            async move {
                let certs = sidecar_certs(env, "default", httpbin).await;
                certs
                    .into_iter()
                    .find(|c| c.uris == [identity] && c.lifetime == short)
            }
        },
    )
    .await;
    let mut answers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let rotated = loop {
        answers.push(request(&env, &client).await);
        let certs = sidecar_certs(&env, "default", &httpbin).await;
        if let Some(c) = certs
            .into_iter()
            .find(|c| c.uris == [identity] && c.serial != first.serial)
        {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting for the certificate to rotate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(rotated.lifetime, short);
    for _ in 0..5 {
        answers.push(request(&env, &client).await);
    }
    assert!(
        answers.iter().all(|a| a.starts_with("200 ")),
        "every request through the rotation succeeded: {answers:?}"
    );
    env.stop().await;
}

/// Istio's plug-in CA files for a root and an intermediate, as its `certs` Makefile makes them:
/// (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem).
fn plug_in_ca() -> [(String, String); 4] {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let now = std::time::SystemTime::now();
    let year = Duration::from_secs(365 * 24 * 3600);
    let ca_params = |cn: &str, constraint| {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::OrganizationName, "Istio");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(constraint);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.not_before = (now - Duration::from_secs(3600)).into();
        p.not_after = (now + year).into();
        p
    };
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params("Root CA", BasicConstraints::Unconstrained);
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let inter_key = KeyPair::generate().unwrap();
    let inter = ca_params("Intermediate CA", BasicConstraints::Constrained(0))
        .signed_by(&inter_key, &root_issuer)
        .unwrap();
    [
        ("ca-cert.pem".to_owned(), inter.pem()),
        ("ca-key.pem".to_owned(), inter_key.serialize_pem()),
        ("root-cert.pem".to_owned(), root.pem()),
        (
            "cert-chain.pem".to_owned(),
            format!("{}{}", inter.pem(), root.pem()),
        ),
    ]
}

/// The serial numbers of every certificate in the chains the sidecar holds, and of its CAs.
async fn sidecar_chain_serials(
    env: &Env,
    namespace: &str,
    pod: &str,
) -> (Vec<String>, Vec<String>) {
    let certs = pilot_agent(env, namespace, pod, "certs").await;
    let serials = |key: &str| -> Vec<String> {
        certs["certificates"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c[key].as_array().cloned().unwrap_or_default())
            // Envoy prints whole bytes (a leading 0 digit); istioctl's form has none.
            .filter_map(|c| {
                c["serial_number"]
                    .as_str()
                    .map(|s| s.trim_start_matches('0').to_owned())
            })
            .collect()
    };
    (serials("cert_chain"), serials("ca_cert"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugged_in_ca_from_cacerts_signs_the_workloads() {
    if kubectl_path().is_none() || !envoy_present() {
        return;
    }
    let env = Env::start().await;
    // Istio's "plug in CA certificates" task: the cacerts Secret before istiod starts.
    env.ok(&["create", "namespace", "istio-system"]).await;
    let files = plug_in_ca();
    let mut args: Vec<String> = [
        "create",
        "secret",
        "generic",
        "cacerts",
        "-n",
        "istio-system",
    ]
    .map(str::to_owned)
    .to_vec();
    for (name, pem) in &files {
        let path = env.write(name, pem);
        args.push(format!("--from-file={name}={}", path.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.ok(&args).await;
    install_istio(&env).await;

    let (_, root_pem) = &files[2];
    assert_eq!(
        published_root(&env, "default").await.trim(),
        root_pem.trim(),
        "the plugged-in root is published"
    );
    let istiod = pod(&env, "istio-system", "istiod").await;
    let logs = env.ok(&["logs", "-n", "istio-system", &istiod]).await;
    assert!(
        logs.contains("Use plugged-in cert at the secret istio-system/cacerts"),
        "{logs}"
    );
    let no_self_signed = env
        .kubectl(&["get", "secret", "istio-ca-secret", "-n", "istio-system"])
        .await;
    assert_ne!(no_self_signed.code, 0, "no self-signed root is made");

    env.ok(&["label", "namespace", "default", "istio-injection=enabled"])
        .await;
    env.ok(&["apply", "-f", &format!("{SAMPLES}/httpbin/httpbin.yaml")])
        .await;
    pods_ready(&env, "default", 1).await;
    let httpbin = pod(&env, "default", "httpbin").await;
    let serial_of = |pem: &str| {
        meshwork_pilot::ca::inspect::parse_chain(pem).unwrap()[0]
            .serial
            .clone()
    };
    let (inter_serial, root_serial) = (serial_of(&files[0].1), serial_of(root_pem));
    // The sidecar's `default` secret: leaf, intermediate, root (cert-chain.pem after the leaf),
    // the leaf signed by the intermediate; Envoy trusts the plugged-in root.
    use base64::Engine as _;
    use meshwork_pilot::ca::inspect;
    let deadline = Instant::now() + Duration::from_secs(30);
    let chain = loop {
        let secrets = active_secrets(&env, "default", &httpbin).await;
        let pem = secrets
            .iter()
            .find(|(name, _)| name == "default")
            .and_then(|(_, s)| s.pointer("/tls_certificate/certificate_chain/inline_bytes"))
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        if let Some(pem) = pem {
            break inspect::parse_chain(&pem).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "httpbin's sidecar never got its certificate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let serials: Vec<&str> = chain.iter().map(|c| c.serial.as_str()).collect();
    assert_eq!(serials.len(), 3, "{serials:?}");
    assert_eq!(serials[1..], [inter_serial.as_str(), root_serial.as_str()]);
    assert_eq!(
        chain[0].uris,
        ["spiffe://cluster.local/ns/default/sa/httpbin"]
    );
    assert!(inspect::signed_by(&chain[0].der, &chain[1].der));
    let (_, cas) = sidecar_chain_serials(&env, "default", &httpbin).await;
    assert!(cas.contains(&root_serial), "{cas:?}");
    env.stop().await;
}
