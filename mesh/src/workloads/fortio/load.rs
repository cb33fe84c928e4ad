//! `fortio load` and `fortio curl`. Load runs `-c` workers, each with one kept-alive connection
//! (reopened when the server closes it or a call fails), at `-qps` (0 = as fast as possible)
//! for `-n` calls or `-t` time, and prints fortio's report: the latency histogram and
//! percentiles, sockets used, the per-code counts (`Code 200 : 17 (85.0 %)`, `Code -1` for
//! socket errors), sizes, and the closing `All done` line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;

use super::VERSION;
use super::flags::{Flags, go_duration, go_g, level_rank, log_line};
use crate::workloads::PodContext;
use crate::workloads::client::{ClientError, ClientRequest, ClientResponse, Connection, split_url};
use crate::workloads::shell::{Interrupt, Output};

/// Flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "c",
    "qps",
    "n",
    "t",
    "loglevel",
    "p",
    "r",
    "timeout",
    "payload",
    "content-type",
    "X",
    "json",
    "labels",
    "a",
    "offset",
    "resolve",
    "user-agent",
    "logger-force-color",
    "data-dir",
    "base-url",
    "jitter-percent",
    "M",
    "P",
    "maxpayloadsizekb",
    "s",
    "w",
    "log-format",
];
/// Flags that take no value.
const BOOL_FLAGS: &[&str] = &[
    "allow-initial-errors",
    "quiet",
    "keepalive",
    "k",
    "h2",
    "stdclient",
    "http1.0",
    "uniform",
    "jitter",
    "nocatchup",
    "sequential-warmup",
    "no-reresolve",
    "compression",
    "https-insecure",
    "abort-on",
    "curl",
    "grpc",
    "L",
    "log-errors",
    "nc-dont-stop-on-eof",
];

/// fortio's default histogram bucket ends, in milliseconds (resolution 0.001 s).
const BUCKETS_MS: &[f64] = &[
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 14.0, 16.0, 18.0, 20.0, 25.0,
    30.0, 35.0, 40.0, 45.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0,
    700.0, 800.0, 900.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 7500.0, 10000.0, 20000.0, 30000.0,
    40000.0, 50000.0, 75000.0, 100000.0,
];

/// Values and their histogram, as fortio reports them.
#[derive(Clone, Debug, Default)]
pub(super) struct Histogram {
    values: Vec<f64>,
}

impl Histogram {
    pub(super) fn record(&mut self, v: f64) {
        self.values.push(v);
    }

    fn count(&self) -> usize {
        self.values.len()
    }

    fn sum(&self) -> f64 {
        self.values.iter().sum()
    }

    fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// `count 20 avg … +/- … min … max … sum …`.
    pub(super) fn stats(&self) -> String {
        let n = self.count();
        if n == 0 {
            return "no data".into();
        }
        #[allow(clippy::cast_precision_loss)]
        let nf = n as f64;
        let sum = self.sum();
        let avg = sum / nf;
        let var = self
            .values
            .iter()
            .map(|v| (v - avg) * (v - avg))
            .sum::<f64>()
            / nf;
        let round9 = |v: f64| (v * 1e9).round() / 1e9;
        format!(
            "count {n} avg {} +/- {} min {} max {} sum {}",
            go_g(avg, Some(8)),
            go_g(var.sqrt(), Some(4)),
            go_g(round9(self.min()), None),
            go_g(round9(self.max()), None),
            go_g(round9(sum), None)
        )
    }

    /// The non-empty buckets: (start, end, cumulative percent, count).
    fn buckets(&self, scale: f64) -> Vec<(f64, f64, f64, usize)> {
        let n = self.count();
        if n == 0 {
            return Vec::new();
        }
        let (min, max) = (self.min(), self.max());
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for v in &self.values {
            let i = BUCKETS_MS
                .iter()
                .position(|end| *v <= end * scale)
                .unwrap_or(BUCKETS_MS.len());
            *counts.entry(i).or_default() += 1;
        }
        let mut out = Vec::new();
        let mut cumulative = 0;
        let last = counts.keys().next_back().copied().unwrap_or(0);
        for (j, (&i, &c)) in counts.iter().enumerate() {
            cumulative += c;
            let start = if j == 0 {
                min
            } else if i == 0 {
                0.0
            } else {
                BUCKETS_MS[i - 1] * scale
            };
            let end = if i == last || i >= BUCKETS_MS.len() {
                max
            } else {
                BUCKETS_MS[i] * scale
            };
            #[allow(clippy::cast_precision_loss)]
            let pct = cumulative as f64 * 100.0 / n as f64;
            out.push((start, end.max(start), pct, c));
        }
        out
    }

