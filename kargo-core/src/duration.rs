//! Go-style durations (`"30s"`, `"1h30m"`, `"1.5h"`), as Kargo's manifests write them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written the way Go's `time.ParseDuration` reads it.
///
/// ```
/// use kargo_core::duration::GoDuration;
/// let d: GoDuration = "1h30m".parse().unwrap();
/// assert_eq!(d.as_duration().as_secs(), 5400);
/// assert_eq!(d.to_string(), "1h30m0s");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(Duration);

/// A string that is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration `{0}`: expected a number with a unit (ns, us, ms, s, m, h), e.g. `5m` or `1h30m`"
)]
pub struct ParseDurationError(String);

impl GoDuration {
    /// Wraps a [`Duration`].
    pub fn new(d: Duration) -> Self {
        GoDuration(d)
    }

    /// The wrapped [`Duration`].
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        GoDuration(d)
    }
}

impl FromStr for GoDuration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDurationError(s.to_owned());
        let text = s.trim();
        if text == "0" {
            return Ok(GoDuration(Duration::ZERO));
        }
        if text.is_empty() || text.starts_with('-') {
            return Err(err());
        }
        let text = text.strip_prefix('+').unwrap_or(text);
        let mut total = 0f64;
        let mut rest = text;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(err)?;
            if num_len == 0 {
                return Err(err());
            }
            let number: f64 = rest[..num_len].parse().map_err(|_| err())?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let nanos_per_unit = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err(err()),
            };
            rest = &rest[unit_len..];
            total += number * nanos_per_unit;
        }
        if !total.is_finite() || total > u64::MAX as f64 {
            return Err(err());
        }
        Ok(GoDuration(Duration::from_nanos(total.round() as u64)))
    }
}

impl fmt::Display for GoDuration {
    /// Formats as Go does for whole seconds and above (`1h0m0s`, `90s` → `1m30s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.is_zero() {
            return f.write_str("0s");
        }
        if d < Duration::from_secs(1) {
            let nanos = d.as_nanos();
            return if nanos.is_multiple_of(1_000_000) {
                write!(f, "{}ms", nanos / 1_000_000)
            } else if nanos.is_multiple_of(1_000) {
                write!(f, "{}µs", nanos / 1_000)
            } else {
                write!(f, "{nanos}ns")
            };
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        let frac = d.subsec_nanos();
        let seconds = if frac == 0 {
            s.to_string()
        } else {
            let f = format!("{frac:09}");
            format!("{s}.{}", f.trim_end_matches('0'))
        };
        if h > 0 {
            write!(f, "{h}h{m}m{seconds}s")
        } else if m > 0 {
            write!(f, "{m}m{seconds}s")
        } else {
            write!(f, "{seconds}s")
        }
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        let cases = [
            ("0", 0),
            ("300ms", 300_000_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1h2m3s", 3_723_000_000_000),
        ];
        for (text, nanos) in cases {
            let d: GoDuration = text.parse().unwrap();
            assert_eq!(d.as_duration().as_nanos(), nanos, "{text}");
        }
    }

    #[test]
    fn rejects_missing_units_and_negatives() {
        for text in ["", "5", "-1s", "1x", "h", "1.2.3s"] {
            assert!(text.parse::<GoDuration>().is_err(), "{text} should fail");
        }
    }

    #[test]
    fn displays_like_go() {
        let show = |s: &str| s.parse::<GoDuration>().unwrap().to_string();
        assert_eq!(show("90s"), "1m30s");
        assert_eq!(show("1h"), "1h0m0s");
        assert_eq!(show("1.5s"), "1.5s");
        assert_eq!(show("250ms"), "250ms");
    }
}
