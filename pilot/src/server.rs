//! [`AdsServer`]: SotW Aggregated Discovery Service over gRPC (tonic), pushing a fresh
//! translation to every connected Envoy whenever the model changes.
//!
//! Protocol rules (see the project's notes on driving Envoy over xDS): clusters and listeners are
//! wildcard; routes and endpoints carry the names Envoy asks for, compared as sets; a request
//! with a nonce other than the latest sent one is stale and ignored; a request with
//! `error_detail` is a NACK: it is recorded and published, and the rejected version is never sent
//! again; a repeated request for the latest, already acknowledged response (Envoy re-requests
//! endpoints after every cluster update) is answered; a reconnect (empty nonce) gets everything.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::Any;
use futures::StreamExt;
use prost::{Message, Name};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::bootstrap::proxy_from_metadata;
use crate::model::{Model, Proxy};
use crate::translate::{Resources, Warning, translate};

/// Type URL of clusters (CDS).
pub fn cluster_type() -> String {
    Cluster::type_url()
}
/// Type URL of endpoint assignments (EDS).
pub fn endpoint_type() -> String {
    ClusterLoadAssignment::type_url()
}
/// Type URL of listeners (LDS).
pub fn listener_type() -> String {
    Listener::type_url()
}
/// Type URL of route configurations (RDS).
pub fn route_type() -> String {
    RouteConfiguration::type_url()
}

/// The short name of an xDS type URL (`CDS`, `EDS`, `LDS`, `RDS`, or the URL itself).
pub fn short_type(type_url: &str) -> &str {
    match type_url.rsplit('.').next().unwrap_or_default() {
        "Cluster" => "CDS",
        "ClusterLoadAssignment" => "EDS",
        "Listener" => "LDS",
        "RouteConfiguration" => "RDS",
        _ => type_url,
    }
}

/// A configuration Envoy rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// The node id of the proxy that rejected it.
    pub node: String,
    /// The xDS type URL.
    pub type_url: String,
    /// The rejected version.
    pub version: String,
    /// Envoy's reason, as it gave it.
    pub message: String,
}

impl std::fmt::Display for Nack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rejected {} version {}: {}",
            self.node,
            short_type(&self.type_url),
            self.version,
            self.message
        )
    }
}

/// Something that happened on the server, for logs, `mesh status` and checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PilotEvent {
    /// A proxy opened an ADS stream.
    Connected {
        /// Node id.
        node: String,
    },
    /// A proxy's ADS stream ended.
    Disconnected {
        /// Node id.
        node: String,
    },
    /// A proxy accepted a version.
    Acked {
        /// Node id.
        node: String,
        /// Type URL.
        type_url: String,
        /// Version accepted.
        version: String,
    },
    /// A proxy rejected a version; it keeps serving its previous configuration.
    Nacked(Nack),
    /// The translation for a proxy changed its warnings (the full current list).
    Warnings {
        /// Node id.
        node: String,
        /// Current warnings.
        warnings: Vec<Warning>,
    },
    /// A proxy connected whose node id is not registered and whose bootstrap carries no proxy.
    UnknownNode {
        /// Node id.
        node: String,
    },
}

/// What the server knows about each proxy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PilotStatus {
    /// By node id.
    pub proxies: BTreeMap<String, ProxyStatus>,
}

/// One proxy's sync state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyStatus {
    /// Whether its ADS stream is open.
    pub connected: bool,
    /// Last version sent, by short type (`CDS` …).
    pub sent: BTreeMap<String, String>,
    /// Last version acknowledged, by short type.
    pub acked: BTreeMap<String, String>,
    /// The most recent rejection, if the latest push of that type was rejected.
    pub nacks: BTreeMap<String, Nack>,
    /// Translation warnings of its current configuration.
    pub warnings: Vec<Warning>,
}

impl ProxyStatus {
    /// Whether every type sent has been acknowledged at its latest version.
    pub fn synced(&self) -> bool {
        self.sent.iter().all(|(t, v)| self.acked.get(t) == Some(v))
    }
}

struct Inner {
    model: watch::Receiver<Arc<Model>>,
    proxies: Mutex<HashMap<String, Proxy>>,
    status: Mutex<PilotStatus>,
    events: broadcast::Sender<PilotEvent>,
    nonce: AtomicU64,
    closing: watch::Sender<bool>,
}

impl Inner {
    fn publish(&self, event: PilotEvent) {
        match &event {
            PilotEvent::Nacked(n) => tracing::warn!(%n, "xDS NACK"),
            PilotEvent::UnknownNode { node } => tracing::warn!(node, "xDS: unknown node"),
            other => tracing::debug!(?other, "xDS event"),
        }
        // Nobody listening is fine: the status keeps the state.
        let _ = self.events.send(event);
    }

