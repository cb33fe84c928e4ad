//! The shell and curl driven in-process, as `kubectl exec` would: a store with a Service and
//! its Endpoints made by hand, httpbin (or a misbehaving server) on a pod-like loopback IP.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;
use crate::net::Network;
use crate::store::{ResourceKey, Store};
use crate::workloads::LogBuffer;

/// A store with namespace `default`, and a network over it.
pub(crate) struct World {
    pub store: Store,
    pub network: Network,
}

impl World {
    pub(crate) fn new() -> Self {
        let store = Store::in_memory();
        store
            .create(
                &ResourceKey::new("", "v1", "namespaces"),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
            )
            .unwrap();
        let network = Network::new(store.clone());
        Self { store, network }
    }

    /// A Service `name` (ClusterIP `cluster_ip`, port `port`) whose one ready endpoint is
    /// `target`.
    pub(crate) fn service(&self, name: &str, cluster_ip: &str, port: u16, target: SocketAddr) {
        self.store
            .create(
                &ResourceKey::new("", "v1", "services"),
                json!({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": name, "namespace": "default"},
                       "spec": {"clusterIP": cluster_ip, "type": "ClusterIP",
                                "ports": [{"name": "http", "port": port, "targetPort": target.port()}]}}),
            )
            .unwrap();
        self.store
            .create(
                &ResourceKey::new("", "v1", "endpoints"),
                json!({"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": name, "namespace": "default"},
                       "subsets": [{"addresses": [{"ip": target.ip().to_string()}],
                                    "ports": [{"name": "http", "port": target.port()}]}]}),
            )
            .unwrap();
    }

    /// The context of a container `sleep-1` in `default`.
    pub(crate) fn pod(&self) -> PodContext {
        PodContext {
            namespace: "default".into(),
            pod: "sleep-7d9f8c-x2x4q".into(),
            container: "sleep".into(),
            ip: pod_ip(),
            service_account: "sleep".into(),
            env: vec![
                (
                    "PATH".into(),
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                ),
                ("HOSTNAME".into(), "sleep-7d9f8c-x2x4q".into()),
                ("HOME".into(), "/root".into()),
                ("GREETING".into(), "hello mesh".into()),
            ],
            command: vec!["/bin/sleep".into(), "infinity".into()],
            network: self.network.clone(),
            log: LogBuffer::default(),
        }
    }
}

/// A random pod-like loopback address 127.1.200-254.x (tests run in parallel).
pub(crate) fn pod_ip() -> IpAddr {
    let [a, b] = crate::meta::random_bytes::<2>();
    IpAddr::from([127, 1, 200 + a % 55, b.max(1)])
}

/// A listener on a fresh pod-like address.
pub(crate) async fn listener(port: u16) -> TcpListener {
    for _ in 0..20 {
        if let Ok(l) = TcpListener::bind(SocketAddr::new(pod_ip(), port)).await {
            return l;
        }
    }
    panic!("no free loopback address for port {port}");
}

/// httpbin on a fresh address, behind Service `httpbin` port 8000 (ClusterIP 10.96.0.80).
pub(crate) async fn with_httpbin(world: &World) -> tokio::task::JoinHandle<()> {
    let l = listener(8080).await;
    let addr = l.local_addr().unwrap();
    world.service("httpbin", "10.96.0.80", 8000, addr);
    tokio::spawn(async move {
        let _ = crate::workloads::httpbin::serve(vec![l], LogBuffer::default()).await;
    })
}

