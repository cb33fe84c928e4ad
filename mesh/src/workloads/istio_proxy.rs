//! Istio's proxy (`istio/proxyv2`): what pilot-agent does in the container — it runs a real
//! Envoy process for the pod, a sidecar (`proxy sidecar`) or a gateway (`proxy router`),
//! configured over xDS by istiod.
//!
//! As pilot-agent does, Envoy's ADS cluster is a local socket (`XDS` in the proxy's own
//! directory) that the agent relays to istiod (`istiod.istio-system.svc:15010`, a ready pod
//! of the Service, looked up at every connection, so istiod may start later or move); the
//! relay dials istiod's pod directly, as the proxy's own traffic is exempt from redirection.
//! Envoy answers the kubelet's readiness probe on `:15021/healthz/ready` from its admin
//! `/ready` (ready once it is `LIVE`), serves `:15090/stats/prometheus`, writes its log as the
//! container's log, and is stopped (SIGTERM, then SIGKILL) when the container stops. When
//! Envoy dies, the container ends with Envoy's exit code and the kubelet restarts it.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::task::JoinSet;

use super::{LogBuffer, PodContext, Termination};
use crate::envoy::bootstrap::{Bootstrap, XdsAddress};
use crate::envoy::process::WorkDir;
use crate::envoy::{self, EnvoyProcess, StartOptions};
use crate::net::{Network, Origin};

/// istiod's namespace, Service and plaintext xDS port.
const ISTIOD: (&str, &str, u16) = ("istio-system", "istiod", 15010);

/// What the container's arguments ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyArgs {
    /// `sidecar` or `router`.
    pub role: Role,
    /// `--proxyLogLevel` (Envoy's `--log-level`; default `warning`).
    pub log_level: String,
    /// `--proxyComponentLogLevel` (default `misc:error`).
    pub component_log_level: String,
    /// `--domain` (default `<namespace>.svc.cluster.local`).
    pub domain: Option<String>,
}

/// The proxy's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A pod's sidecar.
    Sidecar,
    /// A gateway (`proxy router`).
    Router,
}

impl Role {
    /// The word Istio puts first in the node id.
    pub fn node_type(self) -> &'static str {
        match self {
            Self::Sidecar => "sidecar",
            Self::Router => "router",
        }
    }
}

/// Parses `[pilot-agent] proxy sidecar|router [--flag[=value]]…`; an empty command line is the
/// image's default, a sidecar. Unknown flags are ignored (pilot-agent has many).
pub fn parse_args(command: &[String]) -> Result<ProxyArgs, String> {
    let mut words = command.iter().map(String::as_str).peekable();
    if words
        .peek()
        .is_some_and(|w| w.rsplit('/').next() == Some("pilot-agent"))
    {
        words.next();
    }
    let mut args = ProxyArgs {
        role: Role::Sidecar,
        log_level: "warning".to_owned(),
        component_log_level: "misc:error".to_owned(),
        domain: None,
    };
    match words.next() {
        None => return Ok(args),
        Some("proxy") => {}
        Some(other) => {
            return Err(format!(
                "pilot-agent: unknown command {other:?} for the container's main process \
                 (istio/proxyv2 runs `proxy sidecar` or `proxy router`)"
            ));
        }
    }
    match words.next() {
        None | Some("sidecar") => {}
        Some("router") => args.role = Role::Router,
        Some(other) => {
            return Err(format!(
                "pilot-agent proxy: unknown proxy type {other:?}: use `sidecar` or `router`"
            ));
        }
    }
    while let Some(word) = words.next() {
        let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) else {
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| words.next_if(|w| !w.starts_with('-')).map(str::to_owned))
        };
        match name {
            "proxyLogLevel" => {
                if let Some(v) = value() {
                    args.log_level = v;
                }
            }
            "proxyComponentLogLevel" => {
                if let Some(v) = value() {
                    args.component_log_level = v;
                }
            }
            "domain" => args.domain = value(),
            _ => {}
        }
    }
    Ok(args)
}

