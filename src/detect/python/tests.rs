//! The harness through a real worker: Panther's event semantics, data models, mocks, deadlines
//! and a worker that must be ended from outside.

use super::protocol::{HelperSource, Library, Mapping, ModelSource, RuleSource};
use super::{Config, Pool};
use serde_json::{json, Value};
use std::time::Duration;

fn rule(id: &str, source: &str) -> RuleSource {
    RuleSource {
        id: id.into(),
        path: format!("/rules/{id}.py"),
        source: source.into(),
        severity: "LOW".into(),
    }
}

fn pool(library: Library) -> Pool {
    let config = Config {
        timeout: Duration::from_millis(300),
        workers: 2,
        ..Config::default()
    };
    Pool::new(config, &library)
}

fn one(pool: &Pool, id: &str, event: Value) -> super::Outcome {
    pool.evaluate(&[id.to_owned()], &[&event])
        .remove(0)
        .remove(0)
}

#[test]
fn events_are_case_insensitive_immutable_and_deep() {
    let source = r#"
def rule(event):
    assert event.get("EVENTTYPE") == "x" and event["eventtype"] == "x"
    assert event.deep_get("actor", "ALTERNATEID") == "a@example.com"
    assert event.deep_get("actor", "missing", default="d") == "d"
    assert event.deep_walk("target", "alternateId") == ["u1", "u2"]
    assert event.deep_walk("target", "alternateId", return_val="first") == "u1"
    assert event.deep_walk("target", "nothing") is None
    try:
        event["eventType"] = "y"
        return False
    except TypeError:
        pass
    try:
        event["target"][0]["type"] = "y"
        return False
    except TypeError:
        pass
    return True

def title(event):
    return "t" * 2000

def alert_context(event):
    return {"actor": event.get("actor"), "targets": event.get("target")}
"#;
    let pool = pool(Library {
        rules: vec![rule("R", source)],
        ..Library::default()
    });
    let event = json!({"eventType": "x", "actor": {"alternateId": "a@example.com"},
        "target": [{"alternateId": "u1", "type": "User"}, {"alternateId": "u2"}, {"alternateId": "u1"}]});
    let outcome = one(&pool, "R", event.clone());
    assert!(outcome.matched, "{outcome:?}");
    assert!(outcome.error.is_none(), "{outcome:?}");
    assert_eq!(outcome.outputs.title.unwrap().len(), 1000, "Panther's cap");
    let context = outcome.outputs.alert_context.unwrap();
    assert_eq!(context["actor"], event["actor"]);
    assert_eq!(context["targets"], event["target"]);
}

#[test]
fn udm_reads_data_model_paths_and_methods_and_helpers_import_by_name() {
    let library = Library {
        helpers: vec![HelperSource {
            name: "my_helpers".into(),
            path: "/h/my_helpers.py".into(),
            source: "def shout(s):\n    return s.upper()\n".into(),
        }],
        models: vec![ModelSource {
            id: "M".into(),
            log_types: vec!["Okta.SystemLog".into()],
            mappings: vec![
                Mapping {
                    name: "source_ip".into(),
                    path: Some("$.client.ipAddress".into()),
                    method: None,
                },
                Mapping {
                    name: "actor_user".into(),
                    path: None,
                    method: Some("get_actor".into()),
                },
            ],
            path: "/m/model.py".into(),
            source: Some(
                "from my_helpers import shout\n\ndef get_actor(event):\n    return shout(event.deep_get('actor', 'alternateId'))\n"
                    .into(),
            ),
        }],
        rules: vec![rule(
            "R",
            "def rule(event):\n    return event.udm('source_ip') == '1.2.3.4' and event.udm('actor_user') == 'A@X'\n",
        )],
    };
    let pool = pool(library);
    let event = json!({"p_log_type": "Okta.SystemLog", "client": {"ipAddress": "1.2.3.4"},
        "actor": {"alternateId": "a@x"}});
    let outcome = one(&pool, "R", event);
    assert!(outcome.matched, "{outcome:?}");
}

