//! Rendering: text output, undefined values, fuel, and whole JSON values.

use super::*;
use serde_json::{json, Value as Json};

#[test]
fn text_template_renders_a_string() {
    let c = alert_ctx();
    let source = "https://x/{{ receive_alert.body.ip | urlencode }}?{% for t in receive_alert.body.tags %}t={{ t }}&{% endfor %}";
    assert_eq!(
        render(source, &c).unwrap(),
        json!("https://x/10.0.0.1?t=a&t=b&")
    );
}

#[test]
fn text_output_writes_non_strings_as_json() {
    let c = alert_ctx();
    let out = render("{{ receive_alert.body.note }} {{ receive_alert.body.tags }} {{ true }} {{ 2.5 }} {{ {'a': 1} }}", &c);
    assert_eq!(out.unwrap(), json!(r#"null ["a","b"] true 2.5 {"a":1}"#));
}

#[test]
fn auto_escaping_is_off() {
    assert_eq!(
        render("<{{ '<b>&\"' }}>", &Context::default()).unwrap(),
        json!("<<b>&\">")
    );
}

#[test]
fn trailing_newline_is_kept_like_a_literal() {
    let c = alert_ctx();
    assert_eq!(
        render("ip {{ receive_alert.body.ip }}\n", &c).unwrap(),
        json!("ip 10.0.0.1\n")
    );
    assert_eq!(render("ip\n", &c).unwrap(), json!("ip\n"));
}

#[test]
fn undefined_variable_is_an_error() {
    let c = alert_ctx();
    let message = render_err("{{ vt_lokup.body }}", &c);
    assert!(
        message.starts_with("undefined variable `vt_lokup` (known: "),
        "{message}"
    );
    assert!(
        message.contains("vt_lookup") && message.contains("receive_alert"),
        "{message}"
    );
    let message = render_err("ip: {{ missing }}", &c);
    assert!(
        message.starts_with("undefined variable `missing`"),
        "{message}"
    );
}

#[test]
fn undefined_attribute_is_an_error() {
    let c = alert_ctx();
    let message = render_err("{{ vt_lookup.body.data.attributes.reputation }}", &c);
    assert_eq!(
        message,
        "undefined value `vt_lookup.body.data.attributes.reputation`: `vt_lookup.body.data.attributes` (map) has no attribute `reputation`"
    );
    let message = render_err("x={{ receive_alert.body.ip.octets }}", &c);
    assert!(
        message.contains("`receive_alert.body.ip` (string) has no attribute `octets`"),
        "{message}"
    );
    // Undefined inside a typed result is caught too, not turned into null.
    let message = render_err("{{ [receive_alert.body.nope] }}", &c);
    assert!(message.contains("receive_alert.body.nope"), "{message}");
}

#[test]
fn undefined_error_names_the_path_on_the_failing_line() {
    let c = alert_ctx();
    let source = "{{ receive_alert.nope | default('x') }}\n{{ vt_lookup.body.nope }}";
    let message = render_err(source, &c);
    assert!(
        message.starts_with("undefined value `vt_lookup.body.nope`"),
        "{message}"
    );
    assert!(message.ends_with("(line 2)"), "{message}");
}

#[test]
fn undefined_value_without_a_static_path_is_still_reported() {
    let c = alert_ctx();
    let message = render_err(
        "{% for t in receive_alert.body.tags %}{{ t.name }}{% endfor %}",
        &c,
    );
    assert_eq!(message, "undefined value");
}

#[test]
fn defined_test_and_default_handle_missing_values() {
    let c = alert_ctx();
    assert_eq!(
        render("{{ receive_alert.body.nope | default('n/a') }}", &c).unwrap(),
        json!("n/a")
    );
    assert_eq!(render("{{ nope is defined }}", &c).unwrap(), json!(false));
    assert_eq!(
        render(
            "{% if receive_alert.body.nope is defined %}y{% else %}n{% endif %}",
            &c
        )
        .unwrap(),
        json!("n")
    );
}

#[test]
fn unknown_filter_is_reported_when_rendering() {
    let compiled = compile("{{ 1 | nosuchfilter }}").unwrap();
    let message = compiled
        .render(&Context::default())
        .unwrap_err()
        .to_string();
    assert_eq!(message, "unknown filter: filter nosuchfilter is unknown");
}

#[test]
fn fuel_stops_an_endless_loop() {
    let source =
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    let message = render_err(source, &Context::default());
    assert!(
        message.starts_with("template exceeded its work budget"),
        "{message}"
    );
}

#[test]
fn fuel_stops_a_memory_bomb() {
    let message = render_err(
        "{{ (range(100000) | join(',')) * 100000 }}",
        &Context::default(),
    );
    assert!(
        message.starts_with("template exceeded its work budget"),
        "{message}"
    );
}

#[test]
fn render_value_renders_every_string_leaf() {
    let c = alert_ctx();
    let body = json!({
        "{{ not_a_key_template }}": "{{ receive_alert.body.count }}",
        "nested": {"list": ["{{ receive_alert.body.tags }}", "ip={{ receive_alert.body.ip }}", 5, true, null]},
        "plain": "text",
    });
    let expected = json!({
        "{{ not_a_key_template }}": 3,
        "nested": {"list": [["a", "b"], "ip=10.0.0.1", 5, true, null]},
        "plain": "text",
    });
    assert_eq!(render_value(&body, &c).unwrap(), expected);
}

#[test]
fn render_value_errors_name_the_json_pointer() {
    let c = alert_ctx();
    let body = json!({"a/b": [1, "{{ nope }}"]});
    let message = render_value(&body, &c).unwrap_err().to_string();
    assert!(
        message.starts_with("/a~1b/1: undefined variable `nope`"),
        "{message}"
    );
    let err = render_value(&json!({"x": "{{ y"}), &c).unwrap_err();
    assert!(
        matches!(err, Error::Syntax { line: Some(1), .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("/x: syntax error"), "{err}");
}

fn slack(source: &str, vars: Json) -> Result<String, Error> {
    compile(source)?.render_slack_mrkdwn(&ctx(vars))
}

#[test]
fn slack_mrkdwn_escapes_interpolated_values_but_not_the_authors_text() {
    let name = "<https://evil.example/okta-verify|Click here to confirm…> <!channel>";
    let out = slack(
        "*Admin granted* by {{ actor.displayName }} (<https://okta.example/u|profile>) & {{ n }}",
        json!({"actor": {"displayName": name}, "n": 2}),
    );
    assert_eq!(
        out.unwrap(),
        "*Admin granted* by &lt;https://evil.example/okta-verify|Click here to confirm…&gt; &lt;!channel&gt; \
         (<https://okta.example/u|profile>) & 2"
    );
}

#[test]
fn slack_mrkdwn_escapes_every_kind_of_output_once() {
    let vars = json!({"v": "<!here>", "list": ["<a>", "b"], "m": {"k": "<@U1>"}});
    let cases = [
        // A field that is one expression is text here, escaped like any other.
        ("{{ v }}", "&lt;!here&gt;"),
        ("{{ list }}", r#"["&lt;a&gt;","b"]"#),
        ("{{ m }}", r#"{"k":"&lt;@U1&gt;"}"#),
        ("{{ list | join(', ') }}", "&lt;a&gt;, b"),
        ("{{ 'x' ~ v }}", "x&lt;!here&gt;"),
        ("{% for i in list %}{{ i }};{% endfor %}", "&lt;a&gt;;b;"),
        // Already escaped, or marked safe by the author: written as is.
        ("{{ v | slack_escape }}", "&lt;!here&gt;"),
        ("{{ '<!here>' | safe }}", "<!here>"),
        ("{{ v | e }}", "&lt;!here&gt;"),
        ("no markup <!here>", "no markup <!here>"),
    ];
    for (source, expected) in cases {
        assert_eq!(slack(source, vars.clone()).unwrap(), expected, "{source}");
    }
}

#[test]
fn slack_mrkdwn_keeps_strict_undefined() {
    let err = slack("hi {{ actor.nope }}", json!({"actor": {}})).unwrap_err();
    assert_eq!(
        err.message(),
        "undefined value `actor.nope`: `actor` (map) has no attribute `nope`"
    );
}
