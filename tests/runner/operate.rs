//! Acting on runs through `/api`: retrying a failed step once its vendor is fixed, cancelling
//! waiting and executing runs, re-running on the pinned or the current story version, answering
//! a prompt; and the history that names who did each.

use super::*;
use reqwest::Method;
use support::step;

const FLAKY: &str = r#"
name: Flaky
credentials: { hook: webhook secret }
resources: { mock_url: the mock }
actions:
  hook:
    type: webhook
    options: { path: flaky, secret_credential: hook }
  lookup:
    type: http_request
    from: hook
    options:
      url: "{{ resources.mock_url }}/lookup"
      method: POST
      body: { ip: "{{ hook.body.ip }}" }
  after:
    type: transform
    from: lookup
    options: { mode: message, payload: { looked_up: "{{ lookup.body.verdict }}" } }
"#;

const DELAYED: &str = r#"
name: Delayed
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: delayed, secret_credential: hook }
  wait_a_bit:
    type: transform
    from: hook
    options: { mode: delay, duration: 10m }
  after:
    type: transform
    from: wait_a_bit
    options: { mode: message, payload: { done: true } }
"#;

const ASK: &str = r#"
name: Ask
credentials: { hook: webhook secret }
resources: { mock_url: the mock }
actions:
  hook:
    type: webhook
    options: { path: ask, secret_credential: hook }
  ask_user:
    type: prompt
    from: hook
    options:
      request:
        url: "{{ resources.mock_url }}/mail"
        method: POST
        body: { deny: "{{ prompt_url('denied') }}" }
      choices:
        - { value: confirmed, label: "It was me" }
        - { value: denied, label: "Not me" }
  after:
    type: transform
    from: ask_user
    options: { mode: message, payload: { answer: "{{ ask_user.prompt.status }}" } }
"#;

/// A version of a story whose entry webhook feeds `first`.
const VERSION_ONE: &str = r#"
name: Versioned
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: versioned, secret_credential: hook }
  first:
    type: transform
    from: hook
    options: { mode: message, payload: { seen: "{{ hook.body.n }}" } }
"#;

/// The same story, changed: its webhook now feeds `second`.
const VERSION_TWO: &str = r#"
name: Versioned
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: versioned, secret_credential: hook }
  second:
    type: transform
    from: hook
    options: { mode: message, payload: { again: "{{ hook.body.n }}" } }
"#;

impl TestApp {
    /// `POST route` with the API token and an optional JSON body: status and JSON answer.
    async fn act(&self, route: &str, body: Option<Value>) -> (u16, Value) {
        let request = self.served.authorized(Method::POST, route);
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.to_string()),
            None => request,
        };
        support::send(request).await
    }

    /// The id of the run's step for `action` (the first, when retried).
    async fn step_id(&self, run: &str, action: &str) -> i64 {
        let detail = self.run(run).await;
        step(&detail, action).unwrap_or_else(|| panic!("no step {action}: {detail:#}"))["id"]
            .as_i64()
            .unwrap()
    }
}

/// The run's steps for `action`, in order.
fn steps_of<'a>(run: &'a Value, action: &str) -> Vec<&'a Value> {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == action)
        .collect()
}

