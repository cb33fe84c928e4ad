//! [`AdsServer`]: SotW Aggregated Discovery Service over gRPC (tonic), pushing a fresh
//! translation to every connected Envoy whenever the model changes.
//!
//! Protocol rules (see the project's notes on driving Envoy over xDS): clusters and listeners are
//! wildcard; routes and endpoints carry the names Envoy asks for, compared as sets; a request
//! with a nonce other than the latest sent one is stale and ignored; a request with
//! `error_detail` is a NACK: it is recorded and published, and the rejected version is never sent
//! again; a repeated request for the latest, already acknowledged response (Envoy re-requests
//! endpoints after every cluster update) is answered; a reconnect (empty nonce) gets everything.
//!
//! Secrets (SDS over the same stream): once a CA is set ([`AdsServer::set_ca`]), a proxy asking
//! for [`SDS_WORKLOAD_SECRET`] (`default`) gets its identity's certificate chain and key, and for
//! [`SDS_ROOT_SECRET`] (`ROOTCA`) the trust bundle. Certificates are cached per identity
//! (`spiffe://cluster.local/ns/<ns>/sa/<sa>`), re-issued at half their lifetime and pushed to
//! every stream of that identity without touching the other types' versions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::{DataSource, data_source};
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, Secret, TlsCertificate, secret,
};
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

pub mod bench;

use crate::bootstrap::proxy_from_metadata;
use crate::ca::{self, Ca, IssuedCert};
use crate::model::{Model, Proxy};
use crate::translate::{Resources, SDS_ROOT_SECRET, SDS_WORKLOAD_SECRET, Warning, translate};

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

/// Type URL of secrets (SDS).
pub fn secret_type() -> String {
    Secret::type_url()
}

/// The short name of an xDS type URL (`CDS`, `EDS`, `LDS`, `RDS`, `SDS`, or the URL itself).
pub fn short_type(type_url: &str) -> &str {
    match type_url.rsplit('.').next().unwrap_or_default() {
        "Cluster" => "CDS",
        "ClusterLoadAssignment" => "EDS",
        "Listener" => "LDS",
        "RouteConfiguration" => "RDS",
        "Secret" => "SDS",
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

/// What happened to a workload certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertEvent {
    /// A certificate was issued for an identity (first, or again because the previous one was
    /// due for rotation or the CA changed).
    Issued {
        /// The SPIFFE id.
        identity: String,
        /// Its serial number (hex).
        serial: String,
        /// End of validity.
        not_after: SystemTime,
        /// Whether it replaces an earlier one.
        rotated: bool,
    },
    /// No certificate could be issued for an identity.
    Failed {
        /// The SPIFFE id.
        identity: String,
        /// Why, and what to do.
        message: String,
    },
}

/// Why [`AdsServer::certificate`] has no certificate to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// No CA was set.
    #[error("no CA is configured: certificates cannot be issued until istiod has its CA")]
    NoCa,
    /// The CA failed to sign.
    #[error("the CA could not issue a certificate for {identity}: {message}")]
    Issue {
        /// The SPIFFE id.
        identity: String,
        /// The CA's error.
        message: String,
    },
}

/// The CA in use and the lifetime of what it issues.
struct Authority {
    ca: Arc<Ca>,
    ttl: Duration,
}

