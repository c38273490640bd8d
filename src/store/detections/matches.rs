//! Recording a batch of matches: their windows (`alert_windows`), the matches themselves
//! (`rule_matches`), the alerts windows reach and the source checkpoint, in one transaction; and
//! reading matches back for scheduled queries.

use super::{alerts, checkpoints, BuildAlert, MergeMatch, NewMatch, RecordedMatches, Window};
use crate::run::Millis;
use crate::store::connection::SqlStore;
use crate::store::sql::{add, in_list, placeholders, ROWS_PER_STATEMENT};
use crate::store::Result;
use serde_json::Value;
use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Any fixed number, distinct from the migration lock: serialises match recording across
/// processes sharing one Postgres.
const DETECTION_LOCK: i64 = 0x5741_5244_4454; // "WARDDT"

/// A window's columns, in the order [`save_windows`] binds them.
const WINDOW_COLUMNS: &str =
    "rule_id, dedup, alert_count, alert_id, event_count, started_at, updated_at, alerted, first_match";

/// `(rule_id, dedup)`.
type WindowKey = (String, String);

/// [`Detections::record_matches`](super::Detections::record_matches).
pub(super) async fn record(
    store: &SqlStore,
    mut matches: Vec<NewMatch>,
    checkpoint: Option<(&str, &str)>,
    now: Millis,
    merge: &MergeMatch<'_>,
    alert_for: &BuildAlert<'_>,
) -> Result<RecordedMatches> {
    let mut tx = store.begin().await?;
    if let Some(lock) = store.inner.dialect.transaction_lock() {
        sqlx::query(lock)
            .bind(DETECTION_LOCK)
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
        let merged = merge(window, m, now);
        if let Some(event) = m.event.as_object_mut() {
            event.insert("p_alert_id".into(), merged.alert_id.into());
        }
        if merged.creates_alert {
            let window = window.as_ref().expect("a merge leaves a window");
            alerts.push((alert_for(m, window), m.rule_id.clone(), m.dedup.clone()));
        }
    }
    save_windows(&mut tx, &windows).await?;
    insert_matches(&mut tx, &matches, now).await?;
    let mut deliveries = 0;
    for (alert, rule_id, dedup) in &alerts {
        deliveries += alerts::insert(&mut tx, alert, rule_id, dedup, now).await?;
    }
    // Alerts merge later matches of their window: keep their counts current.
    for window in windows.values().flatten().filter(|w| w.alerted) {
        alerts::update_count(&mut tx, window).await?;
    }
    if let Some((source, position)) = checkpoint {
        checkpoints::save(&mut tx, source, position, now).await?;
    }
    tx.commit().await?;
    Ok(RecordedMatches {
        matches: matches.len(),
        alerts: alerts.into_iter().map(|(a, _, _)| a.id).collect(),
        deliveries,
    })
}

/// [`Detections::matches_since`](super::Detections::matches_since).
pub(super) async fn since(
    store: &SqlStore,
    rule_ids: &[String],
    since: Millis,
) -> Result<Vec<Value>> {
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
        .fetch_all(&store.inner.reader)
        .await?
        .iter()
        .map(|row| Ok(serde_json::from_str(&row.try_get::<String, _>(0)?)?))
        .collect()
}

/// The stored window of each key (`None` where there is none yet).
async fn load_windows(
    conn: &mut AnyConnection,
    keys: &BTreeSet<WindowKey>,
) -> Result<BTreeMap<WindowKey, Option<Window>>> {
    let mut windows: BTreeMap<WindowKey, Option<Window>> =
        keys.iter().map(|k| (k.clone(), None)).collect();
    let keys: Vec<&WindowKey> = keys.iter().collect();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT {WINDOW_COLUMNS} FROM alert_windows WHERE (rule_id, dedup) IN (VALUES {})",
            placeholders(chunk.len(), 2, 1)
        );
        let mut args = AnyArguments::default();
        for (rule_id, dedup) in chunk {
            add(&mut args, rule_id.as_str())?;
            add(&mut args, dedup.as_str())?;
        }
        for row in sqlx::query_with(&sql, args).fetch_all(&mut *conn).await? {
            let key = (row.try_get("rule_id")?, row.try_get("dedup")?);
            let window = Window {
                alert_count: row.try_get("alert_count")?,
                alert_id: row.try_get("alert_id")?,
                event_count: row.try_get("event_count")?,
                started_at: row.try_get("started_at")?,
                updated_at: row.try_get("updated_at")?,
                alerted: row.try_get::<i64, _>("alerted")? != 0,
                first_match: serde_json::from_str(&row.try_get::<String, _>("first_match")?)?,
            };
            windows.insert(key, Some(window));
        }
    }
    Ok(windows)
}

/// Upserts every window the batch touched.
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
            "INSERT INTO alert_windows ({WINDOW_COLUMNS})
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

/// Stores the matches, each with the `p_alert_id` its merge gave it.
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
