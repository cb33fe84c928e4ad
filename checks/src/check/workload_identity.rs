//! `workload_identity` checks: the SPIFFE id of the certificate a workload's sidecar presents,
//! read as `kubectl exec POD -c istio-proxy -- pilot-agent request GET certs` reads it (Envoy's
//! admin `/certs`, through the target's `pods/exec`, so the same check runs on a live cluster and
//! on the reference mesh), compared with an exact id or a pattern
//! (`spiffe://cluster.local/ns/foo/sa/*`), and optionally judged on its validity: valid now,
//! expiring within a bound (a short-lived certificate, as Istio issues them).

use jiff::Timestamp;
use serde::Deserialize;
use std::time::Duration;

use super::envoy_stat::{PROXY_CONTAINER, run_in_sidecar};
use super::{Context, Finding};
use crate::course::PodRef;

/// The command that prints the certificates the sidecar's Envoy uses.
pub const CERTS_COMMAND: [&str; 4] = ["pilot-agent", "request", "GET", "certs"];

/// `workload_identity:` as written in `lab.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkloadIdentityCheck {
    /// Pod name or label selector (`app=httpbin`).
    pub pod: String,
    /// Namespace (default: the target's default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The SPIFFE id, exact or with `*` for one path segment.
    pub expect: String,
    /// The certificate must be valid now (default true).
    #[serde(default)]
    pub valid_now: Option<bool>,
    /// The certificate must expire within this long (`24h`, `90m`, `1d`).
    #[serde(default)]
    pub expires_within: Option<String>,
}

/// The expected SPIFFE id.
#[derive(Debug, Clone)]
pub enum IdentityExpect {
    /// Exactly this id.
    Exact(String),
    /// A pattern as written (`spiffe://cluster.local/ns/foo/sa/*`) and its regular expression.
    Pattern(String, regex::Regex),
}

impl IdentityExpect {
    /// Parses an id; `*` stands for any text within one path segment.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if !t.starts_with("spiffe://") {
            return Err(format!(
                "`{t}` is not a SPIFFE id: write spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICEACCOUNT \
                 (e.g. spiffe://cluster.local/ns/foo/sa/httpbin, or sa/* for any service account)"
            ));
        }
        if !t.contains('*') {
            return Ok(Self::Exact(t.to_string()));
        }
        let body = t
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join("[^/]*");
        regex::Regex::new(&format!("^{body}$"))
            .map(|re| Self::Pattern(t.to_string(), re))
            .map_err(|e| format!("`{t}` cannot be used as a pattern: {e}"))
    }

    /// Whether `id` is the expected one.
    pub fn matches(&self, id: &str) -> bool {
        match self {
            Self::Exact(want) => id == want,
            Self::Pattern(_, re) => re.is_match(id),
        }
    }

    fn shown(&self) -> &str {
        match self {
            Self::Exact(s) | Self::Pattern(s, _) => s,
        }
    }
}

/// `workload_identity:` — the SPIFFE id (and validity) of a workload's certificate.
#[derive(Debug, Clone)]
pub struct WorkloadIdentityCheck {
    /// The pod (its `istio-proxy` container is read).
    pub pod: PodRef,
    /// The id.
    pub expect: IdentityExpect,
    /// The certificate must be valid now.
    pub valid_now: bool,
    /// The certificate must expire within this long.
    pub expires_within: Option<Duration>,
}

impl WorkloadIdentityCheck {
    /// Validates the raw check; each problem is (sub-field such as `.expect`, what to write).
    pub fn from_raw(raw: &RawWorkloadIdentityCheck) -> Result<Self, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        if raw.pod.trim().is_empty() {
            problems.push((
                ".pod",
                "name a pod, or select one by labels (e.g. app=httpbin)".to_string(),
            ));
        }
        let expect = IdentityExpect::parse(&raw.expect)
            .map_err(|e| problems.push((".expect", e)))
            .ok();
        let expires_within = match raw.expires_within.as_deref().map(parse_bound) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                problems.push((".expires_within", e));
                None
            }
        };
        match expect {
            Some(expect) if problems.is_empty() => Ok(Self {
                pod: PodRef {
                    pod: raw.pod.trim().to_string(),
                    namespace: raw.namespace.clone(),
                    container: Some(PROXY_CONTAINER.to_string()),
                },
                expect,
                valid_now: raw.valid_now.unwrap_or(true),
                expires_within,
            }),
            _ => Err(problems),
        }
    }
}

