//! Envoy's response flags (`%RESPONSE_FLAGS%` and `%RESPONSE_FLAGS_LONG%`) in words.
//!
//! Every flag Envoy 1.40 documents, by its short form (`UO`) and its long form
//! (`UpstreamOverflow`), with what it means for the request in a learner's words.

use serde::Serialize;

/// One response flag of an access log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// The short form, as `%RESPONSE_FLAGS%` writes it (`UO`); unknown flags keep their text.
    pub code: String,
    /// The long form, as `%RESPONSE_FLAGS_LONG%` writes it (`UpstreamOverflow`).
    pub name: String,
    /// What it means, in words.
    pub meaning: String,
}

/// Short form, long form, meaning.
const FLAGS: &[(&str, &str, &str)] = &[
    (
        "LH",
        "FailedLocalHealthCheck",
        "the local service failed its health check",
    ),
    (
        "UH",
        "NoHealthyUpstream",
        "no healthy upstream: the destination had no healthy endpoint to send to",
    ),
    (
        "UT",
        "UpstreamRequestTimeout",
        "upstream timeout: the answer did not come within the route's timeout",
    ),
    (
        "LR",
        "LocalReset",
        "the proxy reset the stream itself (local reset)",
    ),
    (
        "UR",
        "UpstreamRemoteReset",
        "the upstream reset the stream (upstream remote reset)",
    ),
    (
        "UF",
        "UpstreamConnectionFailure",
        "upstream connection failure: the proxy could not connect to the destination",
    ),
    (
        "UC",
        "UpstreamConnectionTermination",
        "upstream connection termination: the destination closed the connection before answering",
    ),
    (
        "UO",
        "UpstreamOverflow",
        "circuit breaker open: too many pending requests or connections (upstream overflow)",
    ),
    (
        "NR",
        "NoRouteFound",
        "no route: no route rule matched the request (or no filter chain matched the connection)",
    ),
    (
        "DI",
        "DelayInjected",
        "delay injected: fault injection held the request before forwarding it",
    ),
    (
        "FI",
        "FaultInjected",
        "fault injected (abort): fault injection answered with an error instead of forwarding",
    ),
    (
        "RL",
        "RateLimited",
        "rate limited: the local rate limit refused the request",
    ),
    (
        "UAEX",
        "UnauthorizedExternalService",
        "external authorization denied the request",
    ),
    (
        "RLSE",
        "RateLimitServiceError",
        "the rate limit service could not be asked",
    ),
    (
        "DC",
        "DownstreamConnectionTermination",
        "downstream connection termination: the caller closed the connection before the answer came",
    ),
    (
        "URX",
        "UpstreamRetryLimitExceeded",
        "retries exhausted: every retry attempt failed",
    ),
    (
        "SI",
        "StreamIdleTimeout",
        "stream idle timeout: nothing moved on the stream for too long",
    ),
    (
        "IH",
        "InvalidEnvoyRequestHeaders",
        "the request set an invalid value in a strictly checked x-envoy-* header",
    ),
    (
        "DPE",
        "DownstreamProtocolError",
        "the caller spoke broken HTTP (downstream protocol error)",
    ),
    (
        "UMSDR",
        "UpstreamMaxStreamDurationReached",
        "the upstream stream reached its maximum duration",
    ),
    (
        "RFCF",
        "ResponseFromCacheFilter",
        "the response came from Envoy's cache",
    ),
    (
        "NFCF",
        "NoFilterConfigFound",
        "a filter's configuration did not arrive in time (no filter config found)",
    ),
    (
        "DT",
        "DurationTimeout",
        "the request or connection exceeded its maximum duration",
    ),
    (
        "UPE",
        "UpstreamProtocolError",
        "the destination spoke broken HTTP (upstream protocol error)",
    ),
    (
        "NC",
        "NoClusterFound",
        "no cluster: the route names a destination the proxy does not know",
    ),
    (
        "OM",
        "OverloadManagerTerminated",
        "the proxy was overloaded and dropped the request (overload manager)",
    ),
    (
        "DF",
        "DnsResolutionFailed",
        "DNS resolution of the destination failed",
    ),
    (
        "DO",
        "DropOverload",
        "dropped by the destination's drop-overload setting",
    ),
    (
        "DR",
        "DownstreamRemoteReset",
        "the caller reset the stream (downstream remote reset)",
    ),
    (
        "UDO",
        "UnconditionalDropOverload",
        "dropped: the destination drops all traffic (drop overload at 100 %)",
    ),
];

