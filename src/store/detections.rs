//! [`Detections`] over SQL: dedup windows, matches, alerts, deliveries, checkpoints and
//! scheduled-query runs.
//!
//! Recording matches is one transaction under one lock (SQLite's write lock; a transaction-scoped
//! advisory lock on Postgres), because a window's next state depends on its current one and two
//! processes ingesting at once must not both open it. Batches are large, so the lock is taken a
//! few times per second, not per event.

use super::batch::{add, placeholders, ROWS_PER_STATEMENT};
use super::sql::{stored_state, Dialect, SqlStore};
use super::{
    AlertFilter, AlertRecord, DeliveryOutcome, DeliveryRecord, Detections, DueDelivery, Millis,
    NewAlert, NewMatch, RecordedMatches, Result, Window,
};
use crate::detect::alerting::{add_match, FirstMatch};
use crate::run::DeliveryState;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Any fixed number, distinct from the migration lock: serialises match recording across
/// processes sharing one Postgres.
const POSTGRES_DETECTION_LOCK: i64 = 0x5741_5244_4454; // "WARDDT"

type WindowKey = (String, String);

impl Detections for SqlStore {
    async fn record_matches(
        &self,
        mut matches: Vec<NewMatch>,
        checkpoint: Option<(&str, &str)>,
        now: Millis,
        alert_for: &(dyn Fn(&NewMatch, &Window) -> NewAlert + Send + Sync),
    ) -> Result<RecordedMatches> {
        let mut tx = self.begin().await?;
        if self.inner.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(POSTGRES_DETECTION_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let keys: BTreeSet<WindowKey> = matches
            .iter()
            .map(|m| (m.rule_id.clone(), m.dedup.clone()))
            .collect();
        let mut windows = load_windows(&mut tx, &keys).await?;
        let mut alerts = Vec::new();
        for m in &mut matches {
            let window = windows
                .entry((m.rule_id.clone(), m.dedup.clone()))
                .or_default();
            let added = add_match(
                window,
                &m.rule_id,
                &m.dedup,
                m.event_time,
                now,
                m.policy,
                // Only a match that opens a window keeps its fields: move them, don't copy.
                || std::mem::take(&mut m.first),
            );
            if let Some(event) = m.event.as_object_mut() {
                event.insert("p_alert_id".into(), added.alert_id.into());
            }
            if added.creates_alert {
                let window = window.as_ref().expect("add_match leaves a window");
                alerts.push((alert_for(m, window), m.rule_id.clone(), m.dedup.clone()));
            }
        }
        save_windows(&mut tx, &windows).await?;
        insert_matches(&mut tx, &matches, now).await?;
        let mut deliveries = 0;
        for (alert, rule_id, dedup) in &alerts {
            deliveries += insert_alert(&mut tx, alert, rule_id, dedup, now).await?;
        }
        // Alerts merge later matches of their window: keep their counts current.
        for window in windows.values().flatten().filter(|w| w.alerted) {
            sqlx::query("UPDATE alerts SET event_count = $1, updated_at = $2 WHERE id = $3")
                .bind(window.event_count)
                .bind(window.updated_at)
                .bind(&window.alert_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((source, position)) = checkpoint {
            sqlx::query(
                "INSERT INTO source_checkpoints (source, checkpoint, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint,
                                                   updated_at = excluded.updated_at",
            )
            .bind(source)
            .bind(position)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(RecordedMatches {
            matches: matches.len(),
            alerts: alerts.into_iter().map(|(a, _, _)| a.id).collect(),
            deliveries,
        })
    }

    async fn checkpoint(&self, source: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query("SELECT checkpoint FROM source_checkpoints WHERE source = $1")
                .bind(source)
                .fetch_optional(&self.inner.reader)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?,
        )
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
        let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1");
        let mut args = AnyArguments::default();
        let mut n = 0;
        let mut param = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
        };
        if let Some(rule_id) = &filter.rule_id {
            param(&mut sql, " AND rule_id = ?");
            add(&mut args, rule_id.clone())?;
        }
        if let Some(severity) = &filter.severity {
            param(&mut sql, " AND severity = ?");
            add(&mut args, severity.to_ascii_uppercase())?;
        }
        if let Some(before) = filter.before {
            param(&mut sql, " AND created_at < ?");
            add(&mut args, before)?;
        }
        param(&mut sql, " ORDER BY created_at DESC, id LIMIT ?");
        add(&mut args, i64::from(filter.limit.clamp(1, 500)))?;
        sqlx::query_with(&sql, args)
            .fetch_all(&self.inner.reader)
            .await?
            .iter()
            .map(alert_record)
            .collect()
    }

    async fn alert(&self, id: &str) -> Result<Option<(AlertRecord, Vec<DeliveryRecord>)>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.inner.reader)
            .await?
        else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE alert_id = $1 ORDER BY id"
        );
        let deliveries = sqlx::query(&sql)
            .bind(id)
            .fetch_all(&self.inner.reader)
            .await?
            .iter()
            .map(delivery_record)
            .collect::<Result<_>>()?;
        Ok(Some((alert_record(&row)?, deliveries)))
    }

    async fn matches_since(
        &self,
        rule_ids: &[String],
        since: Millis,
    ) -> Result<Vec<serde_json::Value>> {
        if rule_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT event FROM rule_matches WHERE event_time >= $1 AND rule_id IN ({})
             ORDER BY event_time, id",
            in_list(2, rule_ids.len())
        );
        let mut query = sqlx::query(&sql).bind(since);
        for id in rule_ids {
            query = query.bind(id);
        }
        query
            .fetch_all(&self.inner.reader)
            .await?
            .iter()
            .map(|row| Ok(serde_json::from_str(&row.try_get::<String, _>(0)?)?))
            .collect()
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        let lock = match self.inner.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        // The lease is the due time moved forward: a process that dies mid-delivery leaves the
        // row due again when the lease runs out.
        let sql = format!(
            "UPDATE alert_deliveries SET due_at = $1, attempts = attempts + 1, updated_at = $2
             WHERE id IN (SELECT id FROM alert_deliveries WHERE state = 'pending' AND due_at <= $2
                          ORDER BY due_at LIMIT $3 {lock})
             RETURNING {DELIVERY_COLUMNS}"
        );
        let deliveries: Vec<DeliveryRecord> = sqlx::query(&sql)
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.inner.writer)
            .await?
            .iter()
            .map(delivery_record)
            .collect::<Result<_>>()?;
        // One read for the bodies of all the alerts claimed.
        let mut ids: Vec<&str> = deliveries.iter().map(|d| d.alert_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut bodies = BTreeMap::new();
        if !ids.is_empty() {
            let sql = format!(
                "SELECT id, notification FROM alerts WHERE id IN ({})",
                in_list(1, ids.len())
            );
            let mut query = sqlx::query(&sql);
            for id in &ids {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.inner.reader).await? {
                let body: String = row.try_get(1)?;
                bodies.insert(row.try_get::<String, _>(0)?, serde_json::from_str(&body)?);
            }
        }
        let mut due: Vec<DueDelivery> = deliveries
            .into_iter()
            .map(|delivery| DueDelivery {
                notification: bodies
                    .get(&delivery.alert_id)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
                delivery,
            })
            .collect();
        due.sort_by_key(|d| d.delivery.id);
        Ok(due)
    }

    async fn finish_delivery(&self, id: i64, outcome: &DeliveryOutcome, now: Millis) -> Result<()> {
        let (state, due_at, run_id, error) = match outcome {
            DeliveryOutcome::Delivered { run_id } => {
                (DeliveryState::Delivered, now, run_id.as_deref(), None)
            }
            DeliveryOutcome::Retry { due_at, error } => {
                (DeliveryState::Pending, *due_at, None, Some(error))
            }
            DeliveryOutcome::Failed { error } => (DeliveryState::Failed, now, None, Some(error)),
        };
        sqlx::query(
            "UPDATE alert_deliveries SET state = $1, due_at = $2, run_id = COALESCE($3, run_id),
                                         last_error = $4, updated_at = $5
             WHERE id = $6",
        )
        .bind(state.as_str())
        .bind(due_at)
        .bind(run_id)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&self.inner.writer)
        .await?;
        Ok(())
    }

    async fn query_last_run(&self, name: &str) -> Result<Option<Millis>> {
        Ok(
            sqlx::query("SELECT last_run_at FROM scheduled_query_runs WHERE query_name = $1")
                .bind(name)
                .fetch_optional(&self.inner.reader)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?,
        )
    }

    async fn claim_query_run(
        &self,
        name: &str,
        previous: Option<Millis>,
        scheduled_at: Millis,
    ) -> Result<bool> {
        let done = match previous {
            None => sqlx::query(
                "INSERT INTO scheduled_query_runs (query_name, last_run_at) VALUES ($1, $2)
                 ON CONFLICT (query_name) DO NOTHING",
            )
            .bind(name)
            .bind(scheduled_at)
            .execute(&self.inner.writer)
            .await?
            .rows_affected(),
            Some(previous) => sqlx::query(
                "UPDATE scheduled_query_runs SET last_run_at = $1
                 WHERE query_name = $2 AND last_run_at = $3",
            )
            .bind(scheduled_at)
            .bind(name)
            .bind(previous)
            .execute(&self.inner.writer)
            .await?
            .rows_affected(),
        };
        Ok(done == 1)
    }
}

