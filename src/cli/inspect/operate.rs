//! `warden runs retry|cancel|rerun`: acting on a running server's runs through its API, each
//! answered with one line saying what happened (the API's message when it refuses).

use super::{call, segment, text, Server};
use reqwest::Method;
use serde_json::{json, Value};

/// `warden runs retry RUN STEP`.
pub(super) fn retry(server: &Server, run: &str, step: i64) -> anyhow::Result<String> {
    let path = format!("/api/runs/{}/steps/{step}/retry", segment(run)?);
    let new = call(server, Method::POST, &path, &[], None)?;
    Ok(retried(run, step, &new))
}

/// `warden runs cancel RUN`.
pub(super) fn cancel(server: &Server, run: &str) -> anyhow::Result<String> {
    let path = format!("/api/runs/{}/cancel", segment(run)?);
    let done = call(server, Method::POST, &path, &[], None)?;
    Ok(cancelled(run, &done))
}

/// `warden runs rerun RUN [--current]`.
pub(super) fn rerun(server: &Server, run: &str, current: bool) -> anyhow::Result<String> {
    let path = format!("/api/runs/{}/rerun", segment(run)?);
    let version = if current { "current" } else { "pinned" };
    let body = json!({ "version": version });
    let new = call(server, Method::POST, &path, &[], Some(&body))?;
    Ok(rerun_started(run, version, &new))
}

fn retried(run: &str, step: i64, new: &Value) -> String {
    format!(
        "Step {step} of run {run} retried as step {} ({}); `warden runs show {run}` follows it.\n",
        text(&new["id"]),
        text(&new["action"]),
    )
}

fn cancelled(run: &str, done: &Value) -> String {
    let children = done["child_runs"].as_array().map_or(0, Vec::len);
    let prompts = done["prompts_closed"].as_array().map_or(0, Vec::len);
    format!(
        "Run {run} cancelled: {} step(s) cancelled, {prompts} prompt(s) closed, {children} child run(s) cancelled.\n",
        text(&done["steps_cancelled"]),
    )
}

fn rerun_started(run: &str, version: &str, new: &Value) -> String {
    format!(
        "Run {run} re-run as {} (story {} version {}, the {version} version).\n",
        text(&new["id"]),
        text(&new["story"]),
        text(&new["story_version"]),
    )
}

#[cfg(test)]
mod tests {
    use super::{cancelled, rerun_started, retried};
    use serde_json::json;

    #[test]
    fn each_action_says_what_it_did() {
        let line = retried("r1", 4, &json!({"id": 9, "action": "look_up"}));
        assert_eq!(
            line,
            "Step 4 of run r1 retried as step 9 (look_up); `warden runs show r1` follows it.\n"
        );
        let line = cancelled(
            "r1",
            &json!({"steps_cancelled": 2, "prompts_closed": ["p"], "child_runs": []}),
        );
        assert!(
            line.contains("2 step(s) cancelled, 1 prompt(s) closed, 0 child run(s)"),
            "{line}"
        );
        let line = rerun_started(
            "r1",
            "current",
            &json!({"id": "r2", "story": "triage", "story_version": "abc"}),
        );
        assert!(
            line.contains("re-run as r2 (story triage version abc, the current version)"),
            "{line}"
        );
    }
}