/// What an exec printed and returned.
#[derive(Debug)]
pub(crate) struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `argv` as `kubectl exec` would, with `stdin` (if any) sent and then closed.
pub(crate) async fn run_io(ctx: &PodContext, argv: &[&str], stdin: Option<&str>, tty: bool) -> Ran {
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(8);
    let (err_tx, err_rx) = mpsc::channel::<Bytes>(8);
    let input = stdin.map(|text| {
        let (tx, rx) = mpsc::channel::<Bytes>(8);
        let text = text.to_owned();
        tokio::spawn(async move {
            // One byte at a time, as a terminal sends keys.
            for b in text.bytes() {
                if tx.send(Bytes::from(vec![b])).await.is_err() {
                    break;
                }
            }
        });
        rx
    });
    let argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    let io = Stdio {
        stdin: input,
        stdout: out_tx,
        stderr: err_tx,
        tty,
    };
    let collect = |mut rx: mpsc::Receiver<Bytes>| async move {
        let mut all = Vec::new();
        while let Some(b) = rx.recv().await {
            all.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&all).into_owned()
    };
    let (code, stdout, stderr) =
        tokio::join!(exec(ctx, &argv, io), collect(out_rx), collect(err_rx));
    Ran {
        code,
        stdout,
        stderr,
    }
}

pub(crate) async fn run(ctx: &PodContext, argv: &[&str]) -> Ran {
    run_io(ctx, argv, None, false).await
}

async fn sh(ctx: &PodContext, script: &str) -> Ran {
    run(ctx, &["sh", "-c", script]).await
}

#[tokio::test]
async fn curl_through_a_service_piped_into_grep() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    let r = sh(
        &ctx,
        r#"curl -sS http://httpbin:8000/get | grep -o '"url": "[^"]*"'"#,
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "\"url\": \"http://httpbin:8000/get\"\n");
    assert_eq!(r.stderr, "");
    // Without a scheme, and with the default curl headers.
    let r = run(
        &ctx,
        &[
            "/usr/bin/curl",
            "-s",
            "httpbin.default.svc.cluster.local:8000/headers",
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("curl/8.16.0"), "{}", r.stdout);
    assert!(r.stdout.contains("*/*"), "{}", r.stdout);
    server.abort();
}

#[tokio::test]
async fn curl_write_out_head_include_and_output_file() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    let r = run(
        &ctx,
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}\\n",
            "http://httpbin:8000/status/418",
        ],
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "418\n"), "{r:?}");
    let r = run(&ctx, &["curl", "-sI", "http://httpbin:8000/get"]).await;
    assert!(r.stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{r:?}");
    assert!(!r.stdout.contains("\"url\""), "HEAD has no body: {r:?}");
    let r = run(&ctx, &["curl", "-si", "http://httpbin:8000/ip"]).await;
    assert!(
        r.stdout.starts_with("HTTP/1.1 200 OK\r\n") && r.stdout.contains("\"origin\""),
        "{r:?}"
    );
    // -o writes into the container's files, which a later exec reads.
    let r = run(
        &ctx,
        &[
            "curl",
            "-s",
            "-o",
            "/tmp/get.json",
            "http://httpbin:8000/get",
        ],
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:?}");
    let r = sh(&ctx, "cat /tmp/get.json | grep -c '\"url\"'").await;
    assert_eq!(r.stdout, "1\n", "{r:?}");
    // -f turns an HTTP error into exit 22 with curl's message.
    let r = run(&ctx, &["curl", "-sSf", "http://httpbin:8000/status/503"]).await;
    assert_eq!(r.code, 22);
    assert_eq!(
        r.stderr,
        "curl: (22) The requested URL returned error: 503\n"
    );
    // -d posts a form; -H adds a header; -v shows the exchange on stderr.
    let r = run(
        &ctx,
        &[
            "curl",
            "-sv",
            "-H",
            "X-Lab: one",
            "-d",
            "a=1",
            "http://httpbin:8000/anything",
        ],
    )
    .await;
    assert!(r.stdout.contains("\"a\""), "{r:?}");
    assert!(
        r.stderr.contains("> POST /anything HTTP/1.1\n"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("> X-Lab: one\n"), "{}", r.stderr);
    assert!(r.stderr.contains("< HTTP/1.1 200 OK\n"), "{}", r.stderr);
    server.abort();
}

#[tokio::test]
async fn curl_exit_codes_match_curls() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    // A Service whose endpoint has nothing listening: connection refused.
    let closed = listener(9999).await;
    let dead = closed.local_addr().unwrap();
    drop(closed);
    world.service("dead", "10.96.0.81", 80, dead);
    let ctx = world.pod();

    let r = run(&ctx, &["curl", "-sS", "http://nosuch:8000/"]).await;
    assert_eq!(r.code, 6);
    assert_eq!(r.stderr, "curl: (6) Could not resolve host: nosuch\n");

    let r = run(&ctx, &["curl", "-sS", "http://dead/"]).await;
    assert_eq!(r.code, 7);
    assert!(
        r.stderr
            .starts_with("curl: (7) Failed to connect to dead port 80 after "),
        "{}",
        r.stderr
    );

    let r = run(&ctx, &["curl", "-s", "-w", "%{http_code}", "http://dead/"]).await;
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (7, "000", "")
    );

    let r = run(
        &ctx,
        &["curl", "-sS", "-m", "1", "http://httpbin:8000/delay/3"],
    )
    .await;
    assert_eq!(r.code, 28, "{r:?}");
    assert!(
        r.stderr
            .starts_with("curl: (28) Operation timed out after 1000 milliseconds"),
        "{}",
        r.stderr
    );

    let r = run(&ctx, &["curl", "https://httpbin:8000/"]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("curl: (1) Protocol \"https\" not supported"),
        "{}",
        r.stderr
    );

    let r = run(&ctx, &["curl"]).await;
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "curl: try 'curl --help' or 'curl --manual' for more information\n"
    );
    server.abort();
}

