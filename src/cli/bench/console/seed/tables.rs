//! One batch's rows, table by table, and how they are written: multi-row `INSERT`s of as many
//! rows as the bind limit allows, in an order that never references a row not yet written.

use super::{client_ip, mix, MATCHES_PER_ALERT};
use crate::run::Millis;
use crate::store::sql::placeholders;
use anyhow::Context as _;
use serde_json::{json, Value};
use sqlx::AnyConnection;

/// Bind parameters per statement: larger statements bind slower per row (sqlx), smaller ones
/// make more round trips.
const MAX_BINDS: usize = 1_000;

/// A bound value.
pub(super) enum Cell {
    Int(i64),
    Text(String),
    /// A typed NULL: Postgres refuses an integer NULL in a text column.
    NullInt,
    NullText,
}

impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Int(v)
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Cell {
        Cell::Text(v)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_owned())
    }
}
impl From<Option<i64>> for Cell {
    fn from(v: Option<i64>) -> Cell {
        v.map_or(Cell::NullInt, Cell::Int)
    }
}
impl From<Option<String>> for Cell {
    fn from(v: Option<String>) -> Cell {
        v.map_or(Cell::NullText, Cell::Text)
    }
}
impl From<Option<&str>> for Cell {
    fn from(v: Option<&str>) -> Cell {
        v.map_or(Cell::NullText, Into::into)
    }
}