/// Parses `24h`, `1d`, `90m`, `30s` (or a bare number of seconds); not zero.
fn parse_bound(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let hours = |n: &str, scale: f64| {
        n.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(|v| Duration::from_secs_f64(v * scale))
    };
    let parsed = if let Some(n) = t.strip_suffix('d') {
        hours(n, 86_400.0)
    } else if let Some(n) = t.strip_suffix('h') {
        hours(n, 3_600.0)
    } else {
        super::expect::parse_duration(t)
            .ok()
            .filter(|d| !d.is_zero())
    };
    parsed.ok_or_else(|| {
        format!("`{t}` is not a duration above zero (write e.g. 24h, 1d, 90m or 30s)")
    })
}

/// One certificate as Envoy's `/certs` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSeen {
    /// The SPIFFE ids among its URI SANs.
    pub ids: Vec<String>,
    /// Its serial number (hex).
    pub serial: String,
    /// Not before.
    pub valid_from: Option<Timestamp>,
    /// Not after.
    pub expires: Option<Timestamp>,
}

/// The workload (leaf) certificates in Envoy's `/certs` JSON, one per serial, newest first.
pub fn parse_certs(json: &str) -> Result<Vec<CertSeen>, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        format!(
            "the sidecar's /certs is not JSON ({e}); it starts: {}",
            super::expect::excerpt(json, 80, "empty")
        )
    })?;
    let mut seen: Vec<CertSeen> = Vec::new();
    let contexts = value["certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for context in &contexts {
        let Some(leaf) = context["cert_chain"].as_array().and_then(|c| c.first()) else {
            continue;
        };
        let ids: Vec<String> = leaf["subject_alt_names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|san| san["uri"].as_str())
            .filter(|uri| uri.starts_with("spiffe://"))
            .map(str::to_string)
            .collect();
        let serial = leaf["serial_number"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if seen.iter().any(|c| c.serial == serial && c.ids == ids) {
            continue;
        }
        let time = |field: &str| {
            leaf[field]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok())
        };
        seen.push(CertSeen {
            ids,
            serial,
            valid_from: time("valid_from"),
            expires: time("expiration_time"),
        });
    }
    seen.sort_by_key(|c| std::cmp::Reverse(c.valid_from));
    Ok(seen)
}

/// Evaluates a `workload_identity` check.
pub async fn evaluate(ctx: &Context, check: &WorkloadIdentityCheck) -> Finding {
    match run_in_sidecar(ctx, &check.pod, &CERTS_COMMAND, "workload certificate").await {
        Ok((place, stdout)) => judge(check, &place, &stdout, Timestamp::now()),
        Err(finding) => finding,
    }
}

