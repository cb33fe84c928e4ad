//! `curl` (8.16, as in `curlimages/curl`) for the flags Istio's tasks and the workshop use, and
//! busybox `wget`. Requests go through [`crate::workloads::client`], so they follow the mesh's
//! routing. Exit codes and error lines are curl's: 3 bad URL, 6 resolve, 7 connect, 22 `-f`,
//! 28 timeout, 52 empty reply, 56 receive failure; `%{http_code}` is `000` without a response.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};

use super::programs::Proc;
use crate::net::NetError;
use crate::workloads::client::{ClientError, ClientRequest, ClientResponse, Connection, split_url};

/// The version curl reports (`User-Agent: curl/8.16.0`).
pub(crate) const CURL_VERSION: &str = "8.16.0";

const TRY_HELP: &str = "curl: try 'curl --help' or 'curl --manual' for more information";

/// curl's options, as given.
#[derive(Debug, Default)]
struct Options {
    silent: bool,
    show_error: bool,
    outputs: Vec<String>,
    remote_name: bool,
    write_out: Option<String>,
    head: bool,
    include: bool,
    verbose: bool,
    headers: Vec<String>,
    data: Vec<String>,
    data_given: bool,
    get: bool,
    method: Option<String>,
    cookie_jar: Option<String>,
    cookies: Vec<String>,
    location: bool,
    max_redirs: Option<u32>,
    max_time: Option<f64>,
    connect_timeout: Option<f64>,
    fail: bool,
    fail_with_body: bool,
    retry: u32,
    retry_delay: Option<u64>,
    resolve: Vec<(String, u16, String)>,
    user_agent: Option<String>,
    user: Option<String>,
    referer: Option<String>,
    urls: Vec<String>,
}

/// Why the command line was refused (exit 2).
enum Usage {
    Unknown(String),
    Missing(String),
    Unsupported(String),
    Bad(String, String),
}

fn parse_options(p: &Proc<'_>, args: &[String]) -> Result<Options, Usage> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Some(long) = arg.strip_prefix("--") {
            if long.is_empty() {
                o.urls.extend(args[i..].iter().cloned());
                break;
            }
            let takes_value = matches!(
                long,
                "output"
                    | "write-out"
                    | "header"
                    | "data"
                    | "data-raw"
                    | "data-binary"
                    | "data-ascii"
                    | "data-urlencode"
                    | "json"
                    | "request"
                    | "cookie-jar"
                    | "cookie"
                    | "max-time"
                    | "connect-timeout"
                    | "retry"
                    | "retry-delay"
                    | "retry-max-time"
                    | "resolve"
                    | "user-agent"
                    | "user"
                    | "referer"
                    | "max-redirs"
                    | "url"
                    | "noproxy"
                    | "cacert"
                    | "cert"
                    | "key"
                    | "connect-to"
                    | "proxy"
                    | "stderr"
                    | "interface"
                    | "limit-rate"
            );
            let value = if takes_value {
                let Some(v) = args.get(i) else {
                    return Err(Usage::Missing(format!("--{long}")));
                };
                i += 1;
                Some(v.clone())
            } else {
                None
            };
            let v = value.unwrap_or_default();
            match long {
                "silent" => o.silent = true,
                "show-error" => o.show_error = true,
                "no-progress-meter" | "progress-bar" | "compressed" | "insecure" | "http1.1"
                | "http1.0" | "globoff" | "ipv4" | "ipv6" | "no-keepalive" | "fail-early"
                | "no-buffer" | "tcp-nodelay" | "path-as-is" | "retry-connrefused"
                | "retry-all-errors" | "noproxy" | "cacert" | "cert" | "key" | "stderr"
                | "interface" | "limit-rate" | "retry-max-time" | "http2" | "disable"
                | "styled-output" | "no-styled-output" => {}
                "output" => o.outputs.push(v),
                "remote-name" => o.remote_name = true,
                "write-out" => o.write_out = Some(v),
                "head" => o.head = true,
                "include" => o.include = true,
                "verbose" => o.verbose = true,
                "header" => o.headers.push(v),
                "data" | "data-ascii" => o.data.push(data_value(p, &v, true)),
                "data-raw" => o.data.push(v),
                "data-binary" => o.data.push(data_value(p, &v, false)),
                "data-urlencode" => o.data.push(urlencode_data(&v)),
                "json" => {
                    o.data.push(data_value(p, &v, false));
                    o.headers.push("Content-Type: application/json".into());
                    o.headers.push("Accept: application/json".into());
                }
                "get" => o.get = true,
                "request" => o.method = Some(v),
                "cookie-jar" => o.cookie_jar = Some(v),
                "cookie" => o.cookies.push(v),
                "location" => o.location = true,
                "max-redirs" => o.max_redirs = Some(number(long, &v)?),
                "max-time" => o.max_time = Some(seconds(long, &v)?),
                "connect-timeout" => o.connect_timeout = Some(seconds(long, &v)?),
                "fail" => o.fail = true,
                "fail-with-body" => o.fail_with_body = true,
                "retry" => o.retry = number(long, &v)?,
                "retry-delay" => o.retry_delay = Some(number(long, &v)?.into()),
                "resolve" => o.resolve.push(resolve_entry(long, &v)?),
                "user-agent" => o.user_agent = Some(v),
                "user" => o.user = Some(v),
                "referer" => o.referer = Some(v),
                "url" => o.urls.push(v),
                "connect-to"
                | "proxy"
                | "form"
                | "upload-file"
                | "http2-prior-knowledge"
                | "http3"
                | "http3-only" => {
                    return Err(Usage::Unsupported(format!("--{long}")));
                }
                _ => return Err(Usage::Unknown(format!("--{long}"))),
            }
            if matches!(
                long,
                "data" | "data-ascii" | "data-raw" | "data-binary" | "data-urlencode" | "json"
            ) {
                o.data_given = true;
            }
            continue;
        }
        if arg.len() > 1 && arg.starts_with('-') {
            let flags: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < flags.len() {
                let f = flags[j];
                j += 1;
                let needs_value = "owHdXcbmAueUxTFEKr".contains(f);
                let v = if needs_value {
                    let rest: String = flags[j..].iter().collect();
                    j = flags.len();
                    if rest.is_empty() {
                        let Some(v) = args.get(i) else {
                            return Err(Usage::Missing(format!("-{f}")));
                        };
                        i += 1;
                        v.clone()
                    } else {
                        rest
                    }
                } else {
                    String::new()
                };
                match f {
                    's' => o.silent = true,
                    'S' => o.show_error = true,
                    'k' | 'g' | '4' | '6' | '#' | 'N' | 'n' | 'Z' | 'q' => {}
                    'o' => o.outputs.push(v),
                    'O' => o.remote_name = true,
                    'w' => o.write_out = Some(v),
                    'I' => o.head = true,
                    'i' => o.include = true,
                    'v' => o.verbose = true,
                    'H' => o.headers.push(v),
                    'd' => {
                        o.data.push(data_value(p, &v, true));
                        o.data_given = true;
                    }
                    'G' => o.get = true,
                    'X' => o.method = Some(v),
                    'c' => o.cookie_jar = Some(v),
                    'b' => o.cookies.push(v),
                    'L' => o.location = true,
                    'm' => o.max_time = Some(seconds("max-time", &v)?),
                    'f' => o.fail = true,
                    'A' => o.user_agent = Some(v),
                    'u' => o.user = Some(v),
                    'e' => o.referer = Some(v),
                    'V' => return Err(Usage::Bad("version".into(), String::new())),
                    'h' => return Err(Usage::Bad("help".into(), String::new())),
                    other => {
                        if needs_value {
                            return Err(Usage::Unsupported(format!("-{other}")));
                        }
                        return Err(Usage::Unknown(format!("-{other}")));
                    }
                }
            }
            continue;
        }
        o.urls.push(arg.clone());
    }
    Ok(o)
}