    fn with_status<R>(&self, node: &str, f: impl FnOnce(&mut ProxyStatus) -> R) -> R {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        f(status.proxies.entry(node.to_owned()).or_default())
    }
}

/// The ADS server. Cheap to clone; every clone serves the same proxies.
#[derive(Clone)]
pub struct AdsServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AdsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdsServer").finish_non_exhaustive()
    }
}

/// Errors of [`AdsServer::serve`].
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The gRPC server failed.
    #[error("the xDS server stopped: {0}")]
    Transport(#[from] tonic::transport::Error),
}

impl AdsServer {
    /// A server that translates the latest model of `model` for each connected proxy and pushes
    /// again whenever the model changes.
    pub fn new(model: watch::Receiver<Arc<Model>>) -> AdsServer {
        let (events, _) = broadcast::channel(1024);
        let (closing, _) = watch::channel(false);
        AdsServer {
            inner: Arc::new(Inner {
                model,
                proxies: Mutex::new(HashMap::new()),
                status: Mutex::new(PilotStatus::default()),
                events,
                nonce: AtomicU64::new(0),
                closing,
            }),
        }
    }

    /// Registers (or replaces) the proxy for its node id; wins over the bootstrap's metadata.
    /// A connected proxy gets the new description on the next model change.
    pub fn register(&self, proxy: Proxy) {
        let mut proxies = self
            .inner
            .proxies
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        proxies.insert(proxy.node_id(), proxy);
    }

    /// Forgets a proxy (its pod is gone) and its status.
    pub fn unregister(&self, node_id: &str) {
        self.inner
            .proxies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(node_id);
        self.inner
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .proxies
            .remove(node_id);
    }

    /// A snapshot of every proxy's sync state, NACKs and warnings.
    pub fn status(&self) -> PilotStatus {
        self.inner
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Events from now on (connections, ACKs, NACKs, warnings).
    pub fn subscribe(&self) -> broadcast::Receiver<PilotEvent> {
        self.inner.events.subscribe()
    }

    /// The tonic service, to host it in a server of the caller's own.
    pub fn service(&self) -> AggregatedDiscoveryServiceServer<AdsServer> {
        AggregatedDiscoveryServiceServer::new(self.clone())
            .max_decoding_message_size(64 * 1024 * 1024)
    }

    /// Ends every open ADS stream (the proxies keep their configuration and reconnect), and
    /// every stream opened later. Call it when hosting [`AdsServer::service`] yourself and
    /// shutting down: a graceful gRPC shutdown waits for streams, which never end on their own.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Serves ADS on `listener` until `shutdown` completes, then ends the open streams.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let closer = self.clone();
        let signal = async move {
            shutdown.await;
            closer.close();
        };
        tonic::transport::Server::builder()
            .serve_with_incoming_shutdown(self.service(), incoming, signal)
            .await?;
        Ok(())
    }

    fn proxy_for(&self, node_id: &str, req: &DiscoveryRequest) -> Option<Proxy> {
        let registered = self
            .inner
            .proxies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(node_id)
            .cloned();
        registered
            .or_else(|| proxy_from_metadata(req.node.as_ref().and_then(|n| n.metadata.as_ref())))
    }
}

type ResponseStream = ReceiverStream<Result<DiscoveryResponse, Status>>;
type DeltaStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

