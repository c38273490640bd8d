//! Each filter family through a rendered field, as a story would use it.

use crate::template::{compile, Context};
use serde_json::{json, Value as Json};

fn render_in(source: &str, vars: Json) -> Result<Json, String> {
    let Json::Object(map) = vars else {
        panic!("vars must be an object")
    };
    compile(source)
        .and_then(|c| c.render(&Context::new(map)))
        .map_err(|e| e.to_string())
}

fn render(source: &str) -> Result<Json, String> {
    render_in(source, json!({}))
}

/// Renders each source and compares with its expected value.
fn assert_renders(cases: &[(&str, Json)]) {
    for (source, expected) in cases {
        assert_eq!(render(source).as_ref(), Ok(expected), "{source}");
    }
}

/// Renders each source and compares the error with its expected message.
fn assert_fails(cases: &[(&str, &str)]) {
    for (source, expected) in cases {
        assert_eq!(render(source).unwrap_err(), *expected, "{source}");
    }
}

fn vt_report() -> Json {
    json!({"vt": {"body": {"data": {
        "id": "44d88612fea8a8f36de82e1278abb02f",
        "attributes": {
            "last_analysis_stats": {"malicious": 61, "harmless": 0},
            "last_analysis_results": {
                "Avast": {"category": "malicious", "result": "EICAR Test-NOT virus!!!"},
                "Bkav": {"category": "undetected", "result": null},
                "ClamAV": {"category": "malicious", "result": "Win.Test.EICAR_HDB-1"}
            },
            "tags": ["eicar", "text"]
        }
    }}}})
}