/// Runs Envoy until it exits or the container is stopped.
pub async fn run(listeners: Vec<TcpListener>, ctx: PodContext) -> Termination {
    // Envoy binds the container's ports itself (15021, 15090, a gateway's 8080 …).
    drop(listeners);
    let args = match parse_args(&ctx.command) {
        Ok(args) => args,
        Err(e) => return Termination::error(e),
    };
    let binary = match tokio::task::spawn_blocking(envoy::locate).await {
        Ok(Ok(binary)) => binary,
        Ok(Err(missing)) => {
            agent_log(&ctx.log, "error", &missing.to_string());
            return Termination::error(missing.to_string());
        }
        Err(e) => return Termination::error(format!("could not look for Envoy: {e}")),
    };
    if let Some(warning) = binary.version_warning() {
        agent_log(&ctx.log, "warn", &warning);
    }
    let dir = match WorkDir::create() {
        Ok(dir) => dir,
        Err(e) => {
            return Termination::error(format!(
                "could not create a directory for Envoy under {}: {e}",
                std::env::temp_dir().display()
            ));
        }
    };
    let socket = dir.path().join("XDS");
    let relay_listener = match UnixListener::bind(&socket) {
        Ok(l) => l,
        Err(e) => {
            return Termination::error(format!("could not listen on {}: {e}", socket.display()));
        }
    };
    let domain = args
        .domain
        .clone()
        .filter(|d| !d.contains("$("))
        .unwrap_or_else(|| format!("{}.svc.cluster.local", ctx.namespace));
    let node_id = format!(
        "{}~{}~{}.{}~{domain}",
        args.role.node_type(),
        ctx.ip,
        ctx.pod,
        ctx.namespace
    );
    agent_log(
        &ctx.log,
        "info",
        &format!(
            "Proxy role\tips=[{}] type={} id={}.{} domain={domain}",
            ctx.ip,
            args.role.node_type(),
            ctx.pod,
            ctx.namespace
        ),
    );
    let bootstrap = Bootstrap {
        node_id,
        cluster: format!("{}.{}", service_cluster(&ctx), ctx.namespace),
        metadata: node_metadata(&ctx, args.role),
        xds: Some(XdsAddress::Pipe(socket)),
        pod_ip: Some(ctx.ip),
    };
    let options = StartOptions {
        bootstrap,
        log_level: args.log_level.clone(),
        component_log_level: Some(args.component_log_level.clone()),
        log: ctx.log.clone(),
        owner: Some((
            ctx.namespace.clone(),
            ctx.pod.clone(),
            ctx.container.clone(),
        )),
    };
    let relay = relay_to_istiod(
        relay_listener,
        ctx.network.clone(),
        ctx.origin(),
        ctx.log.clone(),
    );
    tokio::pin!(relay);
    // The relay runs while Envoy starts: Envoy connects to it during start-up.
    let started = tokio::select! {
        started = EnvoyProcess::start(&binary, dir.path(), &options) => started,
        () = &mut relay => return Termination::error("the xDS relay stopped"),
    };
    let mut process = match started {
        Ok(p) => p,
        Err(e) => {
            agent_log(&ctx.log, "error", &e.to_string());
            return Termination::error(e.to_string());
        }
    };
    agent_log(
        &ctx.log,
        "info",
        &format!(
            "Envoy {} started\tpid={} base-id={} admin={} binary={}",
            binary.version,
            process.pid(),
            process.base_id(),
            process.admin(),
            binary.path.display()
        ),
    );
    let ready = announce_ready(process.admin(), ctx.log.clone());
    tokio::pin!(ready);
    let mut announced = false;
    let exit = loop {
        tokio::select! {
            exit = process.wait() => break exit,
            () = &mut relay => return Termination::error("the xDS relay stopped"),
            () = &mut ready, if !announced => announced = true,
        }
    };
    // As pilot-agent does; the kubelet puts the message in the container's last state.
    let message = format!("Envoy exited: {exit}");
    agent_log(&ctx.log, "error", &message);
    drop(dir);
    Termination {
        exit_code: exit.code,
        message,
    }
}