/// A server that reads the request and then closes (`reset`: with a RST) without answering.
async fn rude_server(
    world: &World,
    name: &str,
    cluster_ip: &str,
    reset: bool,
) -> tokio::task::JoinHandle<()> {
    let l = listener(8080).await;
    world.service(name, cluster_ip, 80, l.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            if reset {
                let _ = s.set_zero_linger();
            }
            drop(s);
        }
    })
}

#[tokio::test]
async fn curl_reports_empty_replies_and_resets() {
    let world = World::new();
    let empty = rude_server(&world, "empty", "10.96.0.82", false).await;
    let reset = rude_server(&world, "reset", "10.96.0.83", true).await;
    let ctx = world.pod();
    let r = run(&ctx, &["curl", "-sS", "http://empty/"]).await;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (52, "curl: (52) Empty reply from server\n")
    );
    let r = run(
        &ctx,
        &["curl", "-sS", "-w", "%{http_code}", "http://reset/"],
    )
    .await;
    assert_eq!(r.code, 56, "{r:?}");
    assert_eq!(r.stdout, "000");
    assert_eq!(
        r.stderr,
        "curl: (56) Recv failure: Connection reset by peer\n"
    );
    empty.abort();
    reset.abort();
}

#[tokio::test]
async fn curl_keeps_cookies_in_a_jar_file() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    // httpbin has no cookie endpoint here: a jar file written by hand stands for a login.
    let r = sh(
        &ctx,
        "printf '# Netscape HTTP Cookie File\\n\\nhttpbin\\tFALSE\\t/\\tFALSE\\t0\\tsession\\tjason\\n' > /tmp/jar && curl -s -b /tmp/jar -c /tmp/jar2 http://httpbin:8000/headers | grep -o 'session=jason'",
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "session=jason\n"), "{r:?}");
    let r = run(&ctx, &["cat", "/tmp/jar2"]).await;
    assert!(
        r.stdout
            .contains("httpbin\tFALSE\t/\tFALSE\t0\tsession\tjason"),
        "{r:?}"
    );
    server.abort();
}

#[tokio::test]
async fn unknown_commands_exit_127() {
    let world = World::new();
    let ctx = world.pod();
    let r = run(&ctx, &["nosuchtool", "-x"]).await;
    assert_eq!(r.code, 127);
    assert!(
        r.stderr
            .contains("exec: \"nosuchtool\": executable file not found in $PATH"),
        "{}",
        r.stderr
    );
    let r = sh(&ctx, "nosuchtool; echo after $?").await;
    assert_eq!(r.stderr, "sh: nosuchtool: not found\n");
    assert_eq!(r.stdout, "after 127\n");
    let r = sh(&ctx, "bash -c true").await;
    assert_eq!(r.code, 127);
}

