//! The history `warden bench console` renders pages over: runs of several stories in every status,
//! their steps and events, prompts, and alerts with deliveries and matched events, written as
//! batched multi-row `INSERT`s (one transaction per batch of runs) over a connection of its own.
//! Deterministic for a given size, so two measurements read the same data.

mod tables;

use crate::run::{Millis, Wait};
use anyhow::Context as _;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Connection as _};
use tables::Tables;

/// What to seed.
pub struct Plan {
    /// Runs in all, oldest first.
    pub runs: u64,
    /// Steps per run, the webhook's entry step included.
    pub steps_per_run: u64,
    /// The stories, with their current versions; run `n` belongs to story `n % len`.
    pub stories: Vec<(String, String)>,
    /// The newest run's creation time.
    pub now: Millis,
    /// How far back the oldest run was created.
    pub span: Millis,
}

/// Runs written per transaction.
const BATCH: u64 = 500;
/// One run in this many was started by a stored alert (with a delivery and matched events).
const ALERT_EVERY: u64 = 5;
/// Rule matches stored per alert.
const MATCHES_PER_ALERT: u64 = 2;
/// Distinct client IPs in the entry payloads.
const IPS: u64 = 10_000;

/// What the bench looks up afterwards: a run to show, an alert, search terms with a run each
/// must find.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    /// Rows written: (runs, steps, events, prompts, alerts).
    pub counts: (u64, u64, u64, u64, u64),
    /// A finished run of `steps_per_run` steps from the middle of the history.
    pub run_id: String,
    /// An alert that started a run.
    pub alert_id: String,
    /// The `alertId` in the entry payload of one of the oldest runs, and that run.
    pub old_alert: (String, String),
    /// A client IP in one of the oldest runs' entry payloads, and that run.
    pub old_ip: (String, String),
    /// A run about 95% of the way back (the cursor of a deep page).
    pub deep_cursor: String,
}

/// A deterministic 64-bit mix of `n` and `salt` (splitmix64), so ids and IPs are stable.
fn mix(n: u64, salt: u64) -> u64 {
    let mut z = n.wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Run `n`'s Panther `alertId` (32 hex digits, like Panther's md5).
fn alert_id(n: u64) -> String {
    format!("{:016x}{:016x}", mix(n, 1), mix(n, 2))
}

/// Run `n`'s client IP: one of [`IPS`] addresses, so each appears in a handful of runs.
fn client_ip(n: u64) -> String {
    let h = mix(n, 3) % IPS;
    format!("198.51.{}.{}", h / 250, h % 250)
}

/// A run id created at `at` (a UUIDv7, like `run::new_run_id`, so ids sort by time).
fn run_id_at(at: Millis, n: u64) -> String {
    let secs = u64::try_from(at.div_euclid(1000)).unwrap_or(0);
    let nanos = (at.rem_euclid(1000) as u32) * 1_000_000 + (n % 1_000_000) as u32;
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos)).to_string()
}

/// A webhook entry event carrying a Panther alert, as `api::webhook::event` stores it.
fn entry_payload(n: u64, created_at: Millis) -> Value {
    let mut alert = super::super::panther_alert(n);
    let id = alert_id(n);
    alert["alertId"] = json!(id);
    alert["link"] = json!(format!("https://panther.example.com/alerts/{id}"));
    alert["createdAt"] = json!(crate::clock::rfc3339(created_at));
    alert["alertContext"]["client"]["ipAddress"] = json!(client_ip(n));
    json!({
        "body": alert,
        "headers": {"content-type": "application/json", "user-agent": "Panther/1.0"},
        "query": {},
        "method": "POST",
    })
}

