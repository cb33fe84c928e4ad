//! Go's command-line conventions as fortio has them: `-flag value`, `-flag=value`, `--flag`,
//! boolean flags, repeatable `-H`, parsing stopping at the first operand; Go's `%g` and
//! `time.Duration` formats; fortio's JSON log lines.

use std::collections::HashMap;
use std::time::Duration;

/// Parsed flags: the last value of each, the repeated ones in order, and the operands.
#[derive(Debug, Default)]
pub(super) struct Flags {
    values: HashMap<String, String>,
    /// Values of `-H` in order.
    pub headers: Vec<String>,
    /// What follows the flags (the URL).
    pub operands: Vec<String>,
}

impl Flags {
    /// Parses `args`; `bools` are the flags that take no value; others take one.
    pub(super) fn parse(args: &[String], bools: &[&str], known: &[&str]) -> Result<Self, String> {
        let mut f = Self::default();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            i += 1;
            let Some(name) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
                f.operands.extend(args[i - 1..].iter().cloned());
                break;
            };
            if name.is_empty() {
                if a == "--" {
                    f.operands.extend(args[i..].iter().cloned());
                    break;
                }
                return Err(format!("bad flag syntax: {a}"));
            }
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (name, None),
            };
            let value = if bools.contains(&name) {
                inline.unwrap_or_else(|| "true".to_owned())
            } else if known.contains(&name) || name == "H" {
                match inline {
                    Some(v) => v,
                    None => {
                        let Some(v) = args.get(i) else {
                            return Err(format!("flag needs an argument: -{name}"));
                        };
                        i += 1;
                        v.clone()
                    }
                }
            } else {
                return Err(format!("flag provided but not defined: -{name}"));
            };
            if name == "H" {
                f.headers.push(value);
            } else {
                f.values.insert(name.to_owned(), value);
            }
        }
        Ok(f)
    }

    /// A flag's value.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A boolean flag.
    pub(super) fn bool(&self, name: &str) -> bool {
        matches!(
            self.get(name),
            Some("true" | "1" | "t" | "T" | "TRUE" | "True")
        )
    }

    /// A number flag, `default` when absent.
    pub(super) fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("invalid value \"{v}\" for flag -{name}: parse error")),
        }
    }

    /// A duration flag (`5s`, `1m30s`, `250ms`), `default` when absent.
    pub(super) fn duration(&self, name: &str, default: Duration) -> Result<Duration, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse_duration(v)
                .ok_or_else(|| format!("invalid value \"{v}\" for flag -{name}: parse error")),
        }
    }
}

/// A Go duration (`1h2m3.5s`, `250ms`, `10us`, `0`).
pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0.0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total < 1e12).then(|| Duration::from_secs_f64(total))
}

/// Go's `%g` (`precision` significant digits, or the shortest exact form with `None`).
pub(super) fn go_g(v: f64, precision: Option<usize>) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Scientific form first: its digits and exponent decide the layout.
    let sci = match precision {
        Some(p) => format!("{:.*e}", p.max(1) - 1, v),
        None => format!("{v:e}"),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let limit = i32::try_from(precision.unwrap_or(21)).unwrap_or(21);
    if exp < -4 || exp >= limit {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let digits = mantissa.trim_start_matches('-').replace('.', "").len();
    let decimals =
        usize::try_from((i32::try_from(digits).unwrap_or(1) - 1 - exp).max(0)).unwrap_or(0);
    trim_zeros(&format!("{v:.decimals$}"))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

/// Go's `time.Duration` text (`59.8524ms`, `1.5s`, `2m3s`).
pub(super) fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let frac = |value: u128, unit: u128, suffix: &str| {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            format!("{whole}{suffix}")
        } else {
            let width = unit.ilog10() as usize;
            let digits = format!("{rest:0width$}");
            format!("{whole}.{}{suffix}", digits.trim_end_matches('0'))
        }
    };
    if ns < 1_000_000 {
        return frac(ns, 1_000, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, "ms");
    }
    let secs_ns = ns % 60_000_000_000;
    let minutes = ns / 60_000_000_000;
    let seconds = frac(secs_ns, 1_000_000_000, "s");
    if minutes == 0 {
        seconds
    } else if minutes < 60 {
        format!("{minutes}m{seconds}")
    } else {
        format!("{}h{}m{seconds}", minutes / 60, minutes % 60)
    }
}

/// One of fortio's JSON log lines, keys in fortio's order
/// (`{"ts":…,"level":"warn","r":1,"msg":…,…}`).
pub(super) fn log_line(level: &str, msg: &str, fields: &[(&str, String)]) -> String {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let ts = jiff::Timestamp::now().as_microsecond();
    let mut line = format!(
        "{{\"ts\":{}.{:06},\"level\":{},\"r\":1,\"msg\":{}",
        ts.div_euclid(1_000_000),
        ts.rem_euclid(1_000_000),
        quote(level),
        quote(msg)
    );
    for (k, v) in fields {
        line.push(',');
        line.push_str(&quote(k));
        line.push(':');
        line.push_str(&quote(v));
    }
    line.push('}');
    line
}

/// fortio's log levels, lowest first.
pub(super) fn level_rank(name: &str) -> Option<u8> {
    Some(match name.to_ascii_lowercase().as_str() {
        "debug" => 0,
        "verbose" => 1,
        "info" => 2,
        "warning" | "warn" => 3,
        "error" | "err" => 4,
        "critical" | "crit" => 5,
        "fatal" => 6,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_number_formats() {
        assert_eq!(go_g(0.001_064_346, None), "0.001064346");
        assert_eq!(go_g(0.000_010_091, None), "1.0091e-05");
        assert_eq!(go_g(0.014_346_32, Some(6)), "0.0143463");
        assert_eq!(go_g(0.0045, Some(6)), "0.0045");
        assert_eq!(go_g(334.1632, Some(5)), "334.16");
        assert_eq!(go_g(0.002_902_1, Some(4)), "0.002902");
        assert_eq!(go_g(50.0, None), "50");
        assert_eq!(go_g(99.9, None), "99.9");
    }

    #[test]
    fn log_lines_keep_fortios_key_order() {
        let line = log_line("warn", "Non ok http code", &[("code", "503".into())]);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "warn");
        assert_eq!(v["code"], "503");
        let keys: Vec<usize> = ["\"ts\"", "\"level\"", "\"r\"", "\"msg\"", "\"code\""]
            .iter()
            .map(|k| line.find(k).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{line}");
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_nanos(59_852_400)), "59.8524ms");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_micros(12)), "12µs");
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn go_flags_stop_at_the_first_operand() {
        let args: Vec<String> = [
            "-c",
            "2",
            "-qps=0",
            "-H",
            "a: b",
            "--allow-initial-errors",
            "http://x/",
            "-n",
            "3",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let f = Flags::parse(&args, &["allow-initial-errors"], &["c", "qps", "n"]).unwrap();
        assert_eq!(f.get("c"), Some("2"));
        assert_eq!(f.get("qps"), Some("0"));
        assert!(f.bool("allow-initial-errors"));
        assert_eq!(f.headers, ["a: b"]);
        assert_eq!(f.operands, ["http://x/", "-n", "3"]);
        let err = Flags::parse(&["-nope".to_owned()], &[], &[]).unwrap_err();
        assert_eq!(err, "flag provided but not defined: -nope");
    }
}
