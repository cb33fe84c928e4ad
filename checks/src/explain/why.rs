//! Why a traffic check failed: the latest of its requests as the proxies saw it — the route
//! rule each hop matched, the upstream it chose and Envoy's response flags in words.
//!
//! `meshwork check` prints it under a failed `http` check; it is [`explain`](super::explain)
//! narrowed to the check's namespace and path, preferring a request that went wrong.

use std::time::Duration;

use super::{Query, explain, text};
use crate::course::{Check, CheckSpec, Endpoint};
use crate::target::Target;

/// How long finding the why may take before the check's report goes out without it.
pub const WHY_TIMEOUT: Duration = Duration::from_secs(5);

/// The explain query for a traffic check's requests: the namespace they were sent from (else
/// the one of the Service they went to) and their path. `None` for other kinds.
pub fn query_for(check: &Check) -> Option<Query> {
    let CheckSpec::Http(http) = &check.spec else {
        return None;
    };
    let from = http.from.as_ref().and_then(|p| p.namespace.clone());
    let (namespace, path) = match &http.endpoint {
        Endpoint::Service(s) => (from.or_else(|| s.namespace.clone()), s.path.clone()),
        Endpoint::Ingress(path) => (from, path.clone()),
        Endpoint::Url(url) => {
            let path = url
                .parse::<http::Uri>()
                .map(|u| u.path().to_owned())
                .unwrap_or_else(|_| "/".to_owned());
            (from, path)
        }
    };
    let path = path.split('?').next().unwrap_or("/").to_owned();
    Some(Query {
        namespace,
        path: Some(path),
        ..Query::default()
    })
}

/// The latest request of `check` within `since` (a failed one first), rendered as
/// `meshwork explain` does, with a line saying how to see more; `None` when the check sends
/// no traffic, no proxy logged such a request, or the logs cannot be read in time.
pub async fn why(target: &dyn Target, check: &Check, since: Duration) -> Option<String> {
    let mut query = query_for(check)?;
    query.since = since.max(Duration::from_secs(1));
    query.limit = 1;
    let find = async {
        for failed in [true, false] {
            query.failed = failed;
            let report = explain(target, &query).await.ok()?;
            if let Some(request) = report.requests.last() {
                return Some((failed, text::render_request(request)));
            }
        }
        None
    };
    let (failed, rendered) = tokio::time::timeout(WHY_TIMEOUT, find).await.ok()??;
    let which = if failed {
        "The latest of those requests that went wrong"
    } else {
        "The latest of those requests"
    };
    let path = query.path.as_deref().unwrap_or("/");
    let namespace = query
        .namespace
        .as_deref()
        .map(|n| format!(" -n {n}"))
        .unwrap_or_default();
    Some(format!(
        "{which}, as the proxies saw it (more: `meshwork explain{namespace} --path {path}`):\n{rendered}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::expect::TextExpect;
    use crate::course::{CheckTest, DEFAULT_TIMEOUT};
    use crate::course::{HttpCheck, HttpExpect, PodRef, ServiceRef};

    fn http(endpoint: Endpoint, from_ns: Option<&str>) -> Check {
        Check {
            id: "c".into(),
            title: "c".into(),
            only: None,
            timeout: DEFAULT_TIMEOUT,
            hint: None,
            lab_test: CheckTest::default(),
            spec: CheckSpec::Http(HttpCheck {
                endpoint,
                method: "GET".into(),
                headers: Vec::new(),
                body: None,
                count: 1,
                login: None,
                from: from_ns.map(|ns| PodRef {
                    pod: "app=curl".into(),
                    namespace: Some(ns.into()),
                    container: None,
                }),
                expect: HttpExpect {
                    status: vec![200],
                    body: TextExpect::default(),
                    reviews: None,
                    latency: None,
                    status_count: Vec::new(),
                },
            }),
        }
    }

    #[test]
    fn the_query_names_the_senders_namespace_and_the_path_without_its_query() {
        let service = Endpoint::Service(ServiceRef {
            name: "productpage".into(),
            namespace: Some("bookinfo".into()),
            port: 9080,
            path: "/productpage?u=normal".into(),
        });
        let q = query_for(&http(service.clone(), Some("foo"))).unwrap();
        assert_eq!(q.namespace.as_deref(), Some("foo"));
        assert_eq!(q.path.as_deref(), Some("/productpage"));
        let q = query_for(&http(service, None)).unwrap();
        assert_eq!(q.namespace.as_deref(), Some("bookinfo"));
        let q = query_for(&http(
            Endpoint::Url("http://httpbin:8000/status/418".into()),
            None,
        ))
        .unwrap();
        assert_eq!(
            (q.namespace, q.path.as_deref()),
            (None, Some("/status/418"))
        );
        let q = query_for(&http(Endpoint::Ingress("/productpage".into()), None)).unwrap();
        assert_eq!(q.path.as_deref(), Some("/productpage"));
    }
}
