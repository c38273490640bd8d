//! The run timeline `warden demo` prints: one line per step, with what it produced in a few
//! words.

use serde_json::Value;

/// How many of one step's events its line describes.
const SHOWN_EVENTS: usize = 3;

/// One line per step after the first `skip`: when it finished after the run started, its action,
/// state and what it produced.
pub(super) fn print_timeline(run: &Value, skip: usize) {
    let started = millis(&run["created_at"]);
    let events = run["events"].as_array().cloned().unwrap_or_default();
    for step in run["steps"].as_array().into_iter().flatten().skip(skip) {
        let at = step["finished_at"].as_str().map_or(String::new(), |_| {
            format!(
                "+{:.2}s",
                (millis(&step["finished_at"]) - started) as f64 / 1000.0
            )
        });
        let action = step["action"].as_str().unwrap_or_default();
        let produced: Vec<&Value> = events
            .iter()
            .filter(|e| e["step_id"] == step["id"])
            .collect();
        let mut line = format!(
            "   {at:>7}  {:<20} {:<9}",
            action,
            step["state"].as_str().unwrap_or_default(),
        );
        // An explode's events, one per element: the first few, then how many more.
        let said: Vec<String> = produced
            .iter()
            .take(SHOWN_EVENTS)
            .map(|event| summary(action, event))
            .collect();
        if !said.is_empty() {
            line.push(' ');
            line.push_str(&said.join("; "));
        }
        if produced.len() > SHOWN_EVENTS {
            line.push_str(&format!("; … {} more", produced.len() - SHOWN_EVENTS));
        }
        if step["state"] == "failed" {
            let error = step["error"]["message"].as_str().unwrap_or("no message");
            line.push_str(&format!(" error: {error}"));
        } else if step["attempt"].as_i64().unwrap_or(1) > 1 {
            let first = step["error"]["message"]
                .as_str()
                .unwrap_or("a retriable failure");
            line.push_str(&format!(" (attempt {}; before: {first})", step["attempt"]));
        }
        println!("{}", line.trim_end());
    }
}

/// What a seed-story step's event says, in a few words.
fn summary(action: &str, event: &Value) -> String {
    let p = &event["payload"];
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    if event["link"] == "no_match" {
        return "no match".into();
    }
    match action {
        "receive_alert" => format!("Panther alert: {}", text(&p["body"]["title"])),
        "vt_lookup" => format!(
            "VirusTotal: {} engines say malicious",
            text(&p["body"]["data"]["attributes"]["last_analysis_stats"]["malicious"])
        ),
        "gn_lookup" => format!(
            "GreyNoise: {}",
            p["body"]["classification"]
                .as_str()
                .unwrap_or("not observed")
        ),
        "ask_user" => format!("answer: {}", text(&p["prompt"]["status"])),
        "open_case" => format!(
            "TheHive case #{} ({})",
            text(&p["body"]["number"]),
            text(&p["body"]["_id"])
        ),
        "add_ip_observable" => format!("observable added: {}", text(&p["body"][0]["data"])),
        "lock_user" => format!(
            "Okta {}: {} → {}, sessions and OAuth tokens cleared",
            text(&p["body"]["login"]),
            text(&p["body"]["status_before"]),
            text(&p["body"]["status"])
        ),
        "record_confirmation" => format!("recorded: {}", text(&p["outcome"])),
        "has_client_ip" | "ip_is_malicious" | "user_denied" => "matched".into(),
        _ => by_shape(p),
    }
}

/// What any story's event says, recognised by its shape: a trigger's verdict, an answer, a
/// vendor's answer the simulators give, an explode's element, an implode's list, an extract's
/// lists.
fn by_shape(p: &Value) -> String {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let body = &p["body"];
    let stats = &body["data"]["attributes"]["last_analysis_stats"];
    if p["matched"] == true {
        "matched".into()
    } else if p["prompt"]["status"].is_string() {
        format!("answer: {}", text(&p["prompt"]["status"]))
    } else if stats.is_object() {
        format!(
            "VirusTotal {}: {} engines say malicious",
            text(&body["data"]["id"]),
            text(&stats["malicious"])
        )
    } else if body["_id"].is_string() && body["number"].is_number() {
        format!("TheHive case #{} ({})", body["number"], text(&body["_id"]))
    } else if body["ok"] == true && body["ts"].is_string() {
        format!(
            "Slack message {} in {}",
            text(&body["ts"]),
            text(&body["channel"])
        )
    } else if body["ok"] == false {
        format!("Slack refused: {}", text(&body["error"]))
    } else if p["status"].is_number() {
        format!("HTTP {}", p["status"])
    } else if p["guid"].is_string() && p["index"].is_number() && p["size"].is_number() {
        let element = p.as_object().and_then(|o| {
            o.iter()
                .find(|(k, _)| !["guid", "index", "size"].contains(&k.as_str()))
                .map(|(_, v)| text(v))
        });
        format!(
            "{} of {}: {}",
            p["index"].as_u64().unwrap_or(0) + 1,
            p["size"],
            element.unwrap_or_default()
        )
    } else if let Some(items) = p["items"].as_array() {
        let partial = if p["partial"] == true {
            " (partial)"
        } else {
            ""
        };
        format!("{} gathered{partial}", items.len())
    } else if let Some(lists) = p.as_object().filter(|o| o.values().all(Value::is_array)) {
        lists
            .iter()
            .map(|(k, v)| {
                let values: Vec<String> = v.as_array().into_iter().flatten().map(text).collect();
                format!("{k}: {}", values.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        String::new()
    }
}

pub(super) fn millis(rfc3339: &Value) -> i64 {
    rfc3339
        .as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_millisecond())
}
