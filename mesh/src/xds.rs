//! istiod's xDS: pilot-lite (crate `meshwork-pilot`) hosted in the reference mesh.
//!
//! [`serve`] runs on the listener istiod's workload binds on its xDS port (15010). It builds
//! pilot's [`Model`] from the store — Services, Pods (the endpoints pilot derives from the ready
//! pods each Service selects; Endpoints and EndpointSlices changes trigger a rebuild too) and
//! every stored networking.istio.io resource (VirtualService, DestinationRule, Gateway,
//! ServiceEntry, Sidecar, whatever version they are stored as) — and keeps it current from the
//! store's watch, publishing each new model on a `watch` channel to [`AdsServer`]. Each pod
//! that runs Istio's proxy is registered as a [`Proxy`] ([`source::proxies`]): a sidecar with
//! its pod IP P, application address A and outbound address O (see [`crate::net::sidecar`]),
//! or a gateway (`istio: ingressgateway|egressgateway`, or `proxy router`).
//!
//! With an [`Identity`] (istiod's CA and the workload certificate lifetime), the server also
//! issues each proxy its SPIFFE certificate over SDS and rotates it; istiod's log says when it
//! signs one (`ca` scope).
//!
//! Everything the learner should know — malformed Istio resources, translation warnings,
//! configurations Envoy rejected, proxies connecting and leaving — is written to istiod's log
//! through a [`Reporter`] ([`report`]), in words that name the resource.

pub mod report;
pub mod source;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use meshwork_pilot::ca::{Ca, inspect};
use meshwork_pilot::server::CertEvent;
use meshwork_pilot::{AdsServer, Model, Proxy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::store::{ResourceKey, Store};

pub use report::Reporter;

/// How long a burst of store changes is gathered before the model is rebuilt once.
const SETTLE: Duration = Duration::from_millis(5);

/// The CA whose workload certificates the proxies get over SDS, and their lifetime.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The CA.
    pub ca: Arc<Ca>,
    /// How long each workload certificate lives (rotated at half of it).
    pub ttl: Duration,
}

/// Serves ADS on `listener` from the objects in `store`, reporting to `reporter`, until
/// accepting fails; returns why it stopped. With an `identity`, secrets are served too. Dropping the future stops the server, its streams
/// and its watch (the proxies keep their configuration and reconnect to the next istiod).
pub async fn serve(
    listener: TcpListener,
    store: Store,
    reporter: Arc<dyn Reporter>,
    identity: Option<Identity>,
) -> String {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut state = State::default();
    let (model, proxies) = state.snapshot(&store, &*reporter);
    let (tx, rx) = watch::channel(Arc::new(model));
    let server = AdsServer::new(rx);
    if let Some(board) = reporter.control_plane() {
        board.serving(&server);
    }
    let _ = state.register(&server, proxies);
    let _closer = CloseOnDrop(server.clone());
    reporter.log(
        "info",
        "ads",
        &format!("starting gRPC discovery service (xDS) at {addr}"),
    );
    let mut tasks = JoinSet::new();
    if let Some(identity) = identity {
        server.set_ca(identity.ca, identity.ttl);
        let certs = server.subscribe_certificates();
        let logging = Arc::clone(&reporter);
        tasks.spawn(async move {
            log_certificates(certs, logging).await;
            "the CA's events ended".to_owned()
        });
    }
    let events = server.subscribe();
    let logging = Arc::clone(&reporter);
    tasks.spawn(async move {
        report::follow(events, logging).await;
        "the xDS server's events ended".to_owned()
    });
    let serving = server.clone();
    tasks.spawn(async move {
        match serving.serve(listener, std::future::pending()).await {
            Ok(()) => format!("the xDS server at {addr} stopped"),
            Err(e) => format!("{e} (at {addr})"),
        }
    });
    tokio::select! {
        () = follow(store, tx, server, state, Arc::clone(&reporter)) => {
            "the object store closed: the mesh is shutting down".to_owned()
        }
        Some(done) = tasks.join_next() => match done {
            Ok(reason) => reason,
            Err(e) => format!("the xDS server failed: {e}"),
        },
    }
}