fn number(name: &str, v: &str) -> Result<u32, Usage> {
    v.trim().parse().map_err(|_| {
        Usage::Bad(
            name.to_owned(),
            "expected a proper numerical parameter".into(),
        )
    })
}

fn seconds(name: &str, v: &str) -> Result<f64, Usage> {
    match v.trim().parse::<f64>() {
        Ok(s) if s >= 0.0 && s.is_finite() => Ok(s),
        _ => Err(Usage::Bad(
            name.to_owned(),
            "expected a proper numerical parameter".into(),
        )),
    }
}

fn resolve_entry(name: &str, v: &str) -> Result<(String, u16, String), Usage> {
    let mut parts = v.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Usage::Bad(name.to_owned(), "bad --resolve entry".into()));
    };
    let port = port
        .parse()
        .map_err(|_| Usage::Bad(name.to_owned(), "bad --resolve entry".into()))?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_owned(), port, addr.to_owned()))
}

/// `-d` data: `@file` reads a file (`-d` drops its newlines, `--data-binary` keeps them).
/// Stands for "the standard input" in `-d @-` until curl reads it.
const STDIN_DATA: &str = "\u{0}stdin\u{0}";
/// The same for `--data-binary @-` (newlines kept).
const STDIN_BINARY: &str = "\u{0}stdin-binary\u{0}";

/// `-d` data: `@file` reads a file (`-d` drops its newlines, `--data-binary` keeps them);
/// `@-` is the standard input, read once the options are parsed.
fn data_value(p: &Proc<'_>, v: &str, strip_newlines: bool) -> String {
    let Some(file) = v.strip_prefix('@') else {
        return v.to_owned();
    };
    if file == "-" {
        return if strip_newlines {
            STDIN_DATA
        } else {
            STDIN_BINARY
        }
        .to_owned();
    }
    let text = match p.fs.read(&p.path(file)) {
        Ok(d) => String::from_utf8_lossy(&d).into_owned(),
        Err(_) => String::new(),
    };
    if strip_newlines {
        text.replace(['\r', '\n'], "")
    } else {
        text
    }
}

fn urlencode_data(v: &str) -> String {
    let enc = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    match v.split_once('=') {
        Some((name, value)) if !name.is_empty() => format!("{name}={}", enc(value)),
        Some((_, value)) => enc(value),
        None => enc(v),
    }
}

/// A cookie in curl's jar.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cookie {
    domain: String,
    tailmatch: bool,
    path: String,
    secure: bool,
    expires: i64,
    name: String,
    value: String,
    http_only: bool,
}

/// The cookies curl knows during one run (`-b` file, `-c` jar, received `Set-Cookie`).
#[derive(Debug, Default)]
struct Jar {
    enabled: bool,
    cookies: Vec<Cookie>,
    literal: Vec<String>,
}

