//! `envoy_stat` checks: one statistic of a workload's sidecar, read as
//! `kubectl exec POD -c istio-proxy -- pilot-agent request GET stats` reads it (through the
//! target's `pods/exec`, so it works on a live cluster and on the reference mesh alike), compared
//! with a number (`> 0`, `>= 3`, `== 0`, `< 5`).
//!
//! A stat is named exactly (`cluster.outbound|8000||httpbin.default.svc.cluster.local.
//! upstream_rq_pending_overflow`) or by a regular expression (`pattern:`), whose matching stats
//! are added up. When the pod has no sidecar, or the stat is not there, the message says so and
//! lists the stats whose names come closest.

use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde::Deserialize;

use super::{Context, Finding};
use crate::course::PodRef;
use crate::target::exec::{self, ExecError};

/// The container Istio's sidecar (and a gateway's proxy) runs in.
pub const PROXY_CONTAINER: &str = "istio-proxy";

/// The command that prints the sidecar's Envoy stats.
pub const STATS_COMMAND: [&str; 4] = ["pilot-agent", "request", "GET", "stats"];

/// `envoy_stat:` as written in `lab.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvoyStatCheck {
    /// Pod name or label selector (`app=fortio`).
    pub pod: String,
    /// Namespace (default: the target's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The stat's exact name.
    #[serde(default)]
    pub stat: Option<String>,
    /// A regular expression; the matching stats are added up.
    #[serde(default)]
    pub pattern: Option<String>,
    /// `> 0`, `>= N`, `== N`, `<= N` or `< N`.
    pub expect: serde_yaml::Value,
}

/// Which stat to read.
#[derive(Debug, Clone)]
pub enum StatName {
    /// Exactly this name.
    Exact(String),
    /// Every stat whose name matches; their values are added up.
    Pattern(regex::Regex),
}

impl fmt::Display for StatName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatName::Exact(name) => f.write_str(name),
            StatName::Pattern(re) => write!(f, "/{}/", re.as_str()),
        }
    }
}

/// A comparison operator of an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Greater,
    /// `>=`
    AtLeast,
    /// `==`
    Equal,
    /// `<=`
    AtMost,
    /// `<`
    Less,
}

/// What the stat's value must be: `> 0`, `== 3` …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// The operator.
    pub op: Op,
    /// The number compared with.
    pub value: u64,
}

impl Comparison {
    /// Parses `> 0`, `>= 3`, `== 0`, `<= 10`, `< 5` (a bare number means `==`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (op, rest) = [
            (">=", Op::AtLeast),
            ("<=", Op::AtMost),
            ("==", Op::Equal),
            (">", Op::Greater),
            ("<", Op::Less),
            ("=", Op::Equal),
        ]
        .iter()
        .find_map(|(sym, op)| t.strip_prefix(sym).map(|rest| (*op, rest)))
        .unwrap_or((Op::Equal, t));
        let value = rest.trim().parse::<u64>().map_err(|_| {
            format!(
                "`{text}` is not an expectation: write an operator and a whole number, \
                 e.g. \"> 0\", \">= 3\", \"== 0\", \"< 5\""
            )
        })?;
        if op == Op::Less && value == 0 {
            return Err(format!(
                "`{text}` can never hold: a stat is never below 0 (write \"== 0\")"
            ));
        }
        Ok(Self { op, value })
    }

    /// Whether `value` meets it.
    pub fn holds(&self, value: u64) -> bool {
        match self.op {
            Op::Greater => value > self.value,
            Op::AtLeast => value >= self.value,
            Op::Equal => value == self.value,
            Op::AtMost => value <= self.value,
            Op::Less => value < self.value,
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Greater => ">",
            Op::AtLeast => ">=",
            Op::Equal => "==",
            Op::AtMost => "<=",
            Op::Less => "<",
        };
        write!(f, "{op} {}", self.value)
    }
}

/// `envoy_stat:` — a stat of a pod's sidecar compared with a number.
#[derive(Debug, Clone)]
pub struct EnvoyStatCheck {
    /// The pod (its `istio-proxy` container is read).
    pub pod: PodRef,
    /// The stat.
    pub stat: StatName,
    /// What its value must be.
    pub expect: Comparison,
}

