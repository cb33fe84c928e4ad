//! A quick look at a target, and readable reasons for API errors.

use super::{Target, TargetStatus};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use std::time::Duration;

/// How long [`probe`] waits for the API server.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects to the target's API and summarises what answered; never fails, never hangs
/// for more than a few seconds.
pub async fn probe(target: &dyn Target) -> TargetStatus {
    let client = match target.client() {
        Err(e) => return TargetStatus::Unconfigured(e.to_string()),
        Ok(c) => c.clone(),
    };
    let look = async {
        let info = client.apiserver_version().await?;
        let nodes = Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await?;
        let ready_nodes = nodes.items.iter().filter(|n| node_is_ready(n)).count();
        Ok::<_, kube::Error>((info.git_version, ready_nodes))
    };
    match tokio::time::timeout(PROBE_TIMEOUT, look).await {
        Err(_) => TargetStatus::Unreachable(format!(
            "the API server did not answer within {} s; is the cluster running and reachable from here?",
            PROBE_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => TargetStatus::Unreachable(explain(&e)),
        Ok(Ok((version, ready_nodes))) => TargetStatus::Ready {
            version,
            ready_nodes,
        },
    }
}

/// Whether a node's `Ready` condition is `True`.
pub fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Explains a kube error to a learner: what went wrong talking to the cluster and what to do.
pub fn explain(err: &kube::Error) -> String {
    if let kube::Error::Api(status) = err {
        let detail = if status.message.is_empty() {
            String::new()
        } else {
            format!(": {}", status.message)
        };
        return match status.code {
            401 => "the cluster rejected the credentials (401 Unauthorized): the token or certificate \
                    in your kubeconfig is wrong or has expired; log in to the cluster again (for a cloud \
                    cluster, refresh its credentials)"
                .to_string(),
            403 => format!(
                "the cluster refused access (403 Forbidden){detail}. Your kubeconfig user lacks permission; \
                 use a context with more rights (e.g. cluster-admin on a learning cluster)"
            ),
            code => format!("the API server answered {code} {}{detail}", status.reason),
        };
    }
    let chain = chain(err);
    let lower = chain.to_lowercase();
    if lower.contains("connection refused") {
        format!(
            "connection refused: nothing is listening at the API server's address; is the cluster \
             started (kind get clusters, minikube status)? ({chain})"
        )
    } else if lower.contains("certificate") {
        format!(
            "the API server's TLS certificate was not accepted: {chain}. The kubeconfig's certificate \
             authority does not match the server; fetch a fresh kubeconfig for this cluster"
        )
    } else if TLS_WORDS.iter().any(|w| lower.contains(w)) {
        format!(
            "the TLS connection to the API server failed: {chain}. Check the server address in your \
             kubeconfig (https, the right host and port)"
        )
    } else if lower.contains("dns error") || lower.contains("lookup address") {
        format!("the API server's host name cannot be resolved: {chain}")
    } else if lower.contains("timed out") || lower.contains("timeout") {
        format!(
            "connecting to the API server timed out: {chain}; is the cluster running and reachable from here?"
        )
    } else {
        format!("cannot talk to the API server: {chain}")
    }
}

/// Words in TLS errors (rustls and hyper) that are not about the certificate.
const TLS_WORDS: [&str; 5] = [
    "tls",
    "handshake",
    "corrupt message",
    "invalidcontenttype",
    "alert",
];

/// Prefixes kube puts before the underlying error's message.
const KUBE_PREFIXES: [&str; 3] = ["ServiceError: ", "HyperError: ", "HttpError: "];

/// The error and its sources, each message once, joined with `: `.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let full = e.to_string();
        // kube's own variant names (`ServiceError: …`) mean nothing to a learner.
        let text = KUBE_PREFIXES
            .iter()
            .find_map(|p| full.strip_prefix(p))
            .unwrap_or(&full)
            .to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut status = Status::failure(message, reason);
        status.code = code;
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn api_errors_are_explained() {
        let msg = explain(&api_error(401, "Unauthorized", "Unauthorized"));
        assert!(
            msg.starts_with("the cluster rejected the credentials"),
            "{msg}"
        );
        let msg = explain(&api_error(
            403,
            "Forbidden",
            "nodes is forbidden: User \"bob\" cannot list",
        ));
        assert!(msg.contains("403 Forbidden): nodes is forbidden"), "{msg}");
        let msg = explain(&api_error(500, "InternalError", "etcd is down"));
        assert_eq!(
            msg,
            "the API server answered 500 InternalError: etcd is down"
        );
    }

    #[test]
    fn connection_errors_are_explained() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let msg = explain(&kube::Error::Service(Box::new(io)));
        assert!(
            msg.starts_with("connection refused: nothing is listening"),
            "{msg}"
        );
        assert!(msg.contains("os error 111"), "{msg}");
        let io = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let msg = explain(&kube::Error::Service(Box::new(io)));
        assert!(
            msg.starts_with("the API server's TLS certificate was not accepted"),
            "{msg}"
        );
        let io = std::io::Error::other("No route to host (os error 113)");
        let msg = explain(&kube::Error::Service(Box::new(io)));
        assert_eq!(
            msg,
            "cannot talk to the API server: No route to host (os error 113)"
        );
    }
}
