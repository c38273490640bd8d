//! Missing data: empty where the context tolerates it (the runner's default), recorded by path;
//! an error for credentials, resources, `| required` and strict contexts.

use super::*;
use serde_json::json;

fn tolerant(vars: Json) -> Context {
    ctx(vars).tolerating_missing_data()
}

fn okta_alert() -> Json {
    json!({
        "receive_alert": {"body": {"alertContext": {"client": {
            "ipAddress": "203.0.113.9",
            "geographicalContext": null,
        }}}},
        "credentials": {"virustotal": "vt-s3cr3t-t0ken"},
        "resources": {"okta_url": "https://example.okta.com"},
    })
}

#[test]
fn a_missing_attribute_prints_empty_and_is_recorded() {
    let c = tolerant(okta_alert());
    let source = "from {{ receive_alert.body.alertContext.client.ipAddress }} \
                  ({{ receive_alert.body.alertContext.client.geographicalContext.city }}, \
                  {{ receive_alert.body.alertContext.client.zone.name }})";
    assert_eq!(render(source, &c).unwrap(), json!("from 203.0.113.9 (, )"));
    assert_eq!(
        c.missing_data(),
        [
            "receive_alert.body.alertContext.client.geographicalContext.city",
            "receive_alert.body.alertContext.client.zone",
        ]
    );
}

#[test]
fn a_missing_whole_field_expression_is_null() {
    let c = tolerant(okta_alert());
    let field = "{{ receive_alert.body.alertContext.actor.displayName }}";
    assert_eq!(render(field, &c).unwrap(), Json::Null);
    assert_eq!(c.missing_data(), ["receive_alert.body.alertContext.actor"]);
}

#[test]
fn present_data_records_nothing_and_default_still_applies() {
    let c = tolerant(okta_alert());
    let source = "{{ receive_alert.body.alertContext.client.geographicalContext.city \
                  | default('unknown', true) }} {{ receive_alert.body.nope is defined }}";
    assert_eq!(render(source, &c).unwrap(), json!("unknown false"));
    assert!(c.missing_data().is_empty(), "{:?}", c.missing_data());
}

#[test]
fn filters_see_missing_data_as_empty() {
    let c = tolerant(okta_alert());
    let cases = [
        (
            "{{ receive_alert.body.title | markdown_escape }}",
            json!(""),
        ),
        ("{{ receive_alert.body.title | json }}", json!("null")),
        ("{{ receive_alert.body.tags | length }}", json!(0)),
        ("{{ receive_alert.body.title | upper }}", json!("")),
    ];
    for (source, expected) in cases {
        assert_eq!(render(source, &c).unwrap(), expected, "{source}");
    }
}

#[test]
fn slack_text_is_tolerant_too() {
    let c = tolerant(okta_alert());
    let text = compile("in {{ receive_alert.body.alertContext.client.geographicalContext.city }}!")
        .unwrap()
        .render_slack_mrkdwn(&c)
        .unwrap();
    assert_eq!(text, "in !");
}

#[test]
fn a_missing_credential_or_resource_still_fails() {
    let c = tolerant(okta_alert());
    let message = render_err("Bearer {{ credentials.greynoise }}", &c);
    assert!(message.contains("`credentials.greynoise`"), "{message}");
    let message = render_err("{{ resources.thehive_url }}/api", &c);
    assert!(message.contains("`resources.thehive_url`"), "{message}");
    assert!(c.missing_data().is_empty());
}

#[test]
fn required_makes_one_field_strict() {
    let c = tolerant(okta_alert());
    let message = render_err(
        "{{ receive_alert.body.alertContext.client.geographicalContext | required }}",
        &c,
    );
    assert!(message.contains("required"), "{message}");
    let message = render_err(
        "{{ receive_alert.body.alertContext.user.id | required }}",
        &c,
    );
    assert!(
        message.contains("`receive_alert.body.alertContext.user`"),
        "{message}"
    );
    assert_eq!(
        render(
            "{{ receive_alert.body.alertContext.client.ipAddress | required }}",
            &c
        )
        .unwrap(),
        json!("203.0.113.9")
    );
}

#[test]
fn a_strict_context_fails_on_missing_data() {
    let c = ctx(okta_alert());
    let message = render_err(
        "{{ receive_alert.body.alertContext.client.geographicalContext.city }}",
        &c,
    );
    assert!(message.contains("geographicalContext"), "{message}");
    assert!(c.missing_data().is_empty());
}

#[test]
fn clones_and_derived_contexts_share_what_is_recorded() {
    let c = tolerant(okta_alert());
    let item = c.with("item", &json!({"value": 1}));
    render("{{ item.nope }}", &item).unwrap();
    assert_eq!(c.missing_data(), ["item.nope"]);
}