impl Jar {
    fn load(&mut self, text: &str) {
        for line in text.lines() {
            let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
                Some(rest) => (rest, true),
                None => (line, false),
            };
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 7 {
                continue;
            }
            self.store(Cookie {
                domain: f[0].trim_start_matches('.').to_owned(),
                tailmatch: f[1] == "TRUE",
                path: f[2].to_owned(),
                secure: f[3] == "TRUE",
                expires: f[4].parse().unwrap_or(0),
                name: f[5].to_owned(),
                value: f[6].to_owned(),
                http_only,
            });
        }
    }

    fn store(&mut self, cookie: Cookie) {
        self.cookies.retain(|c| {
            !(c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path)
        });
        self.cookies.push(cookie);
    }

    /// Takes a response's `Set-Cookie` headers.
    fn receive(&mut self, host: &str, path: &str, response: &ClientResponse) {
        let now = jiff::Timestamp::now().as_second();
        for value in response.headers.get_all(http::header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let mut attrs = text.split(';').map(str::trim);
            let Some((name, value)) = attrs.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let default_path = match path.rfind('/') {
                Some(0) | None => "/".to_owned(),
                Some(i) => path[..i].to_owned(),
            };
            let mut cookie = Cookie {
                domain: host.to_owned(),
                tailmatch: false,
                path: default_path,
                secure: false,
                expires: 0,
                name: name.trim().to_owned(),
                value: value.trim().trim_matches('"').to_owned(),
                http_only: false,
            };
            let mut delete = false;
            for attr in attrs {
                let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
                match k.to_ascii_lowercase().as_str() {
                    "path" if v.starts_with('/') => cookie.path = v.to_owned(),
                    "domain" if !v.is_empty() => {
                        cookie.domain = v.trim_start_matches('.').to_ascii_lowercase();
                        cookie.tailmatch = true;
                    }
                    "secure" => cookie.secure = true,
                    "httponly" => cookie.http_only = true,
                    "max-age" => match v.parse::<i64>() {
                        Ok(n) if n <= 0 => delete = true,
                        Ok(n) => cookie.expires = now + n,
                        Err(_) => {}
                    },
                    "expires" => {
                        if let Ok(t) = jiff::fmt::rfc2822::parse(v) {
                            let secs = t.timestamp().as_second();
                            if secs <= now {
                                delete = true;
                            } else if cookie.expires == 0 {
                                cookie.expires = secs;
                            }
                        }
                    }
                    _ => {}
                }
            }
            if delete {
                self.cookies
                    .retain(|c| !(c.name == cookie.name && c.domain == cookie.domain));
            } else {
                self.store(cookie);
            }
        }
    }

    /// The `Cookie` header for a request, if any.
    fn header(&self, host: &str, path: &str) -> Option<String> {
        let now = jiff::Timestamp::now().as_second();
        let mut pairs: Vec<String> = self.literal.clone();
        for c in &self.cookies {
            let domain_ok = c.domain.eq_ignore_ascii_case(host)
                || (c.tailmatch
                    && host
                        .to_ascii_lowercase()
                        .ends_with(&format!(".{}", c.domain)));
            let path_ok = path.starts_with(&c.path) || c.path == "/";
            let live = c.expires == 0 || c.expires > now;
            if domain_ok && path_ok && live && !c.secure {
                pairs.push(format!("{}={}", c.name, c.value));
            }
        }
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn render(&self) -> String {
        let mut out = String::from(
            "# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n# This file was generated by libcurl! Edit at your own risk.\n\n",
        );
        for c in self.cookies.iter().rev() {
            let _ = writeln!(
                out,
                "{}{}{}\t{}\t{}\t{}\t{}\t{}\t{}",
                if c.http_only { "#HttpOnly_" } else { "" },
                if c.tailmatch { "." } else { "" },
                c.domain,
                if c.tailmatch { "TRUE" } else { "FALSE" },
                c.path,
                if c.secure { "TRUE" } else { "FALSE" },
                c.expires,
                c.name,
                c.value
            );
        }
        out
    }
}

/// What one transfer ended with, for `-w` and the exit code.
#[derive(Debug, Default)]
struct Transfer {
    url: String,
    status: Option<StatusCode>,
    content_type: String,
    size_download: usize,
    size_header: usize,
    size_request: usize,
    size_upload: usize,
    time_namelookup: Duration,
    time_connect: Duration,
    time_starttransfer: Duration,
    time_total: Duration,
    redirects: u32,
    redirect_url: String,
    remote_ip: String,
    remote_port: u16,
    method: String,
    headers: Vec<(String, String)>,
    exit: i32,
    error: String,
}

