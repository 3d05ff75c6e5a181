//! Chat templates rendered the way transformers renders them (`utils/chat_template_utils.py`).
//!
//! transformers compiles templates in a jinja2 `ImmutableSandboxedEnvironment(trim_blocks=True,
//! lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])` with a `tojson` filter replaced by
//! `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)` and the globals
//! `raise_exception(message)` (raises `TemplateError(message)`), `strftime_now(format)`, `dict`, `namespace`.
//! It renders with `messages` (a list of dicts, content kept as given: for SmolVLM a list of
//! `{"type": "image"}` / `{"type": "text", "text": ...}`), `tools=None`, `documents=None`,
//! `add_generation_prompt`, and every entry of `tokenizer.special_tokens_map` (bos_token, eos_token, ...,
//! image_token, ...). This module mirrors that with minijinja:
//!
//! * trim_blocks / lstrip_blocks on, no trailing-newline keeping (jinja2's default), no auto-escaping;
//! * Python string/dict/list methods (`.strip()`, `.split()`, `.items()`, ...) via minijinja-contrib's pycompat;
//! * values print as Python prints them (`None`, `True`, `False`, `['a', 1]`, `{'k': 'v'}`, `1.0`);
//! * dicts keep insertion order (messages are built as ordered maps);
//! * `{% generation %}...{% endgeneration %}` (AssistantTracker) renders its body unchanged;
//! * `raise_exception` becomes [`TextError::TemplateRaised`] carrying the template's message.
//!
//! The template is a model file, so a render is bounded (`limits`: minijinja fuel, the output's
//! size, `tojson`'s indent, nesting, recursion) and runs on a thread of its own with a deep
//! stack; a render past a bound is [`TextError::TemplateLimit`].
//!
//! `strftime_now` formats the current time in UTC (Python uses the local zone).

use std::fmt::Write as _;
use std::path::Path;

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value};

mod json;
mod limits;
mod python;

use json::tojson_filter;
use limits::{CappedOutput, FUEL, MAX_OUTPUT, RECURSION_LIMIT, limit_of, on_render_stack};
use python::{PyDict, json_to_value, python_formatter, python_str, strftime_now};

use crate::chat::{ContentPart, Message};
use crate::config::{TokenizerConfig, template_from_json};
use crate::error::{Result, TemplateLimit, TextError, read_json, read_text};

/// SmolVLM's chat template (as shipped in SmolVLM-256M/500M/2B-Instruct's `chat_template.json`), used when a
/// model folder has none.
pub const DEFAULT_CHAT_TEMPLATE: &str = "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

const TEMPLATE_NAME: &str = "chat_template";

/// Where a [`ChatTemplate`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateOrigin {
    ChatTemplateJson,
    ChatTemplateJinja,
    ProcessorConfig,
    TokenizerConfig,
    Default,
    Source,
}

pub struct ChatTemplate {
    source: String,
    origin: TemplateOrigin,
    env: Environment<'static>,
    special_tokens: Vec<(String, String)>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("origin", &self.origin)
            .field("source", &self.source)
            .field("special_tokens", &self.special_tokens)
            .finish()
    }
}

