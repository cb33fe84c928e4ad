//! Reading a container's log through the Kubernetes API (`pods/log`), as `kubectl logs` does,
//! on either target.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use crate::target::status::explain;

/// The log of `container` in pod `namespace/pod`, only the lines written in the last `since`
/// when given (whole seconds, at least one).
pub async fn container_logs(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    since: Option<Duration>,
) -> Result<String, String> {
    let params = LogParams {
        container: Some(container.to_owned()),
        since_seconds: since.map(|d| i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)),
        ..LogParams::default()
    };
    Api::<Pod>::namespaced(client.clone(), namespace)
        .logs(pod, &params)
        .await
        .map_err(|e| {
            format!(
                "cannot read the log of container {container} in pod {pod} ({namespace}): {}",
                explain(&e)
            )
        })
}