/// Runs curl.
pub(crate) async fn curl(p: &Proc<'_>, args: &[String]) -> i32 {
    if args.is_empty() {
        p.io.stderr.print(format!("{TRY_HELP}\n")).await;
        return 2;
    }
    let o = match parse_options(p, args) {
        Ok(o) => o,
        Err(usage) => {
            let text = match usage {
                Usage::Unknown(opt) => format!("curl: option {opt}: is unknown\n{TRY_HELP}\n"),
                Usage::Missing(opt) => {
                    format!("curl: option {opt}: requires parameter\n{TRY_HELP}\n")
                }
                Usage::Unsupported(opt) => format!(
                    "curl: option {opt}: is not supported by the reference mesh's built-in curl\n{TRY_HELP}\n"
                ),
                Usage::Bad(opt, _) if opt == "version" => {
                    p.io.stdout
                        .print(format!(
                            "curl {CURL_VERSION} (x86_64-alpine-linux-musl) libcurl/{CURL_VERSION}\nRelease-Date: 2025-09-10\nProtocols: http\nFeatures: AsynchDNS IPv6 Largefile\n"
                        ))
                        .await;
                    return 0;
                }
                Usage::Bad(opt, _) if opt == "help" => {
                    p.io.stdout
                        .print("Usage: curl [options...] <url>\n -d, --data <data>           HTTP POST data\n -f, --fail                  Fail fast with no output on HTTP errors\n -h, --help <subject>        Get help for commands\n -i, --include               Include response headers in output\n -o, --output <file>         Write to file instead of stdout\n -O, --remote-name           Write output to file named as remote file\n -s, --silent                Silent mode\n -T, --upload-file <file>    Transfer local FILE to destination\n -u, --user <user:password>  Server user and password\n -A, --user-agent <name>     Send User-Agent <name> to server\n -v, --verbose               Make the operation more talkative\n -V, --version               Show version number and quit\n")
                        .await;
                    return 0;
                }
                Usage::Bad(opt, why) => {
                    format!("curl: option --{opt}: {why}\n{TRY_HELP}\n")
                }
            };
            p.io.stderr.print(text).await;
            return 2;
        }
    };
    if o.urls.is_empty() {
        p.io.stderr
            .print(format!("curl: no URL specified\n{TRY_HELP}\n"))
            .await;
        return 2;
    }
    let mut jar = Jar {
        enabled: o.cookie_jar.is_some() || !o.cookies.is_empty(),
        ..Jar::default()
    };
    for c in &o.cookies {
        if c.contains('=') {
            jar.literal.push(c.trim().trim_end_matches(';').to_owned());
        } else if let Ok(data) = p.fs.read(&p.path(c)) {
            jar.load(&String::from_utf8_lossy(&data));
        }
    }
    let mut o = o;
    for d in &mut o.data {
        if d == STDIN_DATA || d == STDIN_BINARY {
            let text = String::from_utf8_lossy(&p.io.stdin.read_all().await).into_owned();
            *d = if d == STDIN_DATA {
                text.replace(['\r', '\n'], "")
            } else {
                text
            };
        }
    }
    let write_out = match &o.write_out {
        Some(w) => match w.strip_prefix('@') {
            Some("-") => Some(String::from_utf8_lossy(&p.io.stdin.read_all().await).into_owned()),
            Some(file) => Some(
                p.fs.read(&p.path(file))
                    .map(|d| String::from_utf8_lossy(&d).into_owned())
                    .unwrap_or_default(),
            ),
            None => Some(w.clone()),
        },
        None => None,
    };
    let show_errors = !o.silent || o.show_error;
    let mut exit = 0;
    for (n, url) in o.urls.iter().enumerate() {
        let output = o.outputs.get(n).cloned();
        let t = transfer_with_retries(p, &o, url, output.as_deref(), &mut jar).await;
        if t.exit != 0 && show_errors && !t.error.is_empty() {
            p.io.stderr
                .print(format!("curl: ({}) {}\n", t.exit, t.error))
                .await;
        }
        if let Some(w) = &write_out {
            let text = render_write_out(w, &t, p).await;
            p.io.stdout.print(text).await;
        }
        exit = t.exit;
    }
    if let Some(path) = &o.cookie_jar {
        let text = jar.render();
        if path == "-" {
            p.io.stdout.print(text).await;
        } else if let Err(e) = p.fs.write(&p.path(path), text.as_bytes(), false)
            && show_errors
        {
            p.io.stderr
                .print(format!(
                    "curl: WARNING: failed to save cookies in {path}: {e}\n"
                ))
                .await;
        }
    }
    exit
}

/// Whether a failed transfer is one `--retry` tries again.
fn transient(t: &Transfer) -> Option<&'static str> {
    match (t.exit, t.status.map(|s| s.as_u16())) {
        (28, _) => Some("timeout"),
        (_, Some(408 | 429 | 500 | 502 | 503 | 504)) => Some("HTTP error"),
        _ => None,
    }
}

async fn transfer_with_retries(
    p: &Proc<'_>,
    o: &Options,
    url: &str,
    output: Option<&str>,
    jar: &mut Jar,
) -> Transfer {
    let mut left = o.retry;
    let mut delay = o.retry_delay.unwrap_or(1);
    loop {
        let t = transfer(p, o, url, output, jar).await;
        let Some(why) = transient(&t) else { return t };
        if left == 0 {
            return t;
        }
        if !o.silent {
            p.io.stderr
                .print(format!(
                    "Warning: Problem : {why}. Will retry in {delay} second{}. {left} retr{} left.\n",
                    if delay == 1 { "" } else { "s" },
                    if left == 1 { "y" } else { "ies" }
                ))
                .await;
        }
        tokio::time::sleep(Duration::from_secs(delay)).await;
        left -= 1;
        if o.retry_delay.is_none() {
            delay = (delay * 2).min(600);
        }
    }
}

