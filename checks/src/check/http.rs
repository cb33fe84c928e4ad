//! `http` checks: requests from the learner's host, or from inside a pod with its curl, and
//! expectations on what came back (status, body, Bookinfo reviews versions, median latency).
//!
//! From the host the request goes out with hyper to the URL, or to a Service's nodePort on a
//! node's address ([`crate::target::reach`]). From a pod it runs
//! `curl -sS … -w '\n<marker> %{http_code} %{time_total}\n' URL` through `pods/exec`, so the same
//! probe works on a live cluster and on the reference mesh, whose pods both have a curl.

use super::bookinfo::{self, PageKind};
use super::expect::seconds;
use super::{Context, Finding};
use crate::course::{Endpoint, HttpCheck, HttpLogin};
use crate::target::TargetKind;
use crate::target::exec::{self, ExecError, PodExec};
use crate::target::reach::{self, ReachError};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Largest body kept from one response.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The line curl prints after each body (with the status and time), found from the end.
const MARKER: &str = "__meshwork_http__";

/// What one request got.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status, `None` when no response arrived.
    pub status: Option<u16>,
    /// The body (lossy UTF-8, at most 4 MiB).
    pub body: String,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
    /// Why no response arrived (`connection refused`).
    pub failure: Option<String>,
}

/// Evaluates an `http` check.
pub async fn evaluate(ctx: &Context, check: &HttpCheck) -> Finding {
    let count = usize::try_from(check.count.max(1)).unwrap_or(1);
    match &check.from {
        None => {
            let url = match &check.endpoint {
                Endpoint::Url(url) => url.clone(),
                Endpoint::Service(service) => {
                    let client = match ctx.target.client() {
                        Ok(c) => c,
                        Err(e) => return Finding::error(e.to_string()),
                    };
                    match reach::host_url(client, service).await {
                        Ok(url) => url,
                        Err(ReachError::NotReachable(why)) => return Finding::fail(why),
                        Err(ReachError::Api(why)) => return Finding::error(why),
                    }
                }
                Endpoint::Ingress(path) => {
                    let client = match ctx.target.client() {
                        Ok(c) => c,
                        Err(e) => return Finding::error(e.to_string()),
                    };
                    let prefer_lb = ctx.target.kind() == TargetKind::Cluster;
                    match reach::ingress_url(client, path, prefer_lb).await {
                        Ok(url) => url,
                        Err(ReachError::NotReachable(why)) => return Finding::fail(why),
                        Err(ReachError::Api(why)) => return Finding::error(why),
                    }
                }
            };
            let place = describe(check, &url, None);
            let cookie = match &check.login {
                None => None,
                Some(login) => match host_login(check, login, &url).await {
                    Ok(cookie) => Some(cookie),
                    Err(finding) => return finding.prefixed(&place),
                },
            };
            let mut answers = Vec::with_capacity(count);
            for _ in 0..count {
                match from_host(check, &url, cookie.as_deref()).await {
                    Ok(answer) => answers.push(answer),
                    Err(why) => return Finding::error(format!("{place}: {why}")),
                }
            }
            judge(check, &place, &answers)
        }
        Some(pod) => {
            let client = match ctx.target.client() {
                Ok(c) => c,
                Err(e) => return Finding::error(e.to_string()),
            };
            let runner = match exec::resolve(client, pod).await {
                Ok(r) => r,
                Err(ExecError::NoPod(why)) => {
                    return Finding::fail(format!("cannot send the request from there: {why}"));
                }
                Err(ExecError::Api(why)) => return Finding::error(why),
            };
            let url = match &check.endpoint {
                Endpoint::Url(url) => url.clone(),
                Endpoint::Service(s) => reach::in_cluster_url(s, client.default_namespace()),
                Endpoint::Ingress(path) => {
                    reach::in_cluster_url(&reach::ingress_service(path), client.default_namespace())
                }
            };
            let place = describe(check, &url, Some(&runner));
            let cookie = match &check.login {
                None => None,
                Some(login) => match pod_login(&runner, check, login, &url).await {
                    Ok(cookie) => Some(cookie),
                    Err(finding) => return finding.prefixed(&place),
                },
            };
            let argv = curl_argv(check, &url, cookie.as_deref());
            // Latency is judged on requests one at a time; otherwise a few run side by side.
            let parallel = if check.expect.latency.is_some() { 1 } else { 4 };
            let answers: Result<Vec<Answer>, String> = stream::iter(0..count)
                .map(|_| from_pod(&runner, &argv))
                .buffered(parallel)
                .try_collect()
                .await;
            match answers {
                Ok(answers) => judge(check, &place, &answers),
                Err(why) => Finding::error(format!("{place}: {why}")),
            }
        }
    }
}