/// Judges Envoy's `/certs` JSON at time `now`; `place` names the pod (`httpbin-… (foo)`).
pub fn judge(
    check: &WorkloadIdentityCheck,
    place: &str,
    certs_json: &str,
    now: Timestamp,
) -> Finding {
    let certs = match parse_certs(certs_json) {
        Ok(c) => c,
        Err(why) => return Finding::error(format!("{place}: {why}")),
    };
    let with_id: Vec<&CertSeen> = certs.iter().filter(|c| !c.ids.is_empty()).collect();
    if with_id.is_empty() {
        return Finding::fail(format!(
            "the sidecar of {place} uses no certificate with a SPIFFE id yet (Envoy's /certs \
             lists {} certificate{}): mutual TLS has not started for it — is istiod running, and \
             has the sidecar received its workload certificate (istioctl proxy-config secret {})?",
            certs.len(),
            if certs.len() == 1 { "" } else { "s" },
            place.split(' ').next().unwrap_or(place)
        ));
    }
    // The newest certificate whose id matches, else the newest one.
    let chosen = with_id
        .iter()
        .find(|c| c.ids.iter().any(|id| check.expect.matches(id)))
        .or_else(|| with_id.first())
        .copied();
    let Some(cert) = chosen else {
        return Finding::fail(format!(
            "the sidecar of {place} uses no workload certificate"
        ));
    };
    let seen = describe(cert, now);
    let mut problems = Vec::new();
    if !cert.ids.iter().any(|id| check.expect.matches(id)) {
        problems.push(format!(
            "expected {} — the identity comes from the pod's namespace and service account \
             (spec.serviceAccountName): check both",
            check.expect.shown()
        ));
    }
    if check.valid_now {
        match (cert.valid_from, cert.expires) {
            (Some(from), _) if from > now => problems.push(
                "it is not valid yet: is the clock of this machine behind the CA's?".to_string(),
            ),
            (_, Some(until)) if until <= now => problems.push(
                "it has expired: the sidecar did not get a new one — is istiod running?"
                    .to_string(),
            ),
            (None, _) | (_, None) => problems.push(
                "Envoy did not report its validity, so it cannot be judged valid now".to_string(),
            ),
            _ => {}
        }
    }
    if let Some(bound) = check.expires_within {
        match cert.expires {
            Some(until) if left(until, now) > bound => problems.push(format!(
                "it expires in {}, expected within {} (Istio issues short-lived certificates: \
                 DEFAULT_WORKLOAD_CERT_TTL, 24h by default)",
                human(left(until, now)),
                human(bound)
            )),
            Some(_) => {}
            None => problems.push("Envoy did not report when it expires".to_string()),
        }
    }
    let text = format!("the sidecar of {place} presents {seen}");
    if problems.is_empty() {
        Finding::pass(text)
    } else {
        Finding::fail(format!("{text}; {}", problems.join("; ")))
    }
}

