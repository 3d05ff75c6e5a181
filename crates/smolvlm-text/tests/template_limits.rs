//! A chat template comes from the model's files: one that loops, writes or nests without end
//! must stop with a typed error, quickly, instead of hanging or aborting the process.

use std::time::{Duration, Instant};

use smolvlm_text::{ChatTemplate, Message, Role, TemplateLimit, TextError};

/// Far above what any of these takes in a debug build (~50 ms for the fuel to run out), far
/// below the minutes or the abort each took before it was bounded.
const QUICK: Duration = Duration::from_secs(10);

fn render(source: &str) -> Result<String, TextError> {
    let template = ChatTemplate::from_source(source).expect("the template compiles");
    let start = Instant::now();
    let result = template.render(&[Message::text(Role::User, "hi")], true);
    assert!(
        start.elapsed() < QUICK,
        "{source} took {:?}",
        start.elapsed()
    );
    result
}

fn limit(source: &str) -> TemplateLimit {
    match render(source) {
        Err(TextError::TemplateLimit(limit)) => limit,
        other => panic!("{source}: expected a template limit, got {other:?}"),
    }
}

#[test]
fn endless_loops_run_out_of_fuel() {
    // minijinja refuses a range this long by itself.
    assert_eq!(
        render("{% for i in range(10**9) %}x{% endfor %}")
            .unwrap_err()
            .code(),
        "template_render"
    );
    let nested = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    assert!(matches!(limit(nested), TemplateLimit::Fuel(_)));
    assert!(matches!(
        limit("{{ 'x' * 10**10 }}"),
        TemplateLimit::Fuel(_)
    ));
}

#[test]
fn huge_output_is_refused() {
    for source in [
        "{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}",
        "{% for i in range(100000) %}{{ messages }}{{ 'many small writes' * 8 }}{% endfor %}",
        "{{ strftime_now('%B' * 10000000) }}",
    ] {
        assert!(
            matches!(limit(source), TemplateLimit::Output(_)),
            "{source}"
        );
    }
    let err = render("{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}").unwrap_err();
    assert_eq!(err.code(), "template_limit");
}

#[test]
fn tojson_indent_is_bounded() {
    assert_eq!(
        limit("{{ messages | tojson(indent=10**9) }}"),
        TemplateLimit::Indent(64)
    );
    assert_eq!(
        limit("{{ messages | tojson(indent='x' * 1000) }}"),
        TemplateLimit::Indent(64)
    );
    // What templates use still works.
    let out = render("{{ messages | tojson(indent=4) }}").unwrap();
    assert!(
        out.starts_with("[\n    {\n        \"role\": \"user\""),
        "{out}"
    );
}

/// A list nested in itself once per loop step: printing, serializing, comparing or merely
/// dropping it recursed past the thread's stack, which aborts the whole process.
#[test]
fn deep_nesting_stops_without_overflowing_the_stack() {
    let nest = "{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% for j in range(90) %}\
                {% set ns.x = [ns.x] %}{% endfor %}{% endfor %}";
    assert_eq!(
        limit(&format!("{nest}{{{{ ns.x }}}}")),
        TemplateLimit::Depth(256)
    );
    assert_eq!(
        limit(&format!("{nest}{{{{ ns.x | tojson }}}}")),
        TemplateLimit::Depth(256)
    );
    for tail in [
        "done",
        "{{ ns.x == ns.x }}",
        "{{ (ns.x ~ '') | length > 0 }}",
    ] {
        let out = render(&format!("{nest}{tail}"));
        assert!(
            matches!(out, Ok(_) | Err(TextError::TemplateLimit(_))),
            "{tail}: {out:?}"
        );
    }
}

#[test]
fn endless_macro_recursion_is_an_error() {
    let err = render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}").unwrap_err();
    assert_eq!(err.code(), "template_render", "{err}");
}

#[test]
fn a_long_real_conversation_still_renders() {
    let template = ChatTemplate::smolvlm_default();
    let turns: Vec<Message> = (0..10_000)
        .map(|i| {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            Message::text(
                role,
                "A question or an answer of a few words, as people write them.",
            )
        })
        .collect();
    let out = template.render(&turns, true).unwrap();
    assert_eq!(out.matches("<end_of_utterance>").count(), 10_000);
}