#[test]
fn severity_default_means_the_rules_severity_and_bad_types_are_errors() {
    let source = "def rule(event):\n    return event.get('n') != 0\n\
                  def severity(event):\n    return ['default', 'critical', 'loud'][event.get('n') - 1]\n";
    let pool = pool(Library {
        rules: vec![
            rule("S", source),
            rule("B", "def rule(event):\n    return 'yes'\n"),
        ],
        ..Library::default()
    });
    assert_eq!(
        one(&pool, "S", json!({"n": 1})).outputs.severity.as_deref(),
        Some("LOW")
    );
    assert_eq!(
        one(&pool, "S", json!({"n": 2})).outputs.severity.as_deref(),
        Some("CRITICAL")
    );
    let bad = one(&pool, "S", json!({"n": 3}));
    assert!(
        bad.matched,
        "the match stands with Panther's default severity"
    );
    assert!(bad.error.unwrap().message.contains("`LOUD`"));
    let not_bool = one(&pool, "B", json!({}));
    assert!(!not_bool.matched);
    assert!(not_bool.error.unwrap().message.contains("expected bool"));
}

#[test]
fn mocks_patch_a_function_for_one_test_only() {
    let source =
        "def lookup():\n    return 'real'\n\ndef rule(event):\n    return lookup() == 'mocked'\n";
    let pool = pool(Library {
        rules: vec![rule("M", source)],
        ..Library::default()
    });
    let mock = json!({"objectName": "lookup", "returnValue": "mocked"});
    assert!(pool.test("M", &json!({}), vec![mock]).matched);
    assert!(!pool.test("M", &json!({}), Vec::new()).matched);
    let unknown = json!({"objectName": "nope", "returnValue": 1});
    let outcome = pool.test("M", &json!({}), vec![unknown]);
    assert!(outcome.error.unwrap().message.contains("`nope`"));
}

#[test]
fn a_loop_is_stopped_at_the_deadline_and_the_worker_keeps_serving() {
    let pool = pool(Library {
        rules: vec![
            rule("L", "def rule(event):\n    while True:\n        pass\n"),
            rule("OK", "def rule(event):\n    return True\n"),
        ],
        ..Library::default()
    });
    let ids = ["L".to_owned(), "OK".to_owned()];
    let outcomes = pool.evaluate(&ids, &[&json!({})]).remove(0);
    let error = outcomes[0].error.as_ref().unwrap();
    assert!(error.message.contains("deadline"), "{error}");
    assert_eq!(
        (error.path.as_deref(), error.line),
        (Some("/rules/L.py"), Some(2))
    );
    assert!(outcomes[1].matched, "the other rule still ran");
}

#[test]
fn a_worker_that_ignores_its_alarm_is_ended_and_replaced() {
    let stuck = "import signal\n\ndef rule(event):\n    if event.get('stuck'):\n        \
                 signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n        while True:\n            pass\n    return True\n";
    let pool = pool(Library {
        rules: vec![rule("S", stuck)],
        ..Library::default()
    });
    let outcome = one(&pool, "S", json!({"stuck": true}));
    let error = outcome.error.unwrap();
    assert!(error.message.contains("did not answer"), "{error}");
    assert!(one(&pool, "S", json!({})).matched, "a new worker answers");
}

#[test]
fn nested_fields_sent_as_text_read_as_the_whole_event_for_every_rule() {
    // Two rules read the same event: the first parses `actor` on reading it; the second must
    // see the parsed value, the event's key order and every field, whole.
    let first = "def rule(event):\n    return event['actor']['id'] == 'u1'\n";
    let second = r#"
def rule(event):
    assert list(event) == ["eventType", "actor", "target", "n"], list(event)
    assert len(event) == 4 and "TARGET" in event
    assert event.deep_get("actor", "id") == "u1"
    assert dict(event)["target"][1] == {"id": "t2"}
    return True

def alert_context(event):
    return {"whole": event, "copy": event.copy(), "repr": repr(event)[:14]}
"#;
    let pool = pool(Library {
        rules: vec![rule("A", first), rule("B", second)],
        ..Library::default()
    });
    let event = json!({"eventType": "x", "actor": {"id": "u1", "x": [1, {"y": null}]},
        "target": [{"id": "t1"}, {"id": "t2"}], "n": 1.5});
    let outcomes = pool.evaluate(&["A".to_owned(), "B".to_owned()], &[&event]);
    assert!(outcomes[0][0].matched, "{:?}", outcomes[0][0]);
    let b = &outcomes[0][1];
    assert!(b.matched && b.error.is_none(), "{b:?}");
    let context = b.outputs.alert_context.as_ref().unwrap();
    assert_eq!(context["whole"], event);
    assert_eq!(context["copy"], event);
    assert_eq!(context["repr"], "{'eventType': ");
}