/// Time left until `until` (zero once passed).
fn left(until: Timestamp, now: Timestamp) -> Duration {
    let secs = until.as_second().saturating_sub(now.as_second());
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// `spiffe://… (serial 1a2b, valid from … until …, expires in 23h 59m)`.
fn describe(cert: &CertSeen, now: Timestamp) -> String {
    let when = |t: Option<Timestamp>| t.map_or_else(|| "?".to_string(), |t| t.to_string());
    let mut text = format!(
        "{} (serial {}, valid from {} until {}",
        cert.ids.join(", "),
        if cert.serial.is_empty() {
            "?"
        } else {
            &cert.serial
        },
        when(cert.valid_from),
        when(cert.expires)
    );
    if let Some(until) = cert.expires
        && until > now
    {
        text.push_str(&format!(", expires in {}", human(left(until, now))));
    }
    text.push(')');
    text
}

/// `23h 59m`, `2d 3h`, `45m`, `30s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Outcome;

    /// Envoy's `/certs` as a sidecar with an Istio workload certificate prints it: the same
    /// certificate in two TLS contexts (inbound and outbound).
    fn certs(serial: &str, from: &str, until: &str, uri: &str) -> String {
        let leaf = serde_json::json!({
            "path": "<inline>",
            "serial_number": serial,
            "subject_alt_names": [{"uri": uri}],
            "days_until_expiration": "0",
            "valid_from": from,
            "expiration_time": until,
        });
        let root = serde_json::json!({
            "path": "<inline>", "serial_number": "1", "subject_alt_names": [],
            "days_until_expiration": "3649", "valid_from": "2026-01-01T00:00:00Z",
            "expiration_time": "2036-01-01T00:00:00Z",
        });
        serde_json::json!({"certificates": [
            {"ca_cert": [root.clone()], "cert_chain": [leaf.clone()]},
            {"ca_cert": [root], "cert_chain": [leaf]},
        ]})
        .to_string()
    }

    fn check(yaml: &str) -> WorkloadIdentityCheck {
        let raw: RawWorkloadIdentityCheck = serde_yaml::from_str(yaml).unwrap();
        WorkloadIdentityCheck::from_raw(&raw).unwrap()
    }

    fn now() -> Timestamp {
        "2026-11-26T14:00:00Z".parse().unwrap()
    }

    const HTTPBIN: &str = "spiffe://cluster.local/ns/foo/sa/httpbin";

    #[test]
    fn the_id_serial_and_validity_are_shown() {
        let c = check(
            "pod: app=httpbin\nnamespace: foo\nexpect: spiffe://cluster.local/ns/foo/sa/httpbin\n",
        );
        let json = certs(
            "3fa2",
            "2026-11-26T13:30:00Z",
            "2026-11-27T13:30:00Z",
            HTTPBIN,
        );
        let f = judge(&c, "httpbin-1 (foo)", &json, now());
        assert_eq!(f.outcome, Outcome::Pass, "{}", f.message);
        assert_eq!(
            f.message,
            "the sidecar of httpbin-1 (foo) presents spiffe://cluster.local/ns/foo/sa/httpbin \
             (serial 3fa2, valid from 2026-11-26T13:30:00Z until 2026-11-27T13:30:00Z, expires in 23h 30m)"
        );
        assert_eq!(
            parse_certs(&json).unwrap().len(),
            1,
            "one certificate, seen twice"
        );
    }

    #[test]
    fn patterns_match_one_segment() {
        let c = check("pod: app=httpbin\nexpect: spiffe://cluster.local/ns/foo/sa/*\n");
        let json = certs("1", "2026-11-26T13:30:00Z", "2026-11-27T13:30:00Z", HTTPBIN);
        assert_eq!(judge(&c, "p", &json, now()).outcome, Outcome::Pass);
        let other = certs(
            "1",
            "2026-11-26T13:30:00Z",
            "2026-11-27T13:30:00Z",
            "spiffe://cluster.local/ns/bar/sa/httpbin",
        );
        let f = judge(&c, "p", &other, now());
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message.contains(
                "presents spiffe://cluster.local/ns/bar/sa/httpbin (serial 1, valid from"
            ) && f.message.contains(
                "; expected spiffe://cluster.local/ns/foo/sa/* — the identity comes from"
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn validity_and_lifetime_are_judged() {
        let c = check(&format!(
            "pod: app=httpbin\nexpect: {HTTPBIN}\nexpires_within: 1h\n"
        ));
        let json = certs("9", "2026-11-26T13:30:00Z", "2026-11-27T13:30:00Z", HTTPBIN);
        let f = judge(&c, "p", &json, now());
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message.ends_with("it expires in 23h 30m, expected within 1h (Istio issues short-lived certificates: DEFAULT_WORKLOAD_CERT_TTL, 24h by default)"),
            "{}",
            f.message
        );
        let expired = certs("9", "2026-11-25T13:00:00Z", "2026-11-26T13:00:00Z", HTTPBIN);
        let f = judge(&c, "p", &expired, now());
        assert!(f.message.contains("it has expired"), "{}", f.message);
        let mut lenient = c.clone();
        lenient.valid_now = false;
        lenient.expires_within = None;
        assert_eq!(judge(&lenient, "p", &expired, now()).outcome, Outcome::Pass);
    }

    #[test]
    fn no_certificate_yet_says_mtls_has_not_started() {
        let c = check(&format!("pod: app=httpbin\nexpect: {HTTPBIN}\n"));
        let f = judge(&c, "httpbin-1 (foo)", "{\"certificates\": []}", now());
        assert_eq!(f.outcome, Outcome::Fail);
        assert!(
            f.message
                .contains("uses no certificate with a SPIFFE id yet")
                && f.message.contains("istioctl proxy-config secret httpbin-1"),
            "{}",
            f.message
        );
        let f = judge(&c, "p", "no such admin path", now());
        assert_eq!(f.outcome, Outcome::Error);
    }

    #[test]
    fn mistakes_are_named() {
        let raw: RawWorkloadIdentityCheck =
            serde_yaml::from_str("pod: \"\"\nexpect: cluster.local/ns/foo\nexpires_within: soon\n")
                .unwrap();
        let problems = WorkloadIdentityCheck::from_raw(&raw).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, [".pod", ".expect", ".expires_within"]);
        assert!(problems[1].1.contains("is not a SPIFFE id"));
        assert_eq!(parse_bound("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_bound("90m"), Ok(Duration::from_secs(5_400)));
    }
}