#[tokio::test]
async fn the_shell_language() {
    let world = World::new();
    let ctx = world.pod();
    let cases: &[(&str, &str, i32)] = &[
        (
            "echo \"$GREETING\" '$GREETING'",
            "hello mesh $GREETING\n",
            0,
        ),
        ("X=1; echo ${X} ${Y:-dflt} ${#GREETING}", "1 dflt 10\n", 0),
        ("false; echo $?; true && echo yes || echo no", "1\nyes\n", 0),
        (
            "false || echo fallback; false && echo never",
            "fallback\n",
            1,
        ),
        ("echo $(echo inner | tr 2>/dev/null; echo sub)", "sub\n", 0),
        ("for x in a b c; do echo -n $x; done; echo", "abc\n", 0),
        (
            "i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i",
            "3\n",
            0,
        ),
        (
            "if [ -f /etc/hostname ]; then cat /etc/hostname; else echo none; fi",
            "sleep-7d9f8c-x2x4q\n",
            0,
        ),
        (
            "seq 5 | head -n 2; seq 5 | tail -n 1; seq 10 | wc -l",
            "1\n2\n5\n10\n",
            0,
        ),
        (
            "echo b a c | tr ' ' x 2>/dev/null || echo notr",
            "notr\n",
            0,
        ),
        (
            "printf 'v1\\nv2\\nv1\\n' | sort | uniq -c",
            "      2 v1\n      1 v2\n",
            0,
        ),
        ("echo out; echo err >&2", "out\n", 0),
        ("echo err 2>&1 >&2", "err\n", 0),
        ("exit 3; echo not", "", 3),
        ("export A=exported; env | grep ^A=", "A=exported\n", 0),
        (
            "echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f; grep -v one < /tmp/f",
            "one\ntwo\ntwo\n",
            0,
        ),
        ("echo x > /nonexistent/dir/file", "", 1),
        (
            "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo",
            "default\n",
            0,
        ),
        (
            "grep -q nameserver /etc/resolv.conf && echo resolver",
            "resolver\n",
            0,
        ),
        ("echo 'Hello World' | grep -io 'hello'", "Hello\n", 0),
        ("echo reviews-v2 | grep -E -o 'v[0-9]+'", "v2\n", 0),
        ("echo abc | grep -c x", "0\n", 1),
        ("hostname; printenv HOME", "sleep-7d9f8c-x2x4q\n/root\n", 0),
        ("! false && echo negated", "negated\n", 0),
        ("sleep 0.01 && echo slept", "slept\n", 0),
        ("set -- a b; echo $# $2", "2 b\n", 0),
    ];
    for (script, want, code) in cases {
        let r = sh(&ctx, script).await;
        assert_eq!(
            (r.stdout.as_str(), r.code),
            (*want, *code),
            "script {script:?}: {r:?}"
        );
    }
    let r = sh(&ctx, "echo out; echo err >&2").await;
    assert_eq!(r.stderr, "err\n");
    let r = sh(&ctx, "echo x > /nonexistent/dir/file").await;
    assert_eq!(
        r.stderr,
        "sh: can't create /nonexistent/dir/file: nonexistent directory\n"
    );
    let r = sh(&ctx, "for i in 1 2; do echo $i").await;
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "sh: syntax error: unexpected end of file (expecting \"done\")\n"
    );
    let r = sh(&ctx, "cat /etc/hosts").await;
    assert!(
        r.stdout
            .contains(&format!("{}\tsleep-7d9f8c-x2x4q", ctx.ip)),
        "{r:?}"
    );
    let r = sh(&ctx, "cat /etc/resolv.conf").await;
    assert!(
        r.stdout
            .contains("search default.svc.cluster.local svc.cluster.local cluster.local")
    );
    assert!(r.stdout.contains("nameserver 10.96.0.10") && r.stdout.contains("options ndots:5"));
}

