//! One line of an Envoy access log in Istio's default text format (the format pilot-lite gives
//! every listener, and Istio's `accessLogFile` output on a live cluster).
//!
//! ```text
//! [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
//! %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
//! "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//! %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//! "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER%
//! %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
//! %REQUESTED_SERVER_NAME% %ROUTE_NAME%
//! ```
//!
//! Envoy writes `-` for a value it does not have; those become `None`.

use serde::Serialize;

use super::flags::{self, Flag};

/// A parsed access log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// `%START_TIME%` as written (`2026-11-26T12:26:25.438Z`).
    pub start: String,
    /// The start time in milliseconds since the Unix epoch, when it could be read.
    #[serde(skip)]
    pub start_ms: Option<i64>,
    /// HTTP method (`-` for TCP connections).
    pub method: String,
    /// The path as the client sent it (before any rewrite), with its query.
    pub path: String,
    /// `HTTP/1.1`, `HTTP/2`.
    pub protocol: String,
    /// Response code; 0 when no response was sent.
    pub status: u16,
    /// Response flags.
    pub flags: Vec<Flag>,
    /// `%RESPONSE_CODE_DETAILS%` (`via_upstream`, `route_not_found`, …).
    pub details: Option<String>,
    /// `%CONNECTION_TERMINATION_DETAILS%`.
    pub termination: Option<String>,
    /// `%UPSTREAM_TRANSPORT_FAILURE_REASON%` (TLS errors and the like).
    pub transport_failure: Option<String>,
    /// Body bytes received.
    pub bytes_received: u64,
    /// Body bytes sent.
    pub bytes_sent: u64,
    /// Total duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// How long the upstream took (`x-envoy-upstream-service-time`), in milliseconds.
    pub upstream_service_time_ms: Option<u64>,
    /// `x-forwarded-for`.
    pub forwarded_for: Option<String>,
    /// `user-agent`.
    pub user_agent: Option<String>,
    /// `x-request-id`: what joins the hops of one request.
    pub request_id: Option<String>,
    /// `:authority` (the Host header).
    pub authority: Option<String>,
    /// The upstream host chosen (`10.244.1.7:9080`).
    pub upstream_host: Option<String>,
    /// The upstream cluster (`outbound|9080|v2|reviews.default.svc.cluster.local`).
    pub upstream_cluster: Option<String>,
    /// The local address of the upstream connection.
    pub upstream_local: Option<String>,
    /// The address the request arrived on.
    pub downstream_local: Option<String>,
    /// The caller's address.
    pub downstream_remote: Option<String>,
    /// The TLS server name asked for.
    pub server_name: Option<String>,
    /// `%ROUTE_NAME%`: the name of the route that matched.
    pub route_name: Option<String>,
}

/// How many fields Istio's format has (the last one, `%ROUTE_NAME%`, is missing from older
/// formats and is optional here).
const FIELDS: usize = 22;

/// Parses one access log line; `None` for anything else (the agent's own log lines, Envoy's
/// warnings, a line cut short).
pub fn parse(line: &str) -> Option<Entry> {
    let line = line.trim_end_matches(['\r', '\n']);
    if !line.starts_with('[') {
        return None;
    }
    let fields = split(line)?;
    if fields.len() < FIELDS - 1 {
        return None;
    }
    let request_line = &fields[1];
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("-").to_owned();
    let path = parts.next().unwrap_or("-").to_owned();
    let protocol = parts.next().unwrap_or("-").to_owned();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let text = |i: usize| {
        fields
            .get(i)
            .filter(|f| !f.is_empty() && f.as_str() != "-")
            .cloned()
    };
    let status = fields[2].parse::<u16>().ok()?;
    Some(Entry {
        start: fields[0].clone(),
        start_ms: parse_time(&fields[0]),
        method,
        path,
        protocol,
        status,
        flags: flags::parse(&fields[3]),
        details: text(4),
        termination: text(5),
        transport_failure: text(6),
        bytes_received: number(7).unwrap_or(0),
        bytes_sent: number(8).unwrap_or(0),
        duration_ms: number(9),
        upstream_service_time_ms: number(10),
        forwarded_for: text(11),
        user_agent: text(12),
        request_id: text(13),
        authority: text(14),
        upstream_host: text(15),
        upstream_cluster: text(16),
        upstream_local: text(17),
        downstream_local: text(18),
        downstream_remote: text(19),
        server_name: text(20),
        route_name: text(21),
    })
}