    /// The value under which `p` percent of the values fall (fortio's interpolation).
    fn percentile(&self, p: f64, scale: f64) -> f64 {
        let buckets = self.buckets(scale);
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        if p >= 100.0 {
            return self.max();
        }
        #[allow(clippy::cast_precision_loss)]
        let first_pct = 100.0 / n as f64;
        if p <= first_pct {
            return self.min();
        }
        let mut prev = first_pct;
        for (start, end, pct, _) in buckets {
            if p <= pct {
                if pct <= prev {
                    return end;
                }
                return start + (p - prev) / (pct - prev) * (end - start);
            }
            prev = pct;
        }
        self.max()
    }

    /// The stats line, the histogram lines and the `# target` lines.
    pub(super) fn report(&self, title: &str, percentiles: &[f64]) -> String {
        let mut out = format!("{title} : {}\n", self.stats());
        if self.count() == 0 {
            return out;
        }
        out.push_str("# range, mid point, percentile, count\n");
        for (j, (start, end, pct, c)) in self.buckets(0.001).iter().enumerate() {
            let _ = writeln!(
                out,
                "{} {} <= {} , {} , {pct:.2}, {c}",
                if j == 0 { ">=" } else { ">" },
                go_g(*start, Some(6)),
                go_g(*end, Some(6)),
                go_g((start + end) / 2.0, Some(6)),
            );
        }
        for p in percentiles {
            let _ = writeln!(
                out,
                "# target {}% {}",
                go_g(*p, None),
                go_g(self.percentile(*p, 0.001), Some(6))
            );
        }
        out
    }
}

/// One worker's connection record.
#[derive(Debug, Default)]
struct Worker {
    sockets: usize,
    connect_times: Histogram,
}

/// What all workers measured.
#[derive(Debug, Default)]
struct Results {
    durations: Histogram,
    errors: Histogram,
    header_sizes: Histogram,
    total_sizes: Histogram,
    codes: BTreeMap<i32, usize>,
    workers: Vec<Worker>,
}

/// The options of a load run.
struct LoadOptions {
    url: String,
    connections: usize,
    qps: f64,
    calls: Option<usize>,
    duration: Duration,
    timeout: Duration,
    headers: Vec<(String, String)>,
    method: Method,
    payload: Bytes,
    percentiles: Vec<f64>,
    level: u8,
    keepalive: bool,
}