#[tokio::test]
async fn names_resolve_through_the_network() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    let r = run(&ctx, &["nslookup", "httpbin"]).await;
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("Name:\thttpbin.default.svc.cluster.local\nAddress: 10.96.0.80\n"),
        "{r:?}"
    );
    let r = run(&ctx, &["getent", "hosts", "nosuch"]).await;
    assert_eq!(r.code, 2);
    server.abort();
}

#[tokio::test]
async fn sleep_infinity_runs_until_dropped_and_bad_input_is_an_error() {
    let world = World::new();
    let ctx = world.pod();
    let pending = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        run(&ctx, &["/bin/sleep", "infinity"]),
    )
    .await;
    assert!(pending.is_err(), "sleep infinity ended");
    let r = run(&ctx, &["sleep", "soon"]).await;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "sleep: invalid number 'soon'\n")
    );
}

/// Drives a command (`sh`) on a terminal as a person would: each step waits until the screen shows its
/// text (after the previous step's), then types its keys one by one.
pub(crate) async fn converse(ctx: &PodContext, argv: &[&str], steps: &[(&str, &str)]) -> Ran {
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(8);
    let (err_tx, mut err_rx) = mpsc::channel::<Bytes>(8);
    let (in_tx, in_rx) = mpsc::channel::<Bytes>(8);
    let (screen_tx, mut screen) = tokio::sync::watch::channel(String::new());
    let io = Stdio {
        stdin: Some(in_rx),
        stdout: out_tx,
        stderr: err_tx,
        tty: true,
    };
    let steps: Vec<(String, String)> = steps
        .iter()
        .map(|(w, k)| ((*w).to_owned(), (*k).to_owned()))
        .collect();
    let typist = async move {
        let mut seen = 0;
        for (wait, keys) in steps {
            loop {
                let found = screen.borrow()[seen..].find(&wait);
                if let Some(i) = found {
                    seen += i + wait.len();
                    break;
                }
                if screen.changed().await.is_err() {
                    return;
                }
            }
            for b in keys.bytes() {
                if in_tx.send(Bytes::from(vec![b])).await.is_err() {
                    return;
                }
            }
        }
    };
    let watch_screen = async move {
        let mut all = Vec::new();
        while let Some(b) = out_rx.recv().await {
            all.extend_from_slice(&b);
            screen_tx.send_replace(String::from_utf8_lossy(&all).into_owned());
        }
        String::from_utf8_lossy(&all).into_owned()
    };
    let errors = async move {
        let mut all = Vec::new();
        while let Some(b) = err_rx.recv().await {
            all.extend_from_slice(&b);
        }
        String::from_utf8_lossy(&all).into_owned()
    };
    let argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
    let ((code, ()), stdout, stderr) = tokio::join!(
        async { tokio::join!(exec(ctx, &argv, io), typist) },
        watch_screen,
        errors
    );
    Ran {
        code,
        stdout,
        stderr,
    }
}

