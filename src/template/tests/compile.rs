//! Compiling fields: literals, single expressions, text templates, syntax
//! errors, and the variables a field reads.

use super::*;
use crate::template::environment::env;
use serde_json::json;
use std::fmt;

#[test]
fn literal_source_renders_unchanged() {
    for source in [
        "plain text",
        "{ \"json\": 1 }",
        "a } b { c",
        "",
        "trailing\n",
    ] {
        let compiled = compile(source).unwrap();
        assert!(compiled.is_literal(), "{source:?}");
        assert!(compiled.variables().is_empty());
        assert_eq!(compiled.render(&Context::default()).unwrap(), json!(source));
    }
}

#[test]
fn single_expression_renders_typed_json() {
    let c = alert_ctx();
    let cases = [
        ("{{ receive_alert.body.count }}", json!(3)),
        ("{{ receive_alert.body.count * 1.5 }}", json!(4.5)),
        ("{{ 1.0 }}", json!(1.0)),
        ("{{ receive_alert.body.count > 2 }}", json!(true)),
        ("{{ receive_alert.body.tags }}", json!(["a", "b"])),
        (
            "{{ vt_lookup.body.data.attributes }}",
            json!({"last_analysis_stats": {"malicious": 7}}),
        ),
        ("{{ receive_alert.body.note }}", Json::Null),
        ("{{ none }}", Json::Null),
        ("{{ receive_alert.body.ip }}", json!("10.0.0.1")),
        ("{{ range(3) }}", json!([0, 1, 2])),
        ("{{ {'k': [1, none]} }}", json!({"k": [1, null]})),
    ];
    for (source, expected) in cases {
        let compiled = compile(source).unwrap();
        assert!(compiled.is_expression(), "{source}");
        assert_eq!(compiled.render(&c).unwrap(), expected, "{source}");
    }
}

#[test]
fn whitespace_and_dashes_still_make_a_single_expression() {
    let c = alert_ctx();
    for source in [
        "  {{ receive_alert.body.count }}\n",
        "{{- receive_alert.body.count -}}",
        "{{+receive_alert.body.count+}}",
    ] {
        let compiled = compile(source).unwrap();
        assert!(compiled.is_expression(), "{source:?}");
        assert_eq!(compiled.render(&c).unwrap(), json!(3));
    }
}

#[test]
fn two_expressions_or_surrounding_text_render_a_string() {
    let c = alert_ctx();
    assert_eq!(
        render("{{ receive_alert.body.count }}{{ 1 }}", &c).unwrap(),
        json!("31")
    );
    assert_eq!(
        render("n={{ receive_alert.body.count }}", &c).unwrap(),
        json!("n=3")
    );
    assert_eq!(render("{{ '}}' }}", &c).unwrap(), json!("}}"));
    assert_eq!(render("{{ 'a' }}}", &c).unwrap(), json!("a}"));
    assert!(!compile("x {{ 1 }}").unwrap().is_expression());
}

#[test]
fn syntax_error_has_message_line_and_offset() {
    let err = compile("{{ x").unwrap_err();
    assert_eq!(
        err,
        Error::Syntax {
            message: "syntax error: unexpected end of input, expected end of variable block".into(),
            line: Some(1),
            offset: Some(0),
        }
    );
    let err = compile("first\nsecond {{ x + }}").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Syntax {
                line: Some(2),
                offset: Some(6),
                ..
            }
        ),
        "{err:?}"
    );
    // A single expression reports the offset of the expression itself.
    let err = compile("\n  {{ a b }}").unwrap_err();
    assert_eq!(
        err,
        Error::Syntax {
            message: "syntax error: unexpected input after expression".into(),
            line: Some(2),
            offset: Some(5),
        }
    );
    assert_eq!(
        err.to_string(),
        "syntax error: unexpected input after expression"
    );
}

#[test]
fn statements_outside_the_enabled_features_are_syntax_errors() {
    for source in [
        "{% macro m() %}{% endmacro %}",
        "{% include 'x' %}",
        "{% for i in x %}{% break %}{% endfor %}",
    ] {
        assert!(
            matches!(compile(source), Err(Error::Syntax { .. })),
            "{source}"
        );
    }
}

#[test]
fn variables_reports_sorted_dotted_paths() {
    let source = "{{ vt_lookup.body.data }} {{ credentials.virustotal }} {{ vt_lookup.body.data }}";
    assert_eq!(
        vars(source),
        ["credentials.virustotal", "vt_lookup.body.data"]
    );
    assert_eq!(vars("{{ inputs.ip }}"), ["inputs.ip"]);
}

#[test]
fn variables_stops_at_subscripts() {
    assert_eq!(vars("{{ a[\"b\"] }}"), ["a"]);
    assert_eq!(vars("{{ a.b[0].c }}"), ["a.b"]);
    assert_eq!(vars("{{ a[b.c] }}"), ["a", "b.c"]);
}

#[test]
fn variables_reports_the_full_path_before_a_filter() {
    assert_eq!(vars("{{ a.b.c | lower }}"), ["a.b.c"]);
    assert_eq!(
        vars("{{ a.b | map(attribute='c') | join(sep.x) }}"),
        ["a.b", "sep.x"]
    );
}

#[test]
fn variables_reports_the_loop_iterable_not_the_loop_variable() {
    assert_eq!(
        vars("{% for x in items %}{{ x.y }}{{ loop.index }}{% endfor %}"),
        ["items"]
    );
    assert_eq!(
        vars("{% for k, v in m.items() %}{{ k }}{% endfor %}"),
        ["m.items"]
    );
    assert_eq!(vars("{% set y = z.w %}{{ y.q }}"), ["z.w"]);
}

#[test]
fn variables_keeps_both_a_prefix_and_a_longer_path() {
    assert_eq!(vars("{{ a.b }}{{ a.b.c }}"), ["a.b", "a.b.c"]);
    assert_eq!(vars("{{ x if x is defined else w.v }}"), ["w.v", "x"]);
}

#[test]
fn variables_excludes_functions_and_hidden_variables() {
    assert_eq!(
        vars("{{ prompt_url('approve') }}{{ range(3) }}{{ dict(a=1) }}{{ namespace() }}"),
        Vec::<String>::new()
    );
    assert_eq!(vars("{{ __prompt_urls.approve }}{{ run.id }}"), ["run.id"]);
}

#[test]
fn functions_constant_matches_the_environment_globals() {
    let mut globals: Vec<&str> = env().globals().map(|(name, _)| name).collect();
    globals.sort();
    assert_eq!(globals, FUNCTIONS);
}

#[test]
fn compiled_and_context_are_shareable_values() {
    fn assert_shareable<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
    assert_shareable::<Compiled>();
    assert_shareable::<Context>();
    assert_shareable::<Error>();
    let compiled = compile("{{ a }}").unwrap();
    assert_eq!(
        format!("{compiled:?}"),
        r#"Compiled { kind: "expression", source: "{{ a }}" }"#
    );
    let handle = std::thread::spawn(move || compiled.render(&ctx(json!({"a": 1}))).unwrap());
    assert_eq!(handle.join().unwrap(), json!(1));
}
