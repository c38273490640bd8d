//! Each construct of both dialects, translated where it stands.

use super::*;

fn refs() -> Refs {
    let mut refs = Refs::default();
    for (key, ids) in [
        ("receive_alert", vec!["receive_alert"]),
        ("get_user", vec!["get_user"]),
        ("message_text", vec!["message_text", "message_text_2"]),
        ("elsewhere", vec!["elsewhere"]),
        ("hook", vec!["hook"]),
    ] {
        refs.by_key
            .insert(key.into(), ids.into_iter().map(String::from).collect());
    }
    refs.body_only.insert("hook".into());
    refs.entry = Some("receive_alert".into());
    refs.stories.insert("child".into(), "child-story".into());
    refs
}

fn upstream() -> Vec<String> {
    [
        "get_user",
        "message_text_2",
        "message_text",
        "receive_alert",
        "hook",
    ]
    .map(String::from)
    .to_vec()
}

/// Translates `text` in a request body (credentials allowed), formulas on.
fn body(text: &str) -> (String, Found) {
    at(text, |p| Place {
        credentials: true,
        ..p
    })
}

fn at(text: &str, adjust: impl Fn(Place) -> Place) -> (String, Found) {
    let refs = refs();
    let upstream = upstream();
    let place = adjust(Place {
        refs: &refs,
        upstream: &upstream,
        credentials: false,
        prompt: false,
        item: false,
        formulas: true,
    });
    let mut found = Found::default();
    let out = translate(text, &place, &mut found);
    (out, found)
}

fn ok(text: &str) -> String {
    let (out, found) = body(text);
    assert!(found.notes.is_empty(), "{text}: {:?}", found.notes);
    out
}

#[test]
fn liquid_paths_lose_their_leading_dot() {
    assert_eq!(
        ok("{{.receive_alert.body.email}}"),
        "{{ receive_alert.body.email }}"
    );
    assert_eq!(
        ok("to {{ receive_alert.body.to }}!"),
        "to {{ receive_alert.body.to }}!"
    );
    assert_eq!(
        ok("{{.receive_alert.['#agent_id'] | as_object}}"),
        "{{ receive_alert[\"#agent_id\"] }}"
    );
    assert_eq!(
        ok("{{ .get_user.body.items[0].id }}"),
        "{{ get_user.body.items[0].id }}"
    );
}

#[test]
fn liquid_credentials_resources_and_run_ids() {
    let (out, found) = body("Bearer {% credential slack_token %} {{ .CREDENTIAL.vt-key }}");
    assert_eq!(
        out,
        "Bearer {{ credentials.slack_token }} {{ credentials.vt_key }}"
    );
    assert_eq!(found.credentials.len(), 2);
    let (out, found) = body("{{ .RESOURCE.base_url }}/x/{% global_resource region %}");
    assert_eq!(out, "{{ resources.base_url }}/x/{{ resources.region }}");
    assert!(found.resources.contains("region"));
    assert_eq!(ok("{% story_run_guid %}"), "{{ run.id }}");
    assert_eq!(ok("a{% line_break %}b"), "a\nb");
}

#[test]
fn a_credential_outside_a_request_body_is_left_out_with_a_note() {
    let (out, found) = at("https://x/?key={{ .CREDENTIAL.vt }}", |p| p);
    assert_eq!(out, "https://x/?key=");
    assert!(
        found.notes[0].contains("never renders credentials"),
        "{:?}",
        found.notes
    );
    assert!(found.credentials.contains("vt"));
}

#[test]
fn liquid_filters_map_to_minijinja_filters() {
    assert_eq!(
        ok("{{ .get_user.body.name | upcase }}"),
        "{{ get_user.body.name | upper }}"
    );
    assert_eq!(
        ok("{{ .get_user.body | jsonpath: '$.a[*]' | neat_json }}"),
        "{{ get_user.body | jsonpath(\"$.a[*]\") | json }}"
    );
    assert_eq!(
        ok("{{ .get_user.body.n | plus: 1 }}"),
        "{{ (get_user.body.n + 1) }}"
    );
    assert_eq!(
        ok("{{ .get_user.body.s | default: 'none' | split: ',' | join: ';' }}"),
        "{{ get_user.body.s | default(\"none\") | split(\",\") | join(\";\") }}"
    );
    assert_eq!(
        ok("{{ .get_user.body.s | regex_replace: '(a)', '\\1b' }}"),
        "{{ get_user.body.s | regex_replace(\"(a)\", \"${1}b\") }}"
    );
}

#[test]
fn an_unknown_liquid_filter_is_left_out() {
    let (out, found) = body("x {{ .get_user.body | truncatewords: 3 }} y");
    assert_eq!(out, "x  y");
    assert!(
        found.notes[0].contains("`truncatewords`"),
        "{:?}",
        found.notes
    );
}

#[test]
fn liquid_control_flow_translates_and_stays_balanced() {
    assert_eq!(
        ok("{% if .get_user.body.ok == true and .get_user.body.tags contains 'vip' %}a{% elsif .get_user.body.n > 2 %}b{% else %}c{% endif %}"),
        "{% if (get_user.body.ok == true) and (\"vip\" in get_user.body.tags) %}a{% elif (get_user.body.n > 2) %}b{% else %}c{% endif %}"
    );
    assert_eq!(
        ok("{% for u in .get_user.body.users %}{{ u.name }},{% endfor %}"),
        "{% for u in get_user.body.users %}{{ u.name }},{% endfor %}"
    );
    let (out, found) = body("{% if LOCAL.x %}a{% endif %}");
    assert_eq!(out, "{% if false %}a{% endif %}");
    assert_eq!(found.notes.len(), 1);
    assert!(crate::template::compile(&out).is_ok());
}

