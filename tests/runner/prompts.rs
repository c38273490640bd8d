//! Prompts end to end: the question posted on Slack with buttons, the run waiting durably, a
//! signed click (or a single-use URL) answering once, and the timeout path.

use super::*;
use harness::hmac_sha256_hex;
use reqwest::Method;
use std::sync::Arc;
use wiremock::matchers::header;

const ASK: &str = r#"
name: Ask
credentials: { hook: webhook secret }
actions:
  hook:
    type: webhook
    options: { path: ask, secret_credential: hook }
  ask_user:
    type: prompt
    from: hook
    options:
      slack:
        user_email: "{{ hook.body.email }}"
        text: "Was this you, {{ hook.body.email }}?"
      choices:
        - { value: confirmed, label: "Yes, this was me", style: primary }
        - { value: denied, label: "I don't recognize this", style: danger }
      allowed_responders: ["{{ hook.body.email }}"]
      timeout: 1h
  after:
    type: transform
    from: ask_user
    options: { mode: message, payload: { answer: "{{ ask_user.prompt.status }}" } }
"#;

const ASK_BY_LINK: &str = r#"
name: Ask by link
credentials: { hook: webhook secret }
resources: { mock_url: the mock }
actions:
  hook:
    type: webhook
    options: { path: ask-link, secret_credential: hook }
  ask_user:
    type: prompt
    from: hook
    options:
      request:
        url: "{{ resources.mock_url }}/mail"
        method: POST
        body: { deny: "{{ prompt_url('denied') }}", confirm: "{{ prompt_url('confirmed') }}" }
      choices:
        - { value: confirmed, label: "It was me" }
        - { value: denied, label: "Not me" }
"#;

