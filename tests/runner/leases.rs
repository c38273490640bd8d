//! Lost leases: a step whose worker dies (here: a claim nobody completes, its lease left to
//! expire on the manual clock) runs again without spending its action's attempts, and a step
//! lost with its worker as many times as the poison limit fails as `poisoned`. A worker known to
//! be dead (Postgres: its liveness lock released; SQLite: another process opened the file) loses
//! its steps at once, whatever the lease; a live one keeps them until its lease expires.

use super::*;
use reqwest::Method;
use support::step;
use warden::clock::Clock;
use warden::engine::RunnerConfig;
use warden::store::{Queue, Runs};

/// A webhook and one outbound call with no `.failure` link: a failed call fails the run.
const LOOKUP: &str = r#"
name: Lookup
credentials: { hook: webhook secret }
resources: { mock_url: the mock }
actions:
  hook:
    type: webhook
    options: { path: lookup, secret_credential: hook }
  lookup:
    type: http_request
    from: hook
    options: { url: "{{ resources.mock_url }}/lookup", method: POST, body: { ip: "{{ hook.body.ip }}" } }
"#;

/// A worker that claims every due step and dies before running any: `times` claims, each left
/// to expire (the clock moves past its lease before the next one).
async fn lose_leases(app: &TestApp, clock: &ManualClock, times: usize) {
    let lease = RunnerConfig::default().lease;
    for _ in 0..times {
        let now = clock.now();
        let lease_until = now + i64::try_from(lease.as_millis()).unwrap();
        let claimed = app
            .served
            .engine
            .store
            .claim("dead-worker", now, lease_until, 64)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1, "the lookup step is due");
        clock.advance(lease + Duration::from_millis(1));
    }
}