impl EnvoyStatCheck {
    /// Validates the raw check; each problem is (sub-field such as `.expect`, what to write).
    pub fn from_raw(raw: &RawEnvoyStatCheck) -> Result<Self, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        if raw.pod.trim().is_empty() {
            problems.push((
                ".pod",
                "name a pod, or select one by labels (e.g. app=fortio)".to_string(),
            ));
        }
        let stat = match (&raw.stat, &raw.pattern) {
            (Some(name), None) if !name.trim().is_empty() => {
                Some(StatName::Exact(name.trim().to_string()))
            }
            (Some(_), None) => {
                problems.push((".stat", "must not be empty".to_string()));
                None
            }
            (None, Some(pattern)) => match regex::Regex::new(pattern) {
                Ok(re) => Some(StatName::Pattern(re)),
                Err(e) => {
                    problems.push((".pattern", format!("not a regular expression: {e}")));
                    None
                }
            },
            (Some(_), Some(_)) => {
                problems.push((
                    "",
                    "write either `stat:` (an exact name) or `pattern:` (a regular expression), not both"
                        .to_string(),
                ));
                None
            }
            (None, None) => {
                problems.push((
                    "",
                    "an envoy_stat check needs `stat:` (e.g. cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow) or `pattern:`"
                        .to_string(),
                ));
                None
            }
        };
        let expect_text = match &raw.expect {
            serde_yaml::Value::String(s) => s.clone(),
            serde_yaml::Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let expect = match Comparison::parse(&expect_text) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push((".expect", e));
                None
            }
        };
        match (stat, expect) {
            (Some(stat), Some(expect)) if problems.is_empty() => Ok(Self {
                pod: PodRef {
                    pod: raw.pod.trim().to_string(),
                    namespace: raw.namespace.clone(),
                    container: Some(PROXY_CONTAINER.to_string()),
                },
                stat,
                expect,
            }),
            _ => Err(problems),
        }
    }
}

/// The counters and gauges of Envoy's `/stats` text (`name: value` lines); histograms, whose
/// values are not a number, are left out.
pub fn parse_stats(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(": ")?;
            Some((name.trim().to_string(), value.trim().parse::<u64>().ok()?))
        })
        .collect()
}

/// Evaluates an `envoy_stat` check.
pub async fn evaluate(ctx: &Context, check: &EnvoyStatCheck) -> Finding {
    match run_in_sidecar(ctx, &check.pod, &STATS_COMMAND, "Envoy stats").await {
        Ok((place, stdout)) => judge(check, &place, &stdout),
        Err(finding) => finding,
    }
}

/// Runs `command` (e.g. `pilot-agent request GET stats`) in the istio-proxy container of the
/// pod `pod` names, as `kubectl exec … -c istio-proxy -- COMMAND` does: its output and where it
/// ran (`fortio-… (default)`). A missing pod, a pod without a sidecar (which therefore has no
/// `lacks`, e.g. "Envoy stats") and a failing command are findings that say what to do.
pub(crate) async fn run_in_sidecar(
    ctx: &Context,
    pod: &PodRef,
    command: &[&str],
    lacks: &str,
) -> Result<(String, String), Finding> {
    let client = ctx
        .target
        .client()
        .map_err(|e| Finding::error(e.to_string()))?;
    // Find the pod first without the container, to tell "no sidecar" apart from "no pod".
    let any_container = PodRef {
        container: None,
        ..pod.clone()
    };
    let mut runner = match exec::resolve(client, &any_container).await {
        Ok(r) => r,
        Err(ExecError::NoPod(why)) => return Err(Finding::fail(why)),
        Err(ExecError::Api(why)) => return Err(Finding::error(why)),
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), &runner.namespace);
    let containers: Vec<String> = match pods.get(&runner.pod).await {
        Ok(found) => found
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .map(|c| c.name.clone())
            .collect(),
        Err(e) => {
            return Err(Finding::error(format!(
                "cannot read pod {} in {}: {}",
                runner.pod,
                runner.namespace,
                crate::target::status::explain(&e)
            )));
        }
    };
    if !containers.iter().any(|c| c == PROXY_CONTAINER) {
        return Err(Finding::fail(no_sidecar(
            &runner.pod,
            &runner.namespace,
            &containers,
            lacks,
        )));
    }
    runner.container = Some(PROXY_CONTAINER.to_string());
    let argv: Vec<String> = command.iter().map(ToString::to_string).collect();
    let output = match runner.run(&argv).await {
        Ok(o) => o,
        Err(ExecError::NoPod(why) | ExecError::Api(why)) => return Err(Finding::error(why)),
    };
    let place = format!("{} ({})", runner.pod, runner.namespace);
    if output.exit_code != 0 {
        return Err(Finding::fail(format!(
            "`{}` in the istio-proxy container of {place} exited with code {}: {} — is the \
             sidecar running and ready (kubectl get pod {} -n {})?",
            command.join(" "),
            output.exit_code,
            super::expect::excerpt(&output.stderr, 160, "no error output"),
            runner.pod,
            runner.namespace,
        )));
    }
    Ok((place, output.stdout))
}

