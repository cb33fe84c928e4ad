//! `mtls_matrix` checks: the probe of Istio's mutual TLS migration task. From a client pod in
//! each client namespace to the server in each server namespace, run the task's command
//! (`curl URL -s -o /dev/null -w "%{http_code}"`) through the target's `pods/exec`, and compare
//! the status codes with an expected matrix.
//!
//! The message prints the matrix as the task prints it (`curl.foo to httpbin.bar: 200`), marks
//! each cell that differs with what was expected, and explains the usual causes (a client
//! without a sidecar under STRICT, a policy not reaching the sidecars yet, an authorization
//! policy, a missing Service).

use std::collections::BTreeMap;
use std::fmt;

use futures::stream::{self, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde::Deserialize;

use super::envoy_stat::PROXY_CONTAINER;
use super::{Context, Finding};
use crate::course::PodRef;
use crate::target::exec::{self, ExecError, ExecOutput, PodExec};

/// The server URL when the check names none: Istio's httpbin sample on port 8000.
pub const DEFAULT_URL: &str = "http://httpbin.{server}:8000/ip";

/// The client pods when the check names none: Istio's curl sample.
pub const DEFAULT_CLIENT: &str = "app=curl";

/// `mtls_matrix:` as written in `lab.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMtlsMatrixCheck {
    /// Namespaces the requests are sent from (`[foo, bar, legacy]`).
    pub clients: Vec<String>,
    /// Namespaces of the servers (`[foo, bar]`), put into the URL as `{server}`.
    pub servers: Vec<String>,
    /// Label selector of the client pod in each client namespace (default `app=curl`).
    #[serde(default)]
    pub client: Option<String>,
    /// The client's container (default: the pod's first).
    #[serde(default)]
    pub container: Option<String>,
    /// The URL, with `{server}` for the server namespace (default `http://httpbin.{server}:8000/ip`).
    #[serde(default)]
    pub url: Option<String>,
    /// `default:` (200 unless written) and cells `CLIENT to SERVER: CODE` (`legacy to foo: "000"`).
    #[serde(default)]
    pub expect: BTreeMap<String, serde_yaml::Value>,
}

/// What one cell must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellExpect {
    /// This HTTP status.
    Status(u16),
    /// No HTTP response: curl prints `000` (and exits with an error).
    NoResponse,
}

impl CellExpect {
    /// Parses `200`, `403`, `"000"`, `0` or `fail`.
    pub fn parse(value: &serde_yaml::Value) -> Result<Self, String> {
        let text = match value {
            serde_yaml::Value::Number(n) => n.to_string(),
            serde_yaml::Value::String(s) => s.trim().to_string(),
            _ => String::new(),
        };
        if text == "fail" || text.chars().all(|c| c == '0') && !text.is_empty() {
            return Ok(Self::NoResponse);
        }
        match text.parse::<u16>() {
            Ok(code) if (100..600).contains(&code) => Ok(Self::Status(code)),
            _ => Err(format!(
                "`{}` is not a cell's expectation: write an HTTP status (200, 403, 503) or \"000\" \
                 (or fail) for no response",
                if text.is_empty() {
                    format!("{value:?}")
                } else {
                    text
                }
            )),
        }
    }

    fn holds(self, seen: &CellResult) -> bool {
        match self {
            Self::Status(code) => seen.status == Some(code),
            Self::NoResponse => seen.status.is_none(),
        }
    }
}

impl fmt::Display for CellExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(code) => write!(f, "{code}"),
            Self::NoResponse => f.write_str("000"),
        }
    }
}

/// `mtls_matrix:` — the request matrix of Istio's mTLS migration task.
#[derive(Debug, Clone)]
pub struct MtlsMatrixCheck {
    /// Client namespaces, in the order rows are printed.
    pub clients: Vec<String>,
    /// Server namespaces, in the order columns are tried.
    pub servers: Vec<String>,
    /// Label selector of the client pod in each client namespace.
    pub client: String,
    /// The client's container, when named.
    pub container: Option<String>,
    /// The URL, with `{server}` standing for the server namespace.
    pub url: String,
    /// What a cell shows unless listed in `cells`.
    pub default: CellExpect,
    /// Cells that differ from the default: (client, server) → expectation.
    pub cells: BTreeMap<(String, String), CellExpect>,
}