/// Action `a{i}`'s output event in the generated story (its kind is `i % 4`, as
/// `bench::generated_story` lays them out).
fn output_payload(i: u64, n: u64) -> (&'static str, Value) {
    match i % 4 {
        1 => (
            if mix(n, i) % 5 == 0 {
                "no_match"
            } else {
                "default"
            },
            json!({"matched": true, "rules": [true, false]}),
        ),
        2 => (
            "default",
            json!({"status": 200, "headers": {"content-type": "application/json"},
                   "body": {"id": alert_id(n), "verdict": "harmless", "score": mix(n, i) % 100}}),
        ),
        3 => ("default", json!({"delayed": "1s"})),
        _ => ("default", json!({"id": alert_id(n), "seen": true, "n": i})),
    }
}

/// How a run ends, and so its last step's state.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    Succeeded,
    Failed,
    Cancelled,
    Running,
    Waiting,
    /// Waiting on a prompt.
    Prompted,
}

fn ending(n: u64) -> Ending {
    match mix(n, 4) % 100 {
        0..=77 => Ending::Succeeded,
        78..=85 => Ending::Failed,
        86..=90 => Ending::Cancelled,
        91..=94 => Ending::Running,
        95..=97 => Ending::Waiting,
        _ => Ending::Prompted,
    }
}