impl ChatTemplate {
    /// Finds the model's template the way transformers' processor does: `chat_template.json`
    /// (`{"chat_template": ...}`), then `chat_template.jinja`, then `processor_config.json`'s `chat_template`,
    /// then `tokenizer_config.json`'s `chat_template` (a string, or a list of `{name, template}` from which
    /// "default" is taken); when none, [`DEFAULT_CHAT_TEMPLATE`]. The special tokens passed to the template
    /// come from `tokenizer_config.json` when present.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let tok_config = TokenizerConfig::from_file_or_default(&dir.join("tokenizer_config.json"))?;
        let (source, origin) = find_template(dir, &tok_config)?;
        let mut t = Self::compile(source, origin)?;
        t.special_tokens = tok_config.special_tokens_map;
        Ok(t)
    }

    /// A template from its source text, with no special-token variables (see [`Self::with_special_tokens`]).
    pub fn from_source(source: &str) -> Result<Self> {
        Self::compile(source.to_string(), TemplateOrigin::Source)
    }

    /// SmolVLM's default template.
    pub fn smolvlm_default() -> Self {
        Self::compile(DEFAULT_CHAT_TEMPLATE.to_string(), TemplateOrigin::Default)
            .expect("the built-in template compiles")
    }

    /// Sets the variables transformers passes from `tokenizer.special_tokens_map` (`bos_token`, ...).
    pub fn with_special_tokens(mut self, special_tokens: Vec<(String, String)>) -> Self {
        self.special_tokens = special_tokens;
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn origin(&self) -> &TemplateOrigin {
        &self.origin
    }

    pub fn special_tokens(&self) -> &[(String, String)] {
        &self.special_tokens
    }

    /// Renders a conversation: what `processor.apply_chat_template(messages, add_generation_prompt=...)`
    /// returns. Each message is passed as `{"role": ..., "content": [{"type": "image"} |
    /// {"type": "text", "text": ...}, ...]}`.
    ///
    /// Content goes in as a list of parts, as SmolVLM's processor passes it. A text model's own
    /// template (SmolLM2's in a GGUF: `'\n' + message['content']`) wants a string there, as
    /// transformers' tokenizer and llama.cpp pass it; so when the list form fails and no message
    /// holds an image, the messages are rendered again with their text as string content.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let msgs: Vec<Value> = messages.iter().map(message_value).collect();
        let listed = self.render_value(Value::from(msgs), add_generation_prompt);
        let text_only = messages.iter().all(|m| m.images().next().is_none());
        match listed {
            // A template that hit a limit would hit it again, at the same cost.
            Err(e) if text_only && !matches!(e, TextError::TemplateLimit(_)) => {
                let msgs: Vec<Value> = messages.iter().map(string_message_value).collect();
                self.render_value(Value::from(msgs), add_generation_prompt)
                    .map_err(|_| e)
            }
            other => other,
        }
    }

    /// Renders messages given as JSON text (a list of transformers-style message dicts, any content, e.g.
    /// `{"type": "video"}` parts or string content). Key order is kept as in the text, as Python dicts do.
    pub fn render_json(&self, messages_json: &str, add_generation_prompt: bool) -> Result<String> {
        let value = json_to_value(messages_json).map_err(TextError::InvalidMessages)?;
        if value.kind() != ValueKind::Seq {
            return Err(TextError::InvalidMessages(
                "messages JSON must be a list of message objects".into(),
            ));
        }
        self.render_value(value, add_generation_prompt)
    }

    fn render_value(&self, messages: Value, add_generation_prompt: bool) -> Result<String> {
        // transformers: `render(messages=..., tools=None, documents=None, add_generation_prompt=...,
        // **special_tokens_map)`.
        let mut ctx: Vec<(String, Value)> = vec![
            ("messages".into(), messages),
            ("tools".into(), Value::from(())),
            ("documents".into(), Value::from(())),
            (
                "add_generation_prompt".into(),
                Value::from(add_generation_prompt),
            ),
        ];
        for (k, v) in &self.special_tokens {
            ctx.push((k.clone(), Value::from(v.as_str())));
        }
        let ctx = Value::from_object(PyDict(ctx));
        let tmpl = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| TextError::TemplateSyntax(format_error(&e)))?;
        // Everything the render made, its error included (minijinja keeps the variables it saw
        // for debugging), is dropped on the render's own stack.
        let render = || {
            let mut out = CappedOutput::default();
            let result = tmpl.render_captured_to(ctx, &mut out).map(drop);
            if out.overflowed {
                return Err(TextError::TemplateLimit(TemplateLimit::Output(MAX_OUTPUT)));
            }
            result.map_err(map_render_error)?;
            String::from_utf8(out.bytes)
                .map_err(|e| TextError::TemplateRender(format!("the output is not UTF-8: {e}")))
        };
        on_render_stack(render).unwrap_or_else(|| {
            Err(TextError::TemplateRender(
                "cannot start a thread to render the chat template".into(),
            ))
        })
    }

    fn compile(source: String, origin: TemplateOrigin) -> Result<Self> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(false)
                .build()
                .expect("default delimiters are valid"),
        );
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_formatter(python_formatter);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        env.add_filter("tojson", tojson_filter);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned(TEMPLATE_NAME, strip_generation_tags(&source))
            .map_err(|e| TextError::TemplateSyntax(format_error(&e)))?;
        Ok(ChatTemplate {
            source,
            origin,
            env,
            special_tokens: Vec::new(),
        })
    }
}

