//! Dates in expressions: expr-lang's `date(text)` and the methods of Go's
//! `time.Time` that Kargo's git `expressionFilter` examples and tests call
//! on `commitDate` and `creatorDate` (`creatorDate.Year() >= 2023`,
//! `commitDate.After(date('2025-01-01'))`).
//!
//! kargo-rs keeps a date as RFC 3339 text in UTC (`2025-01-01T00:00:00Z`),
//! so dates also compare as text (`commitDate >= '2025-01-01'`), and
//! `date()` returns that text. The methods below work on any string that
//! is such a timestamp; they read it in UTC (Go reads a commit date in the
//! committer's time zone).

use minijinja::{Environment, Error, ErrorKind, State, Value as MjValue};

use crate::time::Timestamp;

/// The `time.Time` methods a date has. A template calling another method
/// is refused when it is loaded, as for any value.
pub(super) const TIME_METHODS: &[&str] = &[
    "Year",
    "Month",
    "Day",
    "Hour",
    "Minute",
    "Second",
    "YearDay",
    "Weekday",
    "Unix",
    "UnixMilli",
    "IsZero",
    "After",
    "Before",
    "Equal",
    "Compare",
];

fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Registers `date()` and the date methods with `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function("date", date);
    env.set_unknown_method_callback(call_method);
}

/// expr-lang's `date(text)`: the layouts it tries that carry a date
/// (`2006-01-02`, `2006-01-02 15:04:05`, RFC 3339), read in UTC when they
/// name no zone. Its layout and time-zone arguments are not supported.
fn date(args: minijinja::value::Rest<MjValue>) -> Result<String, Error> {
    let text = match args.as_slice() {
        [text] => text.as_str().ok_or_else(|| {
            fail(format!(
                "date(): the argument must be a string, got {}",
                text.kind()
            ))
        })?,
        [] => return Err(fail("date() expects 1 argument, got 0")),
        _ => {
            return Err(fail(
                "date(): a layout or time zone argument is not supported by kargo-rs; \
                 pass RFC 3339 text or 2006-01-02",
            ));
        }
    };
    parse_date(text)
        .map(|t| t.to_string())
        .ok_or_else(|| fail(format!("date(): invalid date {text:?}")))
}

fn parse_date(text: &str) -> Option<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    // `2006-01-02` and `2006-01-02 15:04:05`: RFC 3339 once completed.
    let completed = match text.len() {
        10 => format!("{text}T00:00:00Z"),
        19 if text.as_bytes()[10] == b' ' => format!("{text}Z"),
        _ => return None,
    };
    completed.parse().ok()
}

/// A date argument of `After`, `Before`, `Equal` or `Compare`.
fn date_arg(method: &str, args: &[MjValue]) -> Result<Timestamp, Error> {
    match args {
        [other] => other
            .as_str()
            .and_then(|s| s.parse::<Timestamp>().ok())
            .ok_or_else(|| {
                fail(format!(
                    "date .{method}(): the argument must be a date (RFC 3339 text, \
                     e.g. from date('2025-01-01')), got {other}"
                ))
            }),
        _ => Err(fail(format!(
            "date .{method}() expects 1 argument, got {}",
            args.len()
        ))),
    }
}

/// A method called on a value that has none of its own: a date's, when
/// the value is RFC 3339 text and the method one of [`TIME_METHODS`].
fn call_method(
    _state: &mut State<'_, '_>,
    value: &MjValue,
    method: &str,
    args: &[MjValue],
) -> Result<MjValue, Error> {
    if !TIME_METHODS.contains(&method) {
        return Err(Error::from(ErrorKind::UnknownMethod));
    }
    let Some(t) = value.as_str().and_then(|s| s.parse::<Timestamp>().ok()) else {
        return Err(fail(format!(
            "`.{method}()` is a method of a date (RFC 3339 text), not of {value:?}"
        )));
    };
    let fields = |method: &str| -> Result<MjValue, Error> {
        if !args.is_empty() {
            return Err(fail(format!("date .{method}() takes no arguments")));
        }
        let c = t.civil();
        Ok(match method {
            "Year" => MjValue::from(c.year),
            "Month" => MjValue::from(c.month),
            "Day" => MjValue::from(c.day),
            "Hour" => MjValue::from(c.hour),
            "Minute" => MjValue::from(c.minute),
            "Second" => MjValue::from(c.second),
            "YearDay" => MjValue::from(c.year_day),
            "Weekday" => MjValue::from(c.weekday),
            "Unix" => MjValue::from(t.unix_millis().div_euclid(1000)),
            "UnixMilli" => MjValue::from(t.unix_millis()),
            // Go's zero time: January 1 of year 1, 00:00:00 UTC.
            _ => MjValue::from(t.to_string() == "0001-01-01T00:00:00Z"),
        })
    };
    match method {
        "After" => Ok(MjValue::from(t > date_arg(method, args)?)),
        "Before" => Ok(MjValue::from(t < date_arg(method, args)?)),
        "Equal" => Ok(MjValue::from(t == date_arg(method, args)?)),
        "Compare" => Ok(MjValue::from(t.cmp(&date_arg(method, args)?) as i64)),
        _ => fields(method),
    }
}
