//! `tojson` as transformers defines it: `json.dumps(x, ensure_ascii=False, indent=None,
//! separators=None, sort_keys=False)`, within the render's limits (the indent, the nesting and the
//! size of what it writes are the template's choice).

use std::fmt::Write as _;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

use super::limits::{MAX_DEPTH, MAX_INDENT, MAX_OUTPUT, limit_error};
use super::python::{python_number, python_str};
use crate::error::TemplateLimit;

/// The filter (`ensure_ascii` and `indent` also positionally, as in Python; `separators`,
/// `sort_keys` as keywords).
pub(super) fn tojson_filter(
    value: &Value,
    ensure_ascii: Option<Value>,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> std::result::Result<Value, Error> {
    let (separators, sort_keys) = (None, None);
    let pick = |pos: Option<Value>, name: &str| -> std::result::Result<Option<Value>, Error> {
        match pos {
            Some(v) => Ok(Some(v)),
            None => kwargs.get::<Option<Value>>(name),
        }
    };
    let ensure_ascii = pick(ensure_ascii, "ensure_ascii")?.is_some_and(|v| v.is_true());
    let indent = pick(indent, "indent")?.filter(|v| !v.is_none() && !v.is_undefined());
    let separators = pick(separators, "separators")?.filter(|v| !v.is_none() && !v.is_undefined());
    let sort_keys = pick(sort_keys, "sort_keys")?.is_some_and(|v| v.is_true());
    kwargs.assert_all_used()?;

    let indent: Option<String> = match indent {
        None => None,
        Some(v) => Some(indent_text(v)?),
    };
    let (item_sep, key_sep) = match separators {
        Some(v) => {
            let parts: Vec<Value> = v.try_iter()?.collect();
            if parts.len() != 2 {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson: separators must be a pair of strings",
                ));
            }
            (python_str(&parts[0])?, python_str(&parts[1])?)
        }
        None if indent.is_some() => (",".to_string(), ": ".to_string()),
        None => (", ".to_string(), ": ".to_string()),
    };
    let opts = JsonOpts {
        ensure_ascii,
        indent,
        item_sep,
        key_sep,
        sort_keys,
    };
    let mut out = String::new();
    json_dump(&mut out, value, &opts, 0)?;
    Ok(Value::from(out))
}

/// What one level of indentation writes: `n` spaces for an int, the string itself for a string.
/// Either is checked before it is built: the template picks `n`, and `10**9` spaces per line would
/// fill memory before any later check ran.
fn indent_text(v: Value) -> std::result::Result<String, Error> {
    if let Some(s) = v.as_str() {
        if s.len() > MAX_INDENT {
            return Err(limit_error(TemplateLimit::Indent(MAX_INDENT)));
        }
        return Ok(s.to_string());
    }
    let n = i64::try_from(v).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            "tojson: indent must be an int or a string",
        )
    })?;
    match usize::try_from(n.max(0)) {
        Ok(n) if n <= MAX_INDENT => Ok(" ".repeat(n)),
        _ => Err(limit_error(TemplateLimit::Indent(MAX_INDENT))),
    }
}

struct JsonOpts {
    ensure_ascii: bool,
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    sort_keys: bool,
}

fn json_newline(out: &mut String, opts: &JsonOpts, level: usize) {
    if let Some(ind) = &opts.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

/// Stops the dump once it is larger than a whole render may be: separators and indents repeat
/// per item, so a small value can serialize to far more than it holds.
fn check_size(out: &str) -> std::result::Result<(), Error> {
    if out.len() > MAX_OUTPUT {
        return Err(limit_error(TemplateLimit::Output(MAX_OUTPUT)));
    }
    Ok(())
}

fn json_dump(
    out: &mut String,
    value: &Value,
    opts: &JsonOpts,
    level: usize,
) -> std::result::Result<(), Error> {
    if level > MAX_DEPTH {
        return Err(limit_error(TemplateLimit::Depth(MAX_DEPTH)));
    }
    check_size(out)?;
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&python_number(value, true)),
        ValueKind::String | ValueKind::Bytes => {
            json_string(out, &python_str(value)?, opts.ensure_ascii)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&opts.item_sep);
                }
                json_newline(out, opts, level + 1);
                json_dump(out, item, opts, level + 1)?;
            }
            json_newline(out, opts, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = value.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if opts.sort_keys {
                keys.sort();
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(&opts.item_sep);
                }
                json_newline(out, opts, level + 1);
                let key_str = match key.kind() {
                    ValueKind::String => key.as_str().unwrap_or_default().to_string(),
                    ValueKind::None => "null".to_string(),
                    ValueKind::Bool => (if key.is_true() { "true" } else { "false" }).to_string(),
                    _ => python_str(key)?,
                };
                json_string(out, &key_str, opts.ensure_ascii);
                out.push_str(&opts.key_sep);
                let item = value.get_item(key)?;
                json_dump(out, &item, opts, level + 1)?;
            }
            json_newline(out, opts, level);
            out.push('}');
        }
        _ => json_string(out, &value.to_string(), opts.ensure_ascii),
    }
    check_size(out)
}

fn json_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7E) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