fn find_template(dir: &Path, tok_config: &TokenizerConfig) -> Result<(String, TemplateOrigin)> {
    let json_path = dir.join("chat_template.json");
    if json_path.exists() {
        let json = read_json(&json_path)?;
        let v = json
            .get("chat_template")
            .ok_or_else(|| TextError::malformed(&json_path, "no `chat_template` key"))?;
        let t = template_from_json(v).map_err(|m| TextError::malformed(&json_path, m))?;
        return Ok((t, TemplateOrigin::ChatTemplateJson));
    }
    let jinja_path = dir.join("chat_template.jinja");
    if jinja_path.exists() {
        return Ok((read_text(&jinja_path)?, TemplateOrigin::ChatTemplateJinja));
    }
    let proc_path = dir.join("processor_config.json");
    if proc_path.exists() {
        let json = read_json(&proc_path)?;
        if let Some(v) = json.get("chat_template").filter(|v| !v.is_null()) {
            let t = template_from_json(v).map_err(|m| TextError::malformed(&proc_path, m))?;
            return Ok((t, TemplateOrigin::ProcessorConfig));
        }
    }
    if let Some(t) = &tok_config.chat_template {
        return Ok((t.clone(), TemplateOrigin::TokenizerConfig));
    }
    Ok((DEFAULT_CHAT_TEMPLATE.to_string(), TemplateOrigin::Default))
}

fn message_value(m: &Message) -> Value {
    let content: Vec<Value> = m
        .content
        .iter()
        .map(|part| match part {
            ContentPart::Image(_) => {
                Value::from_object(PyDict(vec![("type".into(), Value::from("image"))]))
            }
            ContentPart::Text(t) => Value::from_object(PyDict(vec![
                ("type".into(), Value::from("text")),
                ("text".into(), Value::from(t.as_str())),
            ])),
        })
        .collect();
    Value::from_object(PyDict(vec![
        ("role".into(), Value::from(m.role.as_str())),
        ("content".into(), Value::from(content)),
    ]))
}

/// A text-only message with its text parts joined as string content.
fn string_message_value(m: &Message) -> Value {
    let text: String = m
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text(t) => Some(t.as_str()),
            ContentPart::Image(_) => None,
        })
        .collect();
    Value::from_object(PyDict(vec![
        ("role".into(), Value::from(m.role.as_str())),
        ("content".into(), Value::from(text)),
    ]))
}