/// One URL, following redirects with `-L`.
async fn transfer(
    p: &Proc<'_>,
    o: &Options,
    url: &str,
    output: Option<&str>,
    jar: &mut Jar,
) -> Transfer {
    let started = Instant::now();
    let mut t = Transfer::default();
    let mut url = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let scheme = url.split("://").next().unwrap_or("").to_ascii_lowercase();
    if scheme != "http" {
        t.url = url;
        t.exit = 1;
        t.error = if scheme == "https" {
            "Protocol \"https\" not supported (the reference mesh serves plain http:// only; mTLS between pods is the sidecars' job)".into()
        } else {
            format!("Protocol \"{scheme}\" not supported")
        };
        return t;
    }
    let body = o.data.join("&");
    let mut method = if o.head {
        Method::HEAD
    } else if o.data_given && !o.get {
        Method::POST
    } else {
        Method::GET
    };
    if o.get && o.data_given {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&body);
    }
    if let Some(m) = &o.method {
        method = Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET);
    }
    let mut send_body = o.data_given && !o.get;
    // curl shows its meter when the body does not go to a terminal.
    let meter = !o.silent && (!p.tty || output.is_some());
    let max_time = o.max_time.map(Duration::from_secs_f64);
    let exchange = async {
        let mut out_bytes: Vec<u8> = Vec::new();
        loop {
            t.url.clone_from(&url);
            let step = one_request(
                p,
                o,
                &url,
                &method,
                if send_body { &body } else { "" },
                jar,
                &mut t,
                started,
            )
            .await;
            let response = match step {
                Ok(r) => r,
                Err(()) => return out_bytes,
            };
            let status = response.status;
            let head = render_head(&response);
            t.size_header += head.len();
            if o.include || o.head {
                out_bytes.extend_from_slice(head.as_bytes());
            }
            let location = response
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(loc) = &location {
                t.redirect_url = absolute(&url, loc);
            }
            if o.location
                && status.is_redirection()
                && let Some(loc) = location
            {
                let limit = o.max_redirs.unwrap_or(50);
                if t.redirects >= limit {
                    t.exit = 47;
                    t.error = format!("Maximum ({limit}) redirects followed");
                    return out_bytes;
                }
                t.redirects += 1;
                url = absolute(&url, &loc);
                if matches!(status.as_u16(), 301..=303)
                    && method == Method::POST
                    && o.method.is_none()
                {
                    method = Method::GET;
                    send_body = false;
                }
                if o.verbose {
                    p.io.stderr
                        .print(format!("* Issue another request to this URL: '{url}'\n"))
                        .await;
                }
                continue;
            }
            t.redirect_url = if status.is_redirection() {
                t.redirect_url.clone()
            } else {
                String::new()
            };
            if (o.fail || o.fail_with_body) && status.as_u16() >= 400 {
                t.exit = 22;
                t.error = format!("The requested URL returned error: {}", status.as_u16());
                if o.fail_with_body {
                    out_bytes.extend_from_slice(&response.body);
                }
                return out_bytes;
            }
            if !o.head {
                out_bytes.extend_from_slice(&response.body);
            }
            return out_bytes;
        }
    };
    let out_bytes = match max_time {
        Some(limit) => match tokio::time::timeout(limit, exchange).await {
            Ok(bytes) => bytes,
            Err(_) => {
                t.status = None;
                t.exit = 28;
                t.error = format!(
                    "Operation timed out after {} milliseconds with {} bytes received",
                    limit.as_millis(),
                    0
                );
                Vec::new()
            }
        },
        None => exchange.await,
    };
    t.time_total = started.elapsed();
    if meter {
        p.io.stderr.print(progress_meter(&t)).await;
    }
    // Write what arrived.
    let target = output.map(str::to_owned).or_else(|| {
        o.remote_name.then(|| {
            t.url
                .split('?')
                .next()
                .and_then(|u| u.rsplit('/').next())
                .unwrap_or("")
                .to_owned()
        })
    });
    match target.as_deref() {
        None | Some("-") => {
            p.io.stdout.write(Bytes::from(out_bytes)).await;
        }
        Some("") => {
            if t.exit == 0 {
                t.exit = 23;
                t.error = "Remote file name has no length".into();
            }
        }
        Some(file) => {
            if (t.exit == 0 || !out_bytes.is_empty())
                && let Err(e) = p.fs.write(&p.path(file), &out_bytes, false)
                && t.exit == 0
            {
                t.exit = 23;
                t.error = format!(
                    "Failure writing output to destination, passed {} returned {e}",
                    out_bytes.len()
                );
            }
        }
    }
    t
}

