//! Cancelling runs: waiting ones, one whose step is executing, parents and children; and the
//! actor the history names under `--dev`.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_waiting_run_cancels_its_steps_and_closes_its_prompt() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/mail"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&mock)
            .await;
        let clock = start_clock();
        let stories = [("ask", ASK), ("delayed", DELAYED)];
        let app = TestApp::spawn(&db, &stories, &mock.uri(), clock.clone()).await;
        let asking = app.start_run("ask", json!({})).await;
        let delayed = app.start_run("delayed", json!({})).await;
        app.idle().await;
        for run in [&asking, &delayed] {
            assert_eq!(app.run(run).await["status"], "waiting");
        }
        let open = app.served.get("/api/prompts?state=open").await;
        assert_eq!(open["prompts"].as_array().unwrap().len(), 1, "{open:#}");
        let prompt = open["prompts"][0]["id"].as_str().unwrap().to_owned();

        for run in [&asking, &delayed] {
            let (status, done) = app.act(&format!("/api/runs/{run}/cancel"), None).await;
            assert_eq!(status, 200, "{done}");
            assert_eq!(done["steps_cancelled"], 1);
        }
        let (status, done) = app.act(&format!("/api/runs/{asking}/cancel"), None).await;
        assert_eq!((status, done["code"].as_str()), (409, Some("run_finished")));
        let (status, _) = app.act("/api/runs/no-such-run/cancel", None).await;
        assert_eq!(status, 404);

        // The prompt is closed: listed as cancelled, and it takes no answer.
        let closed = app.served.get("/api/prompts?state=cancelled").await;
        assert_eq!(closed["prompts"][0]["id"], prompt.as_str());
        let answer = Some(json!({"choice": "denied"}));
        let route = format!("/api/prompts/{prompt}/answer");
        let (status, refused) = app.act(&route, answer).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (409, Some("prompt_closed"))
        );
        let mail = mock.received_requests().await.unwrap();
        let link: Value = serde_json::from_slice(&mail[0].body).unwrap();
        let link = link["deny"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://127.0.0.1:8080");
        let by_link = app.request(Method::POST, link).send().await.unwrap();
        assert_eq!(by_link.status(), 409);

        // Past the delay and the prompt's timeout, nothing of either run runs again.
        clock.advance(Duration::from_secs(86_400 * 2));
        app.idle().await;
        for (run, waiting) in [(&asking, "ask_user"), (&delayed, "wait_a_bit")] {
            let detail = app.run(run).await;
            assert_eq!(detail["status"], "cancelled", "{detail:#}");
            assert!(detail["finished_at"].is_string());
            assert_eq!(step(&detail, waiting).unwrap()["state"], "cancelled");
            assert!(step(&detail, "after").is_none(), "{detail:#}");
            assert_eq!(history(&detail), [("cancel".into(), "api".into())]);
            // A cancelled run's steps stay as they are.
            let cancelled = app.step_id(run, waiting).await;
            let route = format!("/api/runs/{run}/steps/{cancelled}/retry");
            let (status, refused) = app.act(&route, None).await;
            assert_eq!(
                (status, refused["code"].as_str()),
                (409, Some("run_cancelled"))
            );
        }
        let listed = app.served.get("/api/runs?status=cancelled").await;
        assert_eq!(listed["runs"].as_array().unwrap().len(), 2);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_executing_during_cancel_finishes_without_starting_successors() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/lookup"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"verdict": "clean"}))
                    .set_delay(Duration::from_millis(1500)),
            )
            .mount(&mock)
            .await;
        let app = TestApp::spawn(&db, &[("flaky", FLAKY)], &mock.uri(), start_clock()).await;
        let run = app.start_run("flaky", json!({"ip": "10.0.0.9"})).await;
        let cancel = async {
            // Cancel once the lookup is at the vendor: its step is executing.
            while mock.received_requests().await.unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            app.act(&format!("/api/runs/{run}/cancel"), None).await
        };
        let (ran, (status, done)) = tokio::join!(app.served.runner.run_once(), cancel);
        assert_eq!(ran.unwrap(), 1);
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["steps_cancelled"], 1);
        app.idle().await;

        let detail = app.run(&run).await;
        assert_eq!(detail["status"], "cancelled", "{detail:#}");
        assert_eq!(step(&detail, "lookup").unwrap()["state"], "cancelled");
        assert!(events(&detail, "lookup").is_empty(), "{detail:#}");
        assert!(step(&detail, "after").is_none(), "{detail:#}");
        app.stop().await;
        db
    })
    .await;
}

const PARENT: &str = r#"
name: Parent
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: parent, secret_credential: hook }
  enrich:
    type: send_to_story
    from: hook
    options: { story: slow_child, payload: { value: "{{ hook.body.value }}" }, wait: true }
  after:
    type: transform
    from: enrich
    options: { mode: message, payload: { child: "{{ enrich.status }}" } }
"#;

const SLOW_CHILD: &str = r#"
name: Slow child
credentials: { hook: webhook secret }
actions:
  start:
    type: webhook
    options: { path: slow-child, secret_credential: hook }
  hold:
    type: transform
    from: start
    options: { mode: delay, duration: 1h }
"#;

/// The run in the store that is none of `known` (the child a parent run just started).
async fn new_run(app: &TestApp, known: &[&str]) -> String {
    let runs = app.stored_runs().await;
    let new = runs.iter().find(|r| !known.contains(&r.id.as_str()));
    new.expect("a child run").id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_parent_cancels_its_child_and_cancelling_a_child_wakes_its_parent() {
    each_backend(|db| async move {
        let stories = [("parent", PARENT), ("slow_child", SLOW_CHILD)];
        let app = TestApp::offline(&db, &stories).await;

        // The parent cancelled: the child it waits for goes too, named in both histories.
        let parent = app.start_run("parent", json!({"value": 1})).await;
        app.idle().await;
        let child = new_run(&app, &[&parent]).await;
        assert_eq!(app.run(&child).await["status"], "waiting");
        let (status, done) = app.act(&format!("/api/runs/{parent}/cancel"), None).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["child_runs"], json!([child]));
        let detail = app.run(&child).await;
        assert_eq!(detail["status"], "cancelled", "{detail:#}");
        assert_eq!(
            detail["history"][0]["details"]["parent_run_id"],
            parent.as_str()
        );

        // A child cancelled alone: its parent wakes, hears `cancelled` and goes on.
        let other = app.start_run("parent", json!({"value": 2})).await;
        app.idle().await;
        let other_child = new_run(&app, &[&parent, &child, &other]).await;
        let route = format!("/api/runs/{other_child}/cancel");
        let (status, done) = app.act(&route, None).await;
        assert_eq!(status, 200, "{done}");
        app.idle().await;
        let detail = app.run(&other).await;
        assert_eq!(detail["status"], "succeeded", "{detail:#}");
        assert_eq!(
            events(&detail, "after")[0]["payload"],
            json!({"child": "cancelled"})
        );
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_dev_the_history_names_the_caller_dev() {
    each_backend(|db| async move {
        let app = TestApp::spawn_with(
            &db,
            &[("delayed", DELAYED)],
            "http://127.0.0.1:9",
            start_clock(),
            |settings| {
                settings.api_token = None;
                settings.dev = true;
            },
        )
        .await;
        let run = app.start_run("delayed", json!({})).await;
        app.idle().await;
        let (status, _) = app.act(&format!("/api/runs/{run}/cancel"), None).await;
        assert_eq!(status, 200);
        assert_eq!(
            history(&app.run(&run).await),
            [("cancel".into(), "dev".into())]
        );
        app.stop().await;
        db
    })
    .await;
}