// `{% generation %}` (transformers' AssistantTracker) renders its body unchanged.
fn strip_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(pos) = rest.find("{%") {
        out.push_str(&rest[..pos]);
        let tag = &rest[pos..];
        match parse_generation_tag(tag) {
            Some((len, left, right, is_end)) => {
                let body = if is_end { "endif" } else { "if true" };
                out.push_str(&format!("{{%{left} {body} {right}%}}"));
                rest = &tag[len..];
            }
            None => {
                out.push_str("{%");
                rest = &tag[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses `{%[-+]? (end)?generation [-+]?%}` at the start of `s`: (length, left modifier, right modifier, end).
fn parse_generation_tag(s: &str) -> Option<(usize, &str, &str, bool)> {
    let inner_start = 2;
    let b = s.as_bytes();
    let mut i = inner_start;
    let left = if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
        &s[i - 1..i]
    } else {
        ""
    };
    while matches!(b.get(i), Some(c) if c.is_ascii_whitespace()) {
        i += 1;
    }
    let (is_end, kw_len) = if s[i..].starts_with("endgeneration") {
        (true, "endgeneration".len())
    } else if s[i..].starts_with("generation") {
        (false, "generation".len())
    } else {
        return None;
    };
    i += kw_len;
    if matches!(b.get(i), Some(c) if c.is_ascii_alphanumeric() || *c == b'_') {
        return None;
    }
    while matches!(b.get(i), Some(c) if c.is_ascii_whitespace()) {
        i += 1;
    }
    let right = if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
        &s[i - 1..i]
    } else {
        ""
    };
    if s[i..].starts_with("%}") {
        Some((i + 2, left, right, is_end))
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------------------
// Globals and filters transformers adds.

/// Marks an error raised by the template's `raise_exception`.
#[derive(Debug)]
struct RaisedByTemplate(String);

impl std::fmt::Display for RaisedByTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RaisedByTemplate {}

fn raise_exception(message: Value) -> std::result::Result<Value, Error> {
    let msg = match message.as_str() {
        Some(s) => s.to_string(),
        None => python_str(&message)?,
    };
    Err(Error::new(ErrorKind::InvalidOperation, msg.clone()).with_source(RaisedByTemplate(msg)))
}

fn map_render_error(e: Error) -> TextError {
    if let Some(limit) = limit_of(&e) {
        return TextError::TemplateLimit(limit);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(raised) = s.downcast_ref::<RaisedByTemplate>() {
            return TextError::TemplateRaised(raised.0.clone());
        }
        source = s.source();
    }
    match e.kind() {
        ErrorKind::SyntaxError => TextError::TemplateSyntax(format_error(&e)),
        _ => TextError::TemplateRender(format_error(&e)),
    }
}

fn format_error(e: &Error) -> String {
    let mut s = e.to_string();
    if let Some(line) = e.line()
        && !s.contains(TEMPLATE_NAME)
    {
        let _ = write!(s, " (line {line})");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::python::{python_number, strftime_utc};
    use super::*;
    use crate::chat::{ImageSource, Role};

    fn img() -> ImageSource {
        ImageSource::Path("x.png".into())
    }

    #[test]
    fn default_template_matches_fixture_cases() {
        let t = ChatTemplate::smolvlm_default();
        let m = [Message::user_with_images([img()], "What is in this image?")];
        assert_eq!(
            t.render(&m, true).unwrap(),
            "<|im_start|>User:<image>What is in this image?<end_of_utterance>\nAssistant:"
        );
        let m = [Message::text(Role::User, "Write a haiku about the sea.")];
        assert_eq!(
            t.render(&m, true).unwrap(),
            "<|im_start|>User: Write a haiku about the sea.<end_of_utterance>\nAssistant:"
        );
        assert_eq!(
            t.render(&m, false).unwrap(),
            "<|im_start|>User: Write a haiku about the sea.<end_of_utterance>\n"
        );
    }

    #[test]
    fn raise_exception_is_typed() {
        let t = ChatTemplate::from_source(
            "{% if messages[0]['role'] != 'system' %}{{ raise_exception('System first: ' ~ messages[0]['role']) }}{% endif %}",
        )
        .unwrap();
        let err = t
            .render(&[Message::text(Role::User, "hi")], false)
            .unwrap_err();
        match err {
            TextError::TemplateRaised(m) => assert_eq!(m, "System first: user"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn syntax_error_is_typed() {
        let err = ChatTemplate::from_source("{% for x in %}").unwrap_err();
        assert_eq!(err.code(), "template_syntax");
    }

    #[test]
    fn python_printing_and_methods() {
        let t = ChatTemplate::from_source(
            "{{ none }}|{{ true }}|{{ [1, 'a', none] }}|{{ 2.0 }}|{{ '  x '.strip() }}|{{ 'a,b'.split(',') }}|\
             {% for k, v in messages[0].items() %}{{ k }}={{ v is string }};{% endfor %}",
        )
        .unwrap();
        let out = t.render(&[Message::text(Role::User, "hi")], false).unwrap();
        assert_eq!(
            out,
            "None|True|[1, 'a', None]|2.0|x|['a', 'b']|role=True;content=False;"
        );
    }

    #[test]
    fn tojson_like_python() {
        let t = ChatTemplate::from_source(
            "{{ messages[0] | tojson }}\n{{ messages[0] | tojson(indent=2) }}\n{{ 'é<\"' | tojson }}|{{ 'é' | tojson(true) }}",
        )
        .unwrap();
        let out = t
            .render_json(
                r#"[{"role": "user", "content": "a", "n": [1, 2.5, null, true]}]"#,
                false,
            )
            .unwrap();
        assert_eq!(
            out,
            "{\"role\": \"user\", \"content\": \"a\", \"n\": [1, 2.5, null, true]}\n\
             {\n  \"role\": \"user\",\n  \"content\": \"a\",\n  \"n\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}\n\
             \"é<\\\"\"|\"\\u00e9\""
        );
    }

    #[test]
    fn generation_tags_render_body() {
        let t = ChatTemplate::from_source("a{%- generation -%} b {% endgeneration %}c").unwrap();
        assert_eq!(t.render(&[], false).unwrap(), "ab c");
        assert_eq!(
            strip_generation_tags("{% generations %}"),
            "{% generations %}"
        );
    }

    #[test]
    fn strftime_subset() {
        // 2024-02-29 13:05:09 UTC, a Thursday.
        let t = 1_709_211_909;
        assert_eq!(strftime_utc("%d %b %Y", t), "29 Feb 2024");
        assert_eq!(
            strftime_utc("%-d %B %y %A %a %j", t),
            "29 February 24 Thursday Thu 060"
        );
        assert_eq!(strftime_utc("%H:%M:%S %I%p %%", t), "13:05:09 01PM %");
        assert_eq!(strftime_utc("%Y-%m-%d", 0), "1970-01-01");
    }

    #[test]
    fn python_floats() {
        assert_eq!(python_number(&Value::from(1e16), false), "1e+16");
        assert_eq!(python_number(&Value::from(1.5e-5), false), "1.5e-05");
        assert_eq!(python_number(&Value::from(0.1), false), "0.1");
        assert_eq!(python_number(&Value::from(3.0), false), "3.0");
    }

    #[test]
    fn from_dir_order_and_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let t = ChatTemplate::from_dir(dir.path()).unwrap();
        assert_eq!(t.origin(), &TemplateOrigin::Default);
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            r#"{"bos_token": "<s>", "chat_template": [{"name": "default", "template": "{{ bos_token }}T"}]}"#,
        )
        .unwrap();
        let t = ChatTemplate::from_dir(dir.path()).unwrap();
        assert_eq!(t.origin(), &TemplateOrigin::TokenizerConfig);
        assert_eq!(t.render(&[], false).unwrap(), "<s>T");
        std::fs::write(dir.path().join("chat_template.jinja"), "J{{ bos_token }}").unwrap();
        assert_eq!(
            ChatTemplate::from_dir(dir.path())
                .unwrap()
                .render(&[], false)
                .unwrap(),
            "J<s>"
        );
        std::fs::write(
            dir.path().join("chat_template.json"),
            r#"{"chat_template": "JSON"}"#,
        )
        .unwrap();
        let t = ChatTemplate::from_dir(dir.path()).unwrap();
        assert_eq!(t.origin(), &TemplateOrigin::ChatTemplateJson);
        std::fs::write(dir.path().join("chat_template.json"), r#"{"other": 1}"#).unwrap();
        assert_eq!(
            ChatTemplate::from_dir(dir.path()).unwrap_err().code(),
            "malformed_file"
        );
    }
}