#[test]
fn json_serializes_compactly_without_html_escaping() {
    let out = render_in(
        "{{ x | json }}",
        json!({"x": {"a": [1, null, "<b>&'"], "b": true}}),
    );
    assert_eq!(out.unwrap(), json!(r#"{"a":[1,null,"<b>&'"],"b":true}"#));
    assert_eq!(render("{{ 'q\"' | json }}").unwrap(), json!(r#""q\"""#));
    assert_eq!(
        render_in("{{ x.nope | json }}", json!({"x": {}})).unwrap_err(),
        "undefined value `x.nope`: `x` (map) has no attribute `nope`"
    );
}

#[test]
fn from_json_parses_text_into_a_value() {
    let out = render_in(
        "{{ (body | from_json).items[1].id }}",
        json!({"body": r#"{"items": [{"id": 1}, {"id": 2}]}"#}),
    );
    assert_eq!(out.unwrap(), json!(2));
    assert_eq!(
        render("{{ '[1, {\"a\": null}]' | from_json }}").unwrap(),
        json!([1, {"a": null}])
    );
    assert_eq!(
        render("{{ '{' | from_json }}").unwrap_err(),
        "invalid operation: from_json: input is not valid JSON (line 1 column 1)"
    );
}

#[test]
fn b64encode_and_b64decode_round_trip() {
    assert_renders(&[
        ("{{ 'user:pass' | b64encode }}", json!("dXNlcjpwYXNz")),
        ("{{ 'dXNlcjpwYXNz' | b64decode }}", json!("user:pass")),
        // Padding is optional.
        ("{{ 'aGk' | b64decode }}", json!("hi")),
        ("{{ 'héllo' | b64encode | b64decode }}", json!("héllo")),
    ]);
}

#[test]
fn b64_errors_are_clear() {
    assert_fails(&[
        (
            "{{ 'not base64!' | b64decode }}",
            "invalid operation: b64decode: input is not valid base64",
        ),
        (
            "{{ '/w==' | b64decode }}",
            "invalid operation: b64decode: decoded bytes are not valid UTF-8 text",
        ),
        (
            "{{ 1 | b64encode }}",
            "invalid operation: b64encode: expected a string, got number",
        ),
    ]);
}

#[test]
fn urlencode_builtin_is_kept() {
    // Like Jinja2, `/` is left as is in strings (it is escaped in mappings).
    assert_renders(&[
        (
            "https://x/{{ 'a b/c&d?=:' | urlencode }}",
            json!("https://x/a%20b/c%26d%3F%3D%3A"),
        ),
        (
            "{{ {'q': 'a b', 'n': 1} | urlencode }}",
            json!("q=a%20b&n=1"),
        ),
    ]);
}

#[test]
fn sha256_is_lowercase_hex_of_utf8() {
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(render("{{ 'abc' | sha256 }}").unwrap(), json!(abc));
    assert_eq!(
        render("{{ none | sha256 }}").unwrap_err(),
        "invalid operation: sha256: expected a string, got none"
    );
}

#[test]
fn regex_replace_replaces_every_match_with_groups() {
    assert_renders(&[
        (
            "{{ 'a1b22c' | regex_replace('[0-9]+', '#') }}",
            json!("a#b#c"),
        ),
        (
            "{{ 'john.smith' | regex_replace('(\\\\w+)\\\\.(\\\\w+)', '$2, $1') }}",
            json!("smith, john"),
        ),
    ]);
}

#[test]
fn regex_match_searches_anywhere() {
    assert_renders(&[
        (
            "{{ 'evil.example.com' | regex_match('example\\\\.com$') }}",
            json!(true),
        ),
        (
            "{{ 'evil.example.com' | regex_match('^example') }}",
            json!(false),
        ),
    ]);
}

#[test]
fn regex_extract_returns_group_one_or_the_match_or_none() {
    assert_renders(&[
        ("{{ 'id=42;' | regex_extract('id=(\\\\d+)') }}", json!("42")),
        ("{{ 'id=42;' | regex_extract('\\\\d+') }}", json!("42")),
        ("{{ 'none here' | regex_extract('\\\\d+') }}", Json::Null),
        ("{{ 'ab' | regex_extract('a(x)?') }}", json!("a")),
    ]);
}

#[test]
fn invalid_or_hostile_regex_is_a_clear_error() {
    assert_eq!(
        render("{{ 'a' | regex_extract('(') }}").unwrap_err(),
        "invalid operation: regex_extract: invalid pattern `(`: unclosed group"
    );
    let message = render("{{ 'a' | regex_match('a{10000}{10000}') }}").unwrap_err();
    assert!(message.ends_with("it compiles too large"), "{message}");
    let message = render("{{ 'a' | regex_replace('a' * 5000, '') }}").unwrap_err();
    assert_eq!(
        message,
        "invalid operation: regex_replace: pattern is longer than 4096 bytes"
    );
}

#[test]
fn regex_cache_stays_bounded() {
    let patterns = crate::pattern::RUNTIME_REGEX_CACHE + 100;
    for i in 0..patterns {
        assert_eq!(
            render(&format!("{{{{ 'x{i}' | regex_match('x{i}$') }}}}")).unwrap(),
            json!(true)
        );
    }
    let len = crate::pattern::runtime_regex_cache_len();
    assert!(len <= crate::pattern::RUNTIME_REGEX_CACHE, "{len}");
}

#[test]
fn date_formats_the_three_input_forms_in_utc() {
    let vars = json!({
        "unix": 1606339623, "unix_f": 1606339623.496,
        "rfc": "2020-11-25T21:27:03.496Z", "rfc_offset": "2020-11-25T22:27:03.496+01:00",
        "panther": "2020-11-25 21:27:03.496000000", "unix_s": "1606339623"
    });
    for name in ["unix", "unix_f", "rfc", "rfc_offset", "panther", "unix_s"] {
        let out = render_in(&format!("{{{{ {name} | date }}}}"), vars.clone());
        assert_eq!(out.unwrap(), json!("2020-11-25T21:27:03Z"), "{name}");
    }
    let out = render_in(
        "{{ panther | date('%Y-%m-%d %H:%M:%S%.3f %Z') }}",
        vars.clone(),
    );
    assert_eq!(out.unwrap(), json!("2020-11-25 21:27:03.496 UTC"));
    assert_eq!(
        render_in("{{ unix | date('%s') }}", vars).unwrap(),
        json!("1606339623")
    );
}

#[test]
fn date_errors_name_the_problem_not_the_input() {
    let message = render("{{ 'yesterday' | date }}").unwrap_err();
    assert_eq!(message, "invalid operation: date: expected unix seconds, an RFC 3339 date or `YYYY-MM-DD HH:MM:SS` (UTC)");
    let message = render("{{ 0 | date('%Y %') }}").unwrap_err();
    assert!(
        message.starts_with("invalid operation: date: cannot format with `%Y %`"),
        "{message}"
    );
    assert!(render("{{ [1] | date }}").is_err());
}

#[test]
fn timestamp_returns_unix_seconds() {
    assert_eq!(
        render("{{ '2020-11-25T21:27:03.496Z' | timestamp }}").unwrap(),
        json!(1606339623)
    );
    assert_eq!(
        render("{{ '2020-11-25 21:27:03.496000000' | timestamp }}").unwrap(),
        json!(1606339623)
    );
    assert_eq!(
        render("{{ 1606339623.9 | timestamp }}").unwrap(),
        json!(1606339623)
    );
    assert!(render("{{ 'soon' | timestamp }}")
        .unwrap_err()
        .starts_with("invalid operation: timestamp: expected"));
}

#[test]
fn jsonpath_queries_a_virustotal_report() {
    let report = vt_report();
    let source = "{{ vt.body | jsonpath('$.data.attributes.last_analysis_stats.malicious') }}";
    assert_eq!(render_in(source, report.clone()).unwrap(), json!([61]));
    let source = "{{ vt.body | jsonpath(\"$.data.attributes.last_analysis_results[?@.category == 'malicious'].result\") }}";
    assert_eq!(
        render_in(source, report.clone()).unwrap(),
        json!(["EICAR Test-NOT virus!!!", "Win.Test.EICAR_HDB-1"])
    );
    let source = "{{ vt.body | jsonpath('$.data.nope') }}";
    assert_eq!(render_in(source, report.clone()).unwrap(), json!([]));
    let source = "{{ vt.body | jsonpath('$..tags[0]') | first_or_none }}";
    assert_eq!(render_in(source, report).unwrap(), json!("eicar"));
}

#[test]
fn jsonpath_invalid_path_error_includes_the_path() {
    let message = render("{{ {} | jsonpath('$.data[') }}").unwrap_err();
    assert!(
        message.starts_with("invalid operation: jsonpath: invalid path `$.data[`"),
        "{message}"
    );
}

#[test]
fn first_or_none_returns_the_first_item_or_none() {
    assert_eq!(render("{{ [3, 4] | first_or_none }}").unwrap(), json!(3));
    assert_eq!(render("{{ [] | first_or_none }}").unwrap(), Json::Null);
    assert_eq!(render("{{ none | first_or_none }}").unwrap(), Json::Null);
    assert!(render("{{ 5 | first_or_none }}").is_err());
}

#[test]
fn builtin_filters_are_available() {
    let vars =
        json!({"alerts": [{"sev": "HIGH", "n": "3"}, {"sev": "low", "n": "4.5"}], "m": {"a": 1}});
    let cases = [
        ("{{ alerts[5] | default('none') }}", json!("none")),
        ("{{ alerts[0].sev | lower }}", json!("high")),
        ("{{ alerts[1].sev | upper }}", json!("LOW")),
        ("{{ alerts | length }}", json!(2)),
        (
            "{{ alerts | map(attribute='sev') | join(',') }}",
            json!("HIGH,low"),
        ),
        (
            "{{ alerts | selectattr('sev', 'eq', 'low') | list | length }}",
            json!(1),
        ),
        ("{{ alerts[0].n | int + 1 }}", json!(4)),
        ("{{ alerts[1].n | float }}", json!(4.5)),
        ("{{ 5 | string }}", json!("5")),
        ("{{ m | items | list }}", json!([["a", 1]])),
    ];
    for (source, expected) in cases {
        assert_eq!(
            render_in(source, vars.clone()).unwrap(),
            expected,
            "{source}"
        );
    }
}

#[test]
fn prompt_url_returns_the_url_for_a_status() {
    let vars = json!({"__prompt_urls": {"approve": "https://w/p/1?s=approve", "deny": "https://w/p/1?s=deny"}});
    let out = render_in("Approve: {{ prompt_url('approve') }}", vars.clone());
    assert_eq!(out.unwrap(), json!("Approve: https://w/p/1?s=approve"));
    let message = render_in("{{ prompt_url('maybe') }}", vars).unwrap_err();
    assert_eq!(message, "invalid operation: prompt_url(): unknown status `maybe`, expected one of `approve`, `deny`");
}

#[test]
fn prompt_url_outside_a_prompt_is_an_error() {
    let message = render("{{ prompt_url('approve') }}").unwrap_err();
    assert_eq!(
        message,
        "invalid operation: prompt_url() is only available in a prompt action's message"
    );
}

#[test]
fn slack_escape_turns_control_characters_into_entities() {
    let out = render_in(
        "{{ name | slack_escape }}",
        json!({"name": "<https://evil.example/okta-verify|Click here to confirm…> <!channel> & co"}),
    );
    assert_eq!(
        out.unwrap(),
        json!("&lt;https://evil.example/okta-verify|Click here to confirm…&gt; &lt;!channel&gt; &amp; co")
    );
    assert_renders(&[
        ("{{ 'plain *text*' | slack_escape }}", json!("plain *text*")),
        ("{{ 3 | slack_escape }}", json!("3")),
        ("{{ ['<a>'] | slack_escape }}", json!(r#"["&lt;a&gt;"]"#)),
    ]);
}

#[test]
fn markdown_escape_neutralises_links_html_and_formatting() {
    let out = render_in(
        "- By: {{ name | markdown_escape }}",
        json!({"name": "[Verify](https://evil.example) ![x](y) <b>hi</b> *a* _b_ `c` # d | e ~f~ \\"}),
    );
    assert_eq!(
        out.unwrap(),
        json!(
            r"- By: \[Verify\]\(https://evil.example\) \!\[x\]\(y\) \<b\>hi\</b\> \*a\* \_b\_ \`c\` \# d \| e \~f\~ \\"
        )
    );
    assert_renders(&[
        (
            "{{ '185.220.101.4' | markdown_escape }}",
            json!("185.220.101.4"),
        ),
        (
            "{{ 'a@example.com' | markdown_escape }}",
            json!("a@example.com"),
        ),
        ("{{ 61 | markdown_escape }}", json!("61")),
    ]);
}

#[test]
fn path_segment_encodes_everything_but_unreserved_characters() {
    assert_renders(&[
        (
            "https://x/users/{{ '../../echo/traversal' | path_segment }}/sessions",
            json!("https://x/users/..%2F..%2Fecho%2Ftraversal/sessions"),
        ),
        (
            "{{ 'a b?c#d%2e&=é' | path_segment }}",
            json!("a%20b%3Fc%23d%252e%26%3D%C3%A9"),
        ),
        (
            "{{ '00u6eup97mAJZ-._~' | path_segment }}",
            json!("00u6eup97mAJZ-._~"),
        ),
        ("{{ 42 | path_segment }}", json!("42")),
        ("{{ '...' | path_segment }}", json!("...")),
    ]);
}

#[test]
fn path_segment_refuses_dot_segments_and_empty_values() {
    assert_fails(&[
        (
            "https://x/users/{{ '..' | path_segment }}",
            "invalid operation: path_segment: refusing `..` as a path segment (it would change the request's path)",
        ),
        (
            "https://x/users/{{ '.' | path_segment }}",
            "invalid operation: path_segment: refusing `.` as a path segment (it would change the request's path)",
        ),
        (
            "https://x/users/{{ '' | path_segment }}/sessions",
            "invalid operation: path_segment: refusing an empty value as a path segment (it would change the request's path)",
        ),
        (
            "{{ none | path_segment }}",
            "invalid operation: path_segment: expected a string or a number, got none",
        ),
    ]);
}
