//! Tines' spelling of options that map one-to-one onto Warden's is accepted (issue 15): the
//! story reads the same as with Warden's own names; anything else is still reported.

use warden::diagnostic::Code;
use warden::story::kinds::http_request::{ContentType, HttpMethod};
use warden::story::kinds::transform::TransformOptions;
use warden::story::kinds::ActionConfig;
use warden::story::validate::{check_story, Catalog};
use warden::story::Story;

/// The story, or each diagnostic's code and message with its hint.
fn story(actions: &str) -> Result<Story, Vec<(Code, String)>> {
    let source = format!(
        "name: t\ncredentials: {{ hook: secret }}\nactions:\n  hook:\n    type: webhook\n    options: {{ path: t, secret_credential: hook }}\n{actions}"
    );
    check_story("t", &source, &Catalog::default()).map_err(|ds| {
        ds.into_iter()
            .map(|d| (d.code, format!("{} ({:?})", d.message, d.hint)))
            .collect()
    })
}

fn config<'a>(story: &'a Story, id: &str) -> &'a ActionConfig {
    &story.actions.iter().find(|a| a.id == id).unwrap().config
}

#[test]
fn http_methods_are_read_in_any_case_with_tines_payload_and_content_type() {
    let story = story(
        "  call:
    type: http_request
    from: hook
    options:
      url: https://example.com/api
      method: post
      content_type: application_json
      payload: { email: \"{{ hook.body.email }}\" }
  other:
    type: http_request
    from: hook
    options: { url: https://example.com, method: Patch, content_type: application/x-www-form-urlencoded, body: { a: b } }
",
    )
    .unwrap();
    let ActionConfig::HttpRequest(call) = config(&story, "call") else {
        panic!("an http_request")
    };
    assert_eq!(call.method, HttpMethod::Post);
    assert_eq!(call.content_type, ContentType::Json);
    assert!(call.body.is_some(), "payload is the body");
    let ActionConfig::HttpRequest(other) = config(&story, "other") else {
        panic!("an http_request")
    };
    assert_eq!(other.method, HttpMethod::Patch);
    assert_eq!(other.content_type, ContentType::Form);
}

#[test]
fn an_unknown_method_is_still_reported_with_the_methods_known() {
    let errors = story(
        "  call:\n    type: http_request\n    from: hook\n    options: { url: https://x, method: fetch }\n",
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].1.contains("fetch") && errors[0].1.contains("POST"),
        "{errors:?}"
    );
}

#[test]
fn transform_options_take_tines_names() {
    let story = story(
        "  wait:
    type: transform
    from: hook
    options: { mode: delay, seconds: 3600 }
  pace:
    type: transform
    from: wait
    options: { mode: throttle, interval: minute, capacity: 5, throttle_key: \"{{ hook.body.user }}\" }
  pull:
    type: transform
    from: pace
    options:
      mode: extract
      matchers: [ { path: \"{{ hook.body.text }}\", regexp: \"https?://\\\\S+\", to: urls } ]
  say:
    type: transform
    from: pull
    options: { mode: message_only, payload: { ok: true } }
",
    )
    .unwrap();
    let TransformOptions::Delay(delay) = transform(&story, "wait") else {
        panic!("a delay")
    };
    assert_eq!(delay.duration.as_ref().unwrap().value.as_secs(), 3600);
    let TransformOptions::Throttle(throttle) = transform(&story, "pace") else {
        panic!("a throttle")
    };
    assert_eq!(throttle.runs_per_interval.value, 5);
    assert!(throttle.key.is_some());
    assert!(matches!(
        transform(&story, "pull"),
        TransformOptions::Extract(_)
    ));
    assert!(matches!(
        transform(&story, "say"),
        TransformOptions::Message(_)
    ));
}

fn transform<'a>(story: &'a Story, id: &str) -> &'a TransformOptions {
    match config(story, id) {
        ActionConfig::Transform(options) => options,
        other => panic!("{id} is {other:?}"),
    }
}

#[test]
fn a_tines_name_beside_warden_s_own_is_a_duplicate() {
    let errors = story(
        "  call:\n    type: http_request\n    from: hook\n    options: { url: https://x, method: POST, body: {a: 1}, payload: {a: 2} }\n",
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
}