fn header_pairs(flags: &Flags) -> Vec<(String, String)> {
    flags
        .headers
        .iter()
        .filter_map(|h| h.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn normalize_url(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    }
}

async fn flag_error(stderr: &Output, e: &str) -> i32 {
    stderr
        .print(format!(
            "{e}\nΦορτίο {VERSION} usage:\n\tfortio command [flags] target\n(run `fortio help` for the list of commands)\n"
        ))
        .await;
    1
}

/// `fortio load [flags] URL`.
pub(super) async fn load(
    ctx: &PodContext,
    args: &[String],
    stdout: &Output,
    stderr: &Output,
    interrupt: &Interrupt,
) -> i32 {
    // Like the real one, fortio load stops on Ctrl-C and still prints what it measured.
    interrupt.handle();
    let flags = match Flags::parse(args, BOOL_FLAGS, VALUE_FLAGS) {
        Ok(f) => f,
        Err(e) => return flag_error(stderr, &e).await,
    };
    let options = match load_options(&flags) {
        Ok(o) => o,
        Err(e) => return flag_error(stderr, &e).await,
    };
    let log = |level: &'static str, msg: String, fields: Vec<(&'static str, String)>| {
        let show = level_rank(level).unwrap_or(2) >= options.level;
        let stderr = stderr.clone();
        async move {
            if show {
                stderr
                    .print(format!("{}\n", log_line(level, &msg, &fields)))
                    .await;
            }
        }
    };
    log(
        "info",
        format!("Starting Φορτίο {VERSION} h1:meshwork go1.24 amd64 linux"),
        vec![],
    )
    .await;
    let c = options.connections;
    let qps_text = if options.qps <= 0.0 {
        "0".to_owned()
    } else {
        go_g(options.qps, None)
    };
    let target = match options.calls {
        Some(n) => format!("for {n} calls"),
        None if options.duration.is_zero() => "until interrupted".to_owned(),
        None => format!("for {}", go_duration(options.duration)),
    };
    stdout
        .print(format!(
            "Fortio {VERSION} running at {qps_text} queries per second, 2->2 procs, {target}: {}\n",
            options.url
        ))
        .await;
    let per_thread = options.calls.map(|n| (n / c, n % c));
    let plan = match (options.qps > 0.0, per_thread) {
        (false, Some((each, extra))) => format!(
            "Starting at max qps with {c} thread(s) [gomax 2] for exactly {} calls ({each} per thread + {extra})",
            options.calls.unwrap_or(0)
        ),
        (false, None) => format!("Starting at max qps with {c} thread(s) [gomax 2] {target}"),
        (true, Some((each, extra))) => format!(
            "Starting at {qps_text} qps with {c} thread(s) [gomax 2] : exactly {}, {each} calls each (total {} + {extra})",
            options.calls.unwrap_or(0),
            each * c
        ),
        (true, None) if options.duration.is_zero() => {
            format!("Starting at {qps_text} qps with {c} thread(s) [gomax 2] {target}")
        }
        (true, None) => {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let each = (options.qps * options.duration.as_secs_f64() / c as f64).round() as usize;
            format!(
                "Starting at {qps_text} qps with {c} thread(s) [gomax 2] {target} : {each} calls each (total {})",
                each * c
            )
        }
    };
    stdout.print(format!("{plan}\n")).await;
    let started = Instant::now();
    // `-t 0` runs until interrupted.
    let deadline = (options.calls.is_none() && !options.duration.is_zero())
        .then(|| started + options.duration);
    let mut runs = Vec::new();
    for w in 0..c {
        let calls = per_thread.map(|(each, extra)| each + usize::from(w < extra));
        runs.push(worker(ctx, &options, w, calls, deadline, stderr, interrupt));
    }
    let outcomes = futures::future::join_all(runs).await;
    if interrupt.fired() {
        log("info", "Interrupted by signal, stopping".into(), vec![]).await;
    }
    let elapsed = started.elapsed();
    let mut results = Results::default();
    for (worker, r) in outcomes {
        results.workers.push(worker);
        results.durations.values.extend(r.durations.values);
        results.errors.values.extend(r.errors.values);
        results.header_sizes.values.extend(r.header_sizes.values);
        results.total_sizes.values.extend(r.total_sizes.values);
        for (code, n) in r.codes {
            *results.codes.entry(code).or_default() += n;
        }
    }
    let total = results.durations.count();
    #[allow(clippy::cast_precision_loss)]
    let qps = total as f64 / elapsed.as_secs_f64().max(1e-9);
    stdout
        .print(report(ctx, &options, &results, elapsed, qps))
        .await;
    0
}

fn load_options(flags: &Flags) -> Result<LoadOptions, String> {
    let [url] = flags.operands.as_slice() else {
        return Err(if flags.operands.is_empty() {
            "Error: fortio load needs a url or destination".to_owned()
        } else {
            format!(
                "Error: unexpected arguments after the url: {}",
                flags.operands[1..].join(" ")
            )
        });
    };
    let n: i64 = flags.number("n", 0)?;
    let connections: usize = flags.number("c", 4)?;
    let percentiles = match flags.get("p") {
        None => vec![50.0, 75.0, 90.0, 99.0, 99.9],
        Some(list) => list
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("invalid percentile \"{p}\""))
            })
            .collect::<Result<_, _>>()?,
    };
    let level = match flags.get("loglevel") {
        None => 2,
        Some(l) => {
            level_rank(l).ok_or_else(|| format!("invalid value \"{l}\" for flag -loglevel"))?
        }
    };
    let payload = Bytes::from(flags.get("payload").unwrap_or("").to_owned());
    let mut headers = header_pairs(flags);
    if let Some(ct) = flags.get("content-type") {
        headers.push(("Content-Type".into(), ct.to_owned()));
    }
    let method = match flags.get("X") {
        Some(m) => {
            Method::from_bytes(m.as_bytes()).map_err(|_| format!("invalid method \"{m}\""))?
        }
        None if !payload.is_empty() => Method::POST,
        None => Method::GET,
    };
    Ok(LoadOptions {
        url: normalize_url(url),
        connections: connections.clamp(1, 1000),
        qps: flags.number("qps", 8.0)?,
        calls: (n > 0).then(|| usize::try_from(n).unwrap_or(usize::MAX)),
        duration: flags.duration("t", Duration::from_secs(5))?,
        timeout: flags.duration("timeout", Duration::from_secs(3))?,
        headers,
        method,
        payload,
        percentiles,
        level: if flags.bool("quiet") { 4 } else { level },
        keepalive: flags
            .get("keepalive")
            .is_none_or(|v| v == "true" || v == "1"),
    })
}

