//! How the API's answers read in the terminal: tables of runs and alerts, a run's timeline with
//! its history, an alert's detail. Pure: JSON in, text out.

use serde_json::Value;
use std::fmt::Write as _;

/// A JSON value as a cell: strings bare, null as `-`.
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time cut to the second, for tables: `2026-12-02T10:00:00Z`.
fn to_the_second(time: &Value) -> String {
    let text = text(time);
    match text.get(..19) {
        Some(second) => format!("{second}Z"),
        None => text,
    }
}

/// Seconds from `from` to `to` (RFC 3339 strings), when both are there.
fn seconds_between(from: &Value, to: &Value) -> Option<f64> {
    let at = |v: &Value| v.as_str()?.parse::<jiff::Timestamp>().ok();
    Some((at(to)?.as_millisecond() - at(from)?.as_millisecond()) as f64 / 1000.0)
}

/// The runs of one `/api/runs` page as a table.
pub fn runs_table(page: &Value) -> String {
    let runs = page["runs"].as_array().cloned().unwrap_or_default();
    if runs.is_empty() {
        return "No runs.\n".to_owned();
    }
    let mut out = format!(
        "{:<38} {:<28} {:<10} {:<21} {}\n",
        "RUN", "STORY", "STATUS", "STARTED", "TOOK"
    );
    for run in &runs {
        let took = seconds_between(&run["created_at"], &run["finished_at"])
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}s"));
        let _ = writeln!(
            out,
            "{:<38} {:<28} {:<10} {:<21} {took}",
            text(&run["id"]),
            text(&run["story"]),
            text(&run["status"]),
            to_the_second(&run["created_at"]),
        );
    }
    if let Some(next) = page["next_before"].as_str() {
        let _ = writeln!(out, "(more: the API's ?before={next})");
    }
    out
}

