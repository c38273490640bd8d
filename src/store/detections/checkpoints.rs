//! Where a source stopped (`source_checkpoints`, saved with the matches of the page that moved it)
//! and when each scheduled query last ran (`scheduled_query_runs`, claimed as a compare-and-set so
//! one process runs each tick).

use crate::run::Millis;
use crate::store::connection::SqlStore;
use crate::store::Result;
use sqlx::AnyConnection;

/// Stores a source's position inside the transaction that records what it read.
pub(super) async fn save(
    conn: &mut AnyConnection,
    source: &str,
    position: &str,
    now: Millis,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO source_checkpoints (source, checkpoint, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (source) DO UPDATE SET checkpoint = excluded.checkpoint,
                                           updated_at = excluded.updated_at",
    )
    .bind(source)
    .bind(position)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// [`Detections::checkpoint`](super::Detections::checkpoint).
pub(super) async fn checkpoint(store: &SqlStore, source: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT checkpoint FROM source_checkpoints WHERE source = $1")
            .bind(source)
            .fetch_optional(&store.inner.reader)
            .await?,
    )
}

/// [`Detections::query_last_run`](super::Detections::query_last_run).
pub(super) async fn query_last_run(store: &SqlStore, name: &str) -> Result<Option<Millis>> {
    Ok(
        sqlx::query_scalar("SELECT last_run_at FROM scheduled_query_runs WHERE query_name = $1")
            .bind(name)
            .fetch_optional(&store.inner.reader)
            .await?,
    )
}

/// [`Detections::claim_query_run`](super::Detections::claim_query_run).
pub(super) async fn claim_query_run(
    store: &SqlStore,
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
        .execute(&store.inner.writer)
        .await?
        .rows_affected(),
        Some(previous) => sqlx::query(
            "UPDATE scheduled_query_runs SET last_run_at = $1
             WHERE query_name = $2 AND last_run_at = $3",
        )
        .bind(scheduled_at)
        .bind(name)
        .bind(previous)
        .execute(&store.inner.writer)
        .await?
        .rows_affected(),
    };
    Ok(done == 1)
}
