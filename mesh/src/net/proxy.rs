//! kube-proxy-lite: real TCP listeners on 127.0.0.1 for NodePort and LoadBalancer Services.
//!
//! Every port of a NodePort or LoadBalancer Service gets a listener on `127.0.0.1:<nodePort>`;
//! a LoadBalancer Service also listens on `127.0.0.1:<port>` (its `status.loadBalancer` IP is
//! 127.0.0.1) when that port can be bound. Each accepted connection is routed like ClusterIP
//! traffic, through `Network::connect_service` from [`Origin::Host`], to a ready endpoint in
//! turn; with none ready the connection is closed at once, as kube-proxy's REJECT rule does.
//! Listeners follow the Services (ports, type, deletion) and all close when the mesh stops.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch as signal;
use tokio::task::{JoinHandle, JoinSet};

use super::{Network, Origin, services};
use crate::meta;

/// How often ports that could not be bound are tried again.
const RETRY: Duration = Duration::from_secs(2);

/// Where connections to one listening port go: a Service port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Target {
    namespace: String,
    name: String,
    port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Service {}/{} port {}",
            self.namespace, self.name, self.port
        )
    }
}

/// Why a port is listened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Role {
    /// A Service port's `nodePort`.
    NodePort,
    /// A LoadBalancer Service's own port on its external IP 127.0.0.1.
    LoadBalancer,
}

/// The ports the Services ask for: listening port → (Service port, why).
pub(super) fn desired(services: &[Arc<Value>]) -> BTreeMap<u16, (Target, Role)> {
    let mut out = BTreeMap::new();
    let mut balanced = Vec::new();
    for svc in services {
        if meta::meta_str(svc, "deletionTimestamp").is_some() {
            continue;
        }
        let kind = svc.pointer("/spec/type").and_then(Value::as_str);
        if !matches!(kind, Some("NodePort" | "LoadBalancer")) {
            continue;
        }
        for p in svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") != "TCP" {
                continue;
            }
            let number = |field: &str| {
                p.get(field)
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n > 0)
            };
            let Some(port) = number("port") else { continue };
            let target = Target {
                namespace: meta::namespace(svc).unwrap_or("default").to_owned(),
                name: meta::name(svc).unwrap_or_default().to_owned(),
                port,
            };
            if let Some(node_port) = number("nodePort") {
                out.insert(node_port, (target.clone(), Role::NodePort));
            }
            if kind == Some("LoadBalancer") {
                balanced.push((port, target));
            }
        }
    }
    // A nodePort wins over a LoadBalancer port; among LoadBalancers the first by name.
    balanced.sort();
    for (port, target) in balanced {
        out.entry(port).or_insert((target, Role::LoadBalancer));
    }
    out
}

/// One open listening port.
struct Listener {
    target: Arc<Mutex<Target>>,
    task: JoinHandle<()>,
}

/// The proxy's state: open listeners and the ports it has already warned about.
struct Proxy {
    network: Network,
    open: HashMap<u16, Listener>,
    /// Ports that could not be bound, with the target they were wanted for (warned once).
    failed: HashSet<(u16, Target)>,
}

/// Starts kube-proxy-lite; it runs until `shutdown` flips to true, then closes every port.
pub(crate) fn start(network: Network, shutdown: signal::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(network, shutdown))
}

async fn run(network: Network, mut shutdown: signal::Receiver<bool>) {
    let store = network.store.clone();
    let mut watch = match store.watch(&services(), None, None) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!("kube-proxy-lite could not watch Services; no NodePort listens: {e}");
            return;
        }
    };
    let mut proxy = Proxy {
        network,
        open: HashMap::new(),
        failed: HashSet::new(),
    };
    let mut retry = tokio::time::interval(RETRY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            event = watch.next() => match event {
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    // Fell behind: start over; the sync below reads the current Services.
                    let Ok(w) = store.watch(&services(), None, None) else { break };
                    watch = w;
                }
                None => break,
            },
            _ = retry.tick(), if !proxy.failed.is_empty() => {}
            _ = shutdown.changed() => break,
        }
        let (all, _) = store.list(&services(), None);
        proxy.sync(desired(&all)).await;
    }
    let tasks: Vec<JoinHandle<()>> = proxy.open.drain().map(|(_, l)| l.task).collect();
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
}