impl MtlsMatrixCheck {
    /// Validates the raw check; each problem is (sub-field such as `.expect`, what to write).
    pub fn from_raw(raw: &RawMtlsMatrixCheck) -> Result<Self, Vec<(String, String)>> {
        let mut problems: Vec<(String, String)> = Vec::new();
        let names = |list: &[String], field: &str, problems: &mut Vec<(String, String)>| {
            let cleaned: Vec<String> = list.iter().map(|n| n.trim().to_string()).collect();
            if cleaned.is_empty() {
                problems.push((
                    field.to_string(),
                    "list at least one namespace, e.g. [foo, bar]".to_string(),
                ));
            }
            for (i, n) in cleaned.iter().enumerate() {
                if n.is_empty() || n.contains(char::is_whitespace) || n.contains('/') {
                    problems.push((
                        format!("{field}[{i}]"),
                        format!("`{n}` is not a namespace name"),
                    ));
                } else if cleaned[..i].contains(n) {
                    problems.push((format!("{field}[{i}]"), format!("{n} is listed twice")));
                }
            }
            cleaned
        };
        let clients = names(&raw.clients, ".clients", &mut problems);
        let servers = names(&raw.servers, ".servers", &mut problems);
        let client = raw
            .client
            .as_deref()
            .map_or(DEFAULT_CLIENT, str::trim)
            .to_string();
        let as_ref = PodRef {
            pod: client.clone(),
            namespace: None,
            container: None,
        };
        if !as_ref.is_selector() {
            problems.push((
                ".client".to_string(),
                format!(
                    "`{client}` is not a label selector: the client pod is chosen in each client \
                     namespace by its labels, e.g. app=curl"
                ),
            ));
        }
        let url = raw
            .url
            .as_deref()
            .map_or(DEFAULT_URL, str::trim)
            .to_string();
        if !url.contains("{server}") {
            problems.push((
                ".url".to_string(),
                format!(
                    "`{url}` does not contain {{server}}, where each server namespace goes \
                     (e.g. http://httpbin.{{server}}:8000/ip)"
                ),
            ));
        } else if !url.starts_with("http://") && !url.starts_with("https://") {
            problems.push((
                ".url".to_string(),
                format!("`{url}` is not an http:// or https:// URL"),
            ));
        }
        let mut default = CellExpect::Status(200);
        let mut cells = BTreeMap::new();
        for (key, value) in &raw.expect {
            let parsed = match CellExpect::parse(value) {
                Ok(e) => e,
                Err(e) => {
                    problems.push((format!(".expect.{key}"), e));
                    continue;
                }
            };
            if key.trim() == "default" {
                default = parsed;
                continue;
            }
            match parse_cell(key) {
                Some((from, to)) if clients.contains(&from) && servers.contains(&to) => {
                    cells.insert((from, to), parsed);
                }
                Some((from, to)) => problems.push((
                    format!(".expect.{key}"),
                    format!(
                        "the matrix has no cell {from} to {to}: clients are {}, servers are {}",
                        clients.join(", "),
                        servers.join(", ")
                    ),
                )),
                None => problems.push((
                    format!(".expect.{key}"),
                    "write `default` or a cell as `CLIENT to SERVER` (e.g. legacy to foo: \"000\")"
                        .to_string(),
                )),
            }
        }
        if problems.is_empty() {
            Ok(Self {
                clients,
                servers,
                client,
                container: raw
                    .container
                    .as_deref()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
                url,
                default,
                cells,
            })
        } else {
            Err(problems)
        }
    }

    /// What the cell from `client` to `server` must show.
    pub fn expected(&self, client: &str, server: &str) -> CellExpect {
        self.cells
            .get(&(client.to_string(), server.to_string()))
            .copied()
            .unwrap_or(self.default)
    }

    /// The URL of the server in `server`.
    pub fn url_for(&self, server: &str) -> String {
        self.url.replace("{server}", server)
    }

    /// The client's name as the task prints it: the selector's first `key=value`'s value
    /// (`curl`), or `client` when it has none.
    pub fn client_name(&self) -> &str {
        self.client
            .split(',')
            .filter(|t| !t.contains("!="))
            .find_map(|t| t.split_once('='))
            .map_or("client", |(_, v)| v.trim_start_matches('=').trim())
    }

