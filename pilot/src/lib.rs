//! pilot-lite: the mesh's Istio configuration translated into Envoy configuration and served
//! over ADS to real Envoys.
//!
//! - [`model`]: the mesh as pilot sees it (Services, endpoints, Istio resources, proxies), built
//!   by hand or from the API server's JSON with [`Model::from_objects`] / [`Proxy::from_pod`].
//! - [`translate`]: `translate(&Model, &Proxy) -> Resources`, pure and unit-tested.
//! - [`server`]: [`AdsServer`], the SotW ADS gRPC server that pushes on every model change and
//!   reports ACKs, NACKs and translation warnings.
//! - [`bootstrap`]: the Envoy bootstrap that points a proxy at the server.
//! - [`ca`]: citadel-lite, the mesh CA that issues SPIFFE workload certificates, served over
//!   SDS by the [`server`] (`default` and `ROOTCA`) and rotated at half their lifetime.
//!
//! # Hosting
//! ```no_run
//! # async fn host(services: Vec<serde_json::Value>, pods: Vec<serde_json::Value>,
//! #               istio: Vec<serde_json::Value>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use meshwork_pilot::{AdsServer, Model};
//!
//! // Rebuild the model whenever a Service, Pod or Istio object changes, and send it.
//! let (model, errors) = Model::from_objects(&services, &pods, &istio);
//! for e in &errors { eprintln!("{e}"); } // malformed Istio resources: tell the learner
//! let (tx, rx) = tokio::sync::watch::channel(Arc::new(model));
//! let server = AdsServer::new(rx);
//! // Workload certificates over SDS: the CA (generated here; persist `cert_pem`/`key_pem`, or
//! // plug one in with `Ca::plugged`) and their lifetime.
//! let ca = meshwork_pilot::ca::Ca::generate(std::time::SystemTime::now())?;
//! server.set_ca(Arc::new(ca), meshwork_pilot::ca::DEFAULT_CERT_TTL);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:15010").await?;
//! let mut events = server.subscribe(); // NACKs and warnings, for logs and `mesh status`
//! tokio::spawn(server.clone().serve(listener, std::future::pending()));
//! // Each Envoy starts with `bootstrap(&proxy, ads_addr, admin_port)` written to a file:
//! // its node metadata carries the Proxy, so no registration is needed (`register` overrides).
//! # let _ = (tx, &mut events); Ok(()) }
//! ```

pub mod bootstrap;
pub mod ca;
pub mod model;
pub mod server;
pub mod translate;

pub use bootstrap::bootstrap;
pub use model::{Model, Proxy, ProxyKind};
pub use server::AdsServer;
pub use translate::{Resources, Warning, translate};