/// Rows for one table, inserted in as few statements as the bind limit allows.
pub(super) struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(name: &'static str, columns: &'static [&'static str]) -> Table {
        Table {
            name,
            columns,
            rows: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    pub(super) async fn flush(&mut self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        let per_statement = (MAX_BINDS / self.columns.len()).max(1);
        let rows = std::mem::take(&mut self.rows);
        for chunk in rows.chunks(per_statement) {
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {}",
                self.name,
                self.columns.join(", "),
                placeholders(chunk.len(), self.columns.len(), 1)
            );
            let mut query = sqlx::query(&sql);
            for cell in chunk.iter().flatten() {
                query = match cell {
                    Cell::Int(v) => query.bind(*v),
                    Cell::Text(v) => query.bind(v.as_str()),
                    Cell::NullInt => query.bind(None::<i64>),
                    Cell::NullText => query.bind(None::<String>),
                };
            }
            query
                .execute(&mut *conn)
                .await
                .with_context(|| format!("Failed to insert into {}", self.name))?;
        }
        Ok(())
    }
}

/// One batch's rows.
pub(super) struct Tables {
    pub(super) runs: Table,
    steps: Table,
    events: Table,
    prompts: Table,
    alerts: Table,
    deliveries: Table,
    matches: Table,
    pub(super) history: Table,
}

impl Tables {
    pub(super) fn new() -> Tables {
        Tables {
            runs: Table::new(
                "runs",
                &[
                    "id",
                    "story_id",
                    "story_version",
                    "status",
                    "open_steps",
                    "failed_steps",
                    "created_at",
                    "updated_at",
                    "finished_at",
                ],
            ),
            steps: Table::new(
                "steps",
                &[
                    "id",
                    "run_id",
                    "story_id",
                    "story_version",
                    "run_started_at",
                    "action_id",
                    "input_event_id",
                    "state",
                    "attempt",
                    "lease_token",
                    "due_at",
                    "wait",
                    "error",
                    "created_at",
                    "updated_at",
                    "finished_at",
                ],
            ),
            events: Table::new(
                "events",
                &[
                    "id",
                    "run_id",
                    "parent_id",
                    "step_id",
                    "action_id",
                    "seq",
                    "link",
                    "payload",
                    "created_at",
                ],
            ),
            prompts: Table::new(
                "prompts",
                &[
                    "id",
                    "step_id",
                    "run_id",
                    "story_id",
                    "action_id",
                    "choices",
                    "responders",
                    "state",
                    "answer",
                    "responder",
                    "created_at",
                    "expires_at",
                    "answered_at",
                    "answered_via",
                ],
            ),
            alerts: Table::new(
                "alerts",
                &[
                    "id",
                    "rule_id",
                    "alert_type",
                    "severity",
                    "title",
                    "dedup",
                    "log_types",
                    "event_count",
                    "notification",
                    "created_at",
                    "updated_at",
                ],
            ),
            deliveries: Table::new(
                "alert_deliveries",
                &[
                    "id",
                    "alert_id",
                    "destination",
                    "state",
                    "attempts",
                    "due_at",
                    "run_id",
                    "last_error",
                    "created_at",
                    "updated_at",
                ],
            ),
            matches: Table::new(
                "rule_matches",
                &[
                    "id",
                    "rule_id",
                    "alert_id",
                    "log_type",
                    "event_time",
                    "event",
                    "created_at",
                ],
            ),
            history: Table::new(
                "run_history",
                &["id", "run_id", "at", "actor", "action", "details"],
            ),
        }
    }

    /// In an order that never references a row not yet written.
    pub(super) fn all(&mut self) -> [&mut Table; 8] {
        [
            &mut self.runs,
            &mut self.steps,
            &mut self.events,
            &mut self.prompts,
            &mut self.alerts,
            &mut self.deliveries,
            &mut self.matches,
            &mut self.history,
        ]
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &mut self,
        id: i64,
        run_id: &str,
        story: &(String, String),
        run_started: Millis,
        action: &str,
        input: Option<i64>,
        state: &str,
        wait: Option<String>,
        error: Option<String>,
        at: Millis,
        finished: Option<Millis>,
    ) {
        let attempt: i64 = if state == "pending" { 0 } else { 1 };
        let due = if finished.is_some() {
            at
        } else {
            at + 3_600_000
        };
        self.steps.push(vec![
            id.into(),
            run_id.into(),
            story.0.as_str().into(),
            story.1.as_str().into(),
            run_started.into(),
            action.into(),
            input.into(),
            state.into(),
            attempt.into(),
            0i64.into(),
            due.into(),
            wait.into(),
            error.into(),
            at.into(),
            finished.unwrap_or(at).into(),
            finished.into(),
        ]);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn event(
        &mut self,
        id: i64,
        run_id: &str,
        parent: Option<i64>,
        step: i64,
        action: &str,
        link: &str,
        payload: &Value,
        at: Millis,
    ) {
        self.events.push(vec![
            id.into(),
            run_id.into(),
            parent.into(),
            step.into(),
            action.into(),
            0i64.into(),
            link.into(),
            payload.to_string().into(),
            at.into(),
        ]);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn prompt(
        &mut self,
        id: &str,
        step: i64,
        run_id: &str,
        story: &(String, String),
        action: &str,
        state: &str,
        at: Millis,
        answered: Option<(Millis, u64)>,
    ) {
        let choices = json!([{"value": "approve", "label": "Approve"},
                             {"value": "deny", "label": "Deny"}]);
        self.prompts.push(vec![
            id.into(),
            step.into(),
            run_id.into(),
            story.0.as_str().into(),
            action.into(),
            choices.to_string().into(),
            r#"["U0BENCH1","U0BENCH2"]"#.into(),
            state.into(),
            answered.map(|_| "approve").into(),
            answered
                .map(|(_, n)| format!("U0BENCH{}", n % 2 + 1))
                .into(),
            at.into(),
            (at + 86_400_000).into(),
            answered.map(|(when, _)| when).into(),
            answered
                .map(|(_, n)| if n % 2 == 0 { "slack" } else { "console" })
                .into(),
        ]);
    }

    /// An alert that started run `n`: Panther's body, one delivery to the story, matched events.
    pub(super) fn alert(
        &mut self,
        id: &str,
        n: u64,
        run_id: &str,
        story: &str,
        at: Millis,
        row_id: &mut i64,
    ) {
        let rule = [
            "Okta.AdminRoleAssigned",
            "Okta.MFA.Bypass",
            "Okta.BruteForce",
        ][(n % 3) as usize];
        let severity = ["HIGH", "CRITICAL", "MEDIUM"][(n % 3) as usize];
        let mut body = crate::cli::bench::panther_alert(n);
        body["alertId"] = json!(id);
        body["ruleId"] = json!(rule);
        body["severity"] = json!(severity);
        let title = format!("{rule} for user{}@example.com", n % 1000);
        self.alerts.push(vec![
            id.into(),
            rule.into(),
            "RULE".into(),
            severity.into(),
            title.into(),
            format!("user{}@example.com", n % 1000).into(),
            r#"["Okta.SystemLog"]"#.into(),
            (MATCHES_PER_ALERT as i64).into(),
            body.to_string().into(),
            at.into(),
            at.into(),
        ]);
        *row_id += 1;
        self.deliveries.push(vec![
            (*row_id).into(),
            id.into(),
            format!("story:{story}").into(),
            "delivered".into(),
            1i64.into(),
            at.into(),
            run_id.into(),
            Cell::NullText,
            at.into(),
            at.into(),
        ]);
        for m in 0..MATCHES_PER_ALERT {
            *row_id += 1;
            let event = json!({
                "eventType": "user.account.privilege.grant",
                "actor": {"alternateId": "admin@example.com"},
                "client": {"ipAddress": client_ip(n)},
                "target": [{"alternateId": format!("user{}@example.com", n % 1000), "type": "User"}],
                "p_log_type": "Okta.SystemLog",
                "p_row_id": format!("{:016x}", mix(n, 10 + m)),
            });
            self.matches.push(vec![
                (*row_id).into(),
                rule.into(),
                id.into(),
                "Okta.SystemLog".into(),
                (at - 1000 * m as Millis).into(),
                event.to_string().into(),
                at.into(),
            ]);
        }
    }
}