/// A Slack mock: the user, their DM, the posted message, updates and `response_url`.
async fn slack_mock() -> MockServer {
    let mock = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/users.lookupByEmail"))
        .and(header(
            "authorization",
            format!("Bearer {SLACK_TOKEN}").as_str(),
        ))
        .respond_with(ok(
            json!({"ok": true, "user": {"id": "U01AZ88AQQ4", "name": "thomas"}}),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/conversations.open"))
        .respond_with(ok(json!({"ok": true, "channel": {"id": "D01ACC2E8S3"}})))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.postMessage"))
        .respond_with(ok(
            json!({"ok": true, "channel": "D01ACC2E8S3", "ts": "1606339625.001200"}),
        ))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat.update"))
        .respond_with(ok(json!({"ok": true})))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/actions/response"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/mail"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&mock)
        .await;
    mock
}

async fn requests_to(mock: &MockServer, route: &str) -> Vec<Value> {
    mock.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// A click on a prompt's button, as Slack would send it.
#[derive(Clone)]
struct Click<'a> {
    /// The button's value, `<prompt id>:<choice>`.
    value: String,
    /// Who clicked (a Slack user id).
    user: &'a str,
    response_url: &'a str,
    /// When Slack signed it (seconds).
    timestamp: i64,
    /// The signing secret it is signed with.
    secret: &'a str,
}

impl<'a> Click<'a> {
    /// The asked user clicking `value`, signed with the app's secret at `timestamp`.
    fn new(value: String, response_url: &'a str, timestamp: i64) -> Click<'a> {
        Click {
            value,
            user: "U01AZ88AQQ4",
            response_url,
            timestamp,
            secret: SLACK_SIGNING_SECRET,
        }
    }

    /// The `block_actions` request: its body, timestamp and signature.
    fn signed(&self) -> (String, String, String) {
        let text = include_str!("../fixtures/slack/block_actions-denied.json");
        let mut payload: Value = serde_json::from_str(text).unwrap();
        payload["actions"][0]["value"] = json!(self.value);
        payload["user"]["id"] = json!(self.user);
        payload["response_url"] = json!(self.response_url);
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        let timestamp = self.timestamp.to_string();
        let signature = format!(
            "v0={}",
            hmac_sha256_hex(self.secret, &format!("v0:{timestamp}:{body}"))
        );
        (body, timestamp, signature)
    }
}

impl TestApp {
    async fn post_slack(
        &self,
        (body, timestamp, signature): &(String, String, String),
    ) -> (u16, Value) {
        support::send(
            self.request(Method::POST, "/slack/interactions")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", timestamp.as_str())
                .header("x-slack-signature", signature.as_str())
                .body(body.clone()),
        )
        .await
    }
}

/// The `ask` story over a Slack mock, with a run that has asked thomas@example.com.
struct Asked {
    mock: MockServer,
    clock: Arc<ManualClock>,
    app: TestApp,
    /// The run's id.
    run: String,
}

impl Asked {
    async fn start(db: &TestDb) -> Asked {
        let mock = slack_mock().await;
        let clock = start_clock();
        let app = TestApp::spawn(db, &[("ask", ASK)], &mock.uri(), clock.clone()).await;
        let run = app
            .start_run("ask", json!({"email": "thomas@example.com"}))
            .await;
        app.idle().await;
        Asked {
            mock,
            clock,
            app,
            run,
        }
    }
}

/// The prompt's id in a posted question (its buttons' values are `<id>:<choice>`).
fn prompt_id(posted: &Value) -> String {
    let value = posted["blocks"][1]["elements"][0]["value"]
        .as_str()
        .unwrap();
    value.split_once(':').unwrap().0.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_slack_click_answers_the_prompt_once_and_resumes_the_run() {
    each_backend(|db| async move {
        let Asked { mock, app, run, .. } = Asked::start(&db).await;
        assert_eq!(app.run(&run).await["status"], "waiting");
        let posted = requests_to(&mock, "/chat.postMessage").await;
        assert_eq!(posted.len(), 1);
        assert_eq!(
            posted[0]["channel"], "D01ACC2E8S3",
            "a DM to the user found by email"
        );
        assert_eq!(
            posted[0]["blocks"][1]["elements"][1]["text"]["text"],
            "I don't recognize this"
        );
        let id = prompt_id(&posted[0]);
        let now = START / 1000;
        let response_url = format!("{}/actions/response", mock.uri());

        // Refused, and nothing changes: a bad signature, a stale timestamp, an unknown prompt,
        // someone who may not answer.
        let denied = Click::new(format!("{id}:denied"), &response_url, now);
        let forged = Click {
            secret: "wrong-secret",
            ..denied.clone()
        };
        assert_eq!(app.post_slack(&forged.signed()).await.0, 401);
        let stale = Click {
            timestamp: now - 301,
            ..denied.clone()
        };
        assert_eq!(app.post_slack(&stale.signed()).await.0, 401);
        let unknown = Click {
            value: "0123abcd:denied".into(),
            ..denied.clone()
        };
        assert_eq!(app.post_slack(&unknown.signed()).await.0, 404);
        let stranger = Click {
            user: "U0STRANGER",
            ..denied.clone()
        };
        let (status, error) = app.post_slack(&stranger.signed()).await;
        assert_eq!((status, error["code"].as_str()), (403, Some("forbidden")));
        app.idle().await;
        assert_eq!(app.run(&run).await["status"], "waiting");

        let denied = denied.signed();
        assert_eq!(app.post_slack(&denied).await.0, 200);
        // The same request again (a replay within the window) or a second click: 409, no change.
        assert_eq!(app.post_slack(&denied).await.0, 409);
        let confirmed = Click::new(format!("{id}:confirmed"), &response_url, now);
        assert_eq!(app.post_slack(&confirmed.signed()).await.0, 409);

        app.idle().await;
        let detail = app.run(&run).await;
        assert_eq!(detail["status"], "succeeded", "{detail}");
        let answer = &events(&detail, "ask_user")[0]["payload"]["prompt"];
        assert_eq!(answer["status"], "denied");
        assert_eq!(answer["responder"], "U01AZ88AQQ4");
        assert_eq!(events(&detail, "after")[0]["payload"]["answer"], "denied");
        assert_eq!(detail["history"][0]["action"], "answer_prompt");
        assert_eq!(detail["history"][0]["actor"], "slack:U01AZ88AQQ4");
        let listed = app.served.get("/api/prompts?state=answered").await;
        assert_eq!(listed["prompts"][0]["answered_via"], "slack");
        // The message was replaced with the outcome through response_url.
        let mut replaced = Vec::new();
        for _ in 0..50 {
            replaced = requests_to(&mock, "/actions/response").await;
            if !replaced.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(replaced.len(), 1);
        assert_eq!(replaced[0]["replace_original"], true);
        assert!(replaced[0]["text"]
            .as_str()
            .unwrap()
            .contains("I don't recognize this"));
        app.stop().await;
        db
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_prompt_times_out_and_closes_its_message() {
    each_backend(|db| async move {
        let Asked {
            mock,
            clock,
            app,
            run,
        } = Asked::start(&db).await;
        let id = prompt_id(&requests_to(&mock, "/chat.postMessage").await[0]);
        clock.advance(Duration::from_secs(3599));
        app.idle().await;
        assert_eq!(app.run(&run).await["status"], "waiting");
        clock.advance(Duration::from_secs(1));
        app.idle().await;
        let detail = app.run(&run).await;
        assert_eq!(
            events(&detail, "ask_user")[0]["payload"]["prompt"]["status"],
            "timeout"
        );
        assert_eq!(requests_to(&mock, "/chat.update").await.len(), 1);
        // A click after the timeout changes nothing.
        let late = Click::new(
            format!("{id}:confirmed"),
            "http://127.0.0.1:9/x",
            clock_secs(&clock),
        );
        assert_eq!(app.post_slack(&late.signed()).await.0, 409);
        app.stop().await;
        db
    })
    .await;
}

fn clock_secs(clock: &ManualClock) -> i64 {
    warden::clock::Clock::now(clock) / 1000
}

/// The `ask-link` story started and asking by mail: the app, the run, the "deny" link's route
/// and the mock that received the mail.
async fn asked_by_link(db: &TestDb) -> (TestApp, String, String, MockServer) {
    let mock = slack_mock().await;
    let app = TestApp::spawn(db, &[("ask-link", ASK_BY_LINK)], &mock.uri(), start_clock()).await;
    let run = app.start_run("ask-link", json!({})).await;
    app.idle().await;
    let mail = requests_to(&mock, "/mail").await;
    let deny = mail[0]["deny"].as_str().unwrap().to_owned();
    assert!(deny.starts_with("http://127.0.0.1:8080/prompt/"), "{deny}");
    let route = deny.trim_start_matches("http://127.0.0.1:8080").to_owned();
    (app, run, route, mock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_prompt_url_answers_once() {
    each_backend(|db| async move {
        let (app, run, deny, _mock) = asked_by_link(&db).await;
        let deny = deny.as_str();
        let forged = format!("/prompt/{}", "f".repeat(32));
        let post = |route: &str| app.request(Method::POST, route).send();

        // GET shows the answer and does not record it (mail scanners fetch links).
        let page = app.request(Method::GET, deny).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Not me"));
        app.idle().await;
        assert_eq!(app.run(&run).await["status"], "waiting");
        assert_eq!(post(&forged).await.unwrap().status(), 404);

        assert_eq!(post(deny).await.unwrap().status(), 200);
        assert_eq!(post(deny).await.unwrap().status(), 409);
        app.idle().await;
        let detail = app.run(&run).await;
        assert_eq!(detail["status"], "succeeded");
        let answer = &events(&detail, "ask_user")[0]["payload"]["prompt"];
        assert_eq!(
            (answer["status"].as_str(), answer["responder"].as_str()),
            (Some("denied"), Some("prompt_url"))
        );
        assert_eq!(detail["history"][0]["actor"], "link");
        let listed = app.served.get("/api/prompts?state=answered").await;
        assert_eq!(listed["prompts"][0]["answered_via"], "link");
        app.stop().await;
        db
    })
    .await;
}

/// A prompt restricted to named responders, opened with links before validation refused that
/// combination (W043): a link has no identity, so it cannot answer (403), neither by GET nor
/// by POST, and the run keeps waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_url_cannot_answer_a_prompt_restricted_to_named_responders() {
    each_backend(|db| async move {
        let (app, run, deny, _mock) = asked_by_link(&db).await;
        {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
            let updated = sqlx::query("UPDATE prompts SET responders = '[\"U01ALLOWED\"]'")
                .execute(&mut conn)
                .await
                .unwrap();
            assert_eq!(updated.rows_affected(), 1);
            conn.close().await.unwrap();
        }
        let get = app.request(Method::GET, &deny).send().await.unwrap();
        assert_eq!(get.status(), 403);
        let post = app.request(Method::POST, &deny).send().await.unwrap();
        assert_eq!(post.status(), 403);
        app.idle().await;
        assert_eq!(app.run(&run).await["status"], "waiting");
        app.stop().await;
        db
    })
    .await;
}

/// Cancelling a run whose question is on Slack replaces the question, so nobody answers a run
/// that no longer listens; a click afterwards is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_run_takes_its_question_off_slack() {
    each_backend(|db| async move {
        let Asked {
            mock,
            clock,
            app,
            run,
        } = Asked::start(&db).await;
        let posted = requests_to(&mock, "/chat.postMessage").await;
        let prompt = prompt_id(&posted[0]);
        let cancel = app
            .served
            .authorized(Method::POST, &format!("/api/runs/{run}/cancel"));
        let (status, done) = support::send(cancel).await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["prompts_closed"], json!([prompt]));

        // The replacement is sent in the background.
        let mut updates = Vec::new();
        for _ in 0..100 {
            updates = requests_to(&mock, "/chat.update").await;
            if !updates.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0]["ts"], "1606339625.001200");
        assert!(
            updates[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("Cancelled"),
            "{}",
            updates[0]
        );
        let click = Click::new(format!("{prompt}:denied"), "", clock_secs(&clock));
        let (status, refused) = app.post_slack(&click.signed()).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (409, Some("prompt_closed"))
        );
        app.stop().await;
        db
    })
    .await;
}
