//! Retrying a failed step once its vendor is fixed.

use super::*;

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
