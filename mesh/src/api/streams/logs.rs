//! `GET …/pods/X/log`: a container's output as text, optionally followed as it grows.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{Response, header};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio::sync::broadcast;

use super::{Handles, Params, choose_container, container_status, phase, pod_name, pods};
use crate::api::{ApiError, ApiState, Body};
use crate::meta;
use crate::workloads::LogLine;

/// How often a follow checks that its pod still exists.
const POD_CHECK: Duration = Duration::from_secs(1);

/// What the client asked for.
#[derive(Debug, Clone, Copy)]
struct Options {
    tail: Option<u64>,
    limit_bytes: Option<u64>,
    timestamps: bool,
    /// Only lines written at or after this time (`sinceSeconds`, `sinceTime`).
    since: Option<jiff::Timestamp>,
}

impl Options {
    /// Formats one log line as sent (with the time it was written when asked).
    fn line(&self, line: &LogLine) -> String {
        if self.timestamps {
            format!("{} {}\n", line.at, line.text)
        } else {
            format!("{}\n", line.text)
        }
    }

    fn wanted(&self, line: &LogLine) -> bool {
        self.since.is_none_or(|since| line.at >= since)
    }
}

/// The earliest time a line may have, from `sinceSeconds` or `sinceTime` (RFC 3339).
fn since(params: &Params) -> Result<Option<jiff::Timestamp>, ApiError> {
    if let Some(seconds) = params.number("sinceSeconds")? {
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        let span = jiff::SignedDuration::from_secs(seconds);
        return Ok(Some(
            jiff::Timestamp::now()
                .checked_sub(span)
                .unwrap_or(jiff::Timestamp::MIN),
        ));
    }
    params
        .get("sinceTime")
        .map(|t| {
            t.parse::<jiff::Timestamp>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value {t:?} for sinceTime: expected an RFC 3339 time"
                ))
            })
        })
        .transpose()
}

/// Answers a log request for the pod `object`.
pub(super) async fn handle(
    state: &ApiState,
    params: &Params,
    object: &Value,
) -> Result<Response<Body>, ApiError> {
    let name = pod_name(object).to_owned();
    let namespace = meta::meta_str(object, "namespace")
        .unwrap_or("default")
        .to_owned();
    let container = choose_container(object, params.get("container"))?;
    let options = Options {
        tail: params.number("tailLines")?,
        limit_bytes: params.number("limitBytes")?,
        timestamps: params.flag("timestamps"),
        since: since(params)?,
    };
    let previous = params.flag("previous");
    let follow = params.flag("follow");
    let status = container_status(object, &container);

    if previous {
        let lines = state
            .kubelet
            .log_entries(&namespace, &name, Some(&container), true)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "previous terminated container \"{container}\" in pod \"{name}\" not found"
                ))
            })?;
        return Ok(text(render(&lines, options)));
    }
    if let Some(reason) = status
        .and_then(|s| s.pointer("/state/waiting/reason"))
        .and_then(Value::as_str)
        && reason != "CrashLoopBackOff"
    {
        return Err(waiting(&container, &name, reason));
    }
    if follow {
        let Some((lines, receiver)) =
            state
                .kubelet
                .follow_logs(&namespace, &name, Some(&container))
        else {
            return Err(not_started(object, &container, &name));
        };
        let first = render(&lines, options);
        let uid = meta::meta_str(object, "uid").unwrap_or("").to_owned();
        return Ok(follow_response(
            Handles::new(state),
            first,
            receiver,
            options,
            (namespace, name, uid),
        ));
    }
    let lines = state
        .kubelet
        .log_entries(&namespace, &name, Some(&container), false)
        .ok_or_else(|| not_started(object, &container, &name))?;
    Ok(text(render(&lines, options)))
}

/// A container that never started: as the kubelet says while the pod is being set up.
fn not_started(object: &Value, container: &str, pod: &str) -> ApiError {
    if matches!(phase(object), "Succeeded" | "Failed") {
        ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod}\" is terminated"
        ))
    } else {
        waiting(container, pod, "ContainerCreating")
    }
}

/// The error the kubelet gives for a container in the `waiting` state.
fn waiting(container: &str, pod: &str, reason: &str) -> ApiError {
    let why = match reason {
        "ImagePullBackOff" | "ErrImagePull" => "trying and failing to pull image",
        "InvalidImageName" | "ErrImageNeverPull" => "image can't be pulled",
        other => other,
    };
    ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod}\" is waiting to start: {why}"
    ))
}

/// The lines to send for a snapshot: the last `tailLines`, cut at `limitBytes`.
fn render(lines: &[LogLine], options: Options) -> String {
    let lines: Vec<&LogLine> = lines.iter().filter(|l| options.wanted(l)).collect();
    let skip = options.tail.map_or(0, |t| {
        lines
            .len()
            .saturating_sub(usize::try_from(t).unwrap_or(usize::MAX))
    });
    let mut out = String::new();
    for line in &lines[skip..] {
        out.push_str(&options.line(line));
    }
    if let Some(limit) = options.limit_bytes {
        truncate_bytes(&mut out, limit);
    }
    out
}