/// The failure for a pod without a sidecar, which therefore has no `lacks` (e.g. "Envoy
/// stats").
pub fn no_sidecar(pod: &str, namespace: &str, containers: &[String], lacks: &str) -> String {
    format!(
        "pod {pod} in {namespace} has no istio-proxy sidecar (its containers: {}), so it has no \
         {lacks}: label the namespace for injection (kubectl label namespace {namespace} \
         istio-injection=enabled) and recreate the pod (kubectl rollout restart deployment …), \
         or inject it with istioctl kube-inject",
        containers.join(", ")
    )
}

/// Judges the stats text a sidecar printed; `place` names the pod (`fortio-… (default)`).
pub fn judge(check: &EnvoyStatCheck, place: &str, stats: &str) -> Finding {
    let all = parse_stats(stats);
    match &check.stat {
        StatName::Exact(name) => {
            let Some((_, value)) = all.iter().find(|(n, _)| n == name) else {
                let close = close_matches(name, all.iter().map(|(n, _)| n.as_str()), 5);
                let mut text = format!(
                    "no stat named {name} on {place} (its sidecar reports {} stats)",
                    all.len()
                );
                if close.is_empty() {
                    text.push_str(
                        "; is the name right, and has the sidecar received the configuration \
                         that creates it (kubectl apply the DestinationRule or VirtualService)?",
                    );
                } else {
                    text.push_str(&format!("; the closest are: {}", close.join(", ")));
                }
                return Finding::fail(text);
            };
            let text = format!("{name} = {value} on {place}, expected {}", check.expect);
            if check.expect.holds(*value) {
                Finding::pass(text)
            } else {
                Finding::fail(text)
            }
        }
        StatName::Pattern(re) => {
            let matched: Vec<&(String, u64)> = all.iter().filter(|(n, _)| re.is_match(n)).collect();
            if matched.is_empty() {
                return Finding::fail(format!(
                    "no stat on {place} matches /{}/ (its sidecar reports {} stats)",
                    re.as_str(),
                    all.len()
                ));
            }
            let sum: u64 = matched.iter().map(|(_, v)| *v).sum();
            let shown: Vec<String> = matched
                .iter()
                .take(5)
                .map(|(n, v)| format!("{n} = {v}"))
                .collect();
            let more = if matched.len() > shown.len() {
                format!(" and {} more", matched.len() - shown.len())
            } else {
                String::new()
            };
            let text = format!(
                "{} stats matching /{}/ on {place} add up to {sum} ({}{more}), expected {}",
                matched.len(),
                re.as_str(),
                shown.join(", "),
                check.expect
            );
            if check.expect.holds(sum) {
                Finding::pass(text)
            } else {
                Finding::fail(text)
            }
        }
    }
}

/// Up to `n` names closest to `wanted`: those ending in the same statistic (the part after the
/// last `.`) first, then by edit distance; names too different to be a typo are left out.
pub fn close_matches<'a>(
    wanted: &str,
    names: impl Iterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    let suffix = wanted.rsplit('.').next().unwrap_or(wanted);
    let limit = wanted.chars().count() / 3 + 2;
    let mut scored: Vec<(bool, usize, &str)> = names
        .map(|name| {
            let same_stat = name.rsplit('.').next() == Some(suffix);
            (!same_stat, distance(wanted, name), name)
        })
        .filter(|(other_stat, d, _)| !other_stat || *d <= limit)
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(n)
        .map(|(_, _, name)| name)
        .collect()
}

