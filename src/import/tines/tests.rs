//! Whole exports through the importer, each checked by Warden's own validator.

use super::*;

/// Imports `json` and asserts every story validates.
fn valid(json: &str) -> Imported {
    let imported = import(json, "test.json").expect("imports");
    let invalid = validate(&imported);
    assert!(
        invalid.is_empty(),
        "{invalid:#?}\n{}",
        imported
            .stories
            .iter()
            .map(|s| s.yaml.as_str())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    imported
}

fn agent(kind: &str, name: &str, options: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"type": format!("Agents::{kind}"), "name": name, "options": options})
}

fn export(agents: Vec<serde_json::Value>, links: &[(usize, usize)]) -> String {
    let links: Vec<_> = links
        .iter()
        .map(|(s, r)| serde_json::json!({"source": s, "receiver": r}))
        .collect();
    serde_json::json!({"schema_version": 23, "name": "Test Story", "agents": agents, "links": links})
        .to_string()
}

#[test]
fn a_webhook_and_a_request_import_cleanly() {
    let imported = valid(&export(
        vec![
            agent(
                "WebhookAgent",
                "Receive Alert",
                serde_json::json!({"path": "alerts", "secret": "s3cr3t", "verbs": "get,post"}),
            ),
            agent(
                "HTTPRequestAgent",
                "Look Up",
                serde_json::json!({
                "url": "https://api.example.com/users/<<receive_alert.body.user>>",
                "method": "post", "content_type": "json",
                "payload": {"id": "<<receive_alert.body.id>>"},
                "headers": {"Authorization": "Bearer <<CREDENTIAL.api_key>>"},
                "retry_on_status": ["429", "500-599"]}),
            ),
        ],
        &[(0, 1)],
    ));
    assert!(imported.left_out.is_empty(), "{:?}", imported.left_out);
    let yaml = &imported.stories[0].yaml;
    assert!(yaml.contains("method: POST"), "{yaml}");
    assert!(
        yaml.contains("Authorization: Bearer {{ credentials.api_key }}"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("s3cr3t"),
        "the webhook's secret is not copied"
    );
    assert!(imported.credentials.contains_key("api_key"));
    assert!(imported
        .credentials
        .contains_key("test_story_receive_alert_secret"));
}

#[test]
fn a_get_payload_becomes_the_query_and_a_credential_there_is_left_out() {
    let imported = import(
        &export(
            vec![
                agent("WebhookAgent", "In", serde_json::json!({"path": "in"})),
                agent(
                    "HTTPRequestAgent",
                    "Get",
                    serde_json::json!({
                    "url": "https://x/api", "method": "get",
                    "payload": {"key": "{% credential vt %}", "q": "{{ .in.body.q }}"}}),
                ),
            ],
            &[(0, 1)],
        ),
        "t.json",
    )
    .unwrap();
    assert!(validate(&imported).is_empty());
    assert_eq!(imported.left_out.len(), 1, "{:?}", imported.left_out);
    assert!(
        imported.left_out[0].what.starts_with("`query`"),
        "{}",
        imported.left_out[0]
    );
    let yaml = &imported.stories[0].yaml;
    assert!(
        yaml.contains("# Not translated: `{% credential vt %}`: credential `vt` is used where"),
        "{yaml}"
    );
}

#[test]
fn a_slack_button_request_becomes_a_prompt() {
    let imported = valid(&export(
        vec![
            agent("WebhookAgent", "In", serde_json::json!({"path": "in"})),
            agent(
                "HTTPRequestAgent",
                "Ask User",
                serde_json::json!({
                "url": "https://slack.com/api/chat.postMessage", "method": "post",
                "headers": {"Authorization": "Bearer {% credential slack %}"},
                "payload": {"channel": "{{ .in.body.user }}", "blocks": [
                    {"type": "button", "url": "{% prompt true %}"},
                    {"type": "button", "url": "{% prompt invalid %}"}]}}),
            ),
            agent(
                "TriggerAgent",
                "Confirmed",
                serde_json::json!({
                "rules": [{"type": "regex", "path": "{{ .ask_user.prompt.status }}", "value": "true"}]}),
            ),
        ],
        &[(0, 1), (1, 2)],
    ));
    let yaml = &imported.stories[0].yaml;
    assert!(yaml.contains("type: prompt"), "{yaml}");
    assert!(yaml.contains("prompt_url(\\\"invalid\\\")"), "{yaml}");
    assert!(yaml.contains("- value: \"true\""), "{yaml}");
}

#[test]
fn loops_are_cut_and_reported() {
    let imported = valid(&export(
        vec![
            agent("WebhookAgent", "In", serde_json::json!({})),
            agent(
                "EventTransformationAgent",
                "Wait",
                serde_json::json!({"mode": "delay", "seconds": 60}),
            ),
            agent(
                "TriggerAgent",
                "Again",
                serde_json::json!({"rules": [{"type": "field<value", "path": "1", "value": "2"}]}),
            ),
        ],
        &[(0, 1), (1, 2), (2, 1)],
    ));
    assert_eq!(imported.left_out.len(), 1);
    assert!(imported.left_out[0].what.contains("closes a loop"));
}

#[test]
fn duplicate_names_get_their_own_ids_and_references_follow() {
    let imported = valid(&export(
        vec![
            agent("WebhookAgent", "In", serde_json::json!({})),
            agent(
                "EventTransformationAgent",
                "Message Text",
                serde_json::json!({"mode": "message_only", "payload": {"m": "a"}}),
            ),
            agent(
                "EventTransformationAgent",
                "Message Text",
                serde_json::json!({"mode": "message_only", "payload": {"m": "b"}}),
            ),
            agent(
                "EventTransformationAgent",
                "Join",
                serde_json::json!({"mode": "message_only", "payload": {"m": "{{ .message_text.m }}"}}),
            ),
        ],
        &[(0, 1), (0, 2), (1, 3), (2, 3)],
    ));
    let yaml = &imported.stories[0].yaml;
    assert!(yaml.contains("message_text_2:"), "{yaml}");
    assert!(
        yaml.contains("message_text.m if message_text is defined else message_text_2.m"),
        "{yaml}"
    );
}

#[test]
fn email_and_imap_are_reported_and_stand_in_place() {
    let imported = valid(&export(
        vec![
            agent(
                "IMAPAgent",
                "Inbox",
                serde_json::json!({"host": "imap.example.com"}),
            ),
            agent(
                "EmailAgent",
                "Notify",
                serde_json::json!({"recipients": ["a@example.com"], "subject": "x"}),
            ),
        ],
        &[(0, 1)],
    ));
    assert_eq!(imported.left_out.len(), 2, "{:?}", imported.left_out);
}

#[test]
fn scheduled_roots_get_a_start_webhook_and_the_schedule_is_reported() {
    let mut get = agent(
        "HTTPRequestAgent",
        "Poll",
        serde_json::json!({"url": "https://x", "method": "get"}),
    );
    get["schedule"] = serde_json::json!([{"cron": "*/5 * * * *", "timezone": "UTC"}]);
    let imported = valid(&export(vec![get], &[]));
    assert!(imported.stories[0].yaml.contains("start:"));
    assert!(imported.left_out[0].what.contains("schedule"));
}

#[test]
fn send_to_story_names_the_nested_story() {
    let json = serde_json::json!({
        "schema_version": 23, "name": "Parent", "links": [{"source": 0, "receiver": 1}],
        "agents": [
            agent("WebhookAgent", "In", serde_json::json!({"path": "parent"})),
            agent("SendToStoryAgent", "Enrich", serde_json::json!({"story": "<<STORY.child_story>>", "payload": {"ip": "<<in.body.ip>>"}}))],
        "send_to_stories": [{"schema_version": 23, "name": "Child Story", "slug": "child_story",
            "entry_agent_guid": "e1", "exit_agent_guids": ["x1"], "links": [{"source": 0, "receiver": 1}],
            "agents": [
              {"type": "Agents::WebhookAgent", "name": "Entry", "guid": "e1", "options": {"path": "child"}},
              {"type": "Agents::EventTransformationAgent", "name": "Exit", "guid": "x1",
               "options": {"mode": "message_only", "payload": {"ip": "<<INPUT.ip>>"}}}]}]
    });
    let imported = valid(&json.to_string());
    assert_eq!(imported.stories.len(), 2);
    assert!(
        imported.stories[0].yaml.contains("story: child-story"),
        "{}",
        imported.stories[0].yaml
    );
    assert!(
        imported.stories[1].yaml.contains("{{ entry.body.ip }}"),
        "{}",
        imported.stories[1].yaml
    );
    assert!(imported.left_out.is_empty(), "{:?}", imported.left_out);
}

#[test]
fn prompt_statuses_become_choice_values() {
    assert_eq!(prompt_status("true"), "true");
    assert_eq!(prompt_status("Not Me"), "not_me");
    assert_eq!(prompt_status("timeout"), "timeout_answer");
    assert_eq!(prompt_status("1"), "answer_1");
}

/// The `options:` block written for one agent linked after a webhook.
fn options_of(kind: &str, options: serde_json::Value) -> (String, Vec<LeftOut>) {
    let imported = valid(&export(
        vec![
            agent("WebhookAgent", "In", serde_json::json!({"path": "in"})),
            agent(kind, "Under Test", options),
        ],
        &[(0, 1)],
    ));
    let yaml = &imported.stories[0].yaml;
    let at = yaml.find("  under_test:").expect("the action");
    (yaml[at..].to_owned(), imported.left_out)
}

#[test]
fn each_transform_mode_maps_to_its_warden_mode() {
    for (options, expected) in [
        (serde_json::json!({"mode": "message_only", "payload": {"a": "<<in.body.a>>"}}),
         "mode: message\n      payload:\n        a: \"{{ in.body.a }}\""),
        (serde_json::json!({"mode": "message_only", "loop": "=in.body.items", "payload": {"v": "<<LOOP.value>>"}}),
         "loop: \"{{ in.body.items }}\"\n      payload:\n        v: \"{{ item.value }}\""),
        (serde_json::json!({"mode": "extract", "matchers": [{"path": "<<in.body.t>>", "regexp": "a+", "to": "as"}]}),
         "mode: extract\n      matchers:\n        - path: \"{{ in.body.t }}\"\n          regex: a+\n          to: as"),
        (serde_json::json!({"mode": "explode", "path": "=in.body.list", "to": "one", "limit": "10"}),
         "mode: explode\n      path: \"{{ in.body.list }}\"\n      to: one\n      limit: 10"),
        (serde_json::json!({"mode": "explode", "path": "in.body.list", "to": "one"}),
         "path: \"{{ in.body.list }}\""),
        (serde_json::json!({"mode": "implode", "item_path": "<<in.body.x>>", "guid_path": "<<in.body.g>>", "size_path": "<<in.body.n>>", "seconds": 120}),
         "mode: implode\n      item_path: \"{{ in.body.x }}\"\n      guid_path: \"{{ in.body.g }}\"\n      size_path: \"{{ in.body.n }}\"\n      timeout: 2m"),
        (serde_json::json!({"mode": "deduplicate", "path": "<<in.body.id>>", "lookback": "100"}),
         "mode: deduplicate\n      path: \"{{ in.body.id }}\"\n      lookback: 100"),
        (serde_json::json!({"mode": "deduplicate", "path": "<<in.body.id>>", "period": 86400}),
         "period: 1d"),
        (serde_json::json!({"mode": "delay", "seconds": "90"}), "mode: delay\n      duration: 90s"),
        (serde_json::json!({"mode": "throttle", "interval": "hour", "capacity": 5, "throttle_key": "<<in.body.k>>"}),
         "mode: throttle\n      interval: hour\n      runs_per_interval: 5\n      key: \"{{ in.body.k }}\""),
    ] {
        let (yaml, left_out) = options_of("EventTransformationAgent", options.clone());
        assert!(yaml.contains(expected), "{options}:\n{yaml}");
        assert!(left_out.is_empty(), "{options}: {left_out:?}");
    }
}

#[test]
fn trigger_tokens_and_must_match_carry_over() {
    let rules: Vec<_> = [
        "regex",
        "!regex",
        "field==value",
        "field!=value",
        "field<value",
        "field<=value",
        "field>value",
        "field>=value",
        "in",
        "not in",
    ]
    .iter()
    .map(|t| serde_json::json!({"type": t, "path": "<<in.body.v>>", "value": "1"}))
    .collect();
    let (yaml, left_out) = options_of(
        "TriggerAgent",
        serde_json::json!({"rules": rules, "must_match": 2}),
    );
    assert_eq!(yaml.matches("- type: ").count(), 10, "{yaml}");
    assert!(yaml.contains("- type: not in"), "{yaml}");
    assert!(yaml.contains("must_match: 2"), "{yaml}");
    assert!(left_out.is_empty(), "{left_out:?}");
    let (_, left_out) = options_of(
        "TriggerAgent",
        serde_json::json!({"rules": [{"type": "is_null", "path": "<<in.body.v>>"}, {"type": "regex", "path": "x", "value": "(?<=a)b"}]}),
    );
    // The two rules, and the trigger left with none.
    assert_eq!(left_out.len(), 3, "{left_out:?}");
}

#[test]
fn request_options_map_one_by_one() {
    let (yaml, left_out) = options_of(
        "HTTPRequestAgent",
        serde_json::json!({
            "url": "https://x/api", "method": "put", "content_type": "form",
            "payload": {"a": "1"}, "basic_auth": ["user", "<<CREDENTIAL.pw>>"],
            "timeout": 45, "disable_redirect_follow": true, "user_agent": "warden",
            "retry_on_status": "429,500-599"}),
    );
    for expected in [
        "method: PUT",
        "content_type: form",
        "body:\n        a: \"1\"",
        "basic_auth:\n        username: user\n        password: \"{{ credentials.pw }}\"",
        "timeout: 45s",
        "follow_redirects: false",
        "User-Agent: warden",
        "retry_on_status:\n        - 429\n        - 500-599",
    ] {
        assert!(yaml.contains(expected), "{expected}:\n{yaml}");
    }
    assert!(left_out.is_empty(), "{left_out:?}");
    let (yaml, left_out) = options_of(
        "HTTPRequestAgent",
        serde_json::json!({"url": "https://x", "content_type": "data", "payload": {"f": "x"}, "log_error_on_status": [500], "mystery": 1}),
    );
    assert!(
        yaml.contains("method: POST"),
        "the legacy default method:\n{yaml}"
    );
    assert_eq!(left_out.len(), 3, "{left_out:?}");
}

#[test]
fn a_webhook_without_headers_is_read_through_its_body_downstream() {
    let imported = valid(&export(
        vec![
            agent(
                "WebhookAgent",
                "Hook",
                serde_json::json!({"include_headers": "false", "verbs": "post,delete"}),
            ),
            agent(
                "EventTransformationAgent",
                "Use",
                serde_json::json!({"mode": "message_only", "payload": {"u": "{{ .hook.user }}"}}),
            ),
        ],
        &[(0, 1)],
    ));
    let yaml = &imported.stories[0].yaml;
    assert!(yaml.contains("u: \"{{ hook.body.user }}\""), "{yaml}");
    assert!(
        imported.left_out[0].what.contains("`DELETE`"),
        "{:?}",
        imported.left_out
    );
}