    /// The server's name as the task prints it: the URL's host (`httpbin.bar`).
    pub fn server_name(&self, server: &str) -> String {
        let url = self.url_for(server);
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let host = rest.split(['/', '?']).next().unwrap_or(rest);
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h)
            .to_string()
    }

    /// The command run in each client: the task's, with the server's URL.
    pub fn command(&self, server: &str) -> Vec<String> {
        [
            "curl",
            &self.url_for(server),
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ]
        .map(str::to_string)
        .to_vec()
    }
}

/// `legacy to foo`, `legacy -> foo`, `legacy→foo` → (legacy, foo).
fn parse_cell(key: &str) -> Option<(String, String)> {
    let key = key.trim();
    let (from, to) = key
        .split_once(" to ")
        .or_else(|| key.split_once("->"))
        .or_else(|| key.split_once('→'))?;
    let (from, to) = (from.trim(), to.trim());
    (!from.is_empty() && !to.is_empty()).then(|| (from.to_string(), to.to_string()))
}

/// What one cell showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellResult {
    /// The client namespace.
    pub client: String,
    /// The server namespace.
    pub server: String,
    /// The HTTP status; `None` for `000` (no response).
    pub status: Option<u16>,
    /// curl's exit code.
    pub exit_code: i32,
    /// What curl (or the exec) said on standard error.
    pub stderr: String,
    /// Whether the client pod has an istio-proxy sidecar.
    pub client_sidecar: bool,
}

impl CellResult {
    /// Reads what the task's command printed (`200`, or `000` with an exit code).
    pub fn from_output(client: &str, server: &str, output: &ExecOutput, sidecar: bool) -> Self {
        let printed = output.stdout.trim();
        let status = printed
            .get(printed.len().saturating_sub(3)..)
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| *c != 0);
        Self {
            client: client.to_string(),
            server: server.to_string(),
            status,
            exit_code: output.exit_code,
            stderr: output.stderr.trim().to_string(),
            client_sidecar: sidecar,
        }
    }

    fn shown(&self) -> String {
        match self.status {
            Some(code) => code.to_string(),
            None => "000".to_string(),
        }
    }
}

/// Evaluates an `mtls_matrix` check.
pub async fn evaluate(ctx: &Context, check: &MtlsMatrixCheck) -> Finding {
    let client = match ctx.target.client() {
        Ok(c) => c,
        Err(e) => return Finding::error(e.to_string()),
    };
    // Each client namespace's pod and whether it has a sidecar, or why it cannot send.
    let mut jobs: Vec<(String, String, PodExec, bool)> = Vec::new();
    let mut missing = Vec::new();
    for ns in &check.clients {
        let pod = PodRef {
            pod: check.client.clone(),
            namespace: Some(ns.clone()),
            container: check.container.clone(),
        };
        let mut runner = match exec::resolve(client, &pod).await {
            Ok(runner) => runner,
            Err(ExecError::NoPod(why)) => {
                missing.push(why);
                continue;
            }
            Err(ExecError::Api(why)) => return Finding::error(why),
        };
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let sidecar = match pods.get(&runner.pod).await {
            Ok(p) => {
                let names: Vec<&str> = p
                    .spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .map(|c| c.name.as_str())
                    .collect();
                // Without a container named, use the one kubectl would: the pod's
                // default-container annotation (Istio's injector sets it to the app), else the
                // first; a live API server refuses an exec into a two-container pod otherwise.
                if runner.container.is_none() {
                    runner.container = p
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
                        .filter(|c| names.contains(&c.as_str()))
                        .cloned()
                        .or_else(|| names.first().map(|c| (*c).to_string()));
                }
                names.contains(&PROXY_CONTAINER)
            }
            Err(e) => {
                return Finding::error(format!(
                    "cannot read pod {} in {ns}: {}",
                    runner.pod,
                    crate::target::status::explain(&e)
                ));
            }
        };
        for server in &check.servers {
            jobs.push((ns.clone(), server.clone(), runner.clone(), sidecar));
        }
    }
    if !missing.is_empty() {
        return Finding::fail(format!(
            "the matrix needs a client pod ({}) in every client namespace: {} — deploy the \
             client there (e.g. kubectl apply -n NAMESPACE -f samples/curl/curl.yaml) and wait \
             until it is Running",
            check.client,
            missing.join("; ")
        ));
    }
    let results: Vec<Result<CellResult, String>> = stream::iter(jobs)
        .map(|(from, to, runner, sidecar)| async move {
            let argv = check.command(&to);
            match runner.run(&argv).await {
                Ok(output) => Ok(CellResult::from_output(&from, &to, &output, sidecar)),
                Err(e) => Err(e.to_string()),
            }
        })
        .buffered(4)
        .collect()
        .await;
    let mut cells = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(c) => cells.push(c),
            Err(why) => return Finding::error(why),
        }
    }
    judge(check, &cells)
}