#[test]
fn a_context_json_cannot_hold_is_that_events_error_alone() {
    let source = r#"
def rule(event):
    return True

def title(event):
    return "t" + str(event.get("n"))

def alert_context(event):
    return {"score": float("nan")} if event.get("n") == 1 else {"n": event.get("n")}
"#;
    let pool = pool(Library {
        rules: vec![rule("N", source)],
        ..Library::default()
    });
    let events = [json!({"n": 0}), json!({"n": 1}), json!({"n": 2})];
    let refs: Vec<&Value> = events.iter().collect();
    let outcomes = pool.evaluate(&["N".to_owned()], &refs);
    for n in [0, 2] {
        let ok = &outcomes[n][0];
        assert!(ok.matched && ok.error.is_none(), "{ok:?}");
        assert_eq!(ok.outputs.alert_context.as_ref().unwrap()["n"], n);
        assert_eq!(ok.outputs.title.as_deref(), Some(format!("t{n}").as_str()));
    }
    let bad = &outcomes[1][0];
    assert!(bad.matched, "{bad:?}");
    let error = bad.error.as_ref().unwrap();
    assert!(error.message.contains("`alert_context`"), "{error}");
}

#[test]
fn many_events_spread_over_workers_come_back_in_order() {
    let pool = pool(Library {
        rules: vec![rule(
            "E",
            "def rule(event):\n    return event.get('n') % 2 == 0\n",
        )],
        ..Library::default()
    });
    let events: Vec<Value> = (0..2_000).map(|n| json!({ "n": n })).collect();
    let refs: Vec<&Value> = events.iter().collect();
    let outcomes = pool.evaluate(&["E".to_owned()], &refs);
    assert_eq!(outcomes.len(), 2_000);
    for (n, per_rule) in outcomes.iter().enumerate() {
        assert_eq!(per_rule[0].matched, n % 2 == 0, "event {n}");
    }
}

#[test]
fn a_worker_that_dies_costs_its_message_and_the_queued_ones_run_on_its_replacement() {
    let config = Config {
        timeout: Duration::from_millis(300),
        workers: 1,
        ..Config::default()
    };
    let source = "import os\n\ndef rule(event):\n    if event.get('n') == 700:\n        os._exit(3)\n    return True\n";
    let pool = Pool::new(
        config,
        &Library {
            rules: vec![rule("X", source)],
            ..Library::default()
        },
    );
    let events: Vec<Value> = (0..2_000).map(|n| json!({ "n": n })).collect();
    let refs: Vec<&Value> = events.iter().collect();
    let outcomes = pool.evaluate(&["X".to_owned()], &refs);
    assert_eq!(outcomes.len(), 2_000);
    // One worker: the message that carried event 700 is lost, and only it.
    let size = super::pool::EVENTS_PER_MESSAGE;
    let carried = (700 / size) * size..(700 / size + 1) * size;
    for (n, per_rule) in outcomes.iter().enumerate() {
        let lost = carried.contains(&n);
        assert_eq!(per_rule[0].matched, !lost, "event {n}: {:?}", per_rule[0]);
        assert_eq!(per_rule[0].error.is_some(), lost, "event {n}");
    }
}

#[test]
fn load_errors_name_the_file_and_line() {
    let pool = pool(Library {
        rules: vec![
            rule("Syntax", "def rule(event):\n    return (\n"),
            rule("Import", "import os\nimport not_a_module_anywhere\n"),
            rule("NoRule", "def title(event):\n    return 't'\n"),
            rule("Raises", "x = 1\nraise ValueError('at import')\n"),
        ],
        ..Library::default()
    });
    let mut errors = pool.check().unwrap();
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    let lines: Vec<String> = errors.iter().map(|(id, e)| format!("{id} {e}")).collect();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[0].starts_with("Import /rules/Import.py:2: import of `not_a_module_anywhere`"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with("NoRule /rules/NoRule.py: the module defines no `rule"),
        "{lines:#?}"
    );
    assert!(
        lines[2].starts_with("Raises /rules/Raises.py:2: "),
        "{lines:#?}"
    );
    assert!(
        lines[3].starts_with("Syntax /rules/Syntax.py:2: SyntaxError"),
        "{lines:#?}"
    );
}

