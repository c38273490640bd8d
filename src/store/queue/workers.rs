//! Knowing when a worker is dead, so its running steps are taken over at once instead of after
//! their lease. Postgres: each worker holds a session-level advisory lock keyed by its owner name
//! on a connection of its own for its whole life; Postgres releases it when the process dies (its
//! connection drops), and [`SqlStore::reap_dead_workers`] makes the running steps of owners whose
//! lock nobody holds due now. SQLite: one process owns the file, so a worker registering finds
//! every step running under another owner left by a dead process and makes it due now.
//!
//! Either way the step is only made due: the claim takes it over as any expired lease (a new
//! `lease_token`, one more `lost_leases`), so fencing is unchanged and a slow worker whose step
//! was taken still cannot record its result.

use crate::run::Millis;
use crate::store::connection::SqlStore;
use crate::store::dialect::Dialect;
use crate::store::Result;
use sqlx::{AnyConnection, Connection};

/// The first key of the workers' two-key advisory locks (`'WA'`); the second is
/// `hashtext(owner)`. Two-key locks never collide with the store's one-key (`bigint`) locks.
const WORKER_LOCK_CLASS: i32 = 0x5741;

/// A registered worker's liveness: on Postgres, the connection holding its advisory lock.
/// Dropping it (or the process dying) releases the lock, and the worker's running steps become
/// claimable by others at their next reap.
pub struct WorkerLock {
    conn: Option<AnyConnection>,
}

impl std::fmt::Debug for WorkerLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerLock")
            .field("held", &self.conn.is_some())
            .finish()
    }
}

impl WorkerLock {
    /// Whether the lock's connection still answers (if it dropped, say across a database restart,
    /// the lock is gone and the worker must register again before others take its steps). A lock
    /// never held (a key collision) has nothing to lose and counts as alive.
    pub async fn is_alive(&mut self) -> bool {
        match &mut self.conn {
            // Bounded: a connection whose network went silent must not stall the claims.
            Some(conn) => matches!(
                tokio::time::timeout(crate::store::ACQUIRE_TIMEOUT, conn.ping()).await,
                Ok(Ok(()))
            ),
            None => true,
        }
    }

    /// Releases the lock by closing its connection, as the worker's death would.
    pub async fn release(self) {
        if let Some(conn) = self.conn {
            let _ = conn.close().await;
        }
    }
}

impl SqlStore {
    /// Marks `owner` alive for as long as the returned lock lives, and makes the running steps of
    /// dead workers due at `now`. A hash collision with a live worker's lock (two owners' 32-bit
    /// hashes equal) leaves `owner` unregistered: its steps then look alive and wait out their
    /// lease, the safe side.
    pub async fn register_worker(&self, owner: &str, now: Millis) -> Result<WorkerLock> {
        match self.inner.dialect {
            Dialect::Sqlite => {
                // One process at a time owns the file: whatever another owner left running
                // belongs to a process that is gone.
                let released = sqlx::query(
                    "UPDATE steps SET due_at = $1
                     WHERE state = 'running' AND due_at > $1
                       AND (lease_owner IS NULL OR lease_owner <> $2)",
                )
                .bind(now)
                .bind(owner)
                .execute(&self.inner.writer)
                .await?
                .rows_affected();
                if released > 0 {
                    tracing::warn!(
                        steps = released,
                        "Steps left running by a previous process are due now."
                    );
                }
                Ok(WorkerLock { conn: None })
            }
            Dialect::Postgres => {
                let url = self.inner.listen_url.as_deref().unwrap_or_default();
                let mut conn = AnyConnection::connect(url).await?;
                let held: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                        .bind(WORKER_LOCK_CLASS)
                        .bind(owner)
                        .fetch_one(&mut conn)
                        .await?;
                if !held {
                    tracing::warn!(owner, "Another worker's liveness lock has this worker's key; its steps will wait out their lease.");
                }
                self.reap_dead_workers(now).await?;
                Ok(WorkerLock {
                    conn: held.then_some(conn),
                })
            }
        }
    }

    /// Postgres: makes the steps running under an owner whose liveness lock nobody holds (its
    /// process died) due at `now`, and wakes the workers; returns how many. SQLite: nothing (dead
    /// processes are found by [`SqlStore::register_worker`]).
    pub async fn reap_dead_workers(&self, now: Millis) -> Result<u64> {
        if self.inner.dialect != Dialect::Postgres {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let reaped = sqlx::query(
            "UPDATE steps SET due_at = $1
             WHERE state = 'running' AND due_at > $1
               AND hashtext(lease_owner)::oid NOT IN (
                   SELECT objid FROM pg_locks
                   WHERE locktype = 'advisory' AND granted AND objsubid = 2
                     AND classid = $2::int4::oid
                     AND database = (SELECT oid FROM pg_database
                                     WHERE datname = current_database()))",
        )
        .bind(now)
        .bind(WORKER_LOCK_CLASS)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if reaped > 0 {
            self.notify(&mut tx).await?;
        }
        tx.commit().await?;
        if reaped > 0 {
            tracing::warn!(steps = reaped, "Steps of dead workers are due now.");
        }
        Ok(reaped)
    }
}