#[test]
fn prompts_become_prompt_urls_only_where_a_prompt_is() {
    let (out, found) = at("{% prompt true %}", |p| Place { prompt: true, ..p });
    assert_eq!(out, "{{ prompt_url(\"true\") }}");
    assert_eq!(found.prompts, ["true"]);
    let (out, found) = at("<<PROMPT(\"Not Me\")>>", |p| Place { prompt: true, ..p });
    assert_eq!(out, "{{ prompt_url(\"not_me\") }}");
    assert_eq!(found.prompts, ["Not Me"]);
    let (out, found) = at("{% prompt true %}", |p| p);
    assert_eq!(out, "");
    assert_eq!(found.notes.len(), 1);
}

#[test]
fn formula_pills_and_whole_field_formulas() {
    assert_eq!(
        ok("<<receive_alert.body.email>>"),
        "{{ receive_alert.body.email }}"
    );
    assert_eq!(
        ok("Bearer <<CREDENTIAL.slack>>"),
        "Bearer {{ credentials.slack }}"
    );
    assert_eq!(
        ok("<<RESOURCE.base_url>>/v1"),
        "{{ resources.base_url }}/v1"
    );
    assert_eq!(ok("<<INPUT.ip>>"), "{{ receive_alert.body.ip }}");
    assert_eq!(
        ok("=UPCASE(get_user.body[\"display-name\"])"),
        "{{ (get_user.body[\"display-name\"] | upper) }}"
    );
    assert_eq!(
        ok("=IF(get_user.body.n >= 2 && get_user.body.ok, \"many\", \"few\")"),
        "{{ (\"many\" if ((get_user.body.n >= 2) and get_user.body.ok) else \"few\") }}"
    );
    assert_eq!(
        ok("=get_user.body.first & \" \" & get_user.body.last"),
        "{{ ((get_user.body.first ~ \" \") ~ get_user.body.last) }}"
    );
    assert_eq!(
        ok("=get_user.body.list |> SIZE(%)"),
        "{{ (get_user.body.list | length) }}"
    );
    assert_eq!(
        ok("=MAP(get_user.body.users, LAMBDA(u, u.email))"),
        "{{ (get_user.body.users | map(attribute=\"email\")) }}"
    );
    assert_eq!(
        ok("=REGEX_REPLACE(get_user.body.s, \"(a)\", \"\\\\1!\")"),
        "{{ (get_user.body.s | regex_replace(\"(a)\", \"${1}!\")) }}"
    );
}

#[test]
fn formulas_off_keeps_a_leading_equals_sign_as_text() {
    let (out, found) = at("=x", |p| Place {
        formulas: false,
        ..p
    });
    assert_eq!(out, "=x");
    assert!(found.notes.is_empty());
}

#[test]
fn an_unknown_formula_function_and_local_are_left_out() {
    let (out, found) = body("=FILTER(get_user.body, LAMBDA(e, MATCH(e.email, \"x\")))");
    assert_eq!(out, "");
    assert!(found.notes[0].contains("`FILTER`"), "{:?}", found.notes);
    let (out, found) = body("a <<LOCAL.counter>> b");
    assert_eq!(out, "a  b");
    assert!(found.notes[0].contains("`LOCAL`"), "{:?}", found.notes);
}

#[test]
fn loop_values_are_items_only_in_a_looping_payload() {
    let (out, _) = at("<<LOOP.value.id>>", |p| Place { item: true, ..p });
    assert_eq!(out, "{{ item.value.id }}");
    let (_, found) = at("<<LOOP.value>>", |p| p);
    assert_eq!(found.notes.len(), 1);
}

#[test]
fn repeated_names_read_the_nearest_upstream_writer_that_ran() {
    assert_eq!(
        ok("{{ .message_text.message }}"),
        "{{ (message_text_2.message if message_text_2 is defined else message_text.message) }}"
    );
}

#[test]
fn a_webhook_without_headers_is_read_through_its_body() {
    assert_eq!(ok("<<hook.user>>"), "{{ hook.body.user }}");
}

#[test]
fn references_to_actions_not_upstream_or_unknown_are_left_out() {
    let (out, found) = body("{{ .elsewhere.x }}|{{ .nobody.x }}");
    assert_eq!(out, "|");
    assert!(found.notes[0].contains("not upstream"), "{:?}", found.notes);
    assert!(
        found.notes[1].contains("no action is named"),
        "{:?}",
        found.notes
    );
}

#[test]
fn literal_braces_stay_text() {
    let out = ok("{# not a comment #} and {%raw");
    assert!(crate::template::compile(&out).is_ok(), "{out}");
    assert!(out.starts_with("{{ '{' }}#"), "{out}");
}

#[test]
fn story_references_name_the_imported_story() {
    assert_eq!(ok("{{ .STORY.child }}"), "{{ \"child-story\" }}");
}

#[test]
fn liquid_for_loops_read_forloop_as_loop_and_computed_indices() {
    assert_eq!(
        ok("{% for row in .get_user.body.rows %}{{ row[forloop.index0] | strip_newlines }}{% if forloop.last == false %},{% endif %}{% endfor %}"),
        "{% for row in get_user.body.rows %}{{ row[loop.index0] | replace(\"\\n\", \"\") }}{% if (loop.last == false) %},{% endif %}{% endfor %}"
    );
    let (_, found) = body("{{ forloop.index }}");
    assert_eq!(found.notes.len(), 1, "outside a loop");
}

#[test]
fn the_liquid_story_tag_names_the_imported_story() {
    assert_eq!(ok("{% story child %}"), "{{ \"child-story\" }}");
}
