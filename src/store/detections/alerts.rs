//! `alerts`: creating an alert with its pending deliveries, keeping its count current, and reading
//! alerts back.

use super::deliveries::{delivery_record, DELIVERY_COLUMNS};
use super::{AlertFilter, AlertRecord, DeliveryRecord, NewAlert, Window};
use crate::run::Millis;
use crate::store::connection::SqlStore;
use crate::store::sql::add;
use crate::store::Result;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{AnyConnection, Row};

/// An [`AlertRecord`]'s columns.
const ALERT_COLUMNS: &str = "id, rule_id, alert_type, severity, title, dedup, event_count, \
                             notification, created_at, updated_at";

/// Inserts an alert and one pending delivery per destination; returns the deliveries queued.
pub(super) async fn insert(
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

/// Copies an alerted window's count onto its alert.
pub(super) async fn update_count(conn: &mut AnyConnection, window: &Window) -> Result<()> {
    sqlx::query("UPDATE alerts SET event_count = $1, updated_at = $2 WHERE id = $3")
        .bind(window.event_count)
        .bind(window.updated_at)
        .bind(&window.alert_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// [`Detections::list_alerts`](super::Detections::list_alerts).
pub(super) async fn list(store: &SqlStore, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
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
        .fetch_all(&store.inner.reader)
        .await?
        .iter()
        .map(alert_record)
        .collect()
}

/// [`Detections::alert`](super::Detections::alert).
pub(super) async fn one(
    store: &SqlStore,
    id: &str,
) -> Result<Option<(AlertRecord, Vec<DeliveryRecord>)>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&store.inner.reader)
        .await?
    else {
        return Ok(None);
    };
    let sql =
        format!("SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE alert_id = $1 ORDER BY id");
    let deliveries = sqlx::query(&sql)
        .bind(id)
        .fetch_all(&store.inner.reader)
        .await?
        .iter()
        .map(delivery_record)
        .collect::<Result<_>>()?;
    Ok(Some((alert_record(&row)?, deliveries)))
}

/// An [`ALERT_COLUMNS`] row.
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