/// The flags of a `%RESPONSE_FLAGS%` (or `%RESPONSE_FLAGS_LONG%`) field: `-` is none, several
/// are separated by commas. A flag this version does not know is kept with a neutral meaning.
pub fn parse(field: &str) -> Vec<Flag> {
    let field = field.trim();
    if field.is_empty() || field == "-" {
        return Vec::new();
    }
    field
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(lookup)
        .collect()
}

/// One flag, by its short or long form.
pub fn lookup(text: &str) -> Flag {
    match FLAGS
        .iter()
        .find(|(short, long, _)| *short == text || *long == text)
    {
        Some((short, long, meaning)) => Flag {
            code: (*short).to_owned(),
            name: (*long).to_owned(),
            meaning: (*meaning).to_owned(),
        },
        None => Flag {
            code: text.to_owned(),
            name: text.to_owned(),
            meaning: format!(
                "response flag {text} (not one Envoy 1.40 documents; see Envoy's access log docs)"
            ),
        },
    }
}

/// Whether a flag says something went wrong (every flag but a delay or a cache hit does).
pub fn is_failure(flag: &Flag) -> bool {
    !matches!(flag.code.as_str(), "DI" | "RFCF")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lessons_flags_are_explained_in_words() {
        let words = |f: &str| parse(f).into_iter().map(|f| f.meaning).collect::<Vec<_>>();
        assert_eq!(
            words("UO"),
            ["circuit breaker open: too many pending requests or connections (upstream overflow)"]
        );
        assert!(words("UT")[0].starts_with("upstream timeout"));
        assert!(words("URX")[0].starts_with("retries exhausted"));
        assert!(words("DI")[0].starts_with("delay injected"));
        assert!(words("FI")[0].starts_with("fault injected (abort)"));
        assert!(words("NR")[0].starts_with("no route"));
        assert!(words("UF")[0].starts_with("upstream connection failure"));
        assert!(words("UH")[0].starts_with("no healthy upstream"));
        assert!(words("UC")[0].starts_with("upstream connection termination"));
        assert!(words("DC")[0].starts_with("downstream connection termination"));
        assert!(words("RL")[0].starts_with("rate limited"));
        assert!(words("UAEX")[0].starts_with("external authorization denied"));
    }

    #[test]
    fn several_flags_none_and_long_forms_parse() {
        let flags = parse("DI,DC");
        let codes: Vec<&str> = flags.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["DI", "DC"]);
        assert!(parse("-").is_empty());
        assert!(parse("").is_empty());
        let long = parse("UpstreamOverflow,UpstreamRetryLimitExceeded");
        let codes: Vec<&str> = long.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["UO", "URX"]);
        assert_eq!(long[0].name, "UpstreamOverflow");
    }

    #[test]
    fn every_documented_flag_has_distinct_forms_and_words() {
        assert_eq!(FLAGS.len(), 30, "Envoy 1.40 documents 30 core flags");
        for (i, (short, long, meaning)) in FLAGS.iter().enumerate() {
            assert_eq!(lookup(short).name, *long);
            assert_eq!(lookup(long).code, *short);
            assert!(!meaning.is_empty());
            for (other, other_long, _) in &FLAGS[i + 1..] {
                assert_ne!(short, other);
                assert_ne!(long, other_long);
            }
        }
    }

    #[test]
    fn unknown_flags_are_kept_not_dropped() {
        let flags = parse("UO,XYZ");
        assert_eq!(flags.len(), 2);
        assert_eq!(flags[1].code, "XYZ");
        assert!(flags[1].meaning.contains("XYZ"), "{}", flags[1].meaning);
        assert!(is_failure(&flags[0]));
        assert!(!is_failure(&lookup("DI")));
    }
}
