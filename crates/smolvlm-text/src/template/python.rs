//! What makes minijinja print like Python's jinja2 in transformers: dicts that keep insertion
//! order (`PyDict`), JSON read into ordered values, values printed as Python's `str()`/`repr()`
//! print them, and `strftime_now` (`tojson` is in `super::json`).

use std::fmt::Write as _;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, ValueKind};
use minijinja::{Error, State, Value};

use super::limits::{MAX_DEPTH, MAX_OUTPUT, limit_error};
use crate::error::TemplateLimit;

/// A dict that keeps insertion order, as Python's does.
#[derive(Debug)]
pub(super) struct PyDict(pub(super) Vec<(String, Value)>);

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .iter()
                .map(|(k, _)| Value::from(k.as_str()))
                .collect(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

// ---------------------------------------------------------------------------------------------------------
// JSON text -> minijinja values, keeping object key order.

struct JsonValue(Value);

impl<'de> serde::Deserialize<'de> for JsonValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = JsonValue;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(v)))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(v)))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(v)))
    }
    fn visit_unit<E>(self) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(())))
    }
    fn visit_none<E>(self) -> std::result::Result<JsonValue, E> {
        Ok(JsonValue(Value::from(())))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<JsonValue, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(JsonValue(Value::from(items)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<JsonValue, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some((k, JsonValue(v))) = map.next_entry::<String, JsonValue>()? {
            // Python's json keeps the last value of a repeated key, at the first key's position.
            if let Some(slot) = entries.iter_mut().find(|(ek, _)| *ek == k) {
                slot.1 = v;
            } else {
                entries.push((k, v));
            }
        }
        Ok(JsonValue(Value::from_object(PyDict(entries))))
    }
}

pub(super) fn json_to_value(text: &str) -> std::result::Result<Value, String> {
    serde_json::from_str::<JsonValue>(text)
        .map(|j| j.0)
        .map_err(|e| e.to_string())
}

/// `strftime_now(format)`. The format comes from the template and two bytes of it may print nine
/// (`%B`), so its size is checked before the output is built.
pub(super) fn strftime_now(format: &str) -> std::result::Result<String, Error> {
    if format.len().saturating_mul(STRFTIME_GROWTH) > MAX_OUTPUT {
        return Err(limit_error(TemplateLimit::Output(MAX_OUTPUT)));
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(strftime_utc(format, secs))
}

/// More bytes than [`strftime_utc`] writes per byte of its format (`%B` → `September`: 4.5).
const STRFTIME_GROWTH: usize = 5;

/// A subset of C's `strftime` (what chat templates use: `%d %b %Y`, `%-d`, `%B`, `%A`, `%H:%M`, ...) for a
/// UTC time given as Unix seconds.
pub(super) fn strftime_utc(format: &str, unix_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let days = unix_secs.div_euclid(86_400);
    let sod = unix_secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_mar = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_mar + 2) / 153;
    let d = doy_mar - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday (index 3 from Monday)
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d + i64::from(leap && m > 2);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };

    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let no_pad = chars.peek() == Some(&'-');
        if no_pad {
            chars.next();
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        let num = |v: i64, width: usize| {
            if no_pad {
                v.to_string()
            } else {
                format!("{v:0width$}")
            }
        };
        match spec {
            'Y' => out.push_str(&y.to_string()),
            'y' => out.push_str(&num(y.rem_euclid(100), 2)),
            'm' => out.push_str(&num(m, 2)),
            'd' => out.push_str(&num(d, 2)),
            'e' => out.push_str(&format!("{d:>2}")),
            'j' => out.push_str(&num(yday, 3)),
            'H' => out.push_str(&num(h, 2)),
            'I' => out.push_str(&num(h12, 2)),
            'M' => out.push_str(&num(mi, 2)),
            'S' => out.push_str(&num(s, 2)),
            'p' => out.push_str(if h < 12 { "AM" } else { "PM" }),
            'B' => out.push_str(MONTHS[(m - 1) as usize]),
            'b' | 'h' => out.push_str(&MONTHS[(m - 1) as usize][..3]),
            'A' => out.push_str(DAYS[weekday]),
            'a' => out.push_str(&DAYS[weekday][..3]),
            'u' => out.push_str(&(weekday + 1).to_string()),
            'w' => out.push_str(&((weekday + 1) % 7).to_string()),
            'F' => out.push_str(&format!("{y}-{m:02}-{d:02}")),
            'T' => out.push_str(&format!("{h:02}:{mi:02}:{s:02}")),
            'R' => out.push_str(&format!("{h:02}:{mi:02}")),
            'Z' => out.push_str("UTC"),
            'z' => out.push_str("+0000"),
            '%' => out.push('%'),
            other => {
                out.push('%');
                if no_pad {
                    out.push('-');
                }
                out.push(other);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Printing values as Python does.

pub(super) fn python_formatter(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> std::result::Result<(), Error> {
    match value.kind() {
        ValueKind::None | ValueKind::Bool | ValueKind::Seq | ValueKind::Map => {
            out.write_str(&python_str(value)?).map_err(Error::from)
        }
        ValueKind::Number if !value.is_integer() => {
            out.write_str(&python_str(value)?).map_err(Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Python's `str(value)`; an error past the render's depth or size limits.
pub(super) fn python_str(value: &Value) -> std::result::Result<String, Error> {
    match value.kind() {
        ValueKind::String => Ok(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Undefined => Ok(String::new()),
        _ => {
            let mut s = String::new();
            python_repr(&mut s, value, 0)?;
            Ok(s)
        }
    }
}

/// Python's `repr(value)`. Checked per item: a list can hold one large string many times over,
/// so what it prints is not bounded by the data the template made.
fn python_repr(out: &mut String, value: &Value, depth: usize) -> std::result::Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(limit_error(TemplateLimit::Depth(MAX_DEPTH)));
    }
    if out.len() > MAX_OUTPUT {
        return Err(limit_error(TemplateLimit::Output(MAX_OUTPUT)));
    }
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&python_number(value, false)),
        ValueKind::String => python_repr_str(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq => {
            out.push('[');
            if let Ok(iter) = value.try_iter() {
                for (i, item) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    python_repr(out, &item, depth + 1)?;
                }
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(iter) = value.try_iter() {
                for (i, key) in iter.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    python_repr(out, &key, depth + 1)?;
                    out.push_str(": ");
                    let item = value.get_item(&key).unwrap_or_default();
                    python_repr(out, &item, depth + 1)?;
                }
            }
            out.push('}');
        }
        _ => out.push_str(&value.to_string()),
    }
    Ok(())
}

fn python_repr_str(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A number as Python prints it (`repr(float)`: shortest round-trip, `1.0`, `1e+16`, `1e-05`).
/// `json` selects json.dumps spellings for non-finite floats.
pub(super) fn python_number(value: &Value, json: bool) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    let Ok(f) = f64::try_from(value.clone()) else {
        return value.to_string();
    };
    if f.is_nan() {
        return if json { "NaN" } else { "nan" }.to_string();
    }
    if f.is_infinite() {
        let s = if json { "Infinity" } else { "inf" };
        return if f < 0.0 {
            format!("-{s}")
        } else {
            s.to_string()
        };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust's `{:e}` gives the shortest round-trip mantissa: "1e16", "1.5e-5".
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}