/// Cuts `s` to at most `limit` bytes (at a character boundary).
fn truncate_bytes(s: &mut String, limit: u64) {
    let mut cut = usize::try_from(limit).unwrap_or(usize::MAX).min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

fn text(body: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    resp
}

/// State of a followed log.
struct Follow {
    handles: std::sync::Arc<Handles>,
    receiver: broadcast::Receiver<LogLine>,
    options: Options,
    /// Bytes still allowed by `limitBytes`.
    budget: Option<u64>,
    /// namespace, name and uid of the pod: the stream ends when it is gone.
    pod: (String, String, String),
}

impl Follow {
    /// The next chunk to send, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Bytes> {
        if self.budget == Some(0) {
            return None;
        }
        let mut shutdown = self.handles.shutdown.clone();
        loop {
            if *shutdown.borrow() || !self.pod_exists() {
                return None;
            }
            tokio::select! {
                line = self.receiver.recv() => match line {
                    Ok(line) => {
                        let mut chunk = self.options.line(&line);
                        if let Some(budget) = self.budget.as_mut() {
                            truncate_bytes(&mut chunk, *budget);
                            *budget = budget.saturating_sub(chunk.len() as u64);
                        }
                        return Some(Bytes::from(chunk));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = shutdown.changed() => {}
                () = tokio::time::sleep(POD_CHECK) => {}
            }
        }
    }

    fn pod_exists(&self) -> bool {
        let (namespace, name, uid) = &self.pod;
        self.handles
            .store
            .get(&pods(), Some(namespace), name)
            .is_ok_and(|p| {
                meta::meta_str(&p, "uid") == Some(uid.as_str())
                    && meta::meta_str(&p, "deletionTimestamp").is_none()
            })
    }
}

/// A chunked response: the lines so far, then each new line as it is written.
fn follow_response(
    handles: std::sync::Arc<Handles>,
    first: String,
    receiver: broadcast::Receiver<LogLine>,
    options: Options,
    pod: (String, String, String),
) -> Response<Body> {
    let budget = options
        .limit_bytes
        .map(|l| l.saturating_sub(first.len() as u64));
    let state = Follow {
        handles,
        receiver,
        options,
        budget,
        pod,
    };
    let rest = futures::stream::unfold(state, |mut s| async move {
        let chunk = s.next().await?;
        Some((chunk, s))
    });
    let body = futures::stream::iter((!first.is_empty()).then(|| Bytes::from(first)))
        .chain(rest)
        .map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(body)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> LogLine {
        LogLine {
            at: jiff::Timestamp::now(),
            text: text.to_owned(),
        }
    }

    fn opts(tail: Option<u64>, limit: Option<u64>) -> Options {
        Options {
            tail,
            limit_bytes: limit,
            timestamps: false,
            since: None,
        }
    }

    #[test]
    fn tail_and_limit_cut_the_snapshot() {
        let lines: Vec<LogLine> = ["a", "bb", "ccc"].map(line).to_vec();
        assert_eq!(render(&lines, opts(None, None)), "a\nbb\nccc\n");
        assert_eq!(render(&lines, opts(Some(1), None)), "ccc\n");
        assert_eq!(render(&lines, opts(Some(10), None)), "a\nbb\nccc\n");
        assert_eq!(render(&lines, opts(Some(0), None)), "");
        assert_eq!(render(&lines, opts(None, Some(4))), "a\nbb");
    }

    #[test]
    fn timestamps_prefix_each_line_with_rfc3339() {
        let o = Options {
            timestamps: true,
            ..opts(None, None)
        };
        let written = line("hello");
        let out = render(std::slice::from_ref(&written), o);
        let (stamp, rest) = out.split_once(' ').expect("a timestamp and the line");
        assert_eq!(rest, "hello\n");
        assert_eq!(
            stamp.parse::<jiff::Timestamp>().ok(),
            Some(written.at),
            "{stamp}"
        );
    }

    #[test]
    fn since_keeps_the_lines_written_from_then_on() {
        let old = LogLine {
            at: jiff::Timestamp::from_second(1_000).expect("time"),
            text: "old".into(),
        };
        let new = LogLine {
            at: jiff::Timestamp::from_second(2_000).expect("time"),
            text: "new".into(),
        };
        let o = Options {
            since: Some(jiff::Timestamp::from_second(1_500).expect("time")),
            ..opts(None, None)
        };
        assert_eq!(render(&[old, new], o), "new\n");
    }

    #[test]
    fn waiting_reasons_read_like_the_kubelet() {
        assert_eq!(
            waiting("c", "p", "ImagePullBackOff").message,
            "container \"c\" in pod \"p\" is waiting to start: trying and failing to pull image"
        );
        assert_eq!(
            waiting("c", "p", "ContainerCreating").message,
            "container \"c\" in pod \"p\" is waiting to start: ContainerCreating"
        );
    }
}
