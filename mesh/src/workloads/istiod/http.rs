//! istiod's HTTP ports: readiness and version on 8080, Prometheus metrics and version on 15014,
//! and on both, as istiod serves them, the debug endpoints learners and checks read:
//! - `/debug/syncz` (Istio's JSON: per connected proxy, each xDS type's sent and acknowledged
//!   version and, under `resources`, the last rejection as `lastError`; `?namespace=NS`);
//! - `/debug/problemz` (meshwork's own: proxies connected and in sync, and every current
//!   malformed resource, rejected configuration and translation warning, naming the resource
//!   and what to do) — what `meshwork mesh status` and the `istio_config` check read.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;

use super::{Istiod, VERSION};
use crate::workloads::bookinfo::server::{self, HttpRequest, Site};

/// Which of istiod's HTTP ports a site answers on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Port {
    /// `:8080`: `/ready`, `/version`.
    Debug,
    /// `:15014`: `/metrics`, `/version`.
    Monitoring,
}

/// One of istiod's HTTP ports.
struct IstiodSite {
    port: Port,
    istiod: Arc<Istiod>,
}

/// Go's `http.NotFound` answer, which istiod's mux gives for unknown paths.
fn not_found() -> Response<Full<Bytes>> {
    server::text(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "404 page not found\n".to_owned(),
    )
}

impl IstiodSite {
    fn route(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        if req.method != Method::GET && req.method != Method::HEAD {
            return server::text(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "Method Not Allowed\n".to_owned(),
            );
        }
        match (self.port, req.path()) {
            (Port::Debug, "/ready") => {
                self.istiod.ready_checks.fetch_add(1, Ordering::Relaxed);
                server::text(StatusCode::OK, "text/plain; charset=utf-8", String::new())
            }
            (_, "/version") => server::text(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                format!("{VERSION}\n"),
            ),
            (Port::Monitoring, "/metrics") => server::text(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                metrics(&self.istiod),
            ),
            (_, "/debug/syncz") => {
                let namespace = query_param(req, "namespace");
                json(&self.istiod.control_plane.syncz(namespace.as_deref()))
            }
            (_, "/debug/problemz") => json(&self.istiod.control_plane.problems()),
            _ => not_found(),
        }
    }
}

/// A JSON answer, indented as istiod's debug endpoints write it.
fn json<T: serde::Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_string_pretty(value) {
        Ok(text) => server::text(StatusCode::OK, "application/json", text),
        Err(e) => server::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("could not encode the answer: {e}\n"),
        ),
    }
}

/// The value of `name` in the request's query, decoded.
fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    let query = req.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

impl Site for IstiodSite {
    async fn handle(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        self.route(req)
    }

    fn log_line(&self, _req: &HttpRequest, _resp: &Response<Full<Bytes>>) -> Option<String> {
        // istiod does not log the requests its debug and monitoring ports answer.
        None
    }
}

/// The metrics `/metrics` reports, each one counted from what this istiod really did.
pub(super) fn metrics(istiod: &Istiod) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, String)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    metric(
        "istio_build",
        "gauge",
        "Istio component build info",
        &[(
            &format!("{{component=\"pilot\",tag=\"{VERSION}\"}}"),
            "1".to_owned(),
        )],
    );
    metric(
        "istiod_managed_clusters",
        "gauge",
        "Number of clusters managed by istiod",
        &[("{cluster_type=\"local\"}", "1".to_owned())],
    );
    metric(
        "istiod_uptime_seconds",
        "gauge",
        "Current istiod server uptime in seconds",
        &[("", format!("{:.3}", istiod.started.elapsed().as_secs_f64()))],
    );
    metric(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        &[("", format!("{:.3}", istiod.started_unix))],
    );
    metric(
        "pilot_xds",
        "gauge",
        "Number of endpoints connected to this pilot using XDS.",
        &[(
            &format!("{{version=\"{VERSION}\"}}"),
            istiod.xds_clients.load(Ordering::Relaxed).to_string(),
        )],
    );
    metric(
        "meshwork_istiod_xds_unserved_connections_total",
        "counter",
        "Connections to the xDS port that were closed because no xDS server runs in this istiod.",
        &[("", istiod.xds_unserved.load(Ordering::Relaxed).to_string())],
    );
    metric(
        "meshwork_istiod_ready_checks_total",
        "counter",
        "GET /ready requests answered on the debug port.",
        &[("", istiod.ready_checks.load(Ordering::Relaxed).to_string())],
    );
    out
}

/// Serves one of istiod's HTTP ports until accepting fails; returns why it stopped.
pub(super) async fn serve(port: Port, listener: TcpListener, istiod: Arc<Istiod>) -> String {
    let name = match port {
        Port::Debug => "istiod's HTTP service",
        Port::Monitoring => "istiod's monitoring server",
    };
    let log = istiod.log.clone();
    let site = Arc::new(IstiodSite { port, istiod });
    server::serve(name, vec![listener], site, log).await.message
}
