//! RFC 3339 timestamps in UTC, as Kargo's resources write them.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time with millisecond precision, written as RFC 3339 in UTC
/// (`2026-11-27T22:12:31.123Z`, or without fraction when it is zero).
///
/// ```
/// use kargo_core::time::Timestamp;
/// let t: Timestamp = "2024-02-29T12:00:00Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2024-02-29T12:00:00Z");
/// assert_eq!(t.unix_millis(), 1_709_208_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A string that is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp `{0}`: expected RFC 3339, e.g. `2024-01-31T08:00:00Z`")]
pub struct ParseTimestampError(String);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(millis)
    }

    /// A timestamp from milliseconds since the Unix epoch.
    pub fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        self.0
    }

    /// The time `duration` after `self`.
    pub fn plus(self, duration: Duration) -> Timestamp {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// The time elapsed from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

/// The calendar fields of a [`Timestamp`], in UTC, as Go's `time.Time`
/// methods give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Civil {
    /// The year (`Year()`).
    pub year: i64,
    /// The month, 1 to 12 (`Month()`).
    pub month: i64,
    /// The day of the month, 1 to 31 (`Day()`).
    pub day: i64,
    /// The hour, 0 to 23 (`Hour()`).
    pub hour: i64,
    /// The minute, 0 to 59 (`Minute()`).
    pub minute: i64,
    /// The second, 0 to 59 (`Second()`).
    pub second: i64,
    /// The day of the year, 1 to 366 (`YearDay()`).
    pub year_day: i64,
    /// The day of the week, 0 (Sunday) to 6 (`Weekday()`).
    pub weekday: i64,
}

impl Timestamp {
    /// The calendar fields of the timestamp, in UTC.
    ///
    /// ```
    /// use kargo_core::time::Timestamp;
    /// let t: Timestamp = "2024-02-29T12:34:56Z".parse().unwrap();
    /// let c = t.civil();
    /// assert_eq!((c.year, c.month, c.day, c.hour, c.minute, c.second), (2024, 2, 29, 12, 34, 56));
    /// assert_eq!((c.year_day, c.weekday), (60, 4)); // a Thursday
    /// ```
    pub fn civil(self) -> Civil {
        let secs = self.0.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: (sod % 3600) / 60,
            second: sod % 60,
            year_day: days - days_from_civil(year, 1, 1) + 1,
            // 1970-01-01 was a Thursday (4).
            weekday: (days + 4).rem_euclid(7),
        }
    }
}

// Days since 1970-01-01 for a civil date, and back (Howard Hinnant's algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let millis = self.0.rem_euclid(1000);
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod % 3600) / 60,
            sod % 60
        )?;
        if millis != 0 {
            write!(f, ".{millis:03}")?;
        }
        f.write_str("Z")
    }
}

impl FromStr for Timestamp {
    type Err = ParseTimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseTimestampError(s.to_owned());
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, ParseTimestampError> {
            s.get(r)
                .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|t| t.parse().ok())
                .ok_or_else(err)
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b[13] != b':' || b[16] != b':' {
            return Err(err());
        }
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return Err(err());
        }
        let mut rest = &s[19..];
        let mut millis = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let padded = format!("{:0<3}", &frac[..digits.min(3)]);
            millis = padded.parse().map_err(|_| err())?;
            rest = &frac[digits..];
        }
        let offset_secs = match rest {
            "Z" | "z" => 0,
            _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
                let oh: i64 = rest[1..3].parse().map_err(|_| err())?;
                let om: i64 = rest[4..6].parse().map_err(|_| err())?;
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                sign * (oh * 3600 + om * 60)
            }
            _ => return Err(err()),
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
        Ok(Timestamp(secs * 1000 + millis))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59.5Z",
            "2026-11-27T22:12:31.123Z",
        ] {
            let t: Timestamp = text.parse().unwrap();
            let again: Timestamp = t.to_string().parse().unwrap();
            assert_eq!(t, again, "{text}");
        }
        assert_eq!(
            "2000-02-29T23:59:59.5Z"
                .parse::<Timestamp>()
                .unwrap()
                .to_string(),
            "2000-02-29T23:59:59.500Z"
        );
    }

    #[test]
    fn applies_offsets() {
        let a: Timestamp = "2024-01-01T10:00:00+02:00".parse().unwrap();
        let b: Timestamp = "2024-01-01T08:00:00Z".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00",
            "yesterday",
            "2024-01-01T00:00:00",
        ] {
            assert!(text.parse::<Timestamp>().is_err(), "{text}");
        }
    }
}
