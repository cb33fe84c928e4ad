//! Expectations shared by the `http` and `exec` checks: text (contains / not / regex), latency
//! bands on the median, Bookinfo reviews versions and their distribution.
//!
//! Each judge returns `Ok(what was seen)` or `Err(what was seen, against what was expected)`,
//! so the checks can build a message that tells a learner exactly what happened.

use super::bookinfo::{PageKind, ReviewsVersion};
use regex::Regex;
use std::collections::BTreeMap;
use std::time::Duration;

/// Expectations on a text (an HTTP body, a command's stdout or stderr).
#[derive(Debug, Clone, Default)]
pub struct TextExpect {
    /// Substrings that must appear.
    pub contains: Vec<String>,
    /// Substrings that must not appear.
    pub not_contains: Vec<String>,
    /// Patterns that must match somewhere.
    pub regex: Vec<Regex>,
}

impl TextExpect {
    /// Nothing is expected.
    pub fn is_empty(&self) -> bool {
        self.contains.is_empty() && self.not_contains.is_empty() && self.regex.is_empty()
    }

    /// What `text` gets wrong, one sentence part each (`does not contain "x"`).
    pub fn problems(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for want in &self.contains {
            if !text.contains(want.as_str()) {
                out.push(format!("does not contain {want:?}"));
            }
        }
        for unwanted in &self.not_contains {
            if text.contains(unwanted.as_str()) {
                out.push(format!("contains {unwanted:?}"));
            }
        }
        for re in &self.regex {
            if !re.is_match(text) {
                out.push(format!("does not match /{}/", re.as_str()));
            }
        }
        out
    }
}

/// A band the median latency must fall in (either end open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencyBand {
    /// Fastest acceptable median.
    pub min: Option<Duration>,
    /// Slowest acceptable median.
    pub max: Option<Duration>,
}

impl LatencyBand {
    /// `between 0.9 s and 1.5 s`, `at least 0.9 s`, `at most 1.5 s`.
    pub fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("between {} and {}", in_seconds(a), in_seconds(b)),
            (Some(a), None) => format!("at least {}", in_seconds(a)),
            (None, Some(b)) => format!("at most {}", in_seconds(b)),
            (None, None) => "any".to_string(),
        }
    }

    /// Judges the median of `samples` (times of requests that got an answer).
    pub fn judge(&self, samples: &[Duration]) -> Result<String, String> {
        let Some(m) = median(samples) else {
            return Err(format!(
                "no request got an answer, so there is no latency to compare with {}",
                self.describe()
            ));
        };
        let over = match samples.len() {
            1 => String::new(),
            n => format!(" over {n} answers"),
        };
        let seen = format!("median latency {}{over}", seconds(m));
        let too_fast = self.min.is_some_and(|min| m < min);
        let too_slow = self.max.is_some_and(|max| m > max);
        if too_fast || too_slow {
            Err(format!("{seen}, expected {}", self.describe()))
        } else {
            Ok(seen)
        }
    }
}

/// The start of some output on one line, quoted, for a message (`"<html><head>…"`), at most
/// `max_chars` characters; `when_empty` when there is nothing but white space.
pub fn excerpt(text: &str, max_chars: usize, when_empty: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return when_empty.to_string();
    }
    let cut: String = flat.chars().take(max_chars).collect();
    if cut.len() < flat.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// The median of durations (the lower middle for an even count); `None` when empty.
pub fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(sorted[n / 2])
    } else {
        Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2)
    }
}

/// A duration for people: `12 ms` below a second, `1.23 s` from there.
pub fn seconds(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{} ms", trim(ms, 1))
    } else {
        format!("{} s", trim(d.as_secs_f64(), 2))
    }
}

/// A duration in seconds, as a band is written: `0.9 s`.
fn in_seconds(d: Duration) -> String {
    format!("{} s", trim(d.as_secs_f64(), 3))
}

/// A number with at most `places` decimals, without trailing zeros.
pub fn trim(n: f64, places: usize) -> String {
    let text = format!("{n:.places$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Parses `1.5s`, `900ms`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("`{text}` is not a duration (write e.g. 1.5s, 900ms or 2m)"))?;
    Ok(Duration::from_secs_f64(value * scale))
}

/// Parses a percentage: `50%`, `50 %` or a bare number (`50`), between 0 and 100.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let number = t.strip_suffix('%').unwrap_or(t).trim();
    number
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=100.0).contains(v))
        .ok_or_else(|| format!("`{text}` is not a percentage between 0 and 100 (write e.g. 50%)"))
}