/// Sends one request and records what happened in `t`; `Err` when no response arrived.
#[allow(clippy::too_many_arguments)]
async fn one_request(
    p: &Proc<'_>,
    o: &Options,
    url: &str,
    method: &Method,
    body: &str,
    jar: &mut Jar,
    t: &mut Transfer,
    started: Instant,
) -> Result<ClientResponse, ()> {
    let (host, port, path) = match split_url(url) {
        Ok(parts) => parts,
        Err(_) => {
            t.exit = 3;
            t.error = "URL rejected: Malformed input to a URL function".into();
            return Err(());
        }
    };
    if host.is_empty() {
        t.exit = 3;
        t.error = "URL rejected: No host part in the URL".into();
        return Err(());
    }
    t.method = method.to_string();
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let connect_host = o
        .resolve
        .iter()
        .find(|(h, pt, _)| h.eq_ignore_ascii_case(&bare_host) && *pt == port)
        .map_or_else(|| host.clone(), |(_, _, addr)| addr.clone());
    let origin = p.ctx.origin();
    let verbose = |line: String| {
        let stderr = p.io.stderr.clone();
        let on = o.verbose;
        async move {
            if on {
                stderr.print(line).await;
            }
        }
    };
    let ip = match p.ctx.network.resolve(&origin, &connect_host) {
        Ok(ip) => ip,
        Err(_) => {
            t.exit = 6;
            t.error = format!("Could not resolve host: {bare_host}");
            return Err(());
        }
    };
    t.time_namelookup = started.elapsed();
    t.remote_ip = ip.to_string();
    t.remote_port = port;
    if connect_host.parse::<std::net::IpAddr>().is_err() {
        verbose(format!(
            "* Host {bare_host}:{port} was resolved.\n* IPv6: (none)\n* IPv4: {ip}\n"
        ))
        .await;
    }
    verbose(format!("*   Trying {ip}:{port}...\n")).await;
    let connect = Connection::open(&p.ctx.network, &origin, &connect_host, port);
    let connected = match o.connect_timeout {
        Some(limit) => match tokio::time::timeout(Duration::from_secs_f64(limit), connect).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Net(NetError::Timeout(
                Duration::from_secs_f64(limit).as_millis(),
            ))),
        },
        None => connect.await,
    };
    let mut connection = match connected {
        Ok(c) => c,
        Err(e) => {
            let ms = started.elapsed().as_millis();
            t.exit = e.curl_exit_code();
            t.error = match e {
                ClientError::Net(NetError::Resolve(_)) => {
                    format!("Could not resolve host: {bare_host}")
                }
                ClientError::Net(NetError::Timeout(_)) => format!(
                    "Failed to connect to {bare_host} port {port} after {ms} ms: Timeout was reached"
                ),
                ClientError::Net(NetError::Refused { .. }) => format!(
                    "Failed to connect to {bare_host} port {port} after {ms} ms: Couldn't connect to server"
                ),
                other => other.to_string(),
            };
            return Err(());
        }
    };
    t.time_connect = started.elapsed();
    verbose(format!(
        "* Connected to {bare_host} ({ip}) port {port}\n* using HTTP/1.x\n"
    ))
    .await;
    // Headers in curl's order: Host, User-Agent, Accept, then the user's.
    let custom: Vec<(String, Option<String>)> = o
        .headers
        .iter()
        .filter_map(|h| {
            if let Some((name, value)) = h.split_once(':') {
                let value = value.trim();
                Some((
                    name.trim().to_owned(),
                    (!value.is_empty()).then(|| value.to_owned()),
                ))
            } else {
                h.strip_suffix(';')
                    .map(|name| (name.trim().to_owned(), Some(String::new())))
            }
        })
        .collect();
    let overridden = |name: &str| custom.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut headers: Vec<(String, String)> = Vec::new();
    let host_value = if port == 80 {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    let custom_host = custom
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .and_then(|(_, v)| v.clone());
    headers.push(("Host".into(), custom_host.unwrap_or(host_value)));
    if let Some(user) = &o.user
        && !overridden("authorization")
    {
        use base64::Engine as _;
        let creds = if user.contains(':') {
            user.clone()
        } else {
            format!("{user}:")
        };
        headers.push((
            "Authorization".into(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(creds)
            ),
        ));
    }
    if !overridden("user-agent") {
        headers.push((
            "User-Agent".into(),
            o.user_agent
                .clone()
                .unwrap_or_else(|| format!("curl/{CURL_VERSION}")),
        ));
    }
    if !overridden("accept") {
        headers.push(("Accept".into(), "*/*".into()));
    }
    if let Some(r) = &o.referer
        && !overridden("referer")
    {
        headers.push(("Referer".into(), r.clone()));
    }
    if (jar.enabled || !jar.literal.is_empty())
        && let Some(cookie) = jar.header(&bare_host, path.split('?').next().unwrap_or("/"))
        && !overridden("cookie")
    {
        headers.push(("Cookie".into(), cookie));
    }
    for (name, value) in &custom {
        if name.eq_ignore_ascii_case("host") {
            continue;
        }
        if let Some(v) = value {
            headers.push((name.clone(), v.clone()));
        }
    }
    if !body.is_empty() || (o.data_given && *method != Method::GET && *method != Method::HEAD) {
        if !overridden("content-length") {
            headers.push(("Content-Length".into(), body.len().to_string()));
        }
        if !overridden("content-type") {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
    }
    let mut request_text = format!("{method} {path} HTTP/1.1\r\n");
    for (n, v) in &headers {
        let _ = write!(request_text, "{n}: {v}\r\n");
    }
    request_text.push_str("\r\n");
    t.size_request += request_text.len();
    t.size_upload += body.len();
    if o.verbose {
        let mut shown = String::new();
        for l in request_text.split("\r\n").take_while(|l| !l.is_empty()) {
            let _ = writeln!(shown, "> {l}");
        }
        shown.push_str("> \n");
        if !body.is_empty() {
            let _ = writeln!(shown, "* upload completely sent off: {} bytes", body.len());
        } else {
            shown.push_str("* Request completely sent off\n");
        }
        p.io.stderr.print(shown).await;
    }
    let request = ClientRequest {
        method: method.clone(),
        url: url.to_owned(),
        headers,
        body: Bytes::from(body.to_owned()),
    };
    let response = match connection.send(request).await {
        Ok(r) => r,
        Err(e) => {
            t.exit = e.curl_exit_code();
            t.error = e.to_string();
            return Err(());
        }
    };
    t.time_starttransfer = started.elapsed();
    t.status = Some(response.status);
    t.content_type = response
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    t.size_download += response.body.len();
    t.headers = response
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    if o.verbose {
        let mut shown = String::new();
        for l in render_head(&response)
            .split("\r\n")
            .take_while(|l| !l.is_empty())
        {
            let _ = writeln!(shown, "< {l}");
        }
        shown.push_str("< \n");
        p.io.stderr.print(shown).await;
    }
    if jar.enabled {
        jar.receive(&bare_host, path.split('?').next().unwrap_or("/"), &response);
    }
    if o.verbose {
        p.io.stderr
            .print(format!("* Connection #0 to host {bare_host} left intact\n"))
            .await;
    }
    Ok(response)
}

/// The status line and headers as they came (`HTTP/1.1 200 OK`, CRLF line ends).
fn render_head(r: &ClientResponse) -> String {
    let mut out = format!(
        "{} {} {}\r\n",
        version_text(r.version),
        r.status.as_u16(),
        r.status.canonical_reason().unwrap_or("")
    );
    for (k, v) in &r.headers {
        let _ = write!(
            out,
            "{}: {}\r\n",
            k.as_str(),
            String::from_utf8_lossy(v.as_bytes())
        );
    }
    out.push_str("\r\n");
    out
}

fn version_text(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    }
}