/// `$first, $first+1, …`: `count` placeholders for an `IN (…)` list.
fn in_list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const ALERT_COLUMNS: &str = "id, rule_id, alert_type, severity, title, dedup, event_count, \
                             notification, created_at, updated_at";
const DELIVERY_COLUMNS: &str =
    "id, alert_id, destination, state, attempts, due_at, run_id, last_error";

fn alert_record(row: &AnyRow) -> Result<AlertRecord> {
    Ok(AlertRecord {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        alert_type: row.try_get("alert_type")?,
        severity: row.try_get("severity")?,
        title: row.try_get("title")?,
        dedup: row.try_get("dedup")?,
        event_count: row.try_get("event_count")?,
        notification: serde_json::from_str(&row.try_get::<String, _>("notification")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn delivery_record(row: &AnyRow) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: row.try_get("id")?,
        alert_id: row.try_get("alert_id")?,
        destination: row.try_get("destination")?,
        state: stored_state(row.try_get("state")?, DeliveryState::parse)?,
        attempts: row.try_get("attempts")?,
        due_at: row.try_get("due_at")?,
        run_id: row.try_get("run_id")?,
        last_error: row.try_get("last_error")?,
    })
}

async fn load_windows(
    conn: &mut AnyConnection,
    keys: &BTreeSet<WindowKey>,
) -> Result<BTreeMap<WindowKey, Option<Window>>> {
    let mut windows: BTreeMap<WindowKey, Option<Window>> =
        keys.iter().map(|k| (k.clone(), None)).collect();
    let keys: Vec<&WindowKey> = keys.iter().collect();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT rule_id, dedup, alert_count, alert_id, event_count, started_at, updated_at,
                    alerted, first_match
             FROM alert_windows WHERE (rule_id, dedup) IN (VALUES {})",
            placeholders(chunk.len(), 2, 1)
        );
        let mut args = AnyArguments::default();
        for (rule_id, dedup) in chunk {
            add(&mut args, rule_id.as_str())?;
            add(&mut args, dedup.as_str())?;
        }
        for row in sqlx::query_with(&sql, args).fetch_all(&mut *conn).await? {
            let first: FirstMatch =
                serde_json::from_str(&row.try_get::<String, _>("first_match")?)?;
            let key = (row.try_get("rule_id")?, row.try_get("dedup")?);
            let window = Window {
                alert_count: row.try_get("alert_count")?,
                alert_id: row.try_get("alert_id")?,
                event_count: row.try_get("event_count")?,
                started_at: row.try_get("started_at")?,
                updated_at: row.try_get("updated_at")?,
                alerted: row.try_get::<i64, _>("alerted")? != 0,
                first_match: first,
            };
            windows.insert(key, Some(window));
        }
    }
    Ok(windows)
}