/// What the reviews section of Bookinfo product pages should show.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewsExpect {
    /// Every page from this version.
    Only(ReviewsVersion),
    /// Every page shows reviews, of any version (none failed).
    Any,
    /// More than one version over the requests.
    Mix,
    /// Each version's share of pages, in percent (versions not listed: 0), give or take
    /// `tolerance` percentage points.
    Shares {
        /// Version → expected percent.
        shares: Vec<(ReviewsVersion, f64)>,
        /// Allowed deviation, in percentage points.
        tolerance: f64,
    },
}

/// The default tolerance of a distribution, in percentage points.
pub const DEFAULT_TOLERANCE: f64 = 10.0;

impl ReviewsExpect {
    /// Judges classified pages.
    pub fn judge(&self, pages: &[PageKind]) -> Result<String, String> {
        let total = pages.len();
        let mut counts: BTreeMap<PageKind, usize> = BTreeMap::new();
        for p in pages {
            *counts.entry(*p).or_default() += 1;
        }
        let seen = seen(&counts, total);
        match self {
            ReviewsExpect::Only(v) => {
                if counts.get(&v.page()) == Some(&total) && total > 0 {
                    Ok(format!("{} on {}", v.page(), every(total)))
                } else {
                    Err(format!(
                        "expected {} on {}, saw {seen}",
                        v.page(),
                        every(total)
                    ))
                }
            }
            ReviewsExpect::Any => {
                if pages.iter().all(|p| p.version().is_some()) && total > 0 {
                    Ok(seen)
                } else {
                    Err(format!(
                        "expected reviews (any version) on {}, saw {seen}",
                        every(total)
                    ))
                }
            }
            ReviewsExpect::Mix => {
                let versions = counts.keys().filter(|k| k.version().is_some()).count();
                if versions >= 2 {
                    Ok(seen)
                } else {
                    Err(format!(
                        "expected more than one reviews version over {total} pages, saw {seen}"
                    ))
                }
            }
            ReviewsExpect::Shares { shares, tolerance } => {
                let mut problems = Vec::new();
                for v in ReviewsVersion::ALL {
                    let want = shares
                        .iter()
                        .find(|(w, _)| *w == v)
                        .map_or(0.0, |(_, p)| *p);
                    let n = counts.get(&v.page()).copied().unwrap_or(0);
                    let got = if total == 0 {
                        0.0
                    } else {
                        n as f64 * 100.0 / total as f64
                    };
                    if (got - want).abs() > *tolerance + 1e-9 {
                        problems.push(format!(
                            "{} on {n} of {total} pages ({} %), expected {} % ± {}",
                            v.page(),
                            trim(got, 1),
                            trim(want, 1),
                            trim(*tolerance, 1)
                        ));
                    }
                }
                let others: Vec<String> = counts
                    .iter()
                    .filter(|(k, _)| k.version().is_none())
                    .map(|(k, n)| format!("{k} on {n} of {total}"))
                    .collect();
                if problems.is_empty() {
                    Ok(seen)
                } else {
                    let mut text = problems.join("; ");
                    if !others.is_empty() {
                        text.push_str(&format!(" (also {})", others.join(", ")));
                    }
                    Err(text)
                }
            }
        }
    }
}

/// `all 10 pages` / `the page`.
fn every(total: usize) -> String {
    match total {
        1 => "the page".to_string(),
        n => format!("all {n} pages"),
    }
}