/// Which fields of Istio's format are quoted (the others are bare words, the first is
/// bracketed).
const QUOTED: [usize; 7] = [1, 6, 11, 12, 13, 14, 15];

/// Splits a line into its fields: `[…]`, `"…"` or bare words. Envoy does not escape quotes
/// inside a quoted value (a user agent may hold some), so a quoted value ends at the quote
/// followed by what the format puts next: another quoted field, a bare word, or the end.
fn split(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return Some(fields);
        }
        let next_quoted = QUOTED.contains(&(fields.len() + 1));
        let (field, after) = if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']')?;
            (&inner[..end], &inner[end + 1..])
        } else if let Some(inner) = rest.strip_prefix('"') {
            let ends_word = |i: usize| inner[i + 1..].is_empty() || inner[i + 1..].starts_with(' ');
            let end = inner
                .match_indices('"')
                .map(|(i, _)| i)
                .find(|&i| {
                    let after = &inner[i + 1..];
                    after.is_empty()
                        || after
                            .strip_prefix(' ')
                            .is_some_and(|a| a.starts_with('"') == next_quoted)
                })
                // Not in the expected shape: the first quote that ends a word.
                .or_else(|| {
                    inner
                        .match_indices('"')
                        .map(|(i, _)| i)
                        .find(|&i| ends_word(i))
                })?;
            (&inner[..end], &inner[end + 1..])
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        fields.push(field.to_owned());
        rest = after;
    }
}