struct Inner {
    model: watch::Receiver<Arc<Model>>,
    authority: watch::Sender<Option<Arc<Authority>>>,
    /// Workload certificates by SPIFFE id (cleared when the CA changes).
    certs: Mutex<HashMap<String, Arc<IssuedCert>>>,
    cert_events: broadcast::Sender<CertEvent>,
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
        let (cert_events, _) = broadcast::channel(1024);
        let (closing, _) = watch::channel(false);
        let (authority, _) = watch::channel(None);
        AdsServer {
            inner: Arc::new(Inner {
                model,
                authority,
                certs: Mutex::new(HashMap::new()),
                cert_events,
                proxies: Mutex::new(HashMap::new()),
                status: Mutex::new(PilotStatus::default()),
                events,
                nonce: AtomicU64::new(0),
                closing,
            }),
        }
    }

    /// Sets (or replaces) the CA that issues workload certificates, and their lifetime (within
    /// [`ca::MIN_CERT_TTL`] ..= [`ca::MAX_CERT_TTL`]). Certificates issued by a previous CA are
    /// forgotten; connected proxies get new ones and the new trust bundle at once.
    pub fn set_ca(&self, ca: Arc<Ca>, ttl: Duration) {
        let mut certs = self
            .inner
            .certs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        certs.clear();
        self.inner.authority.send_replace(Some(Arc::new(Authority {
            ca,
            ttl: ca::clamp_ttl(ttl),
        })));
    }

    /// The lifetime of the certificates issued, once a CA is set.
    pub fn cert_ttl(&self) -> Option<Duration> {
        self.inner.authority.borrow().as_ref().map(|a| a.ttl)
    }

    /// The trust bundle (PEM) of the current CA.
    pub fn root_pem(&self) -> Option<String> {
        self.inner
            .authority
            .borrow()
            .as_ref()
            .map(|a| a.ca.root_pem().to_owned())
    }

    /// Certificate events from now on (issued, rotated, failed).
    pub fn subscribe_certificates(&self) -> broadcast::Receiver<CertEvent> {
        self.inner.cert_events.subscribe()
    }

    /// The current certificate of `identity` (a SPIFFE id), issued now if there is none or the
    /// cached one is due for rotation at `now`.
    pub fn certificate(
        &self,
        identity: &str,
        now: SystemTime,
    ) -> Result<Arc<IssuedCert>, CertError> {
        let mut certs = self
            .inner
            .certs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let previous = certs.get(identity).cloned();
        if let Some(cert) = &previous
            && !cert.due(now)
        {
            return Ok(Arc::clone(cert));
        }
        let Some(authority) = self.inner.authority.borrow().clone() else {
            return Err(CertError::NoCa);
        };
        match authority.ca.issue(identity, authority.ttl, now) {
            Ok(cert) => {
                let cert = Arc::new(cert);
                certs.insert(identity.to_owned(), Arc::clone(&cert));
                drop(certs);
                let _ = self.inner.cert_events.send(CertEvent::Issued {
                    identity: identity.to_owned(),
                    serial: cert.serial.clone(),
                    not_after: cert.not_after,
                    rotated: previous.is_some(),
                });
                Ok(cert)
            }
            Err(e) => {
                drop(certs);
                let error = CertError::Issue {
                    identity: identity.to_owned(),
                    message: e.to_string(),
                };
                let _ = self.inner.cert_events.send(CertEvent::Failed {
                    identity: identity.to_owned(),
                    message: error.to_string(),
                });
                Err(error)
            }
        }
    }

    /// The SDS secrets of `proxy` at `now`: `default` (its certificate chain and key) and
    /// `ROOTCA` (the trust bundle); none without a CA, only `ROOTCA` if issuing failed. The
    /// second value is when the certificate is due for rotation.
    pub fn secrets(&self, proxy: &Proxy, now: SystemTime) -> (Vec<Secret>, Option<SystemTime>) {
        let Some(authority) = self.inner.authority.borrow().clone() else {
            return (Vec::new(), None);
        };
        let mut out = Vec::new();
        let mut due = None;
        let identity = ca::spiffe_id(&proxy.namespace, &proxy.service_account);
        if let Ok(cert) = self.certificate(&identity, now) {
            due = Some(cert.rotate_at());
            out.push(Secret {
                name: SDS_WORKLOAD_SECRET.to_owned(),
                r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
                    certificate_chain: Some(inline(&cert.chain_pem)),
                    private_key: Some(inline(&cert.key_pem)),
                    ..Default::default()
                })),
            });
        }
        out.push(Secret {
            name: SDS_ROOT_SECRET.to_owned(),
            r#type: Some(secret::Type::ValidationContext(
                CertificateValidationContext {
                    trusted_ca: Some(inline(authority.ca.root_pem())),
                    ..Default::default()
                },
            )),
        });
        (out, due)
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
                cert_due: None,
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
    Secrets(Vec<Secret>),
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
    fn of(current: &Current, type_url: &str, names: &BTreeSet<String>) -> Option<Content> {
        let resources = &current.resources;
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
        } else if type_url == secret_type() {
            Content::Secrets(Self::named(&current.secrets, |r| &r.name, names))
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
            Content::Secrets(v) => v.iter().map(|r| (r.name.clone(), any(r))).collect(),
        }
    }
}

/// The current translation for this stream's proxy.
struct Current {
    resources: Resources,
    /// SDS secrets, refreshed before each send of that type.
    secrets: Vec<Secret>,
}

fn inline(pem: &str) -> DataSource {
    DataSource {
        specifier: Some(data_source::Specifier::InlineBytes(pem.as_bytes().to_vec())),
        ..Default::default()
    }
}

fn any<T: Message + Name>(value: &T) -> Any {
    Any {
        type_url: T::type_url(),
        value: value.encode_to_vec(),
    }
}

/// Sleeps for `duration`, or forever without one.
async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
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
    /// When this proxy's certificate is due for rotation (once secrets were asked for).
    cert_due: Option<SystemTime>,
}

impl Stream {
    async fn run(&mut self, mut requests: Streaming<DiscoveryRequest>) {
        let mut model = self.server.inner.model.clone();
        let mut closing = self.server.inner.closing.subscribe();
        let mut authority = self.server.inner.authority.subscribe();
        loop {
            if *closing.borrow_and_update() {
                break;
            }
            let rotation = self.cert_due.map(|due| {
                due.duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .max(Duration::from_millis(100))
            });
            tokio::select! {
                _ = closing.changed() => {}
                () = sleep_or_never(rotation) => {
                    // Re-issued (by this stream or another of the same identity) and pushed.
                    if !self.send(&secret_type(), false).await {
                        break;
                    }
                }
                changed = authority.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    authority.borrow_and_update();
                    if !self.send(&secret_type(), false).await {
                        break;
                    }
                }
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
        let secrets = self.current.take().map(|c| c.secrets).unwrap_or_default();
        self.current = Some(Current { resources, secrets });
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

    /// Reads this proxy's secrets from the certificate cache (issuing or rotating as due).
    fn refresh_secrets(&mut self) {
        let (Some((_, proxy)), Some(current)) = (&self.node, &mut self.current) else {
            return;
        };
        let (secrets, due) = self.server.secrets(proxy, SystemTime::now());
        current.secrets = secrets;
        self.cert_due = due;
    }

    /// Pushes every subscribed type whose content changed, clusters first.
    async fn push_all(&mut self) -> bool {
        for type_url in [
            cluster_type(),
            endpoint_type(),
            listener_type(),
            route_type(),
            secret_type(),
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
        if type_url == secret_type() && self.types.contains_key(type_url) {
            self.refresh_secrets();
        }
        let Some(current) = &self.current else {
            return true;
        };
        let Some(state) = self.types.get_mut(type_url) else {
            return true;
        };
        let Some(content) = Content::of(current, type_url, &state.names) else {
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
