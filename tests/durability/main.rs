//! Durability: the real `warden` binary is killed, stopped and doubled up while it works, and no
//! run is lost and no step is recorded as completed twice. Every test runs on SQLite and, when
//! `WARDEN_TEST_POSTGRES_URL` names a server, on Postgres (the two-worker test on Postgres only),
//! each with its own database, stories directory and ports.
//!
//! Nothing here asserts on speed: waits poll against a generous deadline. To make "in flight"
//! deterministic, the mock receiver answers the first few calls and holds the rest until the
//! test opens its gate, so a process is stopped while calls are provably outstanding.

// These tests watch the real binary from outside, with their own client and the real clock.
#![allow(clippy::disallowed_methods)]

#[path = "../support/mod.rs"]
mod support;

mod harness;
mod repeated_kills;

use harness::{
    assert_no_problems, finished, split_key, wait_for, Api, Launch, Mock, RunView, Warden,
    Workspace,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{each_backend, TestDb};
use warden::run::{RunStatus, StepState};
use warden::store::{NewRun, Queue, RunCreated, RunFilter, Runs, SqlStore, Versions};
use warden::story::LinkKind;

/// webhook → http_request (the mock) → transform → trigger → transform.
const FLOW: &str = r#"
name: Durability flow
description: A webhook, one outbound call, a message, a trigger and a final message.
credentials:
  hook_secret: Secret last segment of the webhook URL.
actions:
  receive:
    type: webhook
    options:
      path: durability
      secret_credential: hook_secret
  call:
    type: http_request
    from: receive
    options:
      url: "MOCK_URL"
      method: POST
      body:
        n: "{{ receive.body.n }}"
  shape:
    type: transform
    from: call
    options:
      mode: message
      payload:
        n: "{{ receive.body.n }}"
        echoed: "{{ call.body.n }}"
        key: "{{ call.body.key }}"
  check:
    type: trigger
    from: shape
    options:
      rules:
        - type: "field==value"
          path: "{{ shape.n }}"
          value: "{{ receive.body.n }}"
  done:
    type: transform
    from: check
    options:
      mode: message
      payload:
        result: "ok {{ shape.n }}"
"#;
const FLOW_ACTIONS: &[&str] = &["receive", "call", "shape", "check", "done"];

/// webhook → transform → trigger → transform: no outbound I/O.
const LOCAL: &str = r#"
name: Durability, local steps only
credentials:
  hook_secret: Secret last segment of the webhook URL.
actions:
  receive:
    type: webhook
    options:
      path: local
      secret_credential: hook_secret
  shape:
    type: transform
    from: receive
    options:
      mode: message
      payload:
        n: "{{ receive.body.n }}"
  check:
    type: trigger
    from: shape
    options:
      rules:
        - type: "field==value"
          path: "{{ shape.n }}"
          value: "{{ receive.body.n }}"
  done:
    type: transform
    from: check
    options:
      mode: message
      payload:
        result: "ok {{ shape.n }}"
"#;
const LOCAL_ACTIONS: &[&str] = &["receive", "shape", "check", "done"];

/// Webhooks per test and backend.
const RUNS: u64 = 100;
/// Distinct calls the mock answers before it holds the rest.
const FREE_CALLS: usize = 25;
/// Above the number of runs, so calls held at the mock cannot take every slot and starve the
/// steps of runs whose call was answered.
const CONCURRENCY: usize = 256;

fn serve<'a>(name: &'a str, ws: &'a Workspace, db: &'a TestDb, lease_secs: u64) -> Launch<'a> {
    Launch {
        command: "serve",
        name,
        workspace: ws,
        database_url: &db.url,
        lease_secs,
        concurrency: CONCURRENCY,
        env: &[],
    }
}

/// Waits until at least `succeeded` runs succeeded and at least one call is held at the mock;
/// returns how many had succeeded and the held keys.
async fn wait_mid_flight(warden: &Warden, api: &Api, mock: &Mock) -> (usize, Vec<String>) {
    wait_for(
        "some runs to succeed while other runs' calls are held",
        move || async move {
            warden.assert_running();
            let statuses = api.statuses().await;
            let succeeded = statuses.values().filter(|s| *s == "succeeded").count();
            let held = mock.held();
            (succeeded >= 5 && !held.is_empty()).then_some((succeeded, held))
        },
    )
    .await
}

