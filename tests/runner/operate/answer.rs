//! Answering a prompt through `/api`.

use super::*;

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
