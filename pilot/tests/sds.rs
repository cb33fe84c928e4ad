//! citadel-lite with the real Envoy 1.40: the workload certificate (`default`) and the trust
//! bundle (`ROOTCA`) arrive over SDS on the ADS stream, carry the proxy's SPIFFE id, make mutual
//! TLS work between two of Envoy's own listeners, and are rotated at half their lifetime while
//! requests keep succeeding.
//!
//! The TLS configuration is hand-built in the bootstrap, so this tests the CA and the SDS serving
//! alone: a server listener takes its certificate and trust bundle from SDS over ADS, requires a
//! client certificate and checks the client's SPIFFE id. Its client is a static cluster of the
//! same Envoy with a certificate the CA issued beforehand, inline: Envoy 1.40 crashes at start-up
//! when a *static* cluster references SDS over ADS (static listeners are fine).

// Test helpers fail loudly: a panic there is a test failure with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "envoy/support.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use meshwork_pilot::ca::{self, Ca, IssuedCert, inspect};
use meshwork_pilot::model::Model;
use meshwork_pilot::server::CertEvent;
use meshwork_pilot::{Proxy, bootstrap};
use serde_json::{Value, json};
use support::{Backend, Net, Pilot, envoy_binary, get, sidecar, wait_for};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` on Envoy's admin as JSON (a chunked body is put together); `null` when it is not
/// JSON.
async fn admin_json(admin: SocketAddr, path: &str) -> Value {
    let reply = get(admin, "admin", path, &[]).await;
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = reply.body.as_str();
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || after.len() < size {
                break;
            }
            out.push_str(&after[..size]);
            rest = after[size..].trim_start_matches("\r\n");
        }
        out
    } else {
        reply.body
    };
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn ads() -> Value {
    json!({"ads": {}, "resource_api_version": "V3"})
}

/// The server side, from SDS: `default` and `ROOTCA`, the client must be `peer`.
fn sds_tls_context(peer: &str) -> Value {
    json!({
        "tls_certificate_sds_secret_configs": [{"name": "default", "sds_config": ads()}],
        "combined_validation_context": {
            "default_validation_context": {
                "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": peer}}],
            },
            "validation_context_sds_secret_config": {"name": "ROOTCA", "sds_config": ads()},
        },
    })
}

/// The client side, inline: `client`'s certificate, the server must be `peer` under `root`.
fn inline_tls_context(client: &IssuedCert, root: &str, peer: &str) -> Value {
    json!({
        "tls_certificates": [{
            "certificate_chain": {"inline_string": client.chain_pem},
            "private_key": {"inline_string": client.key_pem},
        }],
        "validation_context": {
            "trusted_ca": {"inline_string": root},
            "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {"exact": peer}}],
        },
    })
}

fn http_manager(prefix: &str, cluster: &str, access_log: Option<&str>) -> Value {
    let mut hcm = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": prefix,
        "route_config": {"virtual_hosts": [{
            "name": "all", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster}}],
        }]},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
    });
    if let Some(format) = access_log {
        hcm["access_log"] = json!([{"name": "envoy.access_loggers.stdout", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            "log_format": {"text_format_source": {"inline_string": format}},
        }}]);
    }
    json!({"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm})
}

fn static_cluster(name: &str, addr: SocketAddr, tls: Option<Value>) -> Value {
    let mut cluster = json!({
        "name": name, "type": "STATIC", "connect_timeout": "1s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {
            "address": {"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}}}}]}]},
    });
    if let Some(tls) = tls {
        cluster["transport_socket"] =
            json!({"name": "envoy.transport_sockets.tls", "typed_config": tls});
    }
    cluster
}

fn listener(name: &str, addr: SocketAddr, filter: Value, tls: Option<Value>) -> Value {
    let mut chain = json!({"filters": [filter]});
    if let Some(tls) = tls {
        chain["transport_socket"] =
            json!({"name": "envoy.transport_sockets.tls", "typed_config": tls});
    }
    json!({
        "name": name,
        "address": {"socket_address": {"address": addr.ip().to_string(), "port_value": addr.port()}},
        "filter_chains": [chain],
    })
}

/// An Envoy whose bootstrap adds, next to pilot's ADS: a plain listener on `plain` that
/// forwards over mutual TLS to its own TLS listener on `tls`, which forwards to `backend`.
struct TlsEnvoy {
    _child: Child,
    bootstrap: std::path::PathBuf,
    admin: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl TlsEnvoy {
    #[allow(clippy::too_many_arguments)] // the addresses and credentials of one test rig
    async fn start(
        binary: &Path,
        pilot: &Pilot,
        proxy: &Proxy,
        client: &IssuedCert,
        root: &str,
        plain: SocketAddr,
        tls: SocketAddr,
        backend: SocketAddr,
    ) -> TlsEnvoy {
        let admin_port = free_port();
        let identity = ca::spiffe_id(&proxy.namespace, &proxy.service_account);
        let mut config = bootstrap(proxy, pilot.addr, admin_port);
        let statics = config["static_resources"]["clusters"]
            .as_array_mut()
            .unwrap();
        statics.push(static_cluster("backend", backend, None));
        statics.push(static_cluster(
            "mtls",
            tls,
            Some(json!({
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "common_tls_context": inline_tls_context(client, root, &identity),
                "sni": "outbound_.9080_._.backend",
            })),
        ));
        config["static_resources"]["listeners"] = json!([
            listener(
                "plain",
                plain,
                http_manager("plain", "mtls", Some("server=%UPSTREAM_PEER_URI_SAN%\n")),
                None,
            ),
            listener(
                "mtls_in",
                tls,
                http_manager(
                    "mtls_in",
                    "backend",
                    Some("peer=%DOWNSTREAM_PEER_URI_SAN% serial=%DOWNSTREAM_PEER_SERIAL%\n"),
                ),
                Some(json!({
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                    "require_client_certificate": true,
                    "common_tls_context": sds_tls_context(&client.identity),
                })),
            ),
        ]);
        let path = std::env::temp_dir().join(format!(
            "meshwork-sds-test-{}-{admin_port}.json",
            std::process::id()
        ));
        std::fs::write(&path, config.to_string()).expect("write bootstrap");
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&path)
            .args(["--concurrency", "1", "--disable-hot-restart"])
            .args(["--log-level", "warning", "--file-flush-interval-msec", "50"])
            .args(["--base-id", &admin_port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Envoy starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for pipe in [
            Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box::new(stderr),
        ] {
            let logs = logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.lock().expect("log lock").push(line);
                }
            });
        }
        let envoy = TlsEnvoy {
            _child: child,
            bootstrap: path,
            admin: SocketAddr::from(([127, 0, 0, 1], admin_port)),
            logs,
        };
        for _ in 0..750 {
            if tokio::net::TcpStream::connect(envoy.admin).await.is_ok() {
                return envoy;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("Envoy's admin never answered: {:?}", envoy.logs());
    }

    /// Admin `/certs`: (serial, URI SANs) of every certificate chain Envoy holds.
    async fn cert_chains(&self) -> Vec<(String, Vec<String>)> {
        let certs = admin_json(self.admin, "/certs").await;
        certs["certificates"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["cert_chain"].as_array().cloned().unwrap_or_default())
            .map(|c| {
                let uris = c["subject_alt_names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["uri"].as_str().map(str::to_owned))
                    .collect();
                (
                    c["serial_number"].as_str().unwrap_or_default().to_owned(),
                    uris,
                )
            })
            .collect()
    }

    /// Admin `/config_dump`'s active secrets, by name.
    async fn active_secrets(&self) -> Vec<(String, Value)> {
        let dump = admin_json(self.admin, "/config_dump?resource=dynamic_active_secrets").await;
        dump["configs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    s["name"].as_str().unwrap_or_default().to_owned(),
                    s["secret"].clone(),
                )
            })
            .collect()
    }

    fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }
}

impl Drop for TlsEnvoy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.bootstrap);
    }
}

struct Rig {
    pilot: Pilot,
    envoy: TlsEnvoy,
    plain: SocketAddr,
    _backend: Backend,
    proxy: Proxy,
}

async fn rig(net: Net, ttl: Duration) -> Option<Rig> {
    let binary = envoy_binary()?;
    let pilot = Pilot::start(Model::new()).await;
    let ca = Arc::new(Ca::generate(SystemTime::now()).unwrap());
    let client = ca
        .issue(
            &ca::spiffe_id("default", "curl"),
            ca::DEFAULT_CERT_TTL,
            SystemTime::now(),
        )
        .unwrap();
    let root = ca.root_pem().to_owned();
    pilot.server.set_ca(ca, ttl);
    let proxy = sidecar(net, &[]);
    let backend_addr = SocketAddr::new(net.ip(20), 9080);
    let backend = Backend::start("httpbin", backend_addr).await;
    let plain = SocketAddr::new(net.ip(30), 15001);
    let tls = SocketAddr::new(net.ip(31), 15006);
    let envoy = TlsEnvoy::start(
        &binary,
        &pilot,
        &proxy,
        &client,
        &root,
        plain,
        tls,
        backend_addr,
    )
    .await;
    Some(Rig {
        pilot,
        envoy,
        plain,
        _backend: backend,
        proxy,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_gets_its_spiffe_certificate_and_the_root_over_sds_and_speaks_mtls() {
    let Some(rig) = rig(Net(201), ca::DEFAULT_CERT_TTL).await else {
        return;
    };
    let identity = ca::spiffe_id(&rig.proxy.namespace, &rig.proxy.service_account);
    assert_eq!(
        identity,
        "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
    );
    // The certificate pilot holds for the identity (issued when Envoy asked, or now).
    let issued = rig
        .pilot
        .server
        .certificate(&identity, SystemTime::now())
        .unwrap();
    let envoy = &rig.envoy;
    let mut chains = Vec::new();
    for _ in 0..750 {
        chains = envoy.cert_chains().await;
        if chains.iter().any(|(serial, _)| *serial == issued.serial) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        chains.iter().any(|(serial, uris)| *serial == issued.serial
            && uris.as_slice() == std::slice::from_ref(&identity)),
        "Envoy's /certs shows the issued certificate with the SPIFFE id: {chains:?}"
    );
    let secrets = envoy.active_secrets().await;
    let names: Vec<&str> = secrets.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"default") && names.contains(&"ROOTCA"),
        "{names:?}"
    );
    let (_, root) = secrets.iter().find(|(n, _)| n == "ROOTCA").unwrap();
    assert!(
        root["validation_context"]["trusted_ca"].is_object(),
        "{root}"
    );

    // Traffic through the client cluster's TLS to the server listener: both present the
    // workload certificate and verify the peer's SPIFFE id against ROOTCA.
    let reply = get(rig.plain, "backend", "/headers", &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}\n{:?}", envoy.logs());
    assert!(reply.body.starts_with("httpbin /headers"), "{}", reply.body);
    wait_for("both access log lines", || {
        let logs = envoy.logs();
        logs.contains(&format!("server={identity}"))
            && logs
                .iter()
                .any(|l| l.starts_with("peer=spiffe://cluster.local/ns/default/sa/curl "))
    })
    .await;
    let status = rig.pilot.server.status();
    let node = rig.proxy.node_id();
    let synced = status.proxies.get(&node).expect("proxy status");
    assert_eq!(
        synced.acked.get("SDS"),
        synced.sent.get("SDS"),
        "SDS acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_at_half_their_lifetime_without_failing_a_request() {
    let ttl = ca::MIN_CERT_TTL;
    let Some(rig) = rig(Net(202), ttl).await else {
        return;
    };
    let mut certs = rig.pilot.server.subscribe_certificates();
    let identity = ca::spiffe_id(&rig.proxy.namespace, &rig.proxy.service_account);
    wait_for("Envoy to hold a workload certificate", || {
        rig.pilot
            .server
            .status()
            .proxies
            .get(&rig.proxy.node_id())
            .is_some_and(|s| s.acked.contains_key("SDS") && s.synced())
    })
    .await;
    let first = rig
        .pilot
        .server
        .certificate(&identity, SystemTime::now())
        .unwrap();
    let first_serial = first.serial.clone();
    assert_eq!(
        first.rotate_at(),
        first.issued_at + ttl / 2,
        "due at half the lifetime"
    );
    // A sustained load of 200 requests/s (each on its own connection, so new TLS handshakes
    // meet the new certificate) all along, until Envoy serves the rotated certificate.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let plain = rig.plain;
    let load = tokio::spawn(async move {
        let mut requests = tokio::task::JoinSet::new();
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tick.tick() => {
                    requests.spawn(async move { get(plain, "backend", "/ip", &[]).await.status });
                }
            }
        }
        let mut statuses = Vec::new();
        while let Some(done) = requests.join_next().await {
            statuses.push(done.unwrap_or(0));
        }
        statuses
    });
    let mut rotated = None;
    for _ in 0..2000 {
        if let Ok(CertEvent::Issued {
            serial,
            rotated: true,
            ..
        }) = certs.try_recv()
        {
            rotated = Some(serial);
        }
        if let Some(serial) = &rotated {
            let chains = rig.envoy.cert_chains().await;
            if chains.iter().any(|(s, _)| s == serial)
                && !chains.iter().any(|(s, _)| *s == first_serial)
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A moment of load on the new certificate too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(());
    let statuses = load.await.unwrap();
    let failed = statuses.iter().filter(|s| **s != 200).count();
    assert!(
        statuses.len() > 100,
        "the load ran: {} requests",
        statuses.len()
    );
    assert_eq!(
        failed,
        0,
        "{failed} of {} requests failed during rotation",
        statuses.len()
    );
    let serial = rotated.expect("the certificate was re-issued");
    assert_ne!(serial, first_serial);
    // And traffic keeps flowing on the new certificate.
    for _ in 0..20 {
        assert_eq!(get(rig.plain, "backend", "/ip", &[]).await.status, 200);
    }
    let parsed = inspect::parse_chain(
        &rig.pilot
            .server
            .certificate(&identity, SystemTime::now())
            .unwrap()
            .chain_pem,
    )
    .unwrap();
    assert_eq!(parsed[0].serial, serial);
}
