//! One step's worker killed again and again while the step's HTTP call is in flight: the step
//! still succeeds, and only real action failures count as attempts (a lost lease does not); a
//! step that every worker dies running ends `poisoned` at the limit. And with two Postgres
//! workers, the survivor takes over the killed one's steps without waiting out the lease.

use super::harness::{assert_no_problems, wait_for, Launch, Mock, Warden, Workspace};
use super::support::{each_backend, TestDb};
use super::{check_flow, now_millis, serve, FLOW, FLOW_ACTIONS};
use std::time::{Duration, Instant};
use warden::run::{RunStatus, StepState};
use warden::store::{NewRun, RunCreated, RunFilter, Runs, SqlStore, StepRecord};
use warden::story::LinkKind;

/// Kills in a row of the server running the one step.
const KILLS: u32 = 10;
/// The default lease: recovery must not wait it out.
const LEASE_SECS: u64 = 30;

/// Calls the mock has received, all keys together.
fn total_calls(mock: &Mock) -> u32 {
    mock.calls().values().sum()
}

/// The `call` step of the one run in `db`.
async fn call_step(db: &TestDb, run_id: &str) -> StepRecord {
    let store = SqlStore::open(&db.url).await.expect("open the store");
    let steps = store.run_steps(run_id).await.expect("read steps");
    store.close().await;
    steps
        .into_iter()
        .find(|s| s.action_id == "call")
        .expect("the run has a `call` step")
}