/// `20 × GET http://productpage.default:9080/productpage from pod ratings-v1-x in default`.
fn describe(check: &HttpCheck, url: &str, from: Option<&PodExec>) -> String {
    let times = if check.count > 1 {
        format!("{} × ", check.count)
    } else {
        String::new()
    };
    let from = from
        .map(|r| format!(" from {}", r.describe()))
        .unwrap_or_default();
    let login = check
        .login
        .as_ref()
        .map(|l| format!(", signed in with POST {}", l.path))
        .unwrap_or_default();
    format!("{times}{} {url}{from}{login}", check.method)
}

/// A login that went wrong: `fail` when the form was refused or set no cookie (the
/// learner's mesh or the check's form), `error` when the request could not be sent at all.
struct LoginFailure {
    error: bool,
    why: String,
}

impl LoginFailure {
    fn prefixed(self, place: &str) -> Finding {
        let text = format!("{place}: {}", self.why);
        if self.error {
            Finding::error(text)
        } else {
            Finding::fail(text)
        }
    }
}

/// The check's endpoint with the login's path instead of its own.
fn login_url(url: &str, login: &HttpLogin) -> Result<String, LoginFailure> {
    let uri: http::Uri = url.parse().map_err(|e| LoginFailure {
        error: true,
        why: format!("`{url}` is not a URL: {e}"),
    })?;
    let authority = uri.authority().ok_or_else(|| LoginFailure {
        error: true,
        why: format!("`{url}` has no host to sign in on"),
    })?;
    let scheme = uri.scheme_str().unwrap_or("http");
    Ok(format!("{scheme}://{authority}{}", login.path))
}