/// Logs `Envoy proxy is ready` once the admin says `LIVE`, as pilot-agent does.
async fn announce_ready(admin: SocketAddr, log: LogBuffer) {
    let mut pause = Duration::from_millis(100);
    loop {
        if let Ok(r) = envoy::admin_get(admin, "/ready").await
            && r.status == 200
        {
            agent_log(&log, "info", "Envoy proxy is ready");
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// A line in pilot-agent's log format (`2026-11-26T10:03:08.194123Z\tinfo\tmessage`).
fn agent_log(log: &LogBuffer, level: &str, message: &str) {
    let now = jiff::Timestamp::now();
    log.push(format!(
        "{}\t{level}\t{message}",
        now.strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
    ));
}

/// The workload's name for `node.cluster`: the `CANONICAL_SERVICE` or `ISTIO_META_WORKLOAD_NAME`
/// the injector sets, else the pod's name without a Deployment's hash suffixes.
fn service_cluster(ctx: &PodContext) -> String {
    if let Some(name) = ["CANONICAL_SERVICE", "ISTIO_META_WORKLOAD_NAME"]
        .iter()
        .find_map(|v| ctx.env_var(v).filter(|s| !s.is_empty()))
    {
        return name.to_owned();
    }
    let parts: Vec<&str> = ctx.pod.split('-').collect();
    if parts.len() > 2 {
        parts[..parts.len() - 2].join("-")
    } else {
        ctx.pod.clone()
    }
}

/// `node.metadata` as pilot-agent sends it: every `ISTIO_META_*` variable without its prefix,
/// and the pod's identity (`NAMESPACE`, `NAME`, `INSTANCE_IPS`, `SERVICE_ACCOUNT`, …).
fn node_metadata(ctx: &PodContext, role: Role) -> Map<String, Value> {
    let mut metadata = Map::new();
    for (key, value) in &ctx.env {
        if let Some(name) = key.strip_prefix("ISTIO_META_")
            && !name.is_empty()
        {
            metadata.insert(name.to_owned(), json!(value));
        }
    }
    metadata.insert("NAMESPACE".into(), json!(ctx.namespace));
    metadata.insert("NAME".into(), json!(ctx.pod));
    metadata.insert("INSTANCE_IPS".into(), json!(ctx.ip.to_string()));
    metadata.insert("SERVICE_ACCOUNT".into(), json!(ctx.service_account));
    metadata
        .entry("CLUSTER_ID")
        .or_insert_with(|| json!("Kubernetes"));
    metadata
        .entry("MESH_ID")
        .or_insert_with(|| json!("cluster.local"));
    if role == Role::Router {
        metadata.insert("ROUTER_MODE".into(), json!("sni-dnat"));
    }
    metadata
}

/// Accepts Envoy's xDS connections and relays each to a ready istiod pod, waiting for one
/// while there is none; never returns unless accepting fails. Connections end with it.
async fn relay_to_istiod(listener: UnixListener, network: Network, origin: Origin, log: LogBuffer) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((downstream, _)) = accepted else { return };
                connections.spawn(relay_one(downstream, network.clone(), origin.clone(), log.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay_one(mut downstream: UnixStream, network: Network, origin: Origin, log: LogBuffer) {
    let (namespace, service, port) = ISTIOD;
    let host = format!("{service}.{namespace}.svc:{port}");
    let mut waiting_logged = false;
    let mut turn = 0usize;
    let mut upstream = loop {
        let endpoints = network.endpoints(namespace, service, port);
        let mut connected = None;
        for i in 0..endpoints.len() {
            let target = endpoints[(turn + i) % endpoints.len()];
            if let Ok(stream) = Network::dial(&origin, service, port, target).await {
                connected = Some(stream);
                break;
            }
        }
        turn = turn.wrapping_add(1);
        if let Some(stream) = connected {
            break stream;
        }
        if !waiting_logged {
            agent_log(
                &log,
                "warn",
                &format!("xDS: waiting for {host}: no ready istiod pod (is Istio installed?)"),
            );
            waiting_logged = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if waiting_logged {
        agent_log(&log, "info", &format!("xDS: connected to {host}"));
    }
    let _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await;
}

#[cfg(test)]
mod tests;