/// Writes each certificate signed (or not) to istiod's log, `ca` scope.
async fn log_certificates(
    mut events: tokio::sync::broadcast::Receiver<CertEvent>,
    reporter: Arc<dyn Reporter>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(CertEvent::Issued {
                identity,
                serial,
                not_after,
                rotated,
            }) => {
                let what = if rotated { "rotated" } else { "signed" };
                reporter.log(
                    "info",
                    "ca",
                    &format!(
                        "{what} the certificate of {identity} (serial {serial}, valid until {})",
                        inspect::rfc3339(not_after)
                    ),
                );
            }
            Ok(CertEvent::Failed { message, .. }) => reporter.log("error", "ca", &message),
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// Ends the ADS streams when [`serve`] is dropped (a stopped istiod container).
struct CloseOnDrop(AdsServer);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What the model builder remembers between rebuilds.
#[derive(Default)]
struct State {
    /// The proxies registered with the server, by node id.
    registered: BTreeMap<String, Proxy>,
    /// Malformed Istio resources already reported (reported again once fixed and broken anew).
    reported: Vec<String>,
}

impl State {
    /// The model and proxies of the store's objects now; new parse errors are reported.
    fn snapshot(&mut self, store: &Store, reporter: &dyn Reporter) -> (Model, Vec<Proxy>) {
        let snapshot = source::Snapshot::of(store);
        let (model, errors) = snapshot.model();
        if let Some(board) = reporter.control_plane() {
            board.set_invalid(&errors);
        }
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        for m in messages.iter().filter(|m| !self.reported.contains(m)) {
            reporter.log("warn", "validation", &report::invalid_resource(m));
        }
        self.reported = messages;
        (model, snapshot.proxies())
    }

    /// Registers new or changed proxies and forgets those whose pods are gone; true if any
    /// proxy changed.
    fn register(&mut self, server: &AdsServer, proxies: Vec<Proxy>) -> bool {
        let current: BTreeMap<String, Proxy> =
            proxies.into_iter().map(|p| (p.node_id(), p)).collect();
        for gone in self.registered.keys().filter(|k| !current.contains_key(*k)) {
            server.unregister(gone);
        }
        for (id, proxy) in &current {
            if self.registered.get(id) != Some(proxy) {
                server.register(proxy.clone());
            }
        }
        let changed = self.registered != current;
        self.registered = current;
        changed
    }
}

/// Whether a change to objects of `resource` can change the model or the proxies.
fn relevant(resource: &ResourceKey) -> bool {
    match resource.group.as_str() {
        "" => matches!(
            resource.resource.as_str(),
            "services" | "pods" | "endpoints" | "configmaps"
        ),
        "discovery.k8s.io" => resource.resource == "endpointslices",
        group => source::is_istio_resource(group, &resource.resource),
    }
}

/// Follows the store: after each burst of relevant changes, rebuilds the model, registers the
/// proxies and publishes the model if it changed. Returns when the store is gone.
async fn follow(
    store: Store,
    tx: watch::Sender<Arc<Model>>,
    server: AdsServer,
    mut state: State,
    reporter: Arc<dyn Reporter>,
) {
    loop {
        // Anything may have changed before the watch started (or while it fell behind).
        let (mut changes, _) = store.watch_all();
        rebuild(&store, &tx, &server, &mut state, &*reporter);
        'watch: loop {
            match changes.next().await {
                None => return,
                Some(Err(_)) => break 'watch,
                Some(Ok(event)) if relevant(&event.resource) => {
                    let settle = tokio::time::sleep(SETTLE);
                    tokio::pin!(settle);
                    loop {
                        tokio::select! {
                            () = &mut settle => break,
                            next = changes.next() => match next {
                                None => return,
                                Some(Err(_)) => break 'watch,
                                Some(Ok(_)) => {}
                            },
                        }
                    }
                    rebuild(&store, &tx, &server, &mut state, &*reporter);
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

fn rebuild(
    store: &Store,
    tx: &watch::Sender<Arc<Model>>,
    server: &AdsServer,
    state: &mut State,
    reporter: &dyn Reporter,
) {
    let (model, proxies) = state.snapshot(store, reporter);
    // Proxies first: a push after a model change translates for the registered proxy. A
    // changed proxy (new labels, ports) is pushed too: the streams retranslate on every send.
    let proxies_changed = state.register(server, proxies);
    tx.send_if_modified(|current| {
        if **current == model && !proxies_changed {
            false
        } else {
            *current = Arc::new(model);
            true
        }
    });
}

#[cfg(test)]
mod tests;