/// The form's fields as `application/x-www-form-urlencoded`.
fn form_encode(form: &[(String, String)]) -> String {
    let encode = |text: &str| {
        let mut out = String::new();
        for b in text.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
        out
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The Cookie header for what the login answered: every cookie it set with a value (a
/// cookie set empty is one the server cleared).
fn session_cookie(
    login_url: &str,
    login: &HttpLogin,
    answer: &Answer,
    set_cookies: &[String],
) -> Result<String, LoginFailure> {
    let what = format!("the login (POST {login_url})");
    let fail = |why: String| LoginFailure { error: false, why };
    let Some(status) = answer.status else {
        let why = answer.failure.as_deref().unwrap_or("no response");
        return Err(fail(format!("{what} got no response: {why}")));
    };
    if status >= 400 {
        return Err(fail(format!(
            "{what} answered status {status} ({}); is {} the form's path, and is the service up?",
            super::expect::excerpt(&answer.body, 80, "an empty body"),
            login.path
        )));
    }
    let mut kept = Vec::new();
    let mut cleared = Vec::new();
    for line in set_cookies {
        let pair = line.split(';').next().unwrap_or_default().trim();
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            continue;
        }
        if value.is_empty() || value == "\"\"" {
            cleared.push(name.to_string());
        } else {
            kept.retain(|(n, _): &(String, String)| n != name);
            kept.push((name.to_string(), value.to_string()));
        }
    }
    if kept.is_empty() {
        let cleared = if cleared.is_empty() {
            String::new()
        } else {
            format!(" (it cleared {})", cleared.join(", "))
        };
        return Err(fail(format!(
            "{what} answered status {status} but set no cookie{cleared}, so the requests would not be signed in; check the form's fields ({})",
            form_encode(&login.form)
        )));
    }
    Ok(kept
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; "))
}

/// Signs in from this host; the Cookie header to send with the requests.
async fn host_login(
    check: &HttpCheck,
    login: &HttpLogin,
    url: &str,
) -> Result<String, LoginFailure> {
    let target = login_url(url, login)?;
    let mut headers = check.headers.clone();
    headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let (answer, set_cookies) =
        send_from_host("POST", &target, &headers, Some(form_encode(&login.form)))
            .await
            .map_err(|why| LoginFailure { error: true, why })?;
    session_cookie(&target, login, &answer, &set_cookies)
}

/// Signs in from the pod with its curl (`-i` to see the cookies it is given); the Cookie
/// header to send with the requests, each its own exec with no jar to share.
async fn pod_login(
    runner: &PodExec,
    check: &HttpCheck,
    login: &HttpLogin,
    url: &str,
) -> Result<String, LoginFailure> {
    let target = login_url(url, login)?;
    let argv = login_argv(check, login, &target);
    let answer = from_pod(runner, &argv)
        .await
        .map_err(|why| LoginFailure { error: true, why })?;
    let (set_cookies, body) = split_included(&answer.body);
    let answer = Answer { body, ..answer };
    session_cookie(&target, login, &answer, &set_cookies)
}

/// The curl command that posts the login form and includes the response headers.
fn login_argv(check: &HttpCheck, login: &HttpLogin, url: &str) -> Vec<String> {
    let mut argv: Vec<String> = vec!["curl".into(), "-sS".into(), "-i".into()];
    for (name, value) in &check.headers {
        argv.extend(["-H".into(), format!("{name}: {value}")]);
    }
    // Encoded, the form never starts with `@` (which would make curl read a file).
    argv.extend(["-d".into(), form_encode(&login.form)]);
    argv.extend([
        "-w".into(),
        format!("\n{MARKER} %{{http_code}} %{{time_total}}\n"),
        url.to_string(),
    ]);
    argv
}

/// Splits curl `-i` output into the `Set-Cookie` values of its header blocks and the body.
fn split_included(text: &str) -> (Vec<String>, String) {
    let mut cookies = Vec::new();
    let mut rest = text;
    while rest.starts_with("HTTP/") {
        let (head, body) = match (rest.find("\r\n\r\n"), rest.find("\n\n")) {
            (Some(a), Some(b)) if b < a => (&rest[..b], &rest[b + 2..]),
            (Some(a), _) => (&rest[..a], &rest[a + 4..]),
            (None, Some(b)) => (&rest[..b], &rest[b + 2..]),
            (None, None) => (rest, ""),
        };
        for line in head.lines() {
            if let Some((name, value)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case("set-cookie")
            {
                cookies.push(value.trim().to_string());
            }
        }
        rest = body;
    }
    (cookies, rest.to_string())
}

/// Sends one of the check's requests from this host (with the session's cookie).
/// `Err` only when the request cannot even be built.
async fn from_host(check: &HttpCheck, url: &str, cookie: Option<&str>) -> Result<Answer, String> {
    let mut headers = check.headers.clone();
    if let Some(cookie) = cookie {
        headers.push(("cookie".into(), cookie.to_string()));
    }
    send_from_host(&check.method, url, &headers, check.body.clone())
        .await
        .map(|(answer, _)| answer)
}

/// Sends one request from this host; the answer and the `Set-Cookie` values it carried.
/// `Err` only when the request cannot even be built.
async fn send_from_host(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<String>,
) -> Result<(Answer, Vec<String>), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "`{url}`: only http:// URLs can be requested from the host; send https requests from a pod (from:)"
        ));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("`{url}` has no host"))?
        .clone();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, authority.as_str())
        .header(http::header::USER_AGENT, "meshwork");
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = Bytes::from(body.unwrap_or_default());
    let request = builder
        .body(Full::new(body))
        .map_err(|e| format!("the request cannot be built: {e}"))?;
    let start = Instant::now();
    let failed = |why: String| Answer {
        status: None,
        body: String::new(),
        elapsed: start.elapsed(),
        failure: Some(why),
    };
    let stream = match tokio::net::TcpStream::connect((host, port)).await {
        Ok(s) => s,
        Err(e) => return Ok((failed(connect_failure(&e, host, port)), Vec::new())),
    };
    let (mut sender, connection) =
        match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(e) => return Ok((failed(e.to_string()), Vec::new())),
        };
    let driver = tokio::spawn(connection);
    let response = match sender.send_request(request).await {
        Ok(r) => r,
        Err(e) => {
            driver.abort();
            return Ok((failed(receive_failure(&e)), Vec::new()));
        }
    };
    let status = response.status().as_u16();
    let set_cookies: Vec<String> = response
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let body = match Limited::new(response.into_body(), MAX_BODY).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(e) => {
            driver.abort();
            return Ok((
                Answer {
                    failure: Some(format!("the body broke off: {e}")),
                    status: Some(status),
                    ..failed(String::new())
                },
                set_cookies,
            ));
        }
    };
    driver.abort();
    Ok((
        Answer {
            status: Some(status),
            body,
            elapsed: start.elapsed(),
            failure: None,
        },
        set_cookies,
    ))
}

