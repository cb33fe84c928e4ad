//! Figures for `meshwork bench`: certificates issued and pushed over SDS to many workloads,
//! through real gRPC ADS streams to an [`AdsServer`] on loopback (no Envoy: each stream asks for
//! `default` and `ROOTCA` as a sidecar does and acknowledges what it gets).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_stream::wrappers::ReceiverStream;

use super::{AdsServer, secret_type};
use crate::ca::{self, Ca};
use crate::model::{Model, Proxy, ProxyKind};
use crate::translate::{SDS_ROOT_SECRET, SDS_WORKLOAD_SECRET};

/// What [`sds_figures`] measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdsFigures {
    /// Workloads (one ADS stream and one identity each).
    pub workloads: usize,
    /// From their first SDS requests to the last of them holding its certificate and the root.
    pub first_issue: Duration,
    /// From a CA change to the last of them holding a certificate of the new CA (what a rotation
    /// of every certificate costs: sign again, push again).
    pub reissue: Duration,
}

fn proxy(i: usize) -> Proxy {
    let [_, _, hi, lo] = u32::try_from(i).unwrap_or_default().to_be_bytes();
    let ip = IpAddr::from([127, 99, hi, lo]);
    Proxy {
        kind: ProxyKind::Sidecar,
        pod: format!("bench-{i}"),
        namespace: "bench".to_owned(),
        labels: Default::default(),
        service_account: format!("workload-{i}"),
        ip,
        app_ip: ip,
        outbound_ip: ip,
        ports: Vec::new(),
        port_map: Default::default(),
    }
}

/// One workload's stream: sends its SDS request, reports each response's first certificate
/// serial on `got`, acknowledges it.
async fn workload(
    mut client: AggregatedDiscoveryServiceClient<tonic::transport::Channel>,
    node: String,
    got: mpsc::UnboundedSender<(usize, usize)>,
    index: usize,
) -> Result<(), String> {
    let (tx, rx) = mpsc::channel(4);
    let request = DiscoveryRequest {
        node: Some(Node {
            id: node,
            ..Default::default()
        }),
        type_url: secret_type(),
        resource_names: vec![SDS_WORKLOAD_SECRET.to_owned(), SDS_ROOT_SECRET.to_owned()],
        ..Default::default()
    };
    tx.send(request.clone())
        .await
        .map_err(|e| format!("could not send: {e}"))?;
    let mut responses = client
        .stream_aggregated_resources(ReceiverStream::new(rx))
        .await
        .map_err(|e| format!("the ADS stream was refused: {e}"))?
        .into_inner();
    while let Some(response) = responses
        .message()
        .await
        .map_err(|e| format!("the ADS stream failed: {e}"))?
    {
        let _ = got.send((index, response.resources.len()));
        let ack = DiscoveryRequest {
            version_info: response.version_info,
            response_nonce: response.nonce,
            node: None,
            ..request.clone()
        };
        if tx.send(ack).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Waits until every workload got `round` responses with both secrets.
async fn all_answered(
    got: &mut mpsc::UnboundedReceiver<(usize, usize)>,
    counts: &mut [usize],
    round: usize,
) -> Result<(), String> {
    while counts.iter().any(|c| *c < round) {
        let next = tokio::time::timeout(Duration::from_secs(30), got.recv()).await;
        match next {
            Ok(Some((i, 2))) => counts[i] += 1,
            Ok(Some((_, n))) => return Err(format!("a workload got {n} secrets instead of 2")),
            Ok(None) | Err(_) => return Err("the workloads stopped getting secrets".to_owned()),
        }
    }
    Ok(())
}

/// Issues and pushes certificates to `workloads` workloads over SDS, then re-issues and pushes
/// them all after a CA change, and says how long each took.
pub async fn sds_figures(workloads: usize) -> Result<SdsFigures, String> {
    let (_model, rx) = watch::channel(Arc::new(Model::new()));
    let server = AdsServer::new(rx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("could not listen on loopback: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = server.clone();
    let serve = tokio::spawn(async move {
        let _ = serving
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    let now = SystemTime::now();
    let first = Ca::generate(now).map_err(|e| e.to_string())?;
    server.set_ca(Arc::new(first), ca::DEFAULT_CERT_TTL);
    for i in 0..workloads {
        server.register(proxy(i));
    }
    let client = AggregatedDiscoveryServiceClient::connect(format!("http://{addr}"))
        .await
        .map_err(|e| format!("could not connect to the ADS server at {addr}: {e}"))?
        .max_decoding_message_size(64 * 1024 * 1024);
    let (got_tx, mut got) = mpsc::unbounded_channel();
    let mut streams = JoinSet::new();
    let mut counts = vec![0; workloads];
    let start = Instant::now();
    for i in 0..workloads {
        streams.spawn(workload(
            client.clone(),
            proxy(i).node_id(),
            got_tx.clone(),
            i,
        ));
    }
    let result = async {
        all_answered(&mut got, &mut counts, 1).await?;
        let first_issue = start.elapsed();
        let second = Ca::generate(now).map_err(|e| e.to_string())?;
        let start = Instant::now();
        server.set_ca(Arc::new(second), ca::DEFAULT_CERT_TTL);
        all_answered(&mut got, &mut counts, 2).await?;
        Ok(SdsFigures {
            workloads,
            first_issue,
            reissue: start.elapsed(),
        })
    }
    .await;
    let _ = stop.send(());
    server.close();
    streams.shutdown().await;
    let _ = serve.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_workload_gets_its_secrets_twice() {
        let figures = sds_figures(100).await.unwrap();
        assert_eq!(figures.workloads, 100);
    }
}
