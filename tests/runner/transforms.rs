//! Transforms that hold state or time: explode and implode, a delay across a restart,
//! deduplicate across runs and throttle's durable wait.

use super::*;

const FANOUT: &str = r#"
name: Fan-out
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: fanout, secret_credential: hook }
  each_ip:
    type: transform
    from: hook
    options: { mode: explode, path: "{{ hook.body.ips }}", to: ip }
  label:
    type: transform
    from: each_ip
    options: { mode: message, payload: { ip: "{{ each_ip.ip }}", n: "{{ each_ip.index }}" } }
  gather:
    type: transform
    from: label
    options:
      mode: implode
      item_path: "{{ label.ip }}"
      guid_path: "{{ each_ip.guid }}"
      size_path: "{{ each_ip.size }}"
  wait_a_bit:
    type: transform
    from: gather
    options: { mode: delay, duration: 10m }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explode_and_implode_round_trip_and_a_delay_survives_a_restart() {
    each_backend(|db| async move {
        let clock = start_clock();
        let app = TestApp::offline_at(&db, &[("fanout", FANOUT)], clock.clone()).await;
        let id = app
            .start_run(
                "fanout",
                json!({"ips": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]}),
            )
            .await;
        app.idle().await;
        let run = app.run(&id).await;
        assert_eq!(events(&run, "each_ip").len(), 3);
        let gathered = events(&run, "gather");
        assert_eq!(gathered.len(), 1, "{run:#}");
        assert_eq!(
            gathered[0]["payload"]["items"],
            json!(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        );
        assert_eq!(run["status"], "waiting", "the delay holds the run: {run:#}");
        app.stop().await;

        // A new process on the same database, ten minutes later.
        clock.advance(Duration::from_secs(600));
        let app = TestApp::offline_at(&db, &[("fanout", FANOUT)], clock.clone()).await;
        app.idle().await;
        let run = app.run(&id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(events(&run, "wait_a_bit").len(), 1);
        app.stop().await;
        db
    })
    .await;
}

const GATE: &str = r#"
name: Gate
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: gate, secret_credential: hook }
  once:
    type: transform
    from: hook
    options: { mode: deduplicate, path: "{{ hook.body.key }}", lookback: 100 }
  slow:
    type: transform
    from: once
    options: { mode: throttle, interval: minute, runs_per_interval: 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deduplicate_drops_repeats_across_runs_and_throttle_holds_the_excess() {
    each_backend(|db| async move {
        let clock = start_clock();
        let app = TestApp::offline_at(&db, &[("gate", GATE)], clock.clone()).await;
        let ids = [
            app.start_run("gate", json!({"key": "a"})).await,
            app.start_run("gate", json!({"key": "a"})).await,
            app.start_run("gate", json!({"key": "b"})).await,
        ];
        app.idle().await;

        // The steps of the three runs race; whichever `a` comes second is the duplicate.
        let runs = app.runs(&ids).await;
        let passed = |runs: &[Value], action: &str| {
            runs.iter().map(|r| events(r, action).len()).sum::<usize>()
        };
        assert_eq!(passed(&runs, "once"), 2, "one `a` and the `b` pass");
        assert_eq!(passed(&runs, "slow"), 1, "one release per minute");
        let waiting = runs.iter().filter(|r| r["status"] == "waiting").count();
        assert_eq!(waiting, 1, "the other release waits durably");

        clock.advance(Duration::from_secs(60));
        app.idle().await;
        let runs = app.runs(&ids).await;
        assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
        assert_eq!(passed(&runs, "slow"), 2);
        app.stop().await;
        db
    })
    .await;
}