fn connect_failure(e: &std::io::Error, host: &str, port: u16) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            format!("connection refused: nothing listens on {host}:{port}")
        }
        _ => format!("cannot connect to {host}:{port}: {e}"),
    }
}

fn receive_failure(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        "the connection closed before a complete response (empty reply)".to_string()
    } else {
        format!("no response: {e}")
    }
}

/// The curl command that sends the request and prints the marker line after the body.
fn curl_argv(check: &HttpCheck, url: &str, cookie: Option<&str>) -> Vec<String> {
    let mut argv: Vec<String> = vec!["curl".into(), "-sS".into()];
    let default_method = if check.body.is_some() { "POST" } else { "GET" };
    if check.method != default_method {
        argv.extend(["-X".into(), check.method.clone()]);
    }
    for (name, value) in &check.headers {
        argv.extend(["-H".into(), format!("{name}: {value}")]);
    }
    if let Some(cookie) = cookie {
        argv.extend(["-H".into(), format!("Cookie: {cookie}")]);
    }
    if let Some(body) = &check.body {
        argv.extend(["-d".into(), body.clone()]);
    }
    // A real newline, not `\n`: the argv reaches curl without a shell.
    argv.extend([
        "-w".into(),
        format!("\n{MARKER} %{{http_code}} %{{time_total}}\n"),
        url.to_string(),
    ]);
    argv
}

/// Runs the curl command once in the pod and reads its answer.
async fn from_pod(runner: &PodExec, argv: &[String]) -> Result<Answer, String> {
    let start = Instant::now();
    let output = runner.run(argv).await.map_err(|e| e.to_string())?;
    let wall = start.elapsed();
    if output.exit_code == 127 && !output.stdout.contains(MARKER) {
        return Err(format!(
            "{} has no curl (exit code 127: {}); send the request from a pod that has curl, \
             e.g. Istio's curl sample",
            runner.describe(),
            output.stderr.trim()
        ));
    }
    Ok(parse_curl(
        &output.stdout,
        &output.stderr,
        output.exit_code,
        wall,
    ))
}

/// Reads curl's output: the body, then the marker line with status and time.
fn parse_curl(stdout: &str, stderr: &str, exit_code: i32, wall: Duration) -> Answer {
    let reason = || curl_failure(exit_code, stderr);
    let Some(at) = stdout.rfind(&format!("\n{MARKER} ")) else {
        return Answer {
            status: None,
            body: stdout.to_string(),
            elapsed: wall,
            failure: Some(format!("curl printed no status line ({})", reason())),
        };
    };
    let body = stdout[..at].to_string();
    let mut fields = stdout[at + MARKER.len() + 2..].split_whitespace();
    let status = fields
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| *c != 0);
    let elapsed = fields
        .next()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map_or(wall, Duration::from_secs_f64);
    Answer {
        failure: status.is_none().then(reason),
        status,
        body,
        elapsed,
    }
}

