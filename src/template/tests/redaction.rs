//! Contexts and redaction: credential values never appear in an error.

use super::*;
use crate::secrets::REDACTED;
use serde_json::json;

/// A field whose error quotes the token (the regex filter quotes its
/// pattern), so only the scrub keeps it out: a positive control.
const QUOTES_THE_TOKEN: &str = "{{ credentials.token | regex_match(credentials.token ~ '(') }}";

fn assert_quoted_token_is_redacted(ctx: &Context) {
    let err = render(QUOTES_THE_TOKEN, ctx).unwrap_err();
    assert!(err.to_string().contains(REDACTED), "{err}");
}

#[test]
fn context_with_sets_one_root_and_keeps_the_rest() {
    let base = alert_ctx();
    let per_item = base.with("item", &json!({"ip": "1.2.3.4"}));
    let source = "{{ item.ip }} {{ receive_alert.body.ip }}";
    assert_eq!(
        render(source, &per_item).unwrap(),
        json!("1.2.3.4 10.0.0.1")
    );
    let replaced = per_item.with("item", &json!({"ip": "5.6.7.8"}));
    assert_eq!(
        render("{{ item.ip }}", &replaced).unwrap(),
        json!("5.6.7.8")
    );
    assert!(render("{{ item }}", &base).is_err());
    let rotated = base.with("credentials", &json!({"token": "n3w-t0ken"}));
    let err = render(
        "{{ credentials.token | int }}{{ credentials.token ~ nope }}",
        &rotated,
    )
    .unwrap_err();
    assert!(!format!("{err:?}").contains("n3w-t0ken"));
    assert_quoted_token_is_redacted(&rotated);
}

#[test]
fn context_debug_shows_names_not_values() {
    let debug = format!("{:?}", alert_ctx());
    assert!(
        debug.contains("credentials") && !debug.contains("s3cr3t"),
        "{debug}"
    );
}

#[test]
fn credential_values_never_appear_in_errors() {
    let c = alert_ctx();
    let sources = [
        "{{ credentials.token | int }}",
        "{{ credentials.token ~ undefined_thing }}",
        "{{ credentials.token.x }}",
        "{{ credentials[credentials.token] }}",
        "{{ receive_alert[credentials.token] }}",
        "{{ credentials.token | b64decode }}",
        "{{ credentials.token | from_json }}",
        "{{ credentials.token | date }}",
        QUOTES_THE_TOKEN,
        "{{ credentials.token | jsonpath(credentials.token) }}",
        "{{ prompt_url(credentials.token) }}",
        "{{ credentials.token | float }}",
        "{{ credentials.token + 1 }}",
        "line one\n{{ credentials.virustotal.nope }}",
    ];
    for source in sources {
        let err = render(source, &c).unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(
                !text.contains("hunter2") && !text.contains("s3cr3t"),
                "{source}: {text}"
            );
        }
    }
    // The scrub also catches a secret that a message does quote.
    assert_quoted_token_is_redacted(&c);
}

#[test]
fn numeric_credentials_are_redacted_too() {
    let c = ctx(json!({"credentials": {"pin": 987654321}}));
    let err = render(
        "{{ credentials.pin * 99999999999999999999999999999999999 }}",
        &c,
    )
    .unwrap_err();
    assert!(!err.to_string().contains("987654321"), "{err}");
    assert!(err.to_string().contains(REDACTED), "{err}");
}