/// Starts a server (each with its own log), posts one webhook on the first start, and kills each
/// server once its attempt at the call is held at the mock; `kills` times. Returns the run's id.
async fn kill_mid_call(
    db: &TestDb,
    ws: &Workspace,
    mock: &Mock,
    kills: u32,
    env: &[(&str, &str)],
) -> String {
    let mut run_id = None;
    for kill in 1..=kills {
        let name = format!("serve-{kill}");
        let launch = Launch {
            env,
            ..serve(&name, ws, db, LEASE_SECS)
        };
        let (warden, api) = Warden::serve(launch).await;
        if run_id.is_none() {
            run_id = Some(api.post_webhook("durability", 7).await);
        }
        let (process, mock) = (&warden, mock);
        wait_for(
            &format!("call number {kill} to reach the mock"),
            move || async move {
                process.assert_running();
                (total_calls(mock) >= kill && !mock.held().is_empty()).then_some(())
            },
        )
        .await;
        warden.kill();
    }
    run_id.expect("a run was posted")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_killed_mid_call_ten_times_in_a_row_succeeds_on_its_first_attempt() {
    each_backend(|db| async move {
        // No call is answered until the gate opens: every server dies with the call in flight.
        let mock = Mock::start(0).await;
        let ws = Workspace::new("flow", &FLOW.replace("MOCK_URL", &mock.url));
        let run_id = kill_mid_call(&db, &ws, &mock, KILLS, &[]).await;

        mock.open_gate();
        let restarted = Instant::now();
        let (last, api) = Warden::serve(serve("serve-last", &ws, &db, LEASE_SECS)).await;
        let api_ref = &api;
        let run_ref = run_id.as_str();
        let last_ref = &last;
        wait_for("the run to finish", move || async move {
            last_ref.assert_running();
            let status = api_ref.run(run_ref).await.status;
            (status == "succeeded" || status == "failed").then_some(())
        })
        .await;
        let recovered = restarted.elapsed();

        let (mut problems, calls) = check_flow(&api, &[(run_id.clone(), 7)], &mock, &db).await;
        let step = call_step(&db, &run_id).await;
        if step.attempt != 1 || step.lost_leases != i64::from(KILLS) {
            problems.push(format!(
                "the call step shows attempt {} and {} lost leases, expected attempt 1 (no action \
                 failed) and {KILLS} lost leases",
                step.attempt, step.lost_leases
            ));
        }
        let made: u32 = calls.values().sum();
        if made != KILLS + 1 {
            problems.push(format!(
                "the mock saw {made} calls, expected {} (one per server)",
                KILLS + 1
            ));
        }
        assert_no_problems(
            &format!("[{}] {KILLS} SIGKILLs during one step's call", db.backend),
            &problems,
        );
        eprintln!(
            "[{}] {KILLS} SIGKILLs mid-call: the step succeeded on attempt {} with {} lost \
             leases, {made} calls under one key; finished {recovered:.1?} after the last start \
             (lease {LEASE_SECS} s)",
            db.backend, step.attempt, step.lost_leases
        );
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_every_worker_dies_running_ends_poisoned_at_the_limit() {
    const LIMIT: u32 = 3;
    each_backend(|db| async move {
        let mock = Mock::start(0).await;
        let ws = Workspace::new("flow", &FLOW.replace("MOCK_URL", &mock.url));
        let limit = LIMIT.to_string();
        let env = [("WARDEN_POISON_LIMIT", limit.as_str())];
        let run_id = kill_mid_call(&db, &ws, &mock, LIMIT, &env).await;

        let launch = Launch {
            env: &env,
            ..serve("serve-last", &ws, &db, LEASE_SECS)
        };
        let (last, api) = Warden::serve(launch).await;
        let (api_ref, run_ref, last_ref) = (&api, run_id.as_str(), &last);
        let status = wait_for("the run to fail", move || async move {
            last_ref.assert_running();
            let status = api_ref.run(run_ref).await.status;
            (status == "succeeded" || status == "failed").then_some(status)
        })
        .await;
        let step = call_step(&db, &run_id).await;
        let class = step
            .error
            .as_ref()
            .and_then(|e| e.get("class"))
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_owned();
        let mut problems = Vec::new();
        if status != "failed" || step.state != StepState::Failed || class != "poisoned" {
            problems.push(format!(
                "run {status}, step {:?} with error {:?}: expected a failed run and a step \
                 failed with class `poisoned`",
                step.state, step.error
            ));
        }
        if step.lost_leases != i64::from(LIMIT) || step.attempt != 1 {
            problems.push(format!(
                "the step shows attempt {} and {} lost leases, expected 1 and {LIMIT}",
                step.attempt, step.lost_leases
            ));
        }
        // The server that found the limit reached did not call again.
        if total_calls(&mock) != LIMIT {
            problems.push(format!(
                "the mock saw {} calls, expected {LIMIT}: a poisoned step must not run again",
                total_calls(&mock)
            ));
        }
        if last.log_count("poisoned") == 0 {
            problems.push("the server did not log the poisoned step".to_owned());
        }
        assert_no_problems(
            &format!("[{}] a step every worker died running", db.backend),
            &problems,
        );
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_surviving_postgres_worker_takes_over_a_killed_workers_steps_at_once() {
    const PER_WORKER: usize = 10;
    let Some(db) = TestDb::postgres().await else {
        eprintln!(
            "WARDEN_TEST_POSTGRES_URL is not set: the_surviving_postgres_worker_takes_over_a_\
             killed_workers_steps_at_once skipped (workers share a database only on Postgres)"
        );
        return;
    };
    let mock = Mock::start(0).await;
    let ws = Workspace::new("flow", &FLOW.replace("MOCK_URL", &mock.url));
    let story = ws.story();
    let store = SqlStore::open(&db.url).await.expect("open the store");
    let (entry, _) = story.entry_points().next().expect("a webhook");
    let receivers = story.receiver_ids(entry, LinkKind::Default);
    let new_runs = |from: usize| -> Vec<NewRun> {
        (from..from + PER_WORKER)
            .map(|n| NewRun {
                id: uuid::Uuid::now_v7().to_string(),
                story_id: story.id.clone(),
                story_version: story.version.clone(),
                entry_action: story.actions[entry].id.clone(),
                payload: serde_json::json!({
                    "body": {"n": n}, "headers": {}, "query": {}, "method": "POST",
                }),
                receivers: receivers.clone(),
                dedupe: None,
                parent_step_id: None,
            })
            .collect()
    };
    // Each worker runs at most PER_WORKER steps at once, so with every call held the first
    // worker's batch stays with it and the second batch goes to the second worker.
    let launch = |name| Launch {
        command: "worker",
        name,
        workspace: &ws,
        database_url: &db.url,
        lease_secs: LEASE_SECS,
        concurrency: PER_WORKER,
        env: &[],
    };
    let mut runs = Vec::new();
    let mut workers = Vec::new();
    for (i, name) in ["worker-1", "worker-2"].into_iter().enumerate() {
        let worker = Warden::start(launch(name));
        worker.wait_log("Warden worker is running.").await;
        for created in store
            .create_runs(&new_runs(i * PER_WORKER), now_millis())
            .await
            .expect("create runs")
        {
            match created {
                RunCreated::New(id) => runs.push((id, runs.len() as u64)),
                other => panic!("run not created: {other:?}"),
            }
        }
        let (mock_ref, worker_ref, expected) = (&mock, &worker, (i + 1) * PER_WORKER);
        wait_for(
            &format!("{expected} calls held at the mock"),
            move || async move {
                worker_ref.assert_running();
                (mock_ref.held().len() >= expected).then_some(())
            },
        )
        .await;
        workers.push(worker);
    }
    let [first, second] = <[Warden; 2]>::try_from(workers).ok().expect("two workers");
    first.kill();
    mock.open_gate();
    let killed = Instant::now();
    let (store_ref, second_ref) = (&store, &second);
    wait_for(
        "every run to finish on the surviving worker",
        move || async move {
            second_ref.assert_running();
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
        },
    )
    .await;
    let taken_over = killed.elapsed();
    store.close().await;

    // The flow checks read runs through an API; workers have none, so read the store.
    let mut problems = Vec::new();
    let store = SqlStore::open(&db.url).await.expect("open the store");
    let mut lost = 0;
    for (id, n) in &runs {
        let run = store
            .run(id)
            .await
            .expect("read the run")
            .expect("the run exists");
        let steps = store.run_steps(id).await.expect("read steps");
        let events = store.run_events(id).await.expect("read events");
        problems.extend(
            super::harness::RunView::from_store(&run, &steps, &events).problems(
                FLOW_ACTIONS,
                "done",
                *n,
            ),
        );
        lost += steps.iter().map(|s| s.lost_leases).sum::<i64>();
        if steps.iter().any(|s| s.attempt > 1) {
            problems.push(format!(
                "run {id}: a takeover was counted as an attempt: {steps:?}"
            ));
        }
    }
    store.close().await;
    if lost != PER_WORKER as i64 {
        problems.push(format!(
            "{lost} lost leases recorded, expected {PER_WORKER} (the killed worker's steps)"
        ));
    }
    // A loose bound (half the lease) so a slow machine does not fail it; what it rules out is
    // waiting for the killed worker's leases.
    if taken_over >= Duration::from_secs(LEASE_SECS / 2) {
        problems.push(format!(
            "the killed worker's steps finished {taken_over:.1?} after the kill, not before \
             their {LEASE_SECS} s lease"
        ));
    }
    assert_no_problems("two Postgres workers, one killed", &problems);
    eprintln!(
        "[postgres] worker-1 killed holding {PER_WORKER} calls: worker-2 finished all {} runs \
         {taken_over:.1?} after the kill ({lost} lost leases, lease {LEASE_SECS} s)",
        runs.len()
    );
    second.terminate();
    second.wait_exit().await;
    db.drop_db().await;
}