/// One worker: its own connection, kept alive, for its share of the calls.
async fn worker(
    ctx: &PodContext,
    o: &LoadOptions,
    id: usize,
    calls: Option<usize>,
    deadline: Option<Instant>,
    stderr: &Output,
    interrupt: &Interrupt,
) -> (Worker, Results) {
    let mut w = Worker::default();
    let mut r = Results::default();
    let origin = ctx.origin();
    let mut connection: Option<Connection> = None;
    let started = Instant::now();
    #[allow(clippy::cast_precision_loss)]
    let interval = (o.qps > 0.0).then(|| Duration::from_secs_f64(o.connections as f64 / o.qps));
    let mut done = 0usize;
    loop {
        if calls.is_some_and(|n| done >= n) {
            break;
        }
        if let Some(d) = deadline {
            let now = Instant::now();
            if now >= d {
                break;
            }
        }
        if let Some(every) = interval {
            let due = started + every.mul_f64(f64::from(u32::try_from(done).unwrap_or(u32::MAX)));
            let wait_until = match deadline {
                Some(d) if due > d => break,
                _ => due,
            };
            tokio::select! {
                () = tokio::time::sleep_until(wait_until.into()) => {}
                () = interrupt.wait() => break,
            }
        }
        if interrupt.fired() {
            break;
        }
        done += 1;
        let call_started = Instant::now();
        let attempt =
            tokio::time::timeout(o.timeout, call(ctx, o, &origin, &mut connection, &mut w));
        let outcome = tokio::select! {
            outcome = attempt => outcome,
            // A call cut short by Ctrl-C is not counted.
            () = interrupt.wait() => break,
        };
        let took = call_started.elapsed().as_secs_f64();
        r.durations.record(took);
        match outcome {
            Ok(Ok(resp)) => {
                let code = i32::from(resp.status.as_u16());
                let head = head_size(&resp);
                r.header_sizes.record(head as f64);
                #[allow(clippy::cast_precision_loss)]
                r.total_sizes.record((head + resp.body.len()) as f64);
                *r.codes.entry(code).or_default() += 1;
                let close = !o.keepalive
                    || resp
                        .headers
                        .get(http::header::CONNECTION)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                if close {
                    connection = None;
                }
                if !resp.status.is_success() {
                    r.errors.record(took);
                    if o.level <= 3 {
                        stderr
                            .print(format!(
                                "{}\n",
                                log_line(
                                    "warn",
                                    "Non ok http code",
                                    &[
                                        ("code", code.to_string()),
                                        ("status", format!("HTTP/1.1 {code}")),
                                        ("thread", id.to_string()),
                                        ("run", "0".to_owned()),
                                    ]
                                )
                            ))
                            .await;
                    }
                }
            }
            Ok(Err(e)) => {
                connection = None;
                r.errors.record(took);
                r.header_sizes.record(0.0);
                r.total_sizes.record(0.0);
                *r.codes.entry(-1).or_default() += 1;
                if o.level <= 4 {
                    stderr
                        .print(format!(
                            "{}\n",
                            log_line(
                                "err",
                                "Unable to connect",
                                &[("err", e.to_string()), ("thread", id.to_string())]
                            )
                        ))
                        .await;
                }
                // A refused connection fails at once; do not spin.
                tokio::task::yield_now().await;
            }
            Err(_) => {
                connection = None;
                r.errors.record(took);
                r.header_sizes.record(0.0);
                r.total_sizes.record(0.0);
                *r.codes.entry(-1).or_default() += 1;
            }
        }
    }
    if o.level <= 2 {
        let elapsed = started.elapsed();
        #[allow(clippy::cast_precision_loss)]
        let qps = done as f64 / elapsed.as_secs_f64().max(1e-9);
        stderr
            .print(format!(
                "{}\n",
                log_line(
                    "info",
                    &format!(
                        "T{id:03} ended after {} : {done} calls. qps={qps}",
                        go_duration(elapsed)
                    ),
                    &[]
                )
            ))
            .await;
    }
    (w, r)
}