#[tokio::test]
async fn an_interactive_shell_on_a_terminal() {
    let world = World::new();
    let ctx = world.pod();
    // "hostnamx", backspace, "e", Enter; then "exit 4".
    let r = converse(
        &ctx,
        &["sh"],
        &[("~ $ ", "hostnamx\x7fe\r"), ("~ $ ", "exit 4\r")],
    )
    .await;
    assert_eq!(r.code, 4, "{r:?}");
    assert_eq!(
        r.stdout,
        "~ $ hostnamx\x08 \x08e\r\nsleep-7d9f8c-x2x4q\r\n~ $ exit 4\r\n"
    );
    // A continuation prompt for an open quote; Ctrl-D on an empty line ends the shell.
    let r = converse(
        &ctx,
        &["sh"],
        &[("~ $ ", "echo 'a\r"), ("> ", "b'\r"), ("~ $ ", "\x04")],
    )
    .await;
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "~ $ echo 'a\r\n> b'\r\na\r\nb\r\n~ $ \r\n");
    // Ctrl-C interrupts a running command.
    let r = converse(
        &ctx,
        &["sh"],
        &[
            ("~ $ ", "sleep 1000\r"),
            ("\r\n", "\x03"),
            ("~ $ ", "echo $?\r"),
            ("~ $ ", "exit\r"),
        ],
    )
    .await;
    assert!(
        r.stdout.contains("^C\r\n~ $ echo $?\r\n130\r\n"),
        "{:?}",
        r.stdout
    );
    // Keys typed ahead while a command runs are echoed; Ctrl-C discards them, as a tty does.
    let r = converse(
        &ctx,
        &["sh"],
        &[
            ("~ $ ", "sleep 1000\r"),
            ("\r\n", "exit 6\r"),
            ("exit 6\r\n", "\x03"),
            ("~ $ ", "exit 7\r"),
        ],
    )
    .await;
    assert_eq!(r.code, 7, "{r:?}");
    assert_eq!(r.stdout, "~ $ sleep 1000\r\nexit 6\r\n^C\r\n~ $ exit 7\r\n");
}

#[tokio::test]
async fn commands_read_lines_typed_on_the_terminal() {
    let world = World::new();
    let ctx = world.pod();
    let r = converse(
        &ctx,
        &["sh"],
        &[
            ("~ $ ", "cat\r"),
            ("\r\n", "hello\r"),
            ("hello\r\nhello\r\n", "\x04"),
            ("~ $ ", "exit 0\r"),
        ],
    )
    .await;
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "~ $ cat\r\nhello\r\nhello\r\n~ $ exit 0\r\n");
    let r = converse(
        &ctx,
        &["sh"],
        &[
            ("~ $ ", "read x\r"),
            ("\r\n", "value\r"),
            ("~ $ ", "echo got $x\r"),
            ("~ $ ", "exit\r"),
        ],
    )
    .await;
    assert!(
        r.stdout.contains("~ $ echo got $x\r\ngot value\r\n"),
        "{:?}",
        r.stdout
    );
}

#[tokio::test]
async fn a_piped_script_on_stdin_runs_line_by_line() {
    let world = World::new();
    let ctx = world.pod();
    let r = run_io(
        &ctx,
        &["sh"],
        Some("echo one\nfor i in 1 2\ndo echo $i\ndone\nexit 5\necho never\n"),
        false,
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (5, "one\n1\n2\n"), "{r:?}");
    // Without -i the shell sees no input and ends.
    let r = run(&ctx, &["sh"]).await;
    assert_eq!(r.code, 0);
}

#[tokio::test]
async fn the_curl_image_runs_its_command_and_logs() {
    let world = World::new();
    let mut ctx = world.pod();
    ctx.command = vec![
        "sh".into(),
        "-c".into(),
        "echo started; echo oops >&2; exit 3".into(),
    ];
    let t = run_container(Image::Busybox, ctx.clone()).await;
    assert_eq!(t.exit_code, 3);
    assert_eq!(ctx.log.lines(), ["started", "oops"]);
    // curlimages/curl with no command is curl without a URL: exit 2 and its hint in the log.
    let ctx = PodContext {
        command: Vec::new(),
        log: LogBuffer::default(),
        ..world.pod()
    };
    let t = run_container(Image::Curl, ctx.clone()).await;
    assert_eq!(t.exit_code, 2);
    assert_eq!(
        ctx.log.lines(),
        ["curl: try 'curl --help' or 'curl --manual' for more information"]
    );
    // `sleep infinity` keeps the container running.
    let ctx = world.pod();
    let running = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        run_container(Image::Curl, ctx),
    )
    .await;
    assert!(running.is_err());
    // args only: the entrypoint is curl.
    assert_eq!(
        main_process(Image::Curl, &["-s".into(), "http://x".into()]),
        ["curl", "-s", "http://x"]
    );
}

