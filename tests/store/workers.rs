//! Dead workers: the running steps of a worker known to be dead are claimable at once, whatever
//! their lease, and count a lost lease; a live worker's steps wait out their lease. Postgres knows
//! a worker is alive by its advisory lock; SQLite (one process at a time) by which process opened
//! the file last. No clock moves past the 30 s lease until a test says so.

use super::{new_run, support, T0};
use std::time::{Duration, Instant};
use warden::store::{Queue, Runs, SqlStore};

const LEASE: i64 = 30_000;

/// How long real time may pass before a dead worker's steps are taken over.
const RECOVERY: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_dead_postgres_workers_steps_are_claimable_at_once() {
    let Some(db) = support::TestDb::postgres().await else {
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped");
        return;
    };
    let store = SqlStore::open(&db.url).await.expect("open");
    store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
    let dead = store.register_worker("worker-dead", T0).await.unwrap();
    let claimed = store
        .claim("worker-dead", T0, T0 + LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // The process dies: its lock's connection closes.
    dead.release().await;

    let live = store.register_worker("worker-live", T0).await.unwrap();
    let started = Instant::now();
    let taken = loop {
        store.reap_dead_workers(T0).await.unwrap();
        let steps = store
            .claim("worker-live", T0, T0 + LEASE, 10)
            .await
            .unwrap();
        if !steps.is_empty() || started.elapsed() > RECOVERY {
            break steps;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken.len(), 1, "taken over within {RECOVERY:?}");
    assert_eq!((taken[0].attempt, taken[0].lost_leases), (1, 1));
    assert_eq!(taken[0].lease_token, claimed[0].lease_token + 1);
    live.release().await;
    store.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_live_postgres_workers_steps_wait_for_their_lease() {
    let Some(db) = support::TestDb::postgres().await else {
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped");
        return;
    };
    let store = SqlStore::open(&db.url).await.expect("open");
    store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
    let other = store.register_worker("worker-other", T0).await.unwrap();
    let claimed = store
        .claim("worker-other", T0, T0 + LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    let live = store.register_worker("worker-live", T0).await.unwrap();
    let started = Instant::now();
    while started.elapsed() < RECOVERY {
        assert_eq!(store.reap_dead_workers(T0).await.unwrap(), 0);
        let steps = store
            .claim("worker-live", T0 + LEASE - 1, T0 + 2 * LEASE, 10)
            .await
            .unwrap();
        assert!(
            steps.is_empty(),
            "a live worker's step was taken: {steps:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its lease expires: taken over like any stalled worker's.
    let taken = store
        .claim("worker-live", T0 + LEASE, T0 + 2 * LEASE, 10)
        .await
        .unwrap();
    assert_eq!((taken[0].attempt, taken[0].lost_leases), (1, 1));
    other.release().await;
    live.release().await;
    store.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_new_sqlite_process_takes_over_steps_left_running_at_once() {
    let db = support::TestDb::sqlite();
    let dead = SqlStore::open(&db.url).await.expect("open");
    dead.create_runs(&[new_run("r1", None)], T0).await.unwrap();
    let _lock = dead.register_worker("worker-dead", T0).await.unwrap();
    let claimed = dead.claim("worker-dead", T0, T0 + LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    dead.close().await;

    // The next process on the file: whatever was left running belongs to a dead one.
    let store = SqlStore::open(&db.url).await.expect("reopen");
    let _live = store.register_worker("worker-live", T0).await.unwrap();
    let taken = store
        .claim("worker-live", T0, T0 + LEASE, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].attempt, taken[0].lost_leases), (1, 1));
    assert_eq!(taken[0].lease_token, claimed[0].lease_token + 1);

    // Its own running steps stay leased when it registers again.
    let _again = store.register_worker("worker-live", T0).await.unwrap();
    assert!(store
        .claim("worker-other", T0, T0 + LEASE, 10)
        .await
        .unwrap()
        .is_empty());
    store.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_postgres_worker_lock_whose_connection_dropped_is_not_alive_and_its_steps_are_reaped() {
    use sqlx::Connection;
    let Some(db) = support::TestDb::postgres().await else {
        eprintln!("WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped");
        return;
    };
    let store = SqlStore::open(&db.url).await.expect("open");
    store.create_runs(&[new_run("r1", None)], T0).await.unwrap();
    let mut lock = store.register_worker("worker-cut", T0).await.unwrap();
    assert!(lock.is_alive().await);
    store.claim("worker-cut", T0, T0 + LEASE, 10).await.unwrap();

    // The lock's connection is cut (a database restart, a proxy) while the process lives.
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let cut: bool = sqlx::query_scalar(
        "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_locks
         WHERE locktype = 'advisory' AND objsubid = 2 AND objid = hashtext($1)::oid
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind("worker-cut")
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(cut, "the lock's backend was found");
    let started = Instant::now();
    while lock.is_alive().await && started.elapsed() < RECOVERY {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!lock.is_alive().await, "a cut lock is not alive");
    // Until it registers again, its steps look like a dead worker's.
    assert_eq!(store.reap_dead_workers(T0).await.unwrap(), 1);
    admin.close().await.unwrap();
    store.close().await;
    db.drop_db().await;
}