impl Proxy {
    /// Opens, retargets and closes listeners so that exactly the `wanted` ports listen.
    async fn sync(&mut self, wanted: BTreeMap<u16, (Target, Role)>) {
        let gone: Vec<u16> = self
            .open
            .keys()
            .filter(|p| !wanted.contains_key(p))
            .copied()
            .collect();
        for port in gone {
            if let Some(l) = self.open.remove(&port) {
                l.task.abort();
                // Wait for the socket to close, so a Service created next can bind it.
                let _ = l.task.await;
                tracing::info!("kube-proxy-lite: closed 127.0.0.1:{port}");
            }
        }
        self.failed
            .retain(|(port, target)| wanted.get(port).is_some_and(|(t, _)| t == target));
        for (port, (target, role)) in wanted {
            if let Some(l) = self.open.get_mut(&port) {
                let mut current = l.target.lock().unwrap_or_else(PoisonError::into_inner);
                if *current != target {
                    tracing::info!("kube-proxy-lite: 127.0.0.1:{port} now forwards to {target}");
                    *current = target;
                }
                continue;
            }
            // A nodePort that could not be bound is tried again (a mesh that is still stopping
            // may free it); a LoadBalancer port (often privileged) is not.
            if role == Role::LoadBalancer && self.failed.contains(&(port, target.clone())) {
                continue;
            }
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match TcpListener::bind(addr).await {
                Ok(listener) => {
                    self.failed.remove(&(port, target.clone()));
                    tracing::info!("kube-proxy-lite: 127.0.0.1:{port} forwards to {target}");
                    let shared = Arc::new(Mutex::new(target));
                    let task =
                        tokio::spawn(accept(listener, Arc::clone(&shared), self.network.clone()));
                    self.open.insert(
                        port,
                        Listener {
                            target: shared,
                            task,
                        },
                    );
                }
                Err(e) => {
                    if self.failed.insert((port, target.clone())) {
                        warn_unbound(port, &target, role, &e);
                    }
                }
            }
        }
    }
}

fn warn_unbound(port: u16, target: &Target, role: Role, e: &std::io::Error) {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "another program is using it".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        _ => e.to_string(),
    };
    match role {
        Role::NodePort => tracing::warn!(
            "kube-proxy-lite: cannot listen on 127.0.0.1:{port} (nodePort of {target}): {why}; \
             stop whatever uses the port or give the Service another nodePort (retrying)"
        ),
        Role::LoadBalancer => tracing::warn!(
            "kube-proxy-lite: cannot listen on 127.0.0.1:{port} for LoadBalancer {target}: \
             {why}; use its nodePort instead (kubectl get svc {} -n {})",
            target.name,
            target.namespace
        ),
    }
}

/// Accepts connections on one port and forwards each to the current target.
async fn accept(listener: TcpListener, target: Arc<Mutex<Target>>, network: Network) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (inbound, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!("kube-proxy-lite: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let target = target
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        connections.spawn(forward(inbound, peer, target, network.clone()));
    }
}

/// Forwards one accepted connection to a ready endpoint of `target`, or closes it with a
/// reset when there is none.
async fn forward(mut inbound: TcpStream, peer: SocketAddr, target: Target, network: Network) {
    let _ = inbound.set_nodelay(true);
    let Some(service) = network.service(&target.namespace, &target.name) else {
        tracing::info!("kube-proxy-lite: {target} is gone; closing the connection from {peer}");
        let _ = inbound.set_zero_linger();
        return;
    };
    let host = service
        .cluster_ip
        .map_or_else(|| service.name.clone(), |ip| ip.to_string());
    match network
        .connect_service(&Origin::Host, &host, &service, target.port)
        .await
    {
        Ok(mut upstream) => {
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream).await;
        }
        Err(e) => {
            tracing::info!(
                "kube-proxy-lite: {target} has no ready endpoint to take the connection from \
                 {peer} ({e}); closing it"
            );
            let _ = inbound.set_zero_linger();
        }
    }
}