#[tokio::test]
async fn ctrl_c_on_a_terminal_interrupts_a_command() {
    let world = World::new();
    let ctx = world.pod();
    let r = run_io(&ctx, &["sleep", "1000"], Some("\x03"), true).await;
    assert_eq!(r.code, 130, "{r:?}");
    assert_eq!(r.stdout, "^C\r\n");
    // Without a terminal the key is just a byte of input.
    let r = run_io(&ctx, &["cat"], Some("a\x03b"), false).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "a\x03b"));
}

/// Scripts made of random shell tokens end with a status and clear errors, never a panic.
#[tokio::test]
async fn random_scripts_never_panic() {
    const TOKENS: &[&str] = &[
        "echo", "true", "false", "x", "'", "\"", "$", "(", ")", "|", "&&", "||", ";", ">",
        "/tmp/fz", "<", "2>&1", "$((", "))", "1+", "for", "in", "do", "done", "if", "then", "fi",
        "{", "}", "`", "\\", "\n", "${", "#", "!", "=", "A=1", "$A", "$?", "cat", "grep", "-c",
        "head", "-n", "seq", "3", "wc", "-l", "exit", "export", "&", "set", "--", "*", "~",
    ];
    let world = World::new();
    let ctx = world.pod();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..300 {
        let mut script = String::new();
        for _ in 0..(state % 12) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            script.push_str(TOKENS[usize::try_from(state % TOKENS.len() as u64).unwrap()]);
            script.push(if state.is_multiple_of(3) { ' ' } else { '\t' });
        }
        state = state.wrapping_add(1);
        let ran = tokio::time::timeout(std::time::Duration::from_secs(5), sh(&ctx, &script)).await;
        // A script may wait on input that never comes (`cat`); it must not panic or spin.
        if let Ok(r) = ran {
            assert!((0..=255).contains(&r.code), "{script:?}: {r:?}");
            assert!(!r.stderr.contains("panicked"), "{script:?}: {r:?}");
        }
    }
}

#[tokio::test]
async fn wget_and_curl_retries() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    let r = sh(
        &ctx,
        "wget -qO- http://httpbin:8000/get | grep -c '\"url\"'",
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "1\n"), "{r:?}");
    let r = run(
        &ctx,
        &["wget", "-q", "-O", "-", "http://httpbin:8000/status/404"],
    )
    .await;
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "wget: server returned error: HTTP/1.1 404 Not Found\n"
    );
    let r = run(&ctx, &["wget", "-q", "http://nosuch/"]).await;
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "wget: bad address 'nosuch:80'\n")
    );
    // --retry tries a 503 again, saying so unless silent; the last answer decides.
    let r = run(
        &ctx,
        &[
            "curl",
            "--retry",
            "2",
            "--retry-delay",
            "0",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://httpbin:8000/status/503",
        ],
    )
    .await;
    assert_eq!((r.code, r.stdout.as_str()), (0, "503"), "{r:?}");
    assert_eq!(
        r.stderr
            .matches("Warning: Problem : HTTP error. Will retry in 0 seconds.")
            .count(),
        2,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("2 retries left.") && r.stderr.contains("1 retry left."),
        "{}",
        r.stderr
    );
    server.abort();
}

#[tokio::test]
async fn curl_posts_data_from_stdin() {
    let world = World::new();
    let server = with_httpbin(&world).await;
    let ctx = world.pod();
    let r = sh(
        &ctx,
        r#"echo 'name=jason' | curl -s -d @- http://httpbin:8000/anything | grep -o '"data": "[^"]*"'"#,
    )
    .await;
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "\"data\": \"name=jason\"\n"),
        "{r:?}"
    );
    server.abort();
}

#[tokio::test]
async fn a_piped_script_shares_its_input_with_its_commands() {
    let world = World::new();
    let ctx = world.pod();
    let r = run_io(
        &ctx,
        &["sh"],
        Some("read name\njason\necho hello $name\ncat\nrest of\nthe input\n"),
        false,
    )
    .await;
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "hello jason\nrest of\nthe input\n"),
        "{r:?}"
    );
}