/// `red stars (reviews v3) on 7 of 10, black stars (reviews v2) on 3 of 10`, most frequent first.
fn seen(counts: &BTreeMap<PageKind, usize>, total: usize) -> String {
    if total == 0 {
        return "no pages".to_string();
    }
    let mut list: Vec<(&PageKind, &usize)> = counts.iter().collect();
    list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if total == 1 {
        return list.first().map(|(k, _)| k.to_string()).unwrap_or_default();
    }
    list.iter()
        .map(|(k, n)| format!("{k} on {n} of {total}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use PageKind::*;

    fn pages(spec: &[(PageKind, usize)]) -> Vec<PageKind> {
        spec.iter()
            .flat_map(|(k, n)| std::iter::repeat_n(*k, *n))
            .collect()
    }

    #[test]
    fn text_expectations_name_what_is_wrong() {
        let e = TextExpect {
            contains: vec!["Simple Bookstore App".into()],
            not_contains: vec!["error".into()],
            regex: vec![Regex::new(r"<title>.*</title>").unwrap()],
        };
        assert!(e.problems("<title>Simple Bookstore App</title>").is_empty());
        assert_eq!(
            e.problems("an error page"),
            [
                "does not contain \"Simple Bookstore App\"",
                "contains \"error\"",
                "does not match /<title>.*</title>/"
            ]
        );
    }

    #[test]
    fn durations_and_percentages_parse() {
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("900ms").unwrap(), Duration::from_millis(900));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0.25").unwrap(), Duration::from_millis(250));
        assert!(
            parse_duration("fast")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("-1s").is_err());
        assert_eq!(parse_percent("50%").unwrap(), 50.0);
        assert_eq!(parse_percent("33.3 %").unwrap(), 33.3);
        assert_eq!(parse_percent("20").unwrap(), 20.0);
        assert!(parse_percent("150%").is_err());
    }

    #[test]
    fn the_median_is_the_middle_answer() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            median(&ms(&[900, 5, 1000])),
            Some(Duration::from_millis(900))
        );
        assert_eq!(
            median(&ms(&[1, 3, 2, 100])),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn latency_bands_judge_the_median() {
        let band = LatencyBand {
            min: Some(Duration::from_millis(900)),
            max: Some(Duration::from_millis(1500)),
        };
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            band.judge(&ms(&[1000, 1100, 3000])).unwrap(),
            "median latency 1.1 s over 3 answers"
        );
        assert_eq!(
            band.judge(&ms(&[12, 14, 13, 2000])).unwrap_err(),
            "median latency 13.5 ms over 4 answers, expected between 0.9 s and 1.5 s"
        );
        let at_most = LatencyBand {
            min: None,
            max: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            at_most.judge(&ms(&[6000])).unwrap_err(),
            "median latency 6 s, expected at most 1 s"
        );
        assert!(
            at_most
                .judge(&[])
                .unwrap_err()
                .starts_with("no request got an answer")
        );
    }

    #[test]
    fn one_version_everywhere() {
        let e = ReviewsExpect::Only(ReviewsVersion::V3);
        assert_eq!(
            e.judge(&pages(&[(V3, 10)])).unwrap(),
            "red stars (reviews v3) on all 10 pages"
        );
        assert_eq!(
            e.judge(&pages(&[(V3, 7), (V2, 3)])).unwrap_err(),
            "expected red stars (reviews v3) on all 10 pages, saw red stars (reviews v3) on 7 of 10, \
             black stars (reviews v2) on 3 of 10"
        );
        assert_eq!(
            e.judge(&[V1]).unwrap_err(),
            "expected red stars (reviews v3) on the page, saw no stars (reviews v1)"
        );
    }

    #[test]
    fn any_version_but_no_failures() {
        let e = ReviewsExpect::Any;
        assert!(e.judge(&pages(&[(V1, 2), (V2, 1)])).is_ok());
        assert_eq!(
            e.judge(&pages(&[(V1, 2), (ReviewsUnavailable, 1)]))
                .unwrap_err(),
            "expected reviews (any version) on all 3 pages, saw no stars (reviews v1) on 2 of 3, \
             the reviews error (\"Error fetching product reviews\") on 1 of 3"
        );
    }

    #[test]
    fn a_mix_needs_two_versions() {
        let e = ReviewsExpect::Mix;
        assert!(e.judge(&pages(&[(V1, 5), (V3, 1)])).is_ok());
        assert_eq!(
            e.judge(&pages(&[(V1, 6)])).unwrap_err(),
            "expected more than one reviews version over 6 pages, saw no stars (reviews v1) on 6 of 6"
        );
    }

    #[test]
    fn distributions_are_judged_within_the_tolerance() {
        let e = ReviewsExpect::Shares {
            shares: vec![(ReviewsVersion::V1, 50.0), (ReviewsVersion::V3, 50.0)],
            tolerance: 10.0,
        };
        assert!(e.judge(&pages(&[(V1, 53), (V3, 47)])).is_ok());
        assert!(e.judge(&pages(&[(V1, 60), (V3, 40)])).is_ok());
        assert_eq!(
            e.judge(&pages(&[(V1, 62), (V3, 38)])).unwrap_err(),
            "no stars (reviews v1) on 62 of 100 pages (62 %), expected 50 % ± 10; \
             red stars (reviews v3) on 38 of 100 pages (38 %), expected 50 % ± 10"
        );
        // A version that should not appear at all, and failures, are reported.
        assert_eq!(
            e.judge(&pages(&[
                (V1, 8),
                (V3, 8),
                (V2, 3),
                (ReviewsUnavailable, 1)
            ]))
            .unwrap_err(),
            "black stars (reviews v2) on 3 of 20 pages (15 %), expected 0 % ± 10 \
             (also the reviews error (\"Error fetching product reviews\") on 1 of 20)"
        );
    }
}