/// The run's history as `(action, actor)` pairs.
fn history(run: &Value) -> Vec<(String, String)> {
    run["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_owned(),
                h["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn lookup_answers(mock: &MockServer, status: u16, body: Value) {
    mock.reset().await;
    Mock::given(method("POST"))
        .and(path("/lookup"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(mock)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_retried_after_its_vendor_is_fixed_ends_the_run_succeeded() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        lookup_answers(&mock, 400, json!({"error": "bad request"})).await;
        let app = TestApp::spawn(&db, &[("flaky", FLAKY)], &mock.uri(), start_clock()).await;
        let run = app.start_run("flaky", json!({"ip": "10.0.0.9"})).await;
        app.idle().await;
        let detail = app.run(&run).await;
        assert_eq!(detail["status"], "failed", "{detail:#}");
        let failed = app.step_id(&run, "lookup").await;
        let entry = app.step_id(&run, "hook").await;

        // The vendor is fixed; the failed step runs again on the same input.
        lookup_answers(&mock, 200, json!({"verdict": "clean"})).await;
        let route = format!("/api/runs/{run}/steps/{failed}/retry");
        let (status, new) = app.act(&route, None).await;
        assert_eq!(status, 201, "{new}");
        assert_eq!(
            (new["state"].as_str(), new["retry_of"].as_i64()),
            (Some("pending"), Some(failed))
        );
        assert_eq!(app.run(&run).await["status"], "running");
        app.idle().await;

        let detail = app.run(&run).await;
        assert_eq!(detail["status"], "succeeded", "{detail:#}");
        let lookups = steps_of(&detail, "lookup");
        assert_eq!(lookups.len(), 2, "the failed step stays as history");
        assert_eq!(lookups[0]["state"], "failed");
        assert_eq!(lookups[1]["state"], "succeeded");
        assert_eq!(lookups[0]["input_event_id"], lookups[1]["input_event_id"]);
        let sent = mock.received_requests().await.unwrap();
        assert_eq!(sent.len(), 1, "only the retry reached the fixed vendor");
        assert_eq!(
            serde_json::from_slice::<Value>(&sent[0].body).unwrap(),
            json!({"ip": "10.0.0.9"})
        );
        assert_eq!(
            events(&detail, "after")[0]["payload"],
            json!({"looked_up": "clean"})
        );
        assert_eq!(history(&detail), [("retry_step".into(), "api".into())]);
        assert_eq!(detail["history"][0]["details"]["step_id"], failed);

        // A step is retried once; only failed steps are; unknown ones are not found.
        let (status, again) = app.act(&route, None).await;
        assert_eq!(
            (status, again["code"].as_str()),
            (409, Some("already_retried"))
        );
        let succeeded = lookups[1]["id"].as_i64().unwrap();
        for step in [succeeded, entry] {
            let route = format!("/api/runs/{run}/steps/{step}/retry");
            let (status, refused) = app.act(&route, None).await;
            assert_eq!(status, 409, "{refused}");
            assert_eq!(refused["code"], "step_not_failed");
        }
        for route in [
            format!("/api/runs/{run}/steps/999999/retry"),
            format!("/api/runs/{run}/steps/abc/retry"),
            format!("/api/runs/no-such-run/steps/{failed}/retry"),
        ] {
            let (status, refused) = app.act(&route, None).await;
            assert_eq!((status, refused["code"].as_str()), (404, Some("not_found")));
        }
        // Without the token, nothing is retried.
        let anonymous = app.request(Method::POST, &route).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        app.stop().await;
        db
    })
    .await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_starts_from_the_same_entry_event_on_the_pinned_or_the_current_version() {
    each_backend(|db| async move {
        let clock = start_clock();
        let app = TestApp::offline_at(&db, &[("versioned", VERSION_ONE)], clock.clone()).await;
        let original = app.start_run("versioned", json!({"n": 7})).await;
        app.idle().await;
        let pinned_version = app.run(&original).await["story_version"].clone();
        app.stop().await;

        // The story changed; the server restarted with the new version.
        let app = TestApp::offline_at(&db, &[("versioned", VERSION_TWO)], clock.clone()).await;
        let route = format!("/api/runs/{original}/rerun");
        let (status, pinned) = app.act(&route, None).await;
        assert_eq!(status, 201, "{pinned}");
        let (status, current) = app.act(&route, Some(json!({"version": "current"}))).await;
        assert_eq!(status, 201, "{current}");
        let (status, refused) = app.act(&route, Some(json!({"version": "latest"}))).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (422, Some("invalid_version"))
        );
        let (status, _) = app.act("/api/runs/no-such-run/rerun", None).await;
        assert_eq!(status, 404);
        app.idle().await;

        let pinned = app.run(pinned["run_id"].as_str().unwrap()).await;
        assert_eq!(pinned["status"], "succeeded", "{pinned:#}");
        assert_eq!(pinned["story_version"], pinned_version);
        assert_eq!(pinned["rerun_of"], original.as_str());
        assert_eq!(events(&pinned, "first")[0]["payload"], json!({"seen": 7}));
        let current = app.run(current["run_id"].as_str().unwrap()).await;
        assert_eq!(current["status"], "succeeded", "{current:#}");
        assert_ne!(current["story_version"], pinned_version);
        assert_eq!(
            events(&current, "second")[0]["payload"],
            json!({"again": 7})
        );
        assert_eq!(current["rerun_of"], original.as_str());
        assert_eq!(history(&current), [("rerun_of".into(), "api".into())]);

        let original = app.run(&original).await;
        assert_eq!(
            history(&original),
            [
                ("rerun".into(), "api".into()),
                ("rerun".into(), "api".into())
            ]
        );
        let versions: Vec<&Value> = original["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| &h["details"]["version"])
            .collect();
        assert_eq!(versions, [&json!("pinned"), &json!("current")]);
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_answered_through_the_api_records_who_answered_and_how() {
    each_backend(|db| async move {
        let mock = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/mail"))
            .respond_with(ResponseTemplate::new(202))
            .mount(&mock)
            .await;
        let app = TestApp::spawn(&db, &[("ask", ASK)], &mock.uri(), start_clock()).await;
        let run = app.start_run("ask", json!({})).await;
        app.idle().await;
        let waiting = app.served.get("/api/prompts?state=waiting").await;
        let prompt = waiting["prompts"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(waiting["prompts"][0]["state"], "open");
        let route = format!("/api/prompts/{prompt}/answer");

        let (status, refused) = app.act(&route, Some(json!({"choice": "maybe"}))).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (422, Some("invalid_choice"))
        );
        assert_eq!(
            refused["details"]["choices"],
            json!(["confirmed", "denied"])
        );
        let (status, refused) = app.act(&route, Some(json!({"answer": "denied"}))).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (400, Some("invalid_request"))
        );
        let (status, _) = app
            .act(
                "/api/prompts/no-such-prompt/answer",
                Some(json!({"choice": "denied"})),
            )
            .await;
        assert_eq!(status, 404);

        let given = json!({"choice": "denied", "responder": "alice@example.com"});
        let (status, answered) = app.act(&route, Some(given.clone())).await;
        assert_eq!(status, 200, "{answered}");
        assert_eq!(
            (
                answered["state"].as_str(),
                answered["answer"].as_str(),
                answered["responder"].as_str(),
                answered["answered_via"].as_str()
            ),
            (
                Some("answered"),
                Some("denied"),
                Some("alice@example.com"),
                Some("api")
            )
        );
        assert!(answered["answered_at"].is_string());
        let (status, refused) = app.act(&route, Some(given)).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (409, Some("prompt_closed"))
        );

        app.idle().await;
        let detail = app.run(&run).await;
        assert_eq!(detail["status"], "succeeded", "{detail:#}");
        let answer = &events(&detail, "ask_user")[0]["payload"]["prompt"];
        assert_eq!(answer["responder"], "alice@example.com");
        assert_eq!(
            events(&detail, "after")[0]["payload"],
            json!({"answer": "denied"})
        );
        assert_eq!(history(&detail), [("answer_prompt".into(), "api".into())]);
        assert_eq!(detail["history"][0]["details"]["via"], "api");

        let listed = app.served.get("/api/prompts?state=answered").await;
        assert_eq!(listed["prompts"][0]["answered_via"], "api");
        assert!(app.served.get("/api/prompts?state=open").await["prompts"]
            .as_array()
            .unwrap()
            .is_empty());
        let bad = app
            .served
            .authorized(Method::GET, "/api/prompts?state=maybe")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
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