/// Levenshtein distance between two strings, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;

    const OVERFLOW: &str =
        "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow";

    const STATS: &str = "\
cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow: 12
cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_total: 30
cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_pending_overflow: 0
cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_total: 4
server.live: 1
cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_time: P0(nan,0) P25(nan,1)
";

    fn check(stat: StatName, expect: &str) -> EnvoyStatCheck {
        EnvoyStatCheck {
            pod: PodRef {
                pod: "app=fortio".into(),
                namespace: Some("default".into()),
                container: Some(PROXY_CONTAINER.into()),
            },
            stat,
            expect: Comparison::parse(expect).unwrap(),
        }
    }

    #[test]
    fn expectations_parse_and_compare() {
        let c = |t: &str| Comparison::parse(t).unwrap();
        assert!(c("> 0").holds(1) && !c("> 0").holds(0));
        assert!(c(">=3").holds(3) && !c(">= 3").holds(2));
        assert!(c("== 0").holds(0) && !c("== 0").holds(1));
        assert!(c("< 5").holds(4) && !c("< 5").holds(5));
        assert!(c("<= 5").holds(5));
        assert_eq!(c("7"), c("== 7"));
        assert_eq!(c(" >= 3 ").to_string(), ">= 3");
        let err = Comparison::parse("more than 3").unwrap_err();
        assert!(err.contains("e.g. \"> 0\""), "{err}");
        assert!(Comparison::parse("> -1").is_err());
        assert!(
            Comparison::parse("< 0")
                .unwrap_err()
                .contains("never below 0")
        );
    }

    #[test]
    fn stats_text_gives_counters_and_gauges() {
        let stats = parse_stats(STATS);
        assert_eq!(stats.len(), 5, "the histogram is left out: {stats:?}");
        assert_eq!(stats[0], (OVERFLOW.to_string(), 12));
        assert_eq!(stats[4], ("server.live".to_string(), 1));
    }

    #[test]
    fn an_exact_stat_says_what_was_read() {
        let f = judge(
            &check(StatName::Exact(OVERFLOW.into()), "> 0"),
            "fortio-deploy-7c9 (default)",
            STATS,
        );
        assert_eq!(f.outcome, Outcome::Pass);
        assert_eq!(
            f.message,
            format!("{OVERFLOW} = 12 on fortio-deploy-7c9 (default), expected > 0")
        );
        let f = judge(&check(StatName::Exact(OVERFLOW.into()), "== 0"), "p", STATS);
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(f.message, format!("{OVERFLOW} = 12 on p, expected == 0"));
    }

    #[test]
    fn a_missing_stat_lists_the_closest_names() {
        let typo = "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflows";
        let f = judge(&check(StatName::Exact(typo.into()), "> 0"), "p", STATS);
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message
                .starts_with(&format!("no stat named {typo} on p (its sidecar reports 5 stats); the closest are: {OVERFLOW}")),
            "{}",
            f.message
        );
        // Another service's overflow counter is named too (same statistic), not server.live.
        assert!(
            f.message
                .contains("reviews.default.svc.cluster.local.upstream_rq_pending_overflow"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("server.live"), "{}", f.message);
        let f = judge(
            &check(StatName::Exact("nothing.like.it".into()), "> 0"),
            "p",
            STATS,
        );
        assert!(
            f.message
                .contains("has the sidecar received the configuration"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_pattern_adds_up_its_matches() {
        let re = regex::Regex::new(r"upstream_rq_total$").unwrap();
        let f = judge(&check(StatName::Pattern(re), ">= 34"), "p", STATS);
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
        assert!(
            f.message
                .starts_with("2 stats matching /upstream_rq_total$/ on p add up to 34 ("),
            "{}",
            f.message
        );
        let re = regex::Regex::new(r"^nope").unwrap();
        let f = judge(&check(StatName::Pattern(re), "> 0"), "p", STATS);
        assert_eq!(f.outcome, Outcome::Fail);
        assert_eq!(
            f.message,
            "no stat on p matches /^nope/ (its sidecar reports 5 stats)"
        );
    }

    #[test]
    fn a_pod_without_sidecar_is_told_how_to_get_one() {
        let m = no_sidecar("fortio-1", "default", &["fortio".into()], "Envoy stats");
        assert!(m.contains("has no istio-proxy sidecar (its containers: fortio)"));
        assert!(m.contains("istio-injection=enabled"));
    }

    #[test]
    fn raw_checks_are_validated() {
        let raw = |yaml: &str| serde_yaml::from_str::<RawEnvoyStatCheck>(yaml).unwrap();
        let ok =
            EnvoyStatCheck::from_raw(&raw("{pod: app=fortio, stat: server.live, expect: '> 0'}"))
                .unwrap();
        assert_eq!(ok.pod.container.as_deref(), Some(PROXY_CONTAINER));
        assert_eq!(ok.expect.to_string(), "> 0");
        let numeric = EnvoyStatCheck::from_raw(&raw("{pod: p, stat: s, expect: 0}")).unwrap();
        assert_eq!(numeric.expect.to_string(), "== 0");
        let errs = EnvoyStatCheck::from_raw(&raw("{pod: '', stat: s, pattern: x, expect: lots}"))
            .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, [".pod", "", ".expect"]);
        let errs =
            EnvoyStatCheck::from_raw(&raw("{pod: p, pattern: '(', expect: '> 0'}")).unwrap_err();
        assert_eq!(errs[0].0, ".pattern");
    }
}