/// A `Location` resolved against the URL it came from.
fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let authority = rest.split('/').next().unwrap_or("");
    if location.starts_with("//") {
        return format!("{scheme}:{location}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[authority.len()..].split('?').next().unwrap_or("/");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!("{scheme}://{authority}{dir}{location}")
}

/// curl's progress meter as it looks at the end of a transfer.
fn progress_meter(t: &Transfer) -> String {
    let total = t.size_download;
    let secs = t.time_total.as_secs_f64().max(0.000_001);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let speed = (total as f64 / secs) as u64;
    let pct = if total > 0 && t.exit == 0 { 100 } else { 0 };
    let speed = if total == 0 { 0 } else { speed };
    format!(
        "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n                                 Dload  Upload   Total   Spent    Left  Speed\n{pct:>3} {:>5}  {pct:>3} {:>5}    0     0  {:>5}      0 --:--:-- --:--:-- --:--:-- {:>5}\n",
        size5(total as u64),
        size5(total as u64),
        size5(speed),
        size5(speed),
    )
}

/// A byte count in at most five characters, as curl's meter shows it.
fn size5(n: u64) -> String {
    if n < 100_000 {
        n.to_string()
    } else if n < 10_000 * 1024 {
        format!("{}k", n / 1024)
    } else if n < 100 * 1024 * 1024 {
        format!(
            "{}.{}M",
            n / (1024 * 1024),
            (n % (1024 * 1024)) * 10 / (1024 * 1024)
        )
    } else {
        format!("{}M", n / (1024 * 1024))
    }
}

/// Expands a `-w` format for one transfer.
async fn render_write_out(format: &str, t: &Transfer, p: &Proc<'_>) -> String {
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    let secs = |d: Duration| format!("{:.6}", d.as_secs_f64());
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            match chars[i + 1] {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '\\' => out.push('\\'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            i += 2;
            continue;
        }
        if c == '%' && i + 1 < chars.len() {
            if chars[i + 1] == '%' {
                out.push('%');
                i += 2;
                continue;
            }
            let rest: String = chars[i + 1..].iter().collect();
            if let Some(after) = rest.strip_prefix("header{")
                && let Some(end) = after.find('}')
            {
                let name = &after[..end];
                let values: Vec<&str> = t
                    .headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
                    .collect();
                out.push_str(&values.join(", "));
                i += 1 + "header{".len() + end + 1;
                continue;
            }
            if let Some(after) = rest.strip_prefix('{')
                && let Some(end) = after.find('}')
            {
                let name = &after[..end];
                let code = t.status.map_or(0, |s| s.as_u16());
                let value = match name {
                    "http_code" | "response_code" => format!("{code:03}"),
                    "time_total" => secs(t.time_total),
                    "time_namelookup" => secs(t.time_namelookup),
                    "time_connect" | "time_appconnect" | "time_pretransfer" => secs(t.time_connect),
                    "time_starttransfer" => secs(t.time_starttransfer),
                    "time_redirect" => secs(Duration::ZERO),
                    "size_download" => t.size_download.to_string(),
                    "size_header" => t.size_header.to_string(),
                    "size_request" => t.size_request.to_string(),
                    "size_upload" => t.size_upload.to_string(),
                    "speed_download" => {
                        #[allow(
                            clippy::cast_precision_loss,
                            clippy::cast_possible_truncation,
                            clippy::cast_sign_loss
                        )]
                        let s = (t.size_download as f64 / t.time_total.as_secs_f64().max(0.000_001))
                            as u64;
                        s.to_string()
                    }
                    "speed_upload" => "0".into(),
                    "url_effective" | "url" => t.url.clone(),
                    "content_type" => t.content_type.clone(),
                    "num_redirects" => t.redirects.to_string(),
                    "num_connects" => u32::from(t.status.is_some()).to_string(),
                    "redirect_url" => t.redirect_url.clone(),
                    "remote_ip" => t.remote_ip.clone(),
                    "remote_port" => t.remote_port.to_string(),
                    "local_ip" => p.ctx.ip.to_string(),
                    "exitcode" => t.exit.to_string(),
                    "errormsg" => t.error.clone(),
                    "method" => t.method.clone(),
                    "scheme" => "http".into(),
                    "http_version" => {
                        if t.status.is_some() {
                            "1.1".into()
                        } else {
                            "0".into()
                        }
                    }
                    "stdout" | "stderr" => String::new(),
                    other => {
                        p.io.stderr
                            .print(format!("curl: unknown --write-out variable: '{other}'\n"))
                            .await;
                        String::new()
                    }
                };
                out.push_str(&value);
                i += 2 + end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// busybox `wget` (`-q`, `-O FILE`, `-O -`, `-T SECONDS`, `--header`, `--post-data`, `-S`,
/// `--spider`).
pub(crate) async fn wget(p: &Proc<'_>, args: &[String]) -> i32 {
    let mut quiet = false;
    let mut output: Option<String> = None;
    let mut timeout = Duration::from_secs(900);
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut post: Option<String> = None;
    let mut spider = false;
    let mut show_headers = false;
    let mut urls = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let value = |i: &mut usize| -> Option<String> {
            let v = args.get(*i).cloned();
            *i += 1;
            v
        };
        match a.as_str() {
            "-q" | "--quiet" => quiet = true,
            "-O" | "--output-document" => output = value(&mut i),
            "-T" | "--timeout" => {
                timeout =
                    Duration::from_secs(value(&mut i).and_then(|v| v.parse().ok()).unwrap_or(900));
            }
            "--header" => {
                if let Some((k, v)) = value(&mut i).as_deref().and_then(|h| h.split_once(':')) {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            "--post-data" => post = value(&mut i),
            "--spider" => spider = true,
            "-S" | "--server-response" => show_headers = true,
            s if s.starts_with("-qO") => {
                quiet = true;
                output = Some(if s.len() > 3 {
                    s[3..].to_owned()
                } else {
                    value(&mut i).unwrap_or_default()
                });
            }
            s if s.starts_with("-O") => output = Some(s[2..].to_owned()),
            s if s.starts_with('-') => {
                p.io.stderr
                    .print(format!("wget: unrecognized option '{s}'\n"))
                    .await;
                return 1;
            }
            _ => urls.push(a.clone()),
        }
    }
    let Some(url) = urls.first() else {
        p.io.stderr
            .print("BusyBox v1.37.0 multi-call binary.\n\nUsage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]\n\t[--post-data STR | --post-file FILE] [-Y on/off]\n\t[-P DIR] [-U AGENT] [-T SEC] URL...\n")
            .await;
        return 1;
    };
    let url = if url.contains("://") {
        url.clone()
    } else {
        format!("http://{url}")
    };
    let Ok((host, port, path)) = split_url(&url) else {
        p.io.stderr
            .print(format!("wget: bad address '{url}'\n"))
            .await;
        return 1;
    };
    let origin = p.ctx.origin();
    let ip = match p.ctx.network.resolve(&origin, &host) {
        Ok(ip) => ip,
        Err(_) => {
            p.io.stderr
                .print(format!("wget: bad address '{host}:{port}'\n"))
                .await;
            return 1;
        }
    };
    let file = output.clone().unwrap_or_else(|| {
        let name = path
            .split('?')
            .next()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("");
        if name.is_empty() {
            "index.html".to_owned()
        } else {
            name.to_owned()
        }
    });
    if !quiet {
        p.io.stderr
            .print(format!("Connecting to {host}:{port} ({ip}:{port})\n"))
            .await;
    }
    headers.insert(0, ("User-Agent".into(), "Wget".into()));
    let mut request = ClientRequest {
        method: if post.is_some() {
            Method::POST
        } else {
            Method::GET
        },
        url: url.clone(),
        headers,
        body: Bytes::from(post.clone().unwrap_or_default()),
    };
    if post.is_some() {
        request.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    let exchange = async {
        let mut c = Connection::open(&p.ctx.network, &origin, &host, port).await?;
        c.send(request).await
    };
    let response = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            p.io.stderr.print("wget: download timed out\n").await;
            return 1;
        }
        Ok(Err(ClientError::Net(NetError::Refused { .. }))) => {
            p.io.stderr
                .print(format!(
                    "wget: can't connect to remote host ({ip}): Connection refused\n"
                ))
                .await;
            return 1;
        }
        Ok(Err(e)) => {
            p.io.stderr.print(format!("wget: {e}\n")).await;
            return 1;
        }
        Ok(Ok(r)) => r,
    };
    if show_headers {
        let head = render_head(&response).replace("\r\n", "\n");
        let shown: String = head
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| format!("  {l}\n"))
            .collect();
        p.io.stderr.print(shown).await;
    }
    if !response.status.is_success() {
        p.io.stderr
            .print(format!(
                "wget: server returned error: HTTP/1.1 {} {}\n",
                response.status.as_u16(),
                response.status.canonical_reason().unwrap_or("")
            ))
            .await;
        return 1;
    }
    if spider {
        if !quiet {
            p.io.stderr.print("remote file exists\n").await;
        }
        return 0;
    }
    let len = response.body.len();
    if file == "-" {
        if !quiet {
            p.io.stderr.print("writing to stdout\n").await;
        }
        p.io.stdout.write(response.body).await;
        if !quiet {
            p.io.stderr
                .print(format!("-                    100% |********************************|  {len:>4}  0:00:00 ETA\nwritten to stdout\n"))
                .await;
        }
    } else {
        if !quiet {
            p.io.stderr.print(format!("saving to '{file}'\n")).await;
        }
        if let Err(e) = p.fs.write(&p.path(&file), &response.body, false) {
            p.io.stderr
                .print(format!("wget: can't open '{file}': {e}\n"))
                .await;
            return 1;
        }
        if !quiet {
            p.io.stderr
                .print(format!("{file:<20} 100% |********************************|  {len:>4}  0:00:00 ETA\n'{file}' saved\n"))
                .await;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_locations_resolve_against_the_url() {
        assert_eq!(absolute("http://a:80/x/y?q", "/z"), "http://a:80/z");
        assert_eq!(absolute("http://a/x/y", "z"), "http://a/x/z");
        assert_eq!(absolute("http://a/x", "http://b/"), "http://b/");
    }

    #[test]
    fn meter_sizes_fit_five_characters() {
        assert_eq!(size5(615), "615");
        assert_eq!(size5(150_000), "146k");
        assert!(size5(50_000_000).ends_with('M'));
    }

    #[test]
    fn the_jar_round_trips_in_netscape_format() {
        let mut jar = Jar::default();
        jar.load("# Netscape HTTP Cookie File\n\n#HttpOnly_productpage\tFALSE\t/\tFALSE\t0\tsession\tabc\n");
        assert_eq!(
            jar.header("productpage", "/productpage").as_deref(),
            Some("session=abc")
        );
        assert_eq!(jar.header("details", "/"), None);
        let text = jar.render();
        assert!(text.starts_with("# Netscape HTTP Cookie File"));
        assert!(text.contains("#HttpOnly_productpage\tFALSE\t/\tFALSE\t0\tsession\tabc"));
    }

    /// Envoy with no filter chain for a connection (a plaintext client of a STRICT mutual-TLS
    /// listener): its TLS inspector peeks at the request without reading it and the listener
    /// closes the socket, so the kernel answers with a reset. curl 8 prints `000` for
    /// `%{http_code}` and ends with 56, as Istio's mTLS migration task shows.
    #[tokio::test]
    async fn a_listener_that_peeks_and_closes_gives_a_reset_as_a_strict_sidecar_does() {
        use crate::workloads::shell::tests::{World, listener, run};
        let world = World::new();
        let l = listener(8080).await;
        world.service("strict", "10.96.0.84", 8000, l.local_addr().unwrap());
        let server = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else { return };
                let mut first = [0u8; 64];
                let peeked = s.peek(&mut first).await.unwrap_or(0);
                assert!(peeked > 0, "the client speaks first");
                drop(s);
            }
        });
        let ctx = world.pod();
        let r = run(
            &ctx,
            &["curl", "-sS", "-w", "%{http_code}", "http://strict:8000/ip"],
        )
        .await;
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (
                56,
                "000",
                "curl: (56) Recv failure: Connection reset by peer\n"
            )
        );
        let r = run(
            &ctx,
            &[
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "http://strict:8000/ip",
            ],
        )
        .await;
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (56, "000", "")
        );
        server.abort();
    }
}