fn python_rule(display_name: Option<&str>) -> crate::detect::Rule {
    let name = display_name.map_or(String::new(), |n| format!("DisplayName: {n}\n"));
    let source = format!(
        "AnalysisType: rule\nRuleID: P.Rule\n{name}Enabled: true\nLogTypes: [A]\nSeverity: Medium\nFilename: p.py\n"
    );
    match crate::detect::check_rule(&source) {
        Ok(crate::detect::RuleFile::Rule(rule)) => *rule,
        other => panic!("{other:?}"),
    }
}

#[test]
fn alert_fields_fall_back_as_panthers_do() {
    use super::{alert_fields, Outputs};
    use crate::detect::Severity;
    let rule = python_rule(Some("Pretty name"));
    let none = alert_fields(&rule, &Outputs::default());
    assert_eq!(none.title, "Pretty name");
    assert_eq!(none.dedup, "defaultDedupString:P.Rule");
    assert_eq!(none.severity, Severity::Medium);
    let titled = alert_fields(
        &rule,
        &Outputs {
            title: Some("t".into()),
            ..Outputs::default()
        },
    );
    assert_eq!((titled.title.as_str(), titled.dedup.as_str()), ("t", "t"));
    let deduped = alert_fields(
        &rule,
        &Outputs {
            title: Some("t".into()),
            dedup: Some("d".into()),
            severity: Some("CRITICAL".into()),
            ..Outputs::default()
        },
    );
    assert_eq!(deduped.dedup, "d");
    assert_eq!(deduped.severity, Severity::Critical);
    let empty = alert_fields(
        &python_rule(None),
        &Outputs {
            title: Some(String::new()),
            dedup: Some(String::new()),
            ..Outputs::default()
        },
    );
    assert_eq!(
        empty.title, "P.Rule",
        "an empty title falls back to the RuleID"
    );
    assert_eq!(empty.dedup, "defaultDedupString:P.Rule");
}

#[test]
fn rules_do_not_see_wardens_environment() {
    std::env::set_var("WARDEN_CREDENTIAL_PYTHON_CANARY", "canary-secret-value");
    let source = "import os\n\ndef rule(event):\n    return True\n\n\
                  def alert_context(event):\n    return {'env': dict(os.environ)}\n";
    let pool = pool(Library {
        rules: vec![rule("E", source)],
        ..Library::default()
    });
    let outcome = one(&pool, "E", json!({}));
    let env = outcome.outputs.alert_context.unwrap()["env"].clone();
    assert!(
        env.get("PATH").is_some(),
        "the control: the environment is read: {env}"
    );
    assert!(
        !env.to_string().contains("canary-secret-value"),
        "no credential reaches a rule: {env}"
    );
}

#[test]
fn data_model_mappings_need_a_name_and_exactly_one_of_path_and_method() {
    use super::load::read_model;
    use std::path::Path;
    let yml = Path::new("/models/m.yml");
    let good = "AnalysisType: datamodel\nDataModelID: M\nLogTypes: [A]\nMappings:\n  - Name: ip\n    Path: $.client.ip\n";
    let model = read_model(yml, good).unwrap().unwrap();
    assert_eq!(
        (model.id.as_str(), model.log_types.as_slice()),
        ("M", &["A".to_owned()][..])
    );
    assert_eq!(model.mappings[0].path.as_deref(), Some("$.client.ip"));
    let both = good.replace("    Path: $.client.ip\n", "    Path: $.a\n    Method: f\n");
    let d = read_model(yml, &both).unwrap_err();
    assert_eq!((d.span.line, d.message.contains("exactly one")), (5, true));
    let nameless = good.replace("  - Name: ip\n    Path", "  - Path");
    assert!(read_model(yml, &nameless)
        .unwrap_err()
        .message
        .contains("no `Name`"));
    let disabled = format!("{good}Enabled: false\n");
    assert!(read_model(yml, &disabled).unwrap().is_none());
    let missing = format!("{good}Filename: gone.py\n");
    let d = read_model(yml, &missing).unwrap_err();
    assert_eq!(d.span.line, 7, "at the Filename: {d:?}");
}