async fn save_windows(
    conn: &mut AnyConnection,
    windows: &BTreeMap<WindowKey, Option<Window>>,
) -> Result<()> {
    let rows: Vec<(&WindowKey, &Window)> = windows
        .iter()
        .filter_map(|(k, w)| w.as_ref().map(|w| (k, w)))
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO alert_windows (rule_id, dedup, alert_count, alert_id, event_count,
                                        started_at, updated_at, alerted, first_match)
             VALUES {}
             ON CONFLICT (rule_id, dedup) DO UPDATE SET
                 alert_count = excluded.alert_count, alert_id = excluded.alert_id,
                 event_count = excluded.event_count, started_at = excluded.started_at,
                 updated_at = excluded.updated_at, alerted = excluded.alerted,
                 first_match = excluded.first_match",
            placeholders(chunk.len(), 9, 1)
        );
        let mut args = AnyArguments::default();
        for ((rule_id, dedup), w) in chunk {
            add(&mut args, rule_id.as_str())?;
            add(&mut args, dedup.as_str())?;
            add(&mut args, w.alert_count)?;
            add(&mut args, w.alert_id.as_str())?;
            add(&mut args, w.event_count)?;
            add(&mut args, w.started_at)?;
            add(&mut args, w.updated_at)?;
            add(&mut args, i64::from(w.alerted))?;
            add(&mut args, serde_json::to_string(&w.first_match)?)?;
        }
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_matches(conn: &mut AnyConnection, matches: &[NewMatch], now: Millis) -> Result<()> {
    for chunk in matches.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO rule_matches (rule_id, alert_id, log_type, event_time, event, created_at)
             VALUES {}",
            placeholders(chunk.len(), 6, 1)
        );
        let mut args = AnyArguments::default();
        for m in chunk {
            let alert_id = m
                .event
                .get("p_alert_id")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            add(&mut args, m.rule_id.as_str())?;
            add(&mut args, alert_id.to_owned())?;
            add(&mut args, m.log_type.as_str())?;
            add(&mut args, m.event_time)?;
            add(&mut args, m.event.to_string())?;
            add(&mut args, now)?;
        }
        sqlx::query_with(&sql, args).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts an alert and one pending delivery per destination; returns the deliveries queued.
async fn insert_alert(
    conn: &mut AnyConnection,
    alert: &NewAlert,
    rule_id: &str,
    dedup: &str,
    now: Millis,
) -> Result<usize> {
    let inserted = sqlx::query(
        "INSERT INTO alerts (id, rule_id, alert_type, severity, title, dedup, log_types,
                             event_count, notification, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&alert.id)
    .bind(rule_id)
    .bind(&alert.alert_type)
    .bind(&alert.severity)
    .bind(&alert.title)
    .bind(dedup)
    .bind(serde_json::json!([alert.log_type]).to_string())
    .bind(alert.notification.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(0);
    }
    for destination in &alert.destinations {
        sqlx::query(
            "INSERT INTO alert_deliveries (alert_id, destination, state, attempts, due_at,
                                           created_at, updated_at)
             VALUES ($1, $2, 'pending', 0, $3, $3, $3)
             ON CONFLICT (alert_id, destination) DO NOTHING",
        )
        .bind(&alert.id)
        .bind(destination)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(alert.destinations.len())
}
