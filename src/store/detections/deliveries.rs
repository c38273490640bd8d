//! `alert_deliveries`: the outbox `detect::deliver` drains. A delivery is leased by moving its due
//! time forward, so a process that dies mid-delivery leaves it due again when the lease runs out.

use super::{DeliveryOutcome, DeliveryRecord, DueDelivery};
use crate::run::{DeliveryState, Millis};
use crate::store::connection::SqlStore;
use crate::store::sql::{in_list, stored_state, Claim};
use crate::store::Result;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// A [`DeliveryRecord`]'s columns.
pub(super) const DELIVERY_COLUMNS: &str =
    "id, alert_id, destination, state, attempts, due_at, run_id, last_error";

/// [`Detections::claim_deliveries`](super::Detections::claim_deliveries).
pub(super) async fn claim(
    store: &SqlStore,
    now: Millis,
    lease_until: Millis,
    limit: u32,
) -> Result<Vec<DueDelivery>> {
    let sql = Claim {
        table: "alert_deliveries",
        set: "due_at = $1, attempts = attempts + 1, updated_at = $2",
        due: "state = 'pending' AND due_at <= $2",
        limit: "$3",
        returning: DELIVERY_COLUMNS,
    }
    .sql(store.inner.dialect);
    let deliveries: Vec<DeliveryRecord> = sqlx::query(&sql)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&store.inner.writer)
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
        for row in query.fetch_all(&store.inner.reader).await? {
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
                .unwrap_or(Value::Null),
            delivery,
        })
        .collect();
    due.sort_by_key(|d| d.delivery.id);
    Ok(due)
}

/// [`Detections::finish_delivery`](super::Detections::finish_delivery).
pub(super) async fn finish(
    store: &SqlStore,
    id: i64,
    outcome: &DeliveryOutcome,
    now: Millis,
) -> Result<()> {
    let (state, due_at, run_id, error, given_back) = match outcome {
        DeliveryOutcome::Delivered { run_id } => (
            DeliveryState::Delivered,
            now,
            run_id.as_deref(),
            None,
            0_i64,
        ),
        DeliveryOutcome::Retry { due_at, error } => {
            (DeliveryState::Pending, *due_at, None, Some(error), 0)
        }
        DeliveryOutcome::Failed { error } => (DeliveryState::Failed, now, None, Some(error), 0),
        DeliveryOutcome::Deferred { due_at, reason } => {
            (DeliveryState::Pending, *due_at, None, Some(reason), 1)
        }
    };
    sqlx::query(
        "UPDATE alert_deliveries SET state = $1, due_at = $2, run_id = COALESCE($3, run_id),
                                     last_error = $4, updated_at = $5, attempts = attempts - $7
         WHERE id = $6",
    )
    .bind(state.as_str())
    .bind(due_at)
    .bind(run_id)
    .bind(error)
    .bind(now)
    .bind(id)
    .bind(given_back)
    .execute(&store.inner.writer)
    .await?;
    Ok(())
}

/// A [`DELIVERY_COLUMNS`] row.
pub(super) fn delivery_record(row: &AnyRow) -> Result<DeliveryRecord> {
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
