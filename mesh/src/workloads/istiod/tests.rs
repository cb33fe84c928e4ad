use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::net::Network;
use crate::store::Store;

/// Listeners on 8080, 15010 and 15014 of one fresh loopback address (tests run in parallel).
async fn listeners() -> (IpAddr, Vec<TcpListener>) {
    'address: for _ in 0..50 {
        let [a, b] = crate::meta::random_bytes::<2>();
        let ip = IpAddr::from([127, 1, 150 + a % 50, b.max(1)]);
        let mut out = Vec::new();
        for port in [DEBUG_PORT, XDS_PORT, MONITORING_PORT, 15017] {
            match TcpListener::bind(SocketAddr::new(ip, port)).await {
                Ok(l) => out.push(l),
                Err(_) => continue 'address,
            }
        }
        return (ip, out);
    }
    panic!("no free loopback address for istiod's ports");
}

fn ctx() -> PodContext {
    PodContext {
        namespace: "istio-system".into(),
        pod: "istiod-5f4d9c7b8-abcde".into(),
        container: "discovery".into(),
        ip: "127.0.0.1".parse().unwrap(),
        service_account: "istiod".into(),
        env: Vec::new(),
        command: [
            "discovery",
            "--monitoringAddr=:15014",
            "--domain",
            "cluster.local",
            "--keepaliveMaxServerConnectionAge",
            "30m",
        ]
        .map(String::from)
        .to_vec(),
        network: Network::new(Store::in_memory()),
        log: LogBuffer::default(),
    }
}

/// One HTTP/1.1 GET; returns the status line and the body.
async fn get(ip: IpAddr, port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect((ip, port)).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: istiod\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let status = text.lines().next().unwrap_or("").to_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn started() -> (IpAddr, LogBuffer, tokio::task::JoinHandle<Termination>) {
    let (ip, ls) = listeners().await;
    let ctx = ctx();
    let log = ctx.log.clone();
    let task = tokio::spawn(serve(ls, ctx));
    (ip, log, task)
}

#[tokio::test]
async fn readiness_version_and_metrics_answer_on_their_ports() {
    let (ip, _log, task) = started().await;
    let (status, body) = get(ip, DEBUG_PORT, "/ready").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "");
    let (status, body) = get(ip, DEBUG_PORT, "/version").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body.trim(), VERSION);
    let (status, body) = get(ip, DEBUG_PORT, "/nope").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(body, "404 page not found\n");
    // /ready belongs to the debug port, /metrics to the monitoring port.
    assert!(get(ip, MONITORING_PORT, "/ready").await.0.contains("404"));
    assert!(get(ip, DEBUG_PORT, "/metrics").await.0.contains("404"));
    let (status, metrics) = get(ip, MONITORING_PORT, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        metrics.contains(&format!(
            "istio_build{{component=\"pilot\",tag=\"{VERSION}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE istiod_uptime_seconds gauge"),
        "{metrics}"
    );
    assert!(
        metrics.contains("meshwork_istiod_ready_checks_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("pilot_xds{{version=\"{VERSION}\"}} 0\n")),
        "{metrics}"
    );
    task.abort();
}

#[tokio::test]
async fn the_xds_port_speaks_grpc_and_says_so_in_the_log() {
    let (ip, log, task) = started().await;
    // Wait for start-up to finish before connecting (the ready answer says the ports are up).
    assert!(get(ip, DEBUG_PORT, "/ready").await.0.contains("200"));
    let mut s = TcpStream::connect((ip, XDS_PORT)).await.unwrap();
    // HTTP/2's client preface and an empty SETTINGS frame: a gRPC server answers with its own
    // SETTINGS frame (type 4).
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let mut frame = [0u8; 9];
    s.read_exact(&mut frame).await.unwrap();
    assert_eq!(frame[3], 4, "not an HTTP/2 SETTINGS frame: {frame:?}");
    let lines = log.lines();
    assert!(
        lines.iter().any(|l| l.ends_with(&format!(
            "\tinfo\tads\tstarting gRPC discovery service (xDS) at {ip}:{XDS_PORT}"
        ))),
        "{lines:#?}"
    );
    task.abort();
}

#[tokio::test]
async fn start_up_logs_flags_and_ports_in_istiods_format() {
    let (ip, log, task) = started().await;
    assert!(get(ip, DEBUG_PORT, "/ready").await.0.contains("200"));
    let lines = log.lines();
    let has = |text: &str| lines.iter().any(|l| l.ends_with(text));
    assert!(
        has("\tinfo\tFLAG: --domain=\"cluster.local\""),
        "{lines:#?}"
    );
    assert!(
        has("\tinfo\tFLAG: --monitoringAddr=\":15014\""),
        "{lines:#?}"
    );
    assert!(
        has("\tinfo\tFLAG: --keepaliveMaxServerConnectionAge=\"30m\""),
        "{lines:#?}"
    );
    assert!(
        has(&format!("\tinfo\tstarting HTTP service at {ip}:8080")),
        "{lines:#?}"
    );
    // Every line starts with an RFC 3339 time with microseconds.
    let time = lines[0].split('\t').next().unwrap();
    assert!(
        time.parse::<jiff::Timestamp>().is_ok() && time.len() == 27,
        "{time}"
    );
    task.abort();
}

#[tokio::test]
async fn without_ports_istiod_fails_and_says_which_to_declare() {
    let ended = serve(Vec::new(), ctx()).await;
    assert_eq!(ended.exit_code, 1);
    assert!(
        ended.message.contains("declare its containerPorts"),
        "{}",
        ended.message
    );
}

#[test]
fn flags_read_both_spellings() {
    let cmd = ["discovery", "--a=1", "--b", "two", "--c", "--d=x=y"].map(String::from);
    assert_eq!(
        flags(&cmd),
        [("a", "1"), ("b", "two"), ("c", "true"), ("d", "x=y")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}
