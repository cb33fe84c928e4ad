//! Watch streams: one JSON event per line over a chunked response, until the client leaves,
//! `timeoutSeconds` passes or the server shuts down.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::{Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};

use super::{ApiResult, selectors};
use crate::api::table::{self, IncludeObject};
use crate::api::{ApiError, ApiState, Body, Call, Target};
use crate::kinds::Kind;
use crate::store::{EventType, StoreError, Watch, WatchEvent};

struct Stream {
    watch: Watch,
    shutdown: tokio::sync::watch::Receiver<bool>,
    deadline: Option<tokio::time::Instant>,
    kind: Arc<Kind>,
    labels: crate::api::selector::LabelSelector,
    fields: crate::api::selector::FieldSelector,
    table: Option<IncludeObject>,
    sent_columns: bool,
    finished: bool,
    /// Objects (namespace, name) this watcher currently sees through its selectors, so an
    /// object that stops matching is reported DELETED and one that starts matching ADDED,
    /// as a Kubernetes API server's watch cache does.
    selected: HashSet<(String, String)>,
}

fn object_key(object: &Value) -> (String, String) {
    let meta = |k: &str| {
        object
            .pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (meta("namespace"), meta("name"))
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

impl Stream {
    fn encode(&mut self, event: &WatchEvent) -> Bytes {
        let object = match self.table {
            Some(include) => {
                let object = self.kind.present(Arc::clone(&event.object));
                let t = table::table(
                    &self.kind,
                    [object.as_ref()],
                    include,
                    event.resource_version,
                    !self.sent_columns,
                );
                self.sent_columns = true;
                t
            }
            None => self
                .kind
                .present(Arc::clone(&event.object))
                .as_ref()
                .clone(),
        };
        line(&json!({"type": event.kind, "object": object}))
    }

    /// What this watcher reports for a change, given its selectors: nothing, or the event
    /// type as seen through the selection (leaving it is a deletion, entering it an addition).
    fn selected_event(&mut self, event: &WatchEvent) -> Option<EventType> {
        let matches = self.labels.matches(&event.object) && self.fields.matches(&event.object);
        let key = object_key(&event.object);
        let was_selected = self.selected.contains(&key);
        match (event.kind, matches) {
            (EventType::Deleted, _) => {
                (self.selected.remove(&key) || matches).then_some(EventType::Deleted)
            }
            (_, true) => {
                self.selected.insert(key);
                Some(if was_selected {
                    event.kind
                } else {
                    EventType::Added
                })
            }
            (_, false) => self.selected.remove(&key).then_some(EventType::Deleted),
        }
    }

    async fn next_line(&mut self) -> Option<Bytes> {
        if self.finished || *self.shutdown.borrow() {
            return None;
        }
        loop {
            let deadline = self.deadline;
            let event = tokio::select! {
                e = self.watch.next() => e,
                _ = self.shutdown.changed() => return None,
                () = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => return None,
            };
            match event {
                None => return None,
                Some(Err(e)) => {
                    self.finished = true;
                    let status = ApiError::from(e).body();
                    return Some(line(&json!({"type": "ERROR", "object": status})));
                }
                Some(Ok(event)) => {
                    if let Some(kind) = self.selected_event(&event) {
                        let event = WatchEvent { kind, ..event };
                        return Some(self.encode(&event));
                    }
                }
            }
        }
    }
}

pub(super) fn watch(state: &ApiState, call: &Call, t: &Target) -> ApiResult {
    let (labels, fields) = selectors(call, &t.kind)?;
    let from = match call.param("resourceVersion").unwrap_or("") {
        "" | "0" => None,
        rv => Some(rv.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("invalid resource version: {rv:?} is not a number"))
        })?),
    };
    let deadline = call
        .param("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs(s));
    let table = call
        .wants_table()
        .then(|| IncludeObject::parse(call.param("includeObject")));
    let key = t.kind.key();
    let (watch, gone) = match state.store.watch(&key, t.namespace.as_deref(), from) {
        Ok(w) => (w, None),
        // As a real server does: a 200 whose only event is an ERROR with the 410 Status.
        Err(e @ StoreError::Gone { .. }) => {
            let w = state.store.watch(
                &key,
                t.namespace.as_deref(),
                Some(state.store.resource_version()),
            )?;
            (w, Some(e))
        }
        Err(e) => return Err(e.into()),
    };
    let (current, _) = state.store.list(&key, t.namespace.as_deref());
    let selected = current
        .iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .map(|o| object_key(o))
        .collect();
    let mut stream = Stream {
        watch,
        shutdown: state.shutdown.clone(),
        deadline,
        kind: Arc::clone(&t.kind),
        labels,
        fields,
        table,
        sent_columns: false,
        finished: false,
        selected,
    };
    let first = gone.map(|e| {
        stream.finished = true;
        line(&json!({"type": "ERROR", "object": ApiError::from(e).body()}))
    });
    let events = futures::stream::unfold(stream, |mut s| async move {
        let l = s.next_line().await?;
        Some((l, s))
    });
    let body = futures::stream::iter(first)
        .chain(events)
        .map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut resp: Response<Body> = Response::new(BodyExt::boxed(StreamBody::new(body)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}