/// One call on the worker's connection, opening one (counted) when there is none; a call
/// that fails on a reused connection the server closed is retried once on a fresh one.
async fn call(
    ctx: &PodContext,
    o: &LoadOptions,
    origin: &crate::net::Origin,
    connection: &mut Option<Connection>,
    w: &mut Worker,
) -> Result<ClientResponse, ClientError> {
    let (host, port, _) = split_url(&o.url)?;
    for attempt in 0..2 {
        let reused = connection.as_ref().is_some_and(|c| !c.is_closed());
        if !reused {
            let t = Instant::now();
            let c = Connection::open(&ctx.network, origin, &host, port).await?;
            w.sockets += 1;
            w.connect_times.record(t.elapsed().as_secs_f64());
            *connection = Some(c);
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let mut request = ClientRequest {
            method: o.method.clone(),
            url: o.url.clone(),
            headers: vec![("User-Agent".into(), format!("fortio.org/fortio-{VERSION}"))],
            body: o.payload.clone(),
        };
        for (k, v) in &o.headers {
            request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
            request.headers.push((k.clone(), v.clone()));
        }
        match conn.send(request).await {
            Ok(r) => return Ok(r),
            Err(ClientError::EmptyReply) if reused && attempt == 0 => {
                *connection = None;
            }
            Err(e) => {
                *connection = None;
                return Err(e);
            }
        }
    }
    Err(ClientError::EmptyReply)
}

/// The size of a response's status line and headers.
fn head_size(r: &ClientResponse) -> usize {
    let status_line = format!(
        "HTTP/1.1 {} {}\r\n",
        r.status.as_u16(),
        r.status.canonical_reason().unwrap_or("")
    );
    status_line.len()
        + r.headers
            .iter()
            .map(|(k, v)| k.as_str().len() + 2 + v.as_bytes().len() + 2)
            .sum::<usize>()
        + 2
}

fn report(ctx: &PodContext, o: &LoadOptions, r: &Results, elapsed: Duration, qps: f64) -> String {
    let total = r.durations.count();
    let mut out = format!(
        "Ended after {} : {total} calls. qps={}\n",
        go_duration(elapsed),
        go_g(qps, Some(5))
    );
    out.push_str(
        &r.durations
            .report("Aggregated Function Time", &o.percentiles),
    );
    out.push_str(&r.errors.report("Error cases", &o.percentiles));
    let address = split_url(&o.url)
        .ok()
        .and_then(|(host, port, _)| {
            ctx.network
                .resolve(&ctx.origin(), &host)
                .ok()
                .map(|ip| format!("{ip}:{port}"))
        })
        .unwrap_or_else(|| "unresolved".to_owned());
    out.push_str("# Socket and IP used for each connection:\n");
    let mut all_connects = Histogram::default();
    for (i, w) in r.workers.iter().enumerate() {
        let _ = writeln!(
            out,
            "[{i}] {:>3} socket used, resolved to {address}, connection timing : {}",
            w.sockets,
            w.connect_times.stats()
        );
        all_connects.values.extend(&w.connect_times.values);
    }
    out.push_str(&all_connects.report("Connection time histogram (s)", &o.percentiles));
    let sockets: usize = r.workers.iter().map(|w| w.sockets).sum();
    let _ = writeln!(
        out,
        "Sockets used: {sockets} (for perfect keepalive, would be {})",
        o.connections
    );
    out.push_str("Uniform: false, Jitter: false, Catchup allowed: true\n");
    let _ = writeln!(out, "IP addresses distribution:\n{address}: {sockets}");
    for (code, n) in &r.codes {
        #[allow(clippy::cast_precision_loss)]
        let pct = *n as f64 * 100.0 / total.max(1) as f64;
        let _ = writeln!(out, "Code {code} : {n} ({pct:.1} %)");
    }
    let _ = writeln!(out, "Response Header Sizes : {}", r.header_sizes.stats());
    let _ = writeln!(out, "Response Body/Total Sizes : {}", r.total_sizes.stats());
    #[allow(clippy::cast_precision_loss)]
    let avg_ms = if total == 0 {
        0.0
    } else {
        r.durations.sum() / total as f64 * 1000.0
    };
    let _ = writeln!(
        out,
        "All done {total} calls (plus 0 warmup) {avg_ms:.3} ms avg, {qps:.1} qps"
    );
    out
}

/// `fortio curl [flags] URL`: the raw response on stdout (status line, headers, body).
pub(super) async fn curl(
    ctx: &PodContext,
    args: &[String],
    stdout: &Output,
    stderr: &Output,
) -> i32 {
    let flags = match Flags::parse(args, BOOL_FLAGS, VALUE_FLAGS) {
        Ok(f) => f,
        Err(e) => return flag_error(stderr, &e).await,
    };
    let [url] = flags.operands.as_slice() else {
        return flag_error(stderr, "Error: fortio curl needs a url").await;
    };
    let level = if flags.bool("quiet") {
        4
    } else {
        flags.get("loglevel").and_then(level_rank).unwrap_or(2)
    };
    let log = |lvl: &'static str, msg: String, fields: Vec<(&'static str, String)>| {
        let stderr = stderr.clone();
        let show = level_rank(lvl).unwrap_or(2) >= level;
        async move {
            if show {
                stderr
                    .print(format!("{}\n", log_line(lvl, &msg, &fields)))
                    .await;
            }
        }
    };
    log(
        "info",
        format!("Starting Φορτίο {VERSION} h1:meshwork go1.24 amd64 linux"),
        vec![],
    )
    .await;
    let url = normalize_url(url);
    let (host, port, _) = match split_url(&url) {
        Ok(parts) => parts,
        Err(e) => {
            log(
                "err",
                "Unable to parse url".into(),
                vec![("url", url.clone()), ("err", e.to_string())],
            )
            .await;
            return 1;
        }
    };
    let timeout = flags
        .duration("timeout", Duration::from_secs(3))
        .unwrap_or(Duration::from_secs(3));
    let payload = Bytes::from(flags.get("payload").unwrap_or("").to_owned());
    let mut request = ClientRequest {
        method: if payload.is_empty() {
            Method::GET
        } else {
            Method::POST
        },
        url: url.clone(),
        headers: vec![("User-Agent".into(), format!("fortio.org/fortio-{VERSION}"))],
        body: payload,
    };
    for (k, v) in header_pairs(&flags) {
        request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&k));
        request.headers.push((k, v));
    }
    let origin = ctx.origin();
    let exchange = async {
        let mut c = Connection::open(&ctx.network, &origin, &host, port).await?;
        c.send(request).await
    };
    let response = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            log(
                "err",
                "Unable to connect".into(),
                vec![("dest", format!("{host}:{port}")), ("err", e.to_string())],
            )
            .await;
            return 1;
        }
        Err(_) => {
            log(
                "err",
                "Timeout".into(),
                vec![
                    ("dest", format!("{host}:{port}")),
                    ("timeout", go_duration(timeout)),
                ],
            )
            .await;
            return 1;
        }
    };
    let mut raw = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status.as_u16(),
        response.status.canonical_reason().unwrap_or("")
    );
    for (k, v) in &response.headers {
        let _ = write!(
            raw,
            "{}: {}\r\n",
            k.as_str(),
            String::from_utf8_lossy(v.as_bytes())
        );
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(&response.body);
    stdout.write(bytes).await;
    if response.status.is_success() {
        0
    } else {
        log(
            "err",
            "Error status".into(),
            vec![
                ("code", response.status.as_u16().to_string()),
                ("status", format!("HTTP/1.1 {}", response.status.as_u16())),
            ],
        )
        .await;
        1
    }
}