/// Why curl got no response, from its exit code (and its message).
fn curl_failure(exit_code: i32, stderr: &str) -> String {
    let what = match exit_code {
        6 => "could not resolve the host",
        7 => "connection refused",
        28 => "timed out",
        35 => "TLS handshake failed",
        52 => "empty reply from the server",
        56 => "the connection broke while receiving",
        _ => "",
    };
    let said = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    match (what, said) {
        ("", "") => format!("curl exit code {exit_code}"),
        ("", said) => format!("curl exit code {exit_code}: {said}"),
        (what, _) => format!("{what}, curl exit code {exit_code}"),
    }
}

/// Judges the answers against the check's expectations.
pub fn judge(check: &HttpCheck, place: &str, answers: &[Answer]) -> Finding {
    let total = answers.len();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    let expected = &check.expect;

    // Status.
    let mut unexpected: BTreeMap<String, usize> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for a in answers {
        match a.status {
            Some(s) if expected.status.contains(&s) => *statuses.entry(s).or_default() += 1,
            Some(s) => *unexpected.entry(format!("status {s}")).or_default() += 1,
            None => {
                let why = a.failure.as_deref().unwrap_or("no response");
                *unexpected
                    .entry(format!("no response ({why})"))
                    .or_default() += 1;
            }
        }
    }
    let wanted = expected
        .status
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" or ");
    if unexpected.is_empty() {
        seen.push(match (total, statuses.len()) {
            (1, _) => format!("status {wanted}"),
            (_, 1) => format!("status {wanted} on all {total}"),
            _ => statuses
                .iter()
                .map(|(s, n)| format!("status {s} on {n} of {total}"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    } else {
        let parts: Vec<String> = unexpected
            .iter()
            .map(|(what, n)| {
                if total == 1 {
                    what.clone()
                } else {
                    format!("{what} on {n} of {total} requests")
                }
            })
            .collect();
        problems.push(format!("{}, expected {wanted}", parts.join(", ")));
    }

    // How many responses had a status.
    for (code, want) in &expected.status_count {
        let n = answers.iter().filter(|a| a.status == Some(*code)).count();
        let text = format!("{code} on {n} of {total} responses");
        if want.holds(u64::try_from(n).unwrap_or(u64::MAX)) {
            seen.push(format!("{text} ({want})"));
        } else {
            problems.push(format!("{text}, expected {want}"));
        }
    }

    // Body.
    if !expected.body.is_empty() {
        let answered: Vec<&Answer> = answers.iter().filter(|a| a.status.is_some()).collect();
        let mut wrong: BTreeMap<String, usize> = BTreeMap::new();
        let mut first_wrong: Option<&Answer> = None;
        for a in &answered {
            let found = expected.body.problems(&a.body);
            if !found.is_empty() {
                first_wrong.get_or_insert(a);
            }
            for p in found {
                *wrong.entry(p).or_default() += 1;
            }
        }
        if wrong.is_empty() {
            if !answered.is_empty() {
                seen.push("the body is as expected".to_string());
            }
        } else {
            let parts: Vec<String> = wrong
                .iter()
                .map(|(p, n)| {
                    if answered.len() == 1 {
                        format!("the body {p}")
                    } else {
                        format!("the body {p} on {n} of {} responses", answered.len())
                    }
                })
                .collect();
            let mut text = parts.join(", ");
            if let Some(a) = first_wrong {
                text.push_str(&format!(
                    " (it starts: {})",
                    super::expect::excerpt(&a.body, 80, "an empty body")
                ));
            }
            problems.push(text);
        }
    }

    // Bookinfo reviews.
    if let Some(reviews) = &expected.reviews {
        let pages: Vec<PageKind> = answers
            .iter()
            .map(|a| {
                if a.status.is_some() {
                    bookinfo::classify(&a.body)
                } else {
                    PageKind::NotProductPage
                }
            })
            .collect();
        match reviews.judge(&pages) {
            Ok(text) => seen.push(text),
            Err(text) => problems.push(text),
        }
    }

    // Latency.
    if let Some(band) = &expected.latency {
        let samples: Vec<Duration> = answers
            .iter()
            .filter(|a| a.status.is_some())
            .map(|a| a.elapsed)
            .collect();
        match band.judge(&samples) {
            Ok(text) => seen.push(text),
            Err(text) => problems.push(text),
        }
    } else if let Some(m) = super::expect::median(
        &answers
            .iter()
            .filter(|a| a.status.is_some())
            .map(|a| a.elapsed)
            .collect::<Vec<_>>(),
    ) {
        seen.push(if total == 1 {
            format!("in {}", seconds(m))
        } else {
            format!("median {}", seconds(m))
        });
    }

    if problems.is_empty() {
        Finding::pass(format!("{place}: {}", seen.join("; ")))
    } else {
        Finding::fail(format!("{place}: {}", problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::bookinfo::ReviewsVersion;
    use crate::check::expect::{LatencyBand, ReviewsExpect, TextExpect};
    use crate::course::HttpExpect;
    use crate::engine::Outcome;

    fn check(count: u32) -> HttpCheck {
        HttpCheck {
            endpoint: Endpoint::Url("http://productpage:9080/productpage".into()),
            method: "GET".into(),
            headers: vec![("end-user".into(), "jason".into())],
            body: None,
            count,
            from: None,
            login: None,
            expect: HttpExpect {
                status: vec![200],
                body: TextExpect::default(),
                reviews: None,
                latency: None,
                status_count: Vec::new(),
            },
        }
    }

    fn answer(status: u16, body: &str, ms: u64) -> Answer {
        Answer {
            status: Some(status),
            body: body.into(),
            elapsed: Duration::from_millis(ms),
            failure: None,
        }
    }

    #[test]
    fn curl_output_is_split_into_body_status_and_time() {
        let out = format!("<html>hi</html>\n{MARKER} 200 0.012345\n");
        let a = parse_curl(&out, "", 0, Duration::from_secs(1));
        assert_eq!(a.status, Some(200));
        assert_eq!(a.body, "<html>hi</html>");
        assert_eq!(a.elapsed, Duration::from_secs_f64(0.012345));
        // No response: curl prints 000 and exits with 7.
        let out = format!("\n{MARKER} 000 0.001\n");
        let a = parse_curl(
            &out,
            "curl: (7) Failed to connect to productpage port 9080",
            7,
            Duration::ZERO,
        );
        assert_eq!(a.status, None);
        assert_eq!(
            a.failure.as_deref(),
            Some("connection refused, curl exit code 7")
        );
        // A curl that cannot print the time: the exec's own duration is used.
        let out = format!("ok\n{MARKER} 503 %{{time_total}}\n");
        let a = parse_curl(&out, "", 0, Duration::from_millis(40));
        assert_eq!(
            (a.status, a.elapsed),
            (Some(503), Duration::from_millis(40))
        );
    }

    #[test]
    fn the_curl_command_carries_method_headers_and_body() {
        let mut c = check(1);
        c.method = "POST".into();
        c.body = Some("username=jason".into());
        let argv = curl_argv(&c, "http://productpage:9080/login", None);
        assert_eq!(
            argv[..6],
            [
                "curl",
                "-sS",
                "-H",
                "end-user: jason",
                "-d",
                "username=jason"
            ]
        );
        assert_eq!(
            argv.last().map(String::as_str),
            Some("http://productpage:9080/login")
        );
        c.method = "PUT".into();
        let argv = curl_argv(&c, "http://x/", None);
        assert_eq!(argv[2..4], ["-X", "PUT"]);
    }

    #[test]
    fn unexpected_statuses_are_counted() {
        let c = check(20);
        let mut answers = vec![answer(200, "", 5); 16];
        answers.extend(vec![answer(503, "", 5); 3]);
        answers.push(Answer {
            status: None,
            body: String::new(),
            elapsed: Duration::ZERO,
            failure: Some("connection refused".into()),
        });
        let f = judge(&c, "20 × GET http://x/", &answers);
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "20 × GET http://x/: no response (connection refused) on 1 of 20 requests, \
             status 503 on 3 of 20 requests, expected 200"
        );
        let f = judge(&check(1), "GET http://x/", &[answer(404, "", 5)]);
        assert_eq!(f.message, "GET http://x/: status 404, expected 200");
    }

    #[test]
    fn several_accepted_statuses_are_listed_on_a_pass() {
        let mut c = check(4);
        c.expect.status = vec![200, 503];
        let answers = [
            answer(200, "", 1),
            answer(503, "", 3),
            answer(200, "", 2),
            answer(200, "", 9),
        ];
        let f = judge(&c, "p", &answers);
        assert_eq!(f.outcome, Outcome::Pass);
        assert_eq!(
            f.message,
            "p: status 200 on 3 of 4, status 503 on 1 of 4; median 2.5 ms"
        );
    }

    #[test]
    fn body_problems_show_the_start_of_the_body() {
        let mut c = check(1);
        c.expect.body.contains = vec!["Simple Bookstore App".into()];
        let f = judge(&c, "p", &[answer(200, "no healthy upstream", 3)]);
        assert_eq!(
            f.message,
            "p: the body does not contain \"Simple Bookstore App\" (it starts: \"no healthy upstream\")"
        );
    }

    #[test]
    fn bookinfo_distributions_and_latency_are_judged_together() {
        let v1 = include_str!("../../tests/fixtures/bookinfo/new-v1.html");
        let v3 = include_str!("../../tests/fixtures/bookinfo/old-v3.html");
        let mut c = check(10);
        c.expect.reviews = Some(ReviewsExpect::Shares {
            shares: vec![(ReviewsVersion::V1, 50.0), (ReviewsVersion::V3, 50.0)],
            tolerance: 10.0,
        });
        c.expect.latency = Some(LatencyBand {
            min: None,
            max: Some(Duration::from_millis(100)),
        });
        let mut answers = vec![answer(200, v1, 10); 3];
        answers.extend(vec![answer(200, v3, 10); 7]);
        let f = judge(&c, "p", &answers);
        assert_eq!(
            f.message,
            "p: no stars (reviews v1) on 3 of 10 pages (30 %), expected 50 % ± 10; \
             red stars (reviews v3) on 7 of 10 pages (70 %), expected 50 % ± 10"
        );
        let mut answers = vec![answer(200, v1, 10); 5];
        answers.extend(vec![answer(200, v3, 20); 5]);
        let f = judge(&c, "p", &answers);
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
        assert_eq!(
            f.message,
            "p: status 200 on all 10; no stars (reviews v1) on 5 of 10, red stars (reviews v3) on 5 of 10; \
             median latency 15 ms over 10 answers"
        );
        c.expect.reviews = Some(ReviewsExpect::Only(ReviewsVersion::V3));
        let f = judge(&c, "p", &answers);
        assert!(
            f.message
                .contains("expected red stars (reviews v3) on all 10 pages, saw"),
            "{}",
            f.message
        );
    }
    fn jason() -> HttpLogin {
        HttpLogin {
            path: "/login".into(),
            form: vec![
                ("username".into(), "jason".into()),
                ("note".into(), "a b&c=d/é".into()),
            ],
        }
    }

    #[test]
    fn the_login_form_is_url_encoded_and_posted_with_curl_i() {
        assert_eq!(
            form_encode(&jason().form),
            "username=jason&note=a+b%26c%3Dd%2F%C3%A9"
        );
        let c = check(3);
        let argv = login_argv(&c, &jason(), "http://productpage:9080/login");
        assert_eq!(argv[..5], ["curl", "-sS", "-i", "-H", "end-user: jason"]);
        assert_eq!(
            argv[5..7],
            ["-d", "username=jason&note=a+b%26c%3Dd%2F%C3%A9"]
        );
        assert_eq!(
            login_url("http://productpage.default:9080/productpage?u=1", &jason()).ok(),
            Some("http://productpage.default:9080/login".to_string())
        );
        // The requests carry the session as a Cookie header.
        let argv = curl_argv(&c, "http://x/", Some("session=abc"));
        assert!(
            argv.windows(2)
                .any(|w| w[0] == "-H" && w[1] == "Cookie: session=abc"),
            "{argv:?}"
        );
    }

    #[test]
    fn curl_i_output_gives_the_cookies_and_the_body() {
        let out = "HTTP/1.1 302 FOUND\r\nlocation: /productpage\r\nSet-Cookie: session=abc; HttpOnly; Path=/\r\nset-cookie: theme=dark\r\n\r\n<p>Redirecting</p>";
        let (cookies, body) = split_included(out);
        assert_eq!(cookies, ["session=abc; HttpOnly; Path=/", "theme=dark"]);
        assert_eq!(body, "<p>Redirecting</p>");
        // An interim response first, then the real one.
        let out = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\n\r\nok";
        assert_eq!(split_included(out), (vec!["a=1".to_string()], "ok".into()));
    }

    #[test]
    fn a_login_that_sets_no_session_or_is_refused_says_what_came_back() {
        let url = "http://productpage:9080/login";
        let ok = session_cookie(
            url,
            &jason(),
            &answer(302, "", 1),
            &["session=abc; HttpOnly; Path=/".into(), "theme=dark".into()],
        );
        assert_eq!(ok.ok().as_deref(), Some("session=abc; theme=dark"));
        let cleared = session_cookie(
            url,
            &jason(),
            &answer(302, "", 1),
            &["session=; Max-Age=0; Path=/".into()],
        )
        .err()
        .map(|f| f.why);
        assert_eq!(
            cleared.as_deref(),
            Some(
                "the login (POST http://productpage:9080/login) answered status 302 but set no \
                 cookie (it cleared session), so the requests would not be signed in; check the \
                 form's fields (username=jason&note=a+b%26c%3Dd%2F%C3%A9)"
            )
        );
        let refused = session_cookie(url, &jason(), &answer(405, "Method Not Allowed", 1), &[])
            .err()
            .map(|f| f.why);
        assert_eq!(
            refused.as_deref(),
            Some(
                "the login (POST http://productpage:9080/login) answered status 405 \
                 (\"Method Not Allowed\"); is /login the form's path, and is the service up?"
            )
        );
        let none = Answer {
            status: None,
            body: String::new(),
            elapsed: Duration::ZERO,
            failure: Some("connection refused".into()),
        };
        let f = session_cookie(url, &jason(), &none, &[]).err();
        assert!(f.as_ref().is_some_and(|f| !f.error && f.why.ends_with("got no response: connection refused")));
    }

    #[test]
    fn status_counts_say_how_many_responses_had_the_status() {
        use crate::check::envoy_stat::Comparison;
        let mut c = check(15);
        c.expect.status = vec![200, 429];
        c.expect.status_count = vec![(429, Comparison::parse("> 0").unwrap())];
        let f = judge(&c, "p", &vec![answer(200, "", 1); 15]);
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(f.message, "p: 429 on 0 of 15 responses, expected > 0");
        let mut answers = vec![answer(200, "", 1); 5];
        answers.extend(vec![answer(429, "local_rate_limited", 1); 10]);
        let f = judge(&c, "p", &answers);
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
        assert_eq!(
            f.message,
            "p: status 200 on 5 of 15, status 429 on 10 of 15; 429 on 10 of 15 responses (> 0); median 1 ms"
        );
    }
}