/// Waits until every run the API lists is finished.
async fn wait_all_finished(warden: &Warden, api: &Api) {
    wait_for("every run to finish", move || async move {
        warden.assert_running();
        let (done, total) = finished(&api.statuses().await);
        (done == total).then_some(())
    })
    .await
}

/// The checks shared by the flow tests: exactly the posted runs exist, each succeeded with one
/// succeeded step and one event per action, and the mock saw every run's call under the key of
/// that run's `call` step — at least once, never more often than the step was claimed (its
/// attempts plus its lost leases, read from the store in `db`). Returns the problems found and
/// the number of calls per key.
async fn check_flow(
    api: &Api,
    runs: &[(String, u64)],
    mock: &Mock,
    db: &TestDb,
) -> (Vec<String>, HashMap<String, u32>) {
    let mut problems = Vec::new();
    let store = SqlStore::open(&db.url).await.expect("open the store");
    let listed: BTreeSet<String> = api.statuses().await.into_keys().collect();
    let posted: BTreeSet<String> = runs.iter().map(|(id, _)| id.clone()).collect();
    if listed != posted {
        problems.push(format!(
            "runs lost: {:?}; runs nobody posted: {:?}",
            posted.difference(&listed).collect::<Vec<_>>(),
            listed.difference(&posted).collect::<Vec<_>>()
        ));
    }
    let calls = mock.calls();
    let mut expected = HashSet::new();
    for (id, n) in runs {
        let run = api.run(id).await;
        problems.extend(run.problems(FLOW_ACTIONS, "done", *n));
        let Some(call) = run.step("call") else {
            continue;
        };
        let key = format!("warden-{id}-{}", call.id);
        // A takeover after a lost lease runs the action again without counting an attempt.
        let claims = store
            .run_steps(id)
            .await
            .expect("read steps")
            .iter()
            .find(|s| s.id == call.id)
            .map_or(call.attempt, |s| s.attempt + s.lost_leases);
        match calls.get(&key) {
            None => problems.push(format!("run {id}: the mock never saw `{key}`")),
            Some(&count) if i64::from(count) > claims => problems.push(format!(
                "run {id}: `{key}` was called {count} times but the step was claimed {claims} times",
            )),
            Some(_) => {}
        }
        let recorded = run
            .events
            .iter()
            .find(|e| e.action == "call")
            .map(|e| e.payload["body"]["key"].clone());
        if recorded != Some(serde_json::json!(key)) {
            problems.push(format!(
                "run {id}: the recorded response is for key {recorded:?}, not `{key}`"
            ));
        }
        expected.insert(key);
    }
    let strays: Vec<&String> = calls.keys().filter(|k| !expected.contains(*k)).collect();
    if !strays.is_empty() {
        problems.push(format!(
            "{} call(s) under keys no run's step has: {strays:?}",
            strays.len()
        ));
    }
    if calls.len() != runs.len() {
        problems.push(format!(
            "{} distinct idempotency keys for {} runs: a retry must reuse its step's key",
            calls.len(),
            runs.len()
        ));
    }
    if mock.unkeyed() > 0 {
        problems.push(format!(
            "{} call(s) without an Idempotency-Key",
            mock.unkeyed()
        ));
    }
    store.close().await;
    (problems, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_run_and_completes_no_step_twice() {
    each_backend(|db| async move {
        killed_server(&db).await;
        db
    })
    .await;
}

async fn killed_server(db: &TestDb) {
    let started = Instant::now();
    let mock = Mock::start(FREE_CALLS).await;
    let ws = Workspace::new("flow", &FLOW.replace("MOCK_URL", &mock.url));

    // The default 30 s lease: the restarted server must not wait it out (a dead worker is known
    // by its released liveness lock on Postgres, by the file's next process on SQLite).
    let lease = 30;
    let (first, api) = Warden::serve(serve("serve-1", &ws, db, lease)).await;
    let runs = api.post_webhooks("durability", RUNS).await;
    let (succeeded, held) = wait_mid_flight(&first, &api, &mock).await;
    first.kill();
    let unfinished = RUNS as usize - succeeded;
    mock.open_gate();

    let killed = Instant::now();
    let (second, api) = Warden::serve(serve("serve-2", &ws, db, lease)).await;
    wait_all_finished(&second, &api).await;
    let recovered = killed.elapsed();
    // A loose bound (half the lease) so a slow machine does not fail it; what it rules out is
    // waiting for the lease.
    assert!(
        recovered < Duration::from_secs(lease / 2),
        "[{}] the steps of the killed server were finished {recovered:.1?} after the kill, \
         not before their {lease} s lease",
        db.backend
    );

    let (mut problems, calls) = check_flow(&api, &runs, &mock, db).await;
    for key in &held {
        let count = calls.get(key).copied().unwrap_or(0);
        if count < 2 {
            problems.push(format!(
                "`{key}` was in flight when the server was killed but was called {count} time(s)"
            ));
        }
    }
    assert_no_problems(
        &format!("[{}] after a SIGKILL and a restart", db.backend),
        &problems,
    );
    let repeated = calls.values().filter(|c| **c > 1).count();
    eprintln!(
        "[{}] killed with {succeeded} of {RUNS} runs succeeded ({unfinished} not), {} calls held; \
         {repeated} calls repeated under their key; all {RUNS} runs succeeded once, in {:.1?} \
         ({recovered:.1?} after the kill)",
        db.backend,
        held.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_shutdown_drains_in_flight_steps() {
    each_backend(|db| async move {
        graceful_shutdown(&db).await;
        db
    })
    .await;
}

async fn graceful_shutdown(db: &TestDb) {
    let started = Instant::now();
    let mock = Mock::start(FREE_CALLS).await;
    let ws = Workspace::new("flow", &FLOW.replace("MOCK_URL", &mock.url));
    // A long lease: nothing here may be re-run because a lease ran out.
    let lease = 30;

    let (first, api) = Warden::serve(serve("serve-1", &ws, db, lease)).await;
    let runs = api.post_webhooks("durability", RUNS).await;
    let (succeeded, held) = wait_mid_flight(&first, &api, &mock).await;
    first.terminate();
    // The server has stopped taking requests and the runner is draining; the held calls are
    // still outstanding. Let them finish.
    first
        .wait_log("Shutting down: no new requests; draining steps.")
        .await;
    mock.open_gate();
    let status = first.wait_exit().await;
    assert_eq!(
        status.code(),
        Some(0),
        "[{}] SIGTERM: serve exited with {status}; log:\n{}",
        db.backend,
        first.log_text()
    );

    // Drained: nothing is left leased, and every call in flight at SIGTERM was committed.
    let store = SqlStore::open(&db.url).await.expect("open the store");
    let depth = store.queue_depth().await.expect("queue depth");
    let mut problems = Vec::new();
    if let Some((_, running)) = depth
        .iter()
        .find(|(s, n)| *s == StepState::Running && *n > 0)
    {
        problems.push(format!(
            "{running} step(s) still leased after a graceful shutdown"
        ));
    }
    for key in &held {
        let (run, step) = split_key(key);
        let steps = store.run_steps(&run).await.expect("read steps");
        match steps.iter().find(|s| s.id == step) {
            Some(s) if s.state == StepState::Succeeded => {}
            other => problems.push(format!(
                "`{key}` was in flight at SIGTERM but its step was not drained: {other:?}"
            )),
        }
    }
    store.close().await;
    assert_no_problems(
        &format!("[{}] after SIGTERM, before the restart", db.backend),
        &problems,
    );
    let pending: i64 = depth.iter().map(|(_, n)| n).sum();

    let (second, api) = Warden::serve(serve("serve-2", &ws, db, lease)).await;
    wait_all_finished(&second, &api).await;
    let (mut problems, calls) = check_flow(&api, &runs, &mock, db).await;
    for (key, count) in &calls {
        if *count != 1 {
            problems.push(format!(
                "`{key}` was called {count} times: a drained step ran again"
            ));
        }
    }
    assert_no_problems(
        &format!("[{}] after SIGTERM and a restart", db.backend),
        &problems,
    );
    eprintln!(
        "[{}] SIGTERM with {succeeded} of {RUNS} runs succeeded and {} calls in flight: exit 0, \
         all drained, {pending} steps left pending; after the restart all {RUNS} runs succeeded \
         with every call made once, in {:.1?}",
        db.backend,
        held.len(),
        started.elapsed()
    );
}

fn now_millis() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_complete_each_step_exactly_once() {
    const TOTAL: usize = 1_000;
    const BATCH: usize = 50;
    let Some(db) = TestDb::postgres().await else {
        eprintln!(
            "WARDEN_TEST_POSTGRES_URL is not set: two_workers_complete_each_step_exactly_once \
             skipped (workers share a database only on Postgres)"
        );
        return;
    };
    let started = Instant::now();
    let ws = Workspace::new("local", LOCAL);
    let story = ws.story();
    let names = ["worker-1", "worker-2"];
    let workers = names.map(|name| {
        Warden::start(Launch {
            command: "worker",
            name,
            workspace: &ws,
            database_url: &db.url,
            lease_secs: 2,
            concurrency: 64,
            env: &[],
        })
    });
    for worker in &workers {
        worker.wait_log("Warden worker is running.").await;
    }
    let store = SqlStore::open(&db.url).await.expect("open the store");
    assert!(
        store
            .load_version(&story.id, &story.version)
            .await
            .expect("read story versions")
            .is_some(),
        "the workers did not save the story's version"
    );

    // Runs arrive in batches while both workers run, as webhooks would.
    let (entry, _) = story.entry_points().next().expect("a webhook");
    let receivers = story.receiver_ids(entry, LinkKind::Default);
    let mut ids = Vec::with_capacity(TOTAL);
    for batch in 0..TOTAL / BATCH {
        let runs: Vec<NewRun> = (0..BATCH)
            .map(|i| NewRun {
                id: uuid::Uuid::now_v7().to_string(),
                story_id: story.id.clone(),
                story_version: story.version.clone(),
                entry_action: story.actions[entry].id.clone(),
                payload: serde_json::json!({
                    "body": {"n": batch * BATCH + i},
                    "headers": {},
                    "query": {},
                    "method": "POST",
                }),
                receivers: receivers.clone(),
                dedupe: None,
                parent_step_id: None,
            })
            .collect();
        for created in store
            .create_runs(&runs, now_millis())
            .await
            .expect("create runs")
        {
            match created {
                RunCreated::New(id) => ids.push(id),
                other => panic!("run not created: {other:?}"),
            }
        }
    }

    let store_ref = &store;
    let workers_ref = &workers;
    wait_for("all runs to finish on two workers", move || async move {
        for worker in workers_ref {
            worker.assert_running();
        }
        let mut open = 0;
        for status in [RunStatus::Running, RunStatus::Waiting] {
            let filter = RunFilter {
                status: Some(status),
                limit: 500,
                ..RunFilter::default()
            };
            open += store_ref.list_runs(&filter).await.expect("list runs").len();
        }
        (open == 0).then_some(())
    })
    .await;

    let mut problems = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let run = store.run(id).await.expect("read the run");
        let Some(run) = run else {
            problems.push(format!("run {id} is missing"));
            continue;
        };
        let steps = store.run_steps(id).await.expect("read steps");
        let events = store.run_events(id).await.expect("read events");
        problems.extend(RunView::from_store(&run, &steps, &events).problems(
            LOCAL_ACTIONS,
            "done",
            n as u64,
        ));
    }
    store.close().await;
    // Each run's last step is committed, and "Run finished." logged, by exactly one worker.
    let split = workers.each_ref().map(|w| w.log_count("Run finished."));
    if split.iter().sum::<usize>() != TOTAL {
        problems.push(format!(
            "the workers logged {split:?} finished runs, not {TOTAL} in all"
        ));
    }
    if split.contains(&0) {
        problems.push(format!(
            "one worker did nothing (finished runs per worker: {split:?})"
        ));
    }
    assert_no_problems("two workers on one Postgres database", &problems);

    for worker in &workers {
        worker.terminate();
    }
    for worker in &workers {
        let status = worker.wait_exit().await;
        assert_eq!(
            status.code(),
            Some(0),
            "{} exited with {status}",
            worker.name
        );
    }
    let fenced: Vec<usize> = workers
        .iter()
        .map(|w| w.log_count("Lease lost before commit"))
        .collect();
    eprintln!(
        "[postgres] {TOTAL} runs, each step completed once: runs finished per worker {split:?}, \
         fenced results {fenced:?}, in {:.1?}",
        started.elapsed()
    );
    db.drop_db().await;
}