/// Writes the plan's history; returns what the pages look up.
pub async fn seed(url: &str, plan: &Plan) -> anyhow::Result<Seeded> {
    let mut conn = AnyConnection::connect(url)
        .await
        .context("Failed to connect to seed the database")?;
    let postgres = url.starts_with("postgres");
    if !postgres {
        // A scratch file: losing it in a crash loses nothing.
        sqlx::raw_sql("PRAGMA synchronous = OFF")
            .execute(&mut conn)
            .await?;
    }
    let mut seeded = Seeded::default();
    let (mut step_id, mut event_id, mut row_id) = (0i64, 0i64, 0i64);
    let runs = plan.runs.max(1);
    let mut start = 0;
    while start < runs {
        let end = (start + BATCH).min(runs);
        let mut t = Tables::new();
        for n in start..end {
            let created =
                plan.now - plan.span + (plan.span as i128 * n as i128 / runs as i128) as Millis;
            let run_id = run_id_at(created, n);
            let story = &plan.stories[(n % plan.stories.len() as u64) as usize];
            // The newest two are a waiting prompt and a failure, so even a tiny history shows both.
            let end_kind = match runs - n {
                1 => Ending::Prompted,
                2 => Ending::Failed,
                _ => ending(n),
            };
            if n == runs / 2 {
                seeded.run_id = run_id.clone();
            }
            if n == runs / 20 {
                seeded.deep_cursor = run_id.clone();
            }
            if n == runs / 100 {
                seeded.old_alert = (alert_id(n), run_id.clone());
                seeded.old_ip = (client_ip(n), run_id.clone());
            }
            // The entry step and its event.
            let steps = plan.steps_per_run.max(1);
            let step_at = |k: u64| created + k as Millis * 200;
            step_id += 1;
            event_id += 1;
            t.step(
                step_id,
                &run_id,
                story,
                created,
                "a0",
                None,
                "succeeded",
                None,
                None,
                step_at(0),
                Some(step_at(0)),
            );
            t.event(
                event_id,
                &run_id,
                None,
                step_id,
                "a0",
                "default",
                &entry_payload(n, created),
                created,
            );
            let mut input = event_id;
            for k in 1..steps {
                step_id += 1;
                let action = format!("a{k}");
                let last = k == steps - 1;
                let at = step_at(k);
                let (state, wait, error, finished) = match (last, end_kind) {
                    (false, _) | (true, Ending::Succeeded) => ("succeeded", None, None, Some(at + 150)),
                    (true, Ending::Failed) => (
                        "failed",
                        None,
                        Some(json!({"class": "retriable", "message": "HTTP 503 from api.example.com after 3 attempts", "status": 503}).to_string()),
                        Some(at + 150),
                    ),
                    (true, Ending::Cancelled) => ("cancelled", None, None, Some(at + 150)),
                    (true, Ending::Running) => ("pending", None, None, None),
                    (true, Ending::Waiting) => ("waiting", Some(serde_json::to_string(&Wait::Delay)?), None, None),
                    (true, Ending::Prompted) => {
                        let prompt = format!("{:016x}{:016x}", mix(n, 5), mix(n, 6));
                        let wait = Wait::Prompt { prompt_id: prompt.clone(), answer: None, responder: None };
                        t.prompt(&prompt, step_id, &run_id, story, &action, "open", at, None);
                        ("waiting", Some(serde_json::to_string(&wait)?), None, None)
                    }
                };
                t.step(
                    step_id,
                    &run_id,
                    story,
                    created,
                    &action,
                    Some(input),
                    state,
                    wait,
                    error,
                    at,
                    finished,
                );
                if state == "succeeded" {
                    event_id += 1;
                    let (link, payload) = output_payload(k, n);
                    t.event(
                        event_id,
                        &run_id,
                        Some(input),
                        step_id,
                        &action,
                        link,
                        &payload,
                        at + 150,
                    );
                    input = event_id;
                    // Some finished runs asked someone on the way.
                    if k == 3 && mix(n, 7) % 50 == 0 {
                        let prompt = format!("{:016x}{:016x}", mix(n, 8), mix(n, 9));
                        t.prompt(
                            &prompt,
                            step_id,
                            &run_id,
                            story,
                            &action,
                            "answered",
                            at,
                            Some((at + 60_000, n)),
                        );
                    }
                }
            }
            let (status, open, failed, finished): (&str, i64, i64, Option<Millis>) = match end_kind
            {
                Ending::Succeeded => ("succeeded", 0, 0, Some(step_at(steps))),
                Ending::Failed => ("failed", 0, 1, Some(step_at(steps))),
                Ending::Cancelled => ("cancelled", 0, 0, Some(step_at(steps))),
                _ => ("running", 1, 0, None),
            };
            t.runs.push(vec![
                run_id.clone().into(),
                story.0.as_str().into(),
                story.1.as_str().into(),
                status.into(),
                open.into(),
                failed.into(),
                created.into(),
                finished.unwrap_or(created).into(),
                finished.into(),
            ]);
            if end_kind == Ending::Cancelled {
                row_id += 1;
                t.history.push(vec![
                    row_id.into(),
                    run_id.as_str().into(),
                    step_at(steps).into(),
                    "console:bench".into(),
                    "cancel_run".into(),
                    "{}".into(),
                ]);
            }
            if n % ALERT_EVERY == 0 {
                let id = alert_id(n);
                if seeded.alert_id.is_empty() && n >= runs / 2 {
                    seeded.alert_id = id.clone();
                }
                t.alert(&id, n, &run_id, &story.0, created, &mut row_id);
            }
        }
        let mut tx = conn.begin().await?;
        for table in t.all() {
            table.flush(&mut tx).await?;
        }
        tx.commit().await?;
        seeded.counts.0 += end - start;
        start = end;
    }
    if seeded.alert_id.is_empty() {
        seeded.alert_id = alert_id(0);
    }
    seeded.counts.1 = step_id as u64;
    seeded.counts.2 = event_id as u64;
    let prompts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prompts")
        .fetch_one(&mut conn)
        .await?;
    let alerts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts")
        .fetch_one(&mut conn)
        .await?;
    seeded.counts.3 = prompts as u64;
    seeded.counts.4 = alerts as u64;
    if postgres {
        // The ids were given explicitly: move the identity sequences past them, and gather the
        // statistics autovacuum would gather in production after a load this size.
        for table in [
            "steps",
            "events",
            "alert_deliveries",
            "rule_matches",
            "run_history",
        ] {
            sqlx::raw_sql(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                               GREATEST((SELECT MAX(id) FROM {table}), 1))"
            ))
            .execute(&mut conn)
            .await?;
        }
        sqlx::raw_sql("ANALYZE").execute(&mut conn).await?;
    }
    let _ = conn.close().await;
    Ok(seeded)
}