/// A run from `/api/runs/{id}`: its header, then one line per step (time since the run
/// started, action, state, attempt) with what it waits for, what it found missing and its
/// error; with `verbose`, each step's input and output events.
pub fn run_timeline(run: &Value, verbose: bool) -> String {
    let mut out = format!(
        "run {}  story {} (version {})  {}\nstarted {}",
        text(&run["id"]),
        text(&run["story"]),
        text(&run["story_version"]),
        text(&run["status"]).to_uppercase(),
        text(&run["created_at"]),
    );
    if let Some(took) = seconds_between(&run["created_at"], &run["finished_at"]) {
        let _ = write!(out, ", finished after {took:.2}s");
    }
    out.push_str("\n\n");
    let events = run["events"].as_array().cloned().unwrap_or_default();
    for step in run["steps"].as_array().into_iter().flatten() {
        let at = seconds_between(&run["created_at"], &step["finished_at"])
            .map_or_else(|| "".to_owned(), |s| format!("+{s:.2}s"));
        let mut line = format!(
            "  {at:>8}  {:<24} {:<9}",
            text(&step["action"]),
            text(&step["state"])
        );
        if step["attempt"].as_i64().unwrap_or(1) > 1 {
            let _ = write!(line, " attempt {}", step["attempt"]);
        }
        if let Some(reason) = step["waiting_for"]["reason"].as_str() {
            let _ = write!(
                line,
                " waiting for {reason} (until {})",
                text(&step["waiting_for"]["until"])
            );
        } else if step["state"] == "pending" {
            let _ = write!(line, " due {}", text(&step["due_at"]));
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(message) = step["error"]["message"].as_str() {
            let _ = writeln!(out, "            error: {message}");
        }
        if let Some(retried) = step["retry_of"].as_i64() {
            let _ = writeln!(out, "            retry of step {retried}");
        }
        if step["state"] == "failed" {
            let _ = writeln!(
                out,
                "            step {}: `warden runs retry {} {}` runs it again",
                text(&step["id"]),
                text(&run["id"]),
                text(&step["id"])
            );
        }
        let missing: Vec<String> = step["missing_data"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(out, "            missing data: {}", missing.join(", "));
        }
        if verbose {
            let input = events.iter().find(|e| e["id"] == step["input_event_id"]);
            let outputs = events.iter().filter(|e| e["step_id"] == step["id"]);
            if let Some(input) = input {
                let _ = writeln!(out, "            input: {}", input["payload"]);
            }
            for output in outputs {
                let _ = writeln!(
                    out,
                    "            output ({}): {}",
                    text(&output["link"]),
                    output["payload"]
                );
            }
        }
    }
    let history = run["history"].as_array().cloned().unwrap_or_default();
    if !history.is_empty() {
        out.push_str("\nhistory:\n");
        for line in &history {
            let _ = writeln!(
                out,
                "  {}  {:<14} by {}  {}",
                to_the_second(&line["at"]),
                text(&line["action"]),
                text(&line["actor"]),
                line["details"]
            );
        }
    }
    out
}

/// The alerts of one `/api/alerts` page as a table.
pub fn alerts_table(page: &Value) -> String {
    let alerts = page["alerts"].as_array().cloned().unwrap_or_default();
    if alerts.is_empty() {
        return "No alerts.\n".to_owned();
    }
    let mut out = format!(
        "{:<34} {:<9} {:<34} {:>6}  {:<21} {}\n",
        "ALERT", "SEVERITY", "RULE", "EVENTS", "CREATED", "TITLE"
    );
    for alert in &alerts {
        let _ = writeln!(
            out,
            "{:<34} {:<9} {:<34} {:>6}  {:<21} {}",
            text(&alert["id"]),
            text(&alert["severity"]),
            text(&alert["rule_id"]),
            text(&alert["event_count"]),
            to_the_second(&alert["created_at"]),
            text(&alert["title"]),
        );
    }
    out
}

/// An alert from `/api/alerts/{id}`: its fields, its alert context and its deliveries.
pub fn alert_detail(alert: &Value) -> String {
    let mut out = format!(
        "alert {}  {}  rule {}\n{}\ncreated {}, {} event(s), dedup `{}`\n",
        text(&alert["id"]),
        text(&alert["severity"]),
        text(&alert["rule_id"]),
        text(&alert["title"]),
        text(&alert["created_at"]),
        text(&alert["event_count"]),
        text(&alert["dedup"]),
    );
    let context = &alert["notification"]["alertContext"];
    if !context.is_null() {
        let _ = writeln!(
            out,
            "\nalert context:\n{}",
            serde_json::to_string_pretty(context).unwrap_or_default()
        );
    }
    let deliveries = alert["deliveries"].as_array().cloned().unwrap_or_default();
    out.push_str("\ndeliveries:\n");
    if deliveries.is_empty() {
        out.push_str("  none (no destination takes it: stored only)\n");
    }
    for delivery in &deliveries {
        let _ = write!(
            out,
            "  {:<24} {:<10} attempts {}",
            text(&delivery["destination"]),
            text(&delivery["state"]),
            text(&delivery["attempts"]),
        );
        if let Some(run) = delivery["run_id"].as_str() {
            let _ = write!(out, "  run {run}");
        }
        if let Some(error) = delivery["last_error"].as_str() {
            let _ = write!(out, "  last error: {error}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run() -> Value {
        json!({
            "id": "r1", "story": "triage", "story_version": "abc", "status": "waiting",
            "created_at": "2026-12-02T10:00:00.000Z", "finished_at": null,
            "steps": [
                {"id": 1, "action": "receive", "state": "succeeded", "attempt": 1,
                 "finished_at": "2026-12-02T10:00:00.010Z", "input_event_id": null,
                 "missing_data": [], "waiting_for": null, "error": null},
                {"id": 2, "action": "look_up", "state": "succeeded", "attempt": 2,
                 "finished_at": "2026-12-02T10:00:02.500Z", "input_event_id": 10,
                 "missing_data": ["receive.body.geo"], "waiting_for": null,
                 "error": {"message": "HTTP 429"}},
                {"id": 3, "action": "ask", "state": "waiting", "attempt": 1,
                 "finished_at": null, "input_event_id": 11, "missing_data": [],
                 "due_at": "2026-12-02T14:00:00.000Z",
                 "waiting_for": {"kind": "prompt", "reason": "an answer to prompt `p1`",
                                 "until": "2026-12-02T14:00:00.000Z"}}
            ],
            "events": [
                {"id": 10, "step_id": 1, "link": "default", "payload": {"body": {"ip": "1.2.3.4"}}},
                {"id": 11, "step_id": 2, "link": "default", "payload": {"status": 200}}
            ],
            "history": [
                {"at": "2026-12-02T13:00:01.250Z", "actor": "api", "action": "retry_step",
                 "details": {"step_id": 2}}
            ]
        })
    }

    #[test]
    fn a_run_reads_as_a_timeline() {
        let shown = run_timeline(&run(), false);
        assert!(
            shown.starts_with("run r1  story triage (version abc)  WAITING"),
            "{shown}"
        );
        assert!(
            shown.contains("   +2.50s  look_up                  succeeded attempt 2"),
            "{shown}"
        );
        assert!(shown.contains("error: HTTP 429"), "{shown}");
        assert!(shown.contains("missing data: receive.body.geo"), "{shown}");
        assert!(
            shown.contains("ask                      waiting   waiting for an answer to prompt `p1` (until 2026-12-02T14:00:00.000Z)"),
            "{shown}"
        );
        assert!(!shown.contains("input:"), "{shown}");
        assert!(
            shown.contains(
                "history:\n  2026-12-02T13:00:01Z  retry_step     by api  {\"step_id\":2}"
            ),
            "{shown}"
        );
        let verbose = run_timeline(&run(), true);
        assert!(
            verbose.contains(r#"input: {"body":{"ip":"1.2.3.4"}}"#),
            "{verbose}"
        );
        assert!(
            verbose.contains(r#"output (default): {"status":200}"#),
            "{verbose}"
        );
    }

    #[test]
    fn tables_list_runs_and_alerts() {
        let runs = runs_table(&json!({"runs": [run()], "next_before": "r0"}));
        assert!(
            runs.contains("r1") && runs.contains("waiting") && runs.contains("?before=r0"),
            "{runs}"
        );
        assert_eq!(runs_table(&json!({"runs": []})), "No runs.\n");
        let alerts = alerts_table(&json!({"alerts": [{"id": "a1", "severity": "HIGH",
            "rule_id": "Okta.X", "event_count": 2, "created_at": "2026-12-02T10:00:00Z",
            "title": "New admin"}]}));
        assert!(
            alerts.contains("a1") && alerts.contains("HIGH") && alerts.contains("New admin"),
            "{alerts}"
        );
        let detail = alert_detail(&json!({"id": "a1", "deliveries": [], "notification": {}}));
        assert!(detail.contains("stored only"), "{detail}");
    }
}
