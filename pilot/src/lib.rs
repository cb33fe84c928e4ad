//! pilot-lite: the mesh's Istio configuration translated into Envoy configuration and served
//! over ADS to real Envoys.
//!
//! - [`model`]: the mesh as pilot sees it (Services, endpoints, Istio resources, proxies).
//! - [`translate`]: `translate(&Model, &Proxy) -> Resources`, pure and unit-tested.
//! - [`server`]: [`AdsServer`], the SotW ADS gRPC server that pushes on every model change.
//! - [`bootstrap`]: the Envoy bootstrap that points a proxy at the server.

pub mod bootstrap;
pub mod model;
pub mod server;
pub mod translate;

pub use bootstrap::bootstrap;
pub use model::{Model, Proxy, ProxyKind};
pub use server::AdsServer;
pub use translate::{Resources, Warning, translate};