/// Judges the cells (in client-major order) against the expected matrix.
pub fn judge(check: &MtlsMatrixCheck, cells: &[CellResult]) -> Finding {
    let client_name = check.client_name();
    let mut lines = Vec::with_capacity(cells.len());
    let mut differing = Vec::new();
    let mut hints: Vec<String> = Vec::new();
    for cell in cells {
        let want = check.expected(&cell.client, &cell.server);
        let mut line = format!(
            "{client_name}.{} to {}: {}",
            cell.client,
            check.server_name(&cell.server),
            cell.shown()
        );
        if !want.holds(cell) {
            line.push_str(&format!("   ✗ expected {want}"));
            if cell.status.is_none() && cell.exit_code != 0 {
                line.push_str(&format!(
                    " (command terminated with exit code {})",
                    cell.exit_code
                ));
            }
            differing.push(cell);
            let hint = hint(check, cell, want);
            if !hints.contains(&hint) {
                hints.push(hint);
            }
        }
        lines.push(line);
    }
    let size = format!(
        "{} client{} × {} server{}",
        check.clients.len(),
        if check.clients.len() == 1 { "" } else { "s" },
        check.servers.len(),
        if check.servers.len() == 1 { "" } else { "s" },
    );
    if differing.is_empty() {
        Finding::pass(format!(
            "the request matrix ({size}) is as expected:\n{}",
            lines.join("\n")
        ))
    } else {
        Finding::fail(format!(
            "{} of {} cells of the request matrix ({size}) differ from what is expected:\n{}\n{}",
            differing.len(),
            cells.len(),
            lines.join("\n"),
            hints.join("\n")
        ))
    }
}