async fn mock_lookup() -> MockServer {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/lookup"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"verdict": "ok"})))
        .mount(&mock)
        .await;
    mock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_lease_expired_runs_again_without_spending_an_attempt() {
    each_backend(|db| async move {
        let mock = mock_lookup().await;
        let clock = start_clock();
        let app = TestApp::spawn(&db, &[("lookup", LOOKUP)], &mock.uri(), clock.clone()).await;
        let id = app.start_run("lookup", json!({"ip": "1.2.3.4"})).await;

        // Lost six times: more than the action's five attempts, fewer than the poison limit.
        lose_leases(&app, &clock, 6).await;
        app.idle().await;

        let run = app.run(&id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        let lookup = step(&run, "lookup").unwrap();
        assert_eq!(lookup["state"], "succeeded", "{run:#}");
        assert_eq!(
            lookup["attempt"], 1,
            "lost leases are not attempts: {run:#}"
        );
        assert_eq!(lookup["lost_leases"], 6, "{run:#}");
        assert_eq!(
            events(&run, "lookup")[0]["payload"]["body"]["verdict"],
            "ok"
        );
        let steps = app.served.engine.store.run_steps(&id).await.unwrap();
        let stored = steps.iter().find(|s| s.action_id == "lookup").unwrap();
        assert_eq!((stored.attempt, stored.lost_leases), (1, 6));
        assert_eq!(mock.received_requests().await.unwrap().len(), 1);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_lost_with_its_worker_as_often_as_the_poison_limit_fails_as_poisoned() {
    each_backend(|db| async move {
        let mock = mock_lookup().await;
        let clock = start_clock();
        let app = TestApp::spawn_with(
            &db,
            &[("lookup", LOOKUP)],
            &mock.uri(),
            clock.clone(),
            |settings| settings.runner.poison_limit = 3,
        )
        .await;
        let id = app.start_run("lookup", json!({"ip": "6.6.6.6"})).await;

        // The first claim and two takeovers die; the third takeover is the third lost lease.
        lose_leases(&app, &clock, 3).await;
        app.idle().await;

        let run = app.run(&id).await;
        assert_eq!(run["status"], "failed", "{run:#}");
        let lookup = step(&run, "lookup").unwrap();
        assert_eq!(lookup["state"], "failed", "{run:#}");
        assert_eq!(lookup["error"]["class"], "poisoned", "{run:#}");
        assert_eq!(
            lookup["error"]["message"],
            "the step was lost with its worker 3 times; it is not run again"
        );
        assert_eq!(lookup["attempt"], 1, "{run:#}");
        assert!(
            mock.received_requests().await.unwrap().is_empty(),
            "a poisoned step is not run again"
        );
        let metrics = app
            .served
            .authorized(Method::GET, "/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("warden_steps_poisoned_total 1"),
            "{metrics}"
        );
        app.stop().await;
        db
    })
    .await;
}

/// How long real time may pass before a dead worker's steps are taken over; the lease is 30 s.
const RECOVERY: Duration = Duration::from_secs(2);

/// A worker that claims the due lookup with the default 30 s lease, alive while the returned lock
/// lives (on SQLite the lock holds nothing: one process at a time owns the file).
async fn claim_as(app: &TestApp, clock: &ManualClock, owner: &str) -> warden::store::WorkerLock {
    let store = &app.served.engine.store;
    let now = clock.now();
    let lock = store.register_worker(owner, now).await.expect("register");
    let lease = i64::try_from(RunnerConfig::default().lease.as_millis()).unwrap();
    let claimed = store
        .claim(owner, now, now + lease, 64)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "the lookup step is due");
    lock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_step_is_taken_over_within_two_seconds_whatever_the_lease() {
    each_backend(|db| async move {
        let mock = mock_lookup().await;
        let clock = start_clock();
        let dead = TestApp::spawn(&db, &[("lookup", LOOKUP)], &mock.uri(), clock.clone()).await;
        let id = dead.start_run("lookup", json!({"ip": "1.2.3.4"})).await;
        let lock = claim_as(&dead, &clock, "worker-dead").await;
        // The process dies: its store closes and its liveness lock's connection with it.
        lock.release().await;
        dead.stop().await;

        // The next process (on SQLite: the next to open the file), at the same clock time.
        let app = TestApp::spawn(&db, &[("lookup", LOOKUP)], &mock.uri(), clock.clone()).await;
        let started = std::time::Instant::now();
        let run = loop {
            app.idle().await;
            let run = app.run(&id).await;
            if run["status"] == "succeeded" || started.elapsed() > RECOVERY {
                break run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(run["status"], "succeeded", "within {RECOVERY:?}: {run:#}");
        assert_eq!(clock.now(), START, "no clock moved past the lease");
        let lookup = step(&run, "lookup").unwrap();
        assert_eq!(lookup["attempt"], 1, "{run:#}");
        assert_eq!(
            lookup["lost_leases"], 1,
            "a takeover is a lost lease: {run:#}"
        );
        assert_eq!(mock.received_requests().await.unwrap().len(), 1);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_workers_step_is_not_taken_before_its_lease_expires() {
    each_backend(|db| async move {
        if db.backend == "sqlite" {
            // One process at a time owns a SQLite file: there is no other live worker.
            return db;
        }
        let mock = mock_lookup().await;
        let clock = start_clock();
        let app = TestApp::spawn(&db, &[("lookup", LOOKUP)], &mock.uri(), clock.clone()).await;
        let id = app.start_run("lookup", json!({"ip": "1.2.3.4"})).await;
        let lock = claim_as(&app, &clock, "worker-other").await;

        let started = std::time::Instant::now();
        while started.elapsed() < RECOVERY + Duration::from_millis(500) {
            app.idle().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let run = app.run(&id).await;
        assert_eq!(step(&run, "lookup").unwrap()["state"], "running", "{run:#}");
        assert!(mock.received_requests().await.unwrap().is_empty());

        // Its lease expires (the worker stalled): taken over like any other.
        clock.advance(RunnerConfig::default().lease + Duration::from_millis(1));
        app.idle().await;
        let run = app.run(&id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(step(&run, "lookup").unwrap()["lost_leases"], 1, "{run:#}");
        lock.release().await;
        app.stop().await;
        db
    })
    .await;
}

/// Terminates the backends holding `owner`'s liveness lock in `db`; whether one was found.
async fn cut_liveness_lock(db: &TestDb, owner: &str) -> bool {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let cut: Option<bool> = sqlx::query_scalar(
        "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid = hashtext($1)::oid
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind(owner)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    cut.unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_whose_liveness_lock_dropped_registers_again() {
    each_backend(|db| async move {
        if db.backend == "sqlite" {
            // No lock to lose: one process owns the file.
            return db;
        }
        let app = TestApp::spawn_with(
            &db,
            &[("lookup", LOOKUP)],
            "http://127.0.0.1:9",
            start_clock(),
            |settings| settings.runner.owner = "worker-app".into(),
        )
        .await;
        app.idle().await;
        assert!(
            cut_liveness_lock(&db, "worker-app").await,
            "registered at its first claim"
        );

        // Its next look for dead workers finds its own lock gone and takes it again.
        let started = std::time::Instant::now();
        let mut again = false;
        while !again && started.elapsed() < RECOVERY + Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            app.idle().await;
            again = cut_liveness_lock(&db, "worker-app").await;
        }
        assert!(again, "the runner holds its liveness lock again");
        app.stop().await;
        db
    })
    .await;
}