/// `2026-11-26T12:26:25.438Z` (any number of fraction digits, `Z` or no zone) in milliseconds
/// since the Unix epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let hour: i64 = t.next()?.parse().ok()?;
    let minute: i64 = t.next()?.parse().ok()?;
    let second: i64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let millis: i64 = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(3).collect();
        let value: i64 = digits.parse().ok()?;
        value * 10_i64.pow(3 - u32::try_from(digits.len()).ok()?)
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Years start in March so that the leap day is the last day of a year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines as Envoy 1.40 wrote them on the reference mesh (Bookinfo, ratings-test-delay and
    // reviews-test-v2 applied, jason signed in, then an unrouted path).
    const GATEWAY: &str = r#"[2026-11-26T12:26:25.436Z] "GET /productpage HTTP/1.1" 200 - via_upstream - "-" 0 1328 6007 6007 "192.0.2.2" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "127.0.0.1:30431" "127.1.164.223:9080" outbound|9080||productpage.default.svc.cluster.local 127.0.0.1:37054 127.1.131.196:8080 127.0.0.1:37698 - bookinfo.default.0"#;
    const DELAYED: &str = r#"[2026-11-26T12:26:25.441Z] "GET /ratings/0 HTTP/1.1" 0 DI,DC downstream_remote_disconnect - "-" 0 0 3001 - "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "ratings:9080" "-" outbound|9080|v1|ratings.default.svc.cluster.local - 127.3.187.2:9080 127.1.187.2:58507 - ratings.default.0"#;
    const NO_ROUTE: &str = r#"[2026-11-26T12:26:31.456Z] "GET /nope HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "192.0.2.2" "curl/7.88.1" "a4ccd1d2-f7ec-457c-8364-d9808c90ce4c" "127.0.0.1:30431" "-" - - 127.1.131.196:8080 127.0.0.1:58822 - -"#;
    const INBOUND: &str = r#"[2026-11-26T12:26:25.438Z] "GET /details/0 HTTP/1.1" 200 - via_upstream - "-" 0 178 0 0 "-" "curl/7.88.1" "4a3d6a0a-3769-411f-bb94-b3504bed006e" "details:9080" "127.2.223.246:9080" inbound|9080|| 127.0.0.1:38540 127.1.223.246:9080 127.0.0.1:48656 - default"#;

    #[test]
    fn a_gateway_line_gives_every_field() {
        let e = parse(GATEWAY).unwrap();
        assert_eq!(e.start, "2026-11-26T12:26:25.436Z");
        assert_eq!(
            (e.method.as_str(), e.path.as_str()),
            ("GET", "/productpage")
        );
        assert_eq!(e.protocol, "HTTP/1.1");
        assert_eq!(e.status, 200);
        assert!(e.flags.is_empty());
        assert_eq!(e.details.as_deref(), Some("via_upstream"));
        assert_eq!(e.termination, None);
        assert_eq!(e.transport_failure, None);
        assert_eq!((e.bytes_received, e.bytes_sent), (0, 1328));
        assert_eq!(e.duration_ms, Some(6007));
        assert_eq!(e.upstream_service_time_ms, Some(6007));
        assert_eq!(e.forwarded_for.as_deref(), Some("192.0.2.2"));
        assert_eq!(e.user_agent.as_deref(), Some("curl/7.88.1"));
        assert_eq!(
            e.request_id.as_deref(),
            Some("4a3d6a0a-3769-411f-bb94-b3504bed006e")
        );
        assert_eq!(e.authority.as_deref(), Some("127.0.0.1:30431"));
        assert_eq!(e.upstream_host.as_deref(), Some("127.1.164.223:9080"));
        assert_eq!(
            e.upstream_cluster.as_deref(),
            Some("outbound|9080||productpage.default.svc.cluster.local")
        );
        assert_eq!(e.upstream_local.as_deref(), Some("127.0.0.1:37054"));
        assert_eq!(e.downstream_local.as_deref(), Some("127.1.131.196:8080"));
        assert_eq!(e.downstream_remote.as_deref(), Some("127.0.0.1:37698"));
        assert_eq!(e.server_name, None);
        assert_eq!(e.route_name.as_deref(), Some("bookinfo.default.0"));
    }

    #[test]
    fn a_delayed_and_abandoned_request_keeps_its_flags() {
        let e = parse(DELAYED).unwrap();
        assert_eq!(e.status, 0);
        let codes: Vec<&str> = e.flags.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["DI", "DC"]);
        assert_eq!(e.details.as_deref(), Some("downstream_remote_disconnect"));
        assert_eq!(e.upstream_service_time_ms, None);
        assert_eq!(e.upstream_host, None);
        assert_eq!(e.upstream_local, None);
        assert_eq!(e.duration_ms, Some(3001));
    }

    #[test]
    fn an_unrouted_request_has_no_cluster_and_no_route() {
        let e = parse(NO_ROUTE).unwrap();
        assert_eq!(e.status, 404);
        assert_eq!(e.flags[0].code, "NR");
        assert_eq!(e.upstream_cluster, None);
        assert_eq!(e.route_name, None);
        assert_eq!(e.upstream_service_time_ms, None);
    }

    #[test]
    fn an_inbound_line_names_the_inbound_cluster() {
        let e = parse(INBOUND).unwrap();
        assert_eq!(e.upstream_cluster.as_deref(), Some("inbound|9080||"));
        assert_eq!(e.route_name.as_deref(), Some("default"));
    }

    #[test]
    fn user_agents_with_spaces_and_quotes_stay_one_field() {
        let line = GATEWAY.replace(
            "\"curl/7.88.1\"",
            "\"Mozilla/5.0 (X11; Linux x86_64) \"quoted\" Firefox/140.0\"",
        );
        let e = parse(&line).unwrap();
        assert_eq!(
            e.user_agent.as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64) \"quoted\" Firefox/140.0")
        );
        assert_eq!(e.route_name.as_deref(), Some("bookinfo.default.0"));
    }

    #[test]
    fn other_lines_are_not_access_log_lines() {
        for line in [
            "2026-11-26T12:26:20.194123Z\tinfo\tEnvoy proxy is ready",
            "",
            "[2026-11-26T12:26:25.436Z] \"GET /productpage HTTP/1.1\" 200",
            "[2026-11-26T12:26:25.436Z] \"GET / HTTP/1.1\" abc - - - \"-\" 0 0 0 - \"-\" \"-\" \"-\" \"-\" \"-\" - - - - - -",
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
        // Older formats end before %ROUTE_NAME%.
        let without_route = GATEWAY.trim_end_matches(" bookinfo.default.0");
        assert_eq!(parse(without_route).unwrap().route_name, None);
    }

    #[test]
    fn start_times_are_milliseconds_since_the_epoch() {
        assert_eq!(parse_time("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_time("2000-03-01T00:00:00Z"), Some(951_868_800_000));
        assert_eq!(
            parse_time("2026-11-26T12:26:25.436Z"),
            Some(1_795_695_985_436)
        );
        assert_eq!(
            parse_time("2026-11-26T12:26:25.4Z"),
            parse_time("2026-11-26T12:26:25.400Z")
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2026-13-01T00:00:00Z"), None);
    }
}