/// Why a cell shows what it shows, and what to do.
fn hint(check: &MtlsMatrixCheck, cell: &CellResult, want: CellExpect) -> String {
    let from = format!("{}.{}", check.client_name(), cell.client);
    let to = check.server_name(&cell.server);
    match (cell.status, want) {
        (None, _) if cell.exit_code == 127 => format!(
            "{from} could not run curl (exit code 127): name the container that has curl with \
             `container:`, or choose client pods that have one (Istio's curl sample)"
        ),
        (None, _) if cell.exit_code == 6 => format!(
            "{from} could not resolve {to}: is there a Service for it in namespace {} \
             (kubectl get svc -n {})?",
            cell.server, cell.server
        ),
        (None, CellExpect::Status(_)) if !cell.client_sidecar => format!(
            "{from} has no sidecar, so it cannot present a certificate; STRICT refuses \
             plaintext: a PeerAuthentication with mtls.mode STRICT applies to {to} (kubectl get \
             peerauthentication -A). Inject the client, or use PERMISSIVE while clients migrate."
        ),
        (None, CellExpect::Status(_)) => format!(
            "{from} got no response from {to} (curl exit code {}{}): is the server running \
             and ready in {} (kubectl get pods -n {})?",
            cell.exit_code,
            if cell.stderr.is_empty() {
                String::new()
            } else {
                format!(": {}", super::expect::excerpt(&cell.stderr, 100, ""))
            },
            cell.server,
            cell.server
        ),
        (Some(_), CellExpect::NoResponse) if !cell.client_sidecar => format!(
            "{to} still accepts plaintext from {from}, which has no sidecar: no STRICT \
             PeerAuthentication applies to it yet — apply one with mtls.mode STRICT in namespace \
             {} (or in istio-system for the whole mesh); it takes a few seconds to reach the \
             sidecars, so check again",
            cell.server
        ),
        (Some(_), CellExpect::NoResponse) => format!(
            "{from} has a sidecar, which speaks mutual TLS, so STRICT does not refuse it: only \
             clients without a sidecar get 000"
        ),
        (Some(403), _) => format!(
            "{to} refused {from} with 403: an AuthorizationPolicy denies it (kubectl get \
             authorizationpolicy -n {})",
            cell.server
        ),
        (Some(503), _) if cell.client_sidecar => format!(
            "{from}'s sidecar got 503 from {to}: a DestinationRule with tls.mode DISABLE makes \
             it send plaintext, which a STRICT server refuses (kubectl get destinationrule -A)"
        ),
        (Some(seen), want) => {
            format!("{from} got {seen} from {to} where {want} was expected")
        }
        (None, CellExpect::NoResponse) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;

    fn raw(yaml: &str) -> RawMtlsMatrixCheck {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn task() -> MtlsMatrixCheck {
        MtlsMatrixCheck::from_raw(&raw("clients: [foo, bar, legacy]\nservers: [foo, bar]\n"))
            .unwrap()
    }

    fn cell(from: &str, to: &str, code: &str, exit: i32, sidecar: bool) -> CellResult {
        CellResult::from_output(
            from,
            to,
            &ExecOutput {
                stdout: code.into(),
                stderr: if exit == 0 {
                    String::new()
                } else {
                    format!("command terminated with exit code {exit}")
                },
                exit_code: exit,
            },
            sidecar,
        )
    }

    fn strict_foo() -> Vec<CellResult> {
        vec![
            cell("foo", "foo", "200", 0, true),
            cell("foo", "bar", "200", 0, true),
            cell("bar", "foo", "200", 0, true),
            cell("bar", "bar", "200", 0, true),
            cell("legacy", "foo", "000", 56, false),
            cell("legacy", "bar", "200", 0, false),
        ]
    }

    #[test]
    fn defaults_are_the_tasks() {
        let c = task();
        assert_eq!(c.client, "app=curl");
        assert_eq!(c.default, CellExpect::Status(200));
        assert_eq!(c.url_for("bar"), "http://httpbin.bar:8000/ip");
        assert_eq!(c.server_name("bar"), "httpbin.bar");
        assert_eq!(c.client_name(), "curl");
        assert_eq!(
            c.command("foo"),
            [
                "curl",
                "http://httpbin.foo:8000/ip",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}"
            ]
        );
    }

    #[test]
    fn cells_are_read_in_several_spellings() {
        let c = MtlsMatrixCheck::from_raw(&raw(
            "clients: [foo, legacy]\nservers: [foo, bar]\nexpect:\n  default: 200\n  \
             legacy to foo: \"000\"\n  legacy -> bar: fail\n  foo→bar: 403\n",
        ))
        .unwrap();
        assert_eq!(c.expected("legacy", "foo"), CellExpect::NoResponse);
        assert_eq!(c.expected("legacy", "bar"), CellExpect::NoResponse);
        assert_eq!(c.expected("foo", "bar"), CellExpect::Status(403));
        assert_eq!(c.expected("foo", "foo"), CellExpect::Status(200));
        // Unquoted 000 is the number 0 in YAML: still "no response".
        let c = MtlsMatrixCheck::from_raw(&raw(
            "clients: [legacy]\nservers: [foo]\nexpect:\n  legacy to foo: 000\n",
        ))
        .unwrap();
        assert_eq!(c.expected("legacy", "foo"), CellExpect::NoResponse);
    }

    #[test]
    fn mistakes_name_the_field_and_what_to_write() {
        let problems = MtlsMatrixCheck::from_raw(&raw(
            "clients: []\nservers: [foo, foo]\nclient: curl\nurl: http://httpbin:8000/ip\n\
             expect:\n  default: ok\n  legacy to baz: 200\n  legacy: 200\n",
        ))
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                ".clients",
                ".servers[1]",
                ".client",
                ".url",
                ".expect.default",
                ".expect.legacy",
                ".expect.legacy to baz"
            ]
        );
        assert!(problems[4].1.contains("\"000\""), "{}", problems[4].1);
        assert!(
            problems[6].1.contains("no cell legacy to baz"),
            "{}",
            problems[6].1
        );
    }

    #[test]
    fn an_all_200_matrix_is_printed_as_the_task_prints_it() {
        let cells: Vec<CellResult> = ["foo", "bar", "legacy"]
            .iter()
            .flat_map(|f| {
                ["foo", "bar"]
                    .iter()
                    .map(move |t| cell(f, t, "200", 0, *f != "legacy"))
            })
            .collect();
        let f = judge(&task(), &cells);
        assert_eq!(f.outcome, Outcome::Pass);
        assert_eq!(
            f.message,
            "the request matrix (3 clients × 2 servers) is as expected:\n\
             curl.foo to httpbin.foo: 200\n\
             curl.foo to httpbin.bar: 200\n\
             curl.bar to httpbin.foo: 200\n\
             curl.bar to httpbin.bar: 200\n\
             curl.legacy to httpbin.foo: 200\n\
             curl.legacy to httpbin.bar: 200"
        );
    }

    #[test]
    fn strict_in_foo_fails_an_all_200_expectation_at_the_legacy_cell() {
        let f = judge(&task(), &strict_foo());
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "1 of 6 cells of the request matrix (3 clients × 2 servers) differ from what is expected:\n\
             curl.foo to httpbin.foo: 200\n\
             curl.foo to httpbin.bar: 200\n\
             curl.bar to httpbin.foo: 200\n\
             curl.bar to httpbin.bar: 200\n\
             curl.legacy to httpbin.foo: 000   ✗ expected 200 (command terminated with exit code 56)\n\
             curl.legacy to httpbin.bar: 200\n\
             curl.legacy has no sidecar, so it cannot present a certificate; STRICT refuses \
             plaintext: a PeerAuthentication with mtls.mode STRICT applies to httpbin.foo \
             (kubectl get peerauthentication -A). Inject the client, or use PERMISSIVE while \
             clients migrate."
        );
        let mut expecting = task();
        expecting
            .cells
            .insert(("legacy".into(), "foo".into()), CellExpect::NoResponse);
        let f = judge(&expecting, &strict_foo());
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
        assert!(f.message.contains("curl.legacy to httpbin.foo: 000\n"));
    }

    #[test]
    fn a_policy_not_yet_applied_says_plaintext_is_still_accepted() {
        let mut c = task();
        c.cells
            .insert(("legacy".into(), "foo".into()), CellExpect::NoResponse);
        let mut cells = strict_foo();
        cells[4] = cell("legacy", "foo", "200", 0, false);
        let f = judge(&c, &cells);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message
                .contains("curl.legacy to httpbin.foo: 200   ✗ expected 000\n"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains(
                "httpbin.foo still accepts plaintext from curl.legacy, which has no sidecar"
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn other_causes_are_told_apart() {
        let c = task();
        let mut cells = strict_foo();
        cells[4] = cell("legacy", "foo", "200", 0, false);
        cells[0] = cell("foo", "foo", "403", 0, true);
        cells[1] = cell("foo", "bar", "000", 6, true);
        cells[2] = cell("bar", "foo", "503", 0, true);
        let f = judge(&c, &cells);
        assert!(f.message.starts_with("3 of 6 cells"), "{}", f.message);
        for part in [
            "an AuthorizationPolicy denies it",
            "curl.foo could not resolve httpbin.bar",
            "tls.mode DISABLE",
        ] {
            assert!(f.message.contains(part), "{part:?} in {}", f.message);
        }
    }

    #[test]
    fn clients_are_named_after_their_selector() {
        let named = |selector: &str| {
            let mut c = task();
            c.client = selector.into();
            c.client_name().to_string()
        };
        assert_eq!(named("app=curl"), "curl");
        assert_eq!(named("version!=v2,app==sleep"), "sleep");
        assert_eq!(named("app in (curl, sleep)"), "client");
        let f = judge(&task(), &[cell("foo", "foo", "", 127, true)]);
        assert!(
            f.message
                .contains("curl.foo could not run curl (exit code 127)"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_custom_client_and_url_are_named_in_the_matrix() {
        let c = MtlsMatrixCheck::from_raw(&raw(
            "clients: [foo]\nservers: [bar]\nclient: app=sleep\ncontainer: sleep\n\
             url: \"http://helloworld.{server}.svc.cluster.local:5000/hello\"\n",
        ))
        .unwrap();
        let f = judge(&c, &[cell("foo", "bar", "200", 0, true)]);
        assert_eq!(
            f.message,
            "the request matrix (1 client × 1 server) is as expected:\n\
             sleep.foo to helloworld.bar.svc.cluster.local: 200"
        );
    }
}