#[tonic::async_trait]
impl AggregatedDiscoveryService for AdsServer {
    type StreamAggregatedResourcesStream = ResponseStream;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let requests = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let server = self.clone();
        tokio::spawn(async move {
            let mut stream = Stream {
                server,
                tx,
                node: None,
                types: HashMap::new(),
                current: None,
            };
            stream.run(requests).await;
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type DeltaAggregatedResourcesStream = DeltaStream;

    async fn delta_aggregated_resources(
        &self,
        _request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<DeltaStream>, Status> {
        Err(Status::unimplemented(
            "pilot-lite serves state-of-the-world ADS only; set the bootstrap's api_type to GRPC",
        ))
    }
}

/// Per type: what was asked for and what was sent.
#[derive(Default)]
struct TypeState {
    names: BTreeSet<String>,
    sent_nonce: String,
    sent_version: String,
    sent_names: BTreeSet<String>,
    sent_content: Option<Content>,
    answered: bool,
    /// Contents Envoy rejected (compared by value: protobuf maps encode in no fixed order).
    rejected: Vec<Content>,
}

/// The resources of one type as sent, comparable by value.
#[derive(Clone, PartialEq)]
enum Content {
    Clusters(Vec<Cluster>),
    Endpoints(Vec<ClusterLoadAssignment>),
    Listeners(Vec<Listener>),
    Routes(Vec<RouteConfiguration>),
}

impl Content {
    fn named<T: Clone>(
        all: &[T],
        name: impl Fn(&T) -> &str,
        names: Option<&BTreeSet<String>>,
    ) -> Vec<T> {
        all.iter()
            .filter(|r| names.is_none_or(|n| n.contains(name(r))))
            .cloned()
            .collect()
    }

    /// The resources of `type_url` in `resources`, only `names` unless wildcard.
    fn of(resources: &Resources, type_url: &str, names: &BTreeSet<String>) -> Option<Content> {
        let names = (!wildcard(type_url)).then_some(names);
        Some(if type_url == cluster_type() {
            Content::Clusters(Self::named(&resources.clusters, |r| &r.name, names))
        } else if type_url == endpoint_type() {
            Content::Endpoints(Self::named(
                &resources.endpoints,
                |r| &r.cluster_name,
                names,
            ))
        } else if type_url == listener_type() {
            Content::Listeners(Self::named(&resources.listeners, |r| &r.name, names))
        } else if type_url == route_type() {
            Content::Routes(Self::named(&resources.routes, |r| &r.name, names))
        } else {
            return None;
        })
    }

    fn packed(&self) -> Vec<(String, Any)> {
        match self {
            Content::Clusters(v) => v.iter().map(|r| (r.name.clone(), any(r))).collect(),
            Content::Endpoints(v) => v.iter().map(|r| (r.cluster_name.clone(), any(r))).collect(),
            Content::Listeners(v) => v.iter().map(|r| (r.name.clone(), any(r))).collect(),
            Content::Routes(v) => v.iter().map(|r| (r.name.clone(), any(r))).collect(),
        }
    }
}

/// The current translation for this stream's proxy.
struct Current {
    resources: Resources,
}

fn any<T: Message + Name>(value: &T) -> Any {
    Any {
        type_url: T::type_url(),
        value: value.encode_to_vec(),
    }
}

fn wildcard(type_url: &str) -> bool {
    type_url == cluster_type() || type_url == listener_type()
}

/// FNV-1a: a version that is stable across runs for the same content.
fn content_version(resources: &[(String, Any)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, any) in resources {
        for byte in name.bytes().chain([0]).chain(any.value.iter().copied()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

struct Stream {
    server: AdsServer,
    tx: mpsc::Sender<Result<DiscoveryResponse, Status>>,
    node: Option<(String, Proxy)>,
    types: HashMap<String, TypeState>,
    current: Option<Current>,
}

impl Stream {
    async fn run(&mut self, mut requests: Streaming<DiscoveryRequest>) {
        let mut model = self.server.inner.model.clone();
        let mut closing = self.server.inner.closing.subscribe();
        loop {
            if *closing.borrow_and_update() {
                break;
            }
            tokio::select! {
                _ = closing.changed() => {}
                request = requests.next() => match request {
                    Some(Ok(request)) => {
                        if !self.handle(request).await {
                            break;
                        }
                    }
                    Some(Err(status)) => {
                        tracing::debug!(%status, "xDS stream ended with an error");
                        break;
                    }
                    None => break,
                },
                changed = model.changed() => {
                    if changed.is_err() {
                        // The model's owner is gone: nothing more will change.
                        break;
                    }
                    model.borrow_and_update();
                    if self.node.is_some() {
                        self.retranslate();
                        if !self.push_all().await {
                            break;
                        }
                    }
                }
            }
        }
        if let Some((node, _)) = &self.node {
            self.server.inner.with_status(node, |s| s.connected = false);
            self.server
                .inner
                .publish(PilotEvent::Disconnected { node: node.clone() });
        }
    }

    /// Translates the latest model for this node and publishes changed warnings.
    fn retranslate(&mut self) {
        let Some((node, proxy)) = &mut self.node else {
            return;
        };
        if let Some(updated) = self.server.proxy_for(node, &DiscoveryRequest::default()) {
            *proxy = updated;
        }
        let model = self.server.inner.model.borrow().clone();
        let resources = translate(&model, proxy);
        let inner = &self.server.inner;
        let changed = inner.with_status(node, |s| {
            if s.warnings == resources.warnings {
                false
            } else {
                s.warnings.clone_from(&resources.warnings);
                true
            }
        });
        if changed {
            inner.publish(PilotEvent::Warnings {
                node: node.clone(),
                warnings: resources.warnings.clone(),
            });
        }
        self.current = Some(Current { resources });
    }

    /// Handles one request; false when the stream must end.
    async fn handle(&mut self, req: DiscoveryRequest) -> bool {
        if self.node.is_none() {
            let node_id = req.node.as_ref().map(|n| n.id.clone()).unwrap_or_default();
            let Some(proxy) = self.server.proxy_for(&node_id, &req) else {
                self.server.inner.publish(PilotEvent::UnknownNode {
                    node: node_id.clone(),
                });
                let _ = self
                    .tx
                    .send(Err(Status::failed_precondition(format!(
                        "unknown proxy {node_id:?}: register it with AdsServer::register or start Envoy with pilot's bootstrap"
                    ))))
                    .await;
                return false;
            };
            self.server
                .inner
                .with_status(&node_id, |s| s.connected = true);
            self.server.inner.publish(PilotEvent::Connected {
                node: node_id.clone(),
            });
            self.node = Some((node_id, proxy));
            self.retranslate();
        }
        let type_url = req.type_url.clone();
        if type_url.is_empty() {
            return true;
        }
        let node = self
            .node
            .as_ref()
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        let state = self.types.entry(type_url.clone()).or_default();
        let names: BTreeSet<String> = req.resource_names.iter().cloned().collect();
        if !req.response_nonce.is_empty() && req.response_nonce != state.sent_nonce {
            // Stale: an answer to a response that has since been superseded.
            return true;
        }
        if let Some(error) = &req.error_detail {
            let version = state.sent_version.clone();
            if let Some(content) = state.sent_content.clone()
                && !state.rejected.contains(&content)
            {
                if state.rejected.len() >= 8 {
                    state.rejected.remove(0);
                }
                state.rejected.push(content);
            }
            state.answered = true;
            let nack = Nack {
                node: node.clone(),
                type_url: type_url.clone(),
                version,
                message: error.message.clone(),
            };
            self.server.inner.with_status(&node, |s| {
                s.nacks
                    .insert(short_type(&type_url).to_owned(), nack.clone());
            });
            self.server.inner.publish(PilotEvent::Nacked(nack));
            state.names = names;
            return true;
        }
        let resend = if req.response_nonce.is_empty() {
            // First request of this type on this stream (or after a reconnect).
            true
        } else if !state.answered {
            state.answered = true;
            let version = req.version_info.clone();
            let short = short_type(&type_url).to_owned();
            self.server.inner.with_status(&node, |s| {
                s.acked.insert(short.clone(), version.clone());
                s.nacks.remove(&short);
            });
            self.server.inner.publish(PilotEvent::Acked {
                node: node.clone(),
                type_url: type_url.clone(),
                version,
            });
            !wildcard(&type_url) && names != state.sent_names
        } else {
            // The same request again for an answered response: Envoy wants it again (endpoints
            // after a cluster update), or asks for other names.
            true
        };
        state.names = names;
        if resend {
            return self.send(&type_url, true).await;
        }
        true
    }

    /// Pushes every subscribed type whose content changed, clusters first.
    async fn push_all(&mut self) -> bool {
        for type_url in [
            cluster_type(),
            endpoint_type(),
            listener_type(),
            route_type(),
        ] {
            if self.types.contains_key(&type_url) && !self.send(&type_url, false).await {
                return false;
            }
        }
        true
    }

    /// Sends the current resources of a type (if `always`, even when unchanged); false when the
    /// stream is gone.
    async fn send(&mut self, type_url: &str, always: bool) -> bool {
        let Some(current) = &self.current else {
            return true;
        };
        let Some(state) = self.types.get_mut(type_url) else {
            return true;
        };
        let Some(content) = Content::of(&current.resources, type_url, &state.names) else {
            return true;
        };
        if state.rejected.contains(&content) {
            return true;
        }
        if !always && state.sent_content.as_ref() == Some(&content) {
            return true;
        }
        let resources = content.packed();
        let version = content_version(&resources);
        let nonce = self
            .server
            .inner
            .nonce
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        state.sent_nonce.clone_from(&nonce);
        state.sent_version.clone_from(&version);
        state.sent_names = state.names.clone();
        state.sent_content = Some(content);
        state.answered = false;
        if let Some((node, _)) = &self.node {
            self.server.inner.with_status(node, |s| {
                s.sent
                    .insert(short_type(type_url).to_owned(), version.clone());
            });
        }
        let response = DiscoveryResponse {
            version_info: version,
            resources: resources.into_iter().map(|(_, any)| any).collect(),
            type_url: type_url.to_owned(),
            nonce,
            ..Default::default()
        };
        self.tx.send(Ok(response)).await.is_ok()
    }
}
