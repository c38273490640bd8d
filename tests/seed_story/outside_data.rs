//! Outside data against the secret canary and the log: a vendor that echoes what it was sent
//! (the `Authorization: Bearer <key>` it received, in its answer and its error answer) and a
//! webhook caller who repeats the URL secret in the query leave no credential value stored, shown
//! by the API or logged, only `[redacted]`; a request path made to forge a log line is logged on
//! its own line, escaped.

use super::secrets::{logs, stored};
use super::support::{self, each_backend};
use serde_json::{json, Map, Value};
use warden::app::{Definitions, Settings};
use warden::secrets::{Secret, Secrets};
use warden::story::validate::{check_story, Catalog};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const HOOK_SECRET: &str = "canary-hook-5e1f0c9a";
const API_KEY: &str = "canary-key-a7d2b4e8";
const API_TOKEN: &str = "echo-test-api-token";

const ECHOED: &str = r#"
name: Echoed
credentials: { hook: webhook secret, echo_api: the vendor's key }
resources: { echo_url: the echoing vendor }
actions:
  hook:
    type: webhook
    options: { path: echo, secret_credential: hook }
  look_up:
    type: http_request
    from: hook
    options:
      url: "{{ resources.echo_url }}/echo"
      method: POST
      bearer_token: "{{ credentials.echo_api }}"
      body: { ip: "{{ hook.body.ip }}" }
  refused:
    type: http_request
    from: hook
    options:
      url: "{{ resources.echo_url }}/refuse"
      method: POST
      headers: { X-Api-Key: "{{ credentials.echo_api }}" }
      max_attempts: 1
"#;

/// Answers `status` with the request's headers and body, as some vendors' debug endpoints and
/// error pages do.
struct Echo(u16);

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(k, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_owned(), Value::String(v))
            })
            .collect();
        let body = String::from_utf8_lossy(&request.body).into_owned();
        ResponseTemplate::new(self.0).set_body_json(json!({
            "echo": {"headers": headers, "body": body},
            "message": format!("you sent {}", request.headers.get("x-api-key").map_or("", |v| v.to_str().unwrap_or(""))),
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoing_vendor_and_a_repeated_url_secret_leave_no_credential_stored() {
    logs();
    each_backend(|db| async move {
        let vendor = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/echo"))
            .respond_with(Echo(200))
            .mount(&vendor)
            .await;
        Mock::given(method("POST"))
            .and(path("/refuse"))
            .respond_with(Echo(400))
            .mount(&vendor)
            .await;
        let catalog = Catalog {
            story_ids: ["echoed".to_owned()].into(),
            integrations: Default::default(),
        };
        let story = check_story("echoed", ECHOED, &catalog).expect("valid story");
        let served = support::serve(Settings {
            secrets: Secrets::default()
                .with_credential("hook", HOOK_SECRET)
                .with_credential("echo_api", API_KEY)
                .with_resource("echo_url", &vendor.uri()),
            api_token: Some(Secret::new(API_TOKEN)),
            ..Settings::new(&db.url, Definitions::stories(vec![story]))
        })
        .await;

        let route = format!("/webhook/echo/{HOOK_SECRET}?s={HOOK_SECRET}&note=kept");
        let (status, created) = support::send(
            served
                .request(reqwest::Method::POST, &route)
                .header("content-type", "application/json")
                .body(json!({"ip": "192.0.2.7", "token": API_KEY}).to_string()),
        )
        .await;
        assert_eq!(status, 202, "{created}");
        served.runner.run_until_idle().await.expect("runner");

        // Positive controls: the key was sent, echoed, and the echo reached the store.
        let sent = vendor.received_requests().await.unwrap();
        assert_eq!(sent.len(), 2, "both requests were sent");
        assert!(sent.iter().any(|r| r
            .headers
            .get("authorization")
            .is_some_and(|v| v.as_bytes() == format!("Bearer {API_KEY}").as_bytes())));
        let run_id = created["run_id"].as_str().unwrap();
        let run = served.get(&format!("/api/runs/{run_id}")).await;
        let shown = run.to_string();
        assert!(shown.contains("192.0.2.7"), "{shown}");
        assert!(shown.contains("Bearer [redacted]"), "{run:#}");
        let entry = &run["events"][0]["payload"];
        assert_eq!(entry["query"], json!({"s": "[redacted]", "note": "kept"}));
        assert_eq!(entry["body"]["token"], "[redacted]");

        let store = stored(&db).await;
        assert!(
            store.contains("192.0.2.7"),
            "the scan reads the stored events"
        );
        assert!(
            store.contains("Bearer [redacted]"),
            "the echo was stored, scrubbed"
        );
        // The refused request's error keeps the vendor's answer, scrubbed too.
        assert!(shown.contains("you sent [redacted]"), "{run:#}");
        assert!(
            store.contains("you sent [redacted]"),
            "the error was stored, scrubbed"
        );
        let log = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
        assert!(log.contains("warden"), "logs are captured");
        for secret in [HOOK_SECRET, API_KEY] {
            for (place, text) in [
                ("the database", &store),
                ("the API", &shown),
                ("the logs", &log),
            ] {
                assert!(!text.contains(secret), "{secret} appears in {place}");
            }
        }
        served.stop().await;
        db
    })
    .await;
}

/// `POST /webhook/<path with a newline and an escape sequence>/x` is refused and logged with its
/// path, but the newline and ESC are written escaped: no forged line, no terminal colours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_path_cannot_forge_a_log_line() {
    logs();
    each_backend(|db| async move {
        let catalog = Catalog {
            story_ids: ["echoed".to_owned()].into(),
            integrations: Default::default(),
        };
        let story = check_story("echoed", ECHOED, &catalog).expect("valid story");
        let served = support::serve(Settings {
            secrets: Secrets::default().with_credential("hook", HOOK_SECRET),
            api_token: Some(Secret::new(API_TOKEN)),
            ..Settings::new(&db.url, Definitions::stories(vec![story]))
        })
        .await;
        let marker = format!("FORGED-{}", uuid::Uuid::now_v7().simple());
        let route = format!("/webhook/nope%0a{marker}%20INFO%20ok%1b%5b31mRED/x");
        let (status, _) = support::send(served.request(reqwest::Method::POST, &route)).await;
        assert_eq!(status, 404);
        let log = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
        let line = log
            .lines()
            .find(|l| l.contains(&marker))
            .unwrap_or_else(|| panic!("the refused path is logged: {log}"));
        assert!(
            line.contains("Webhook request refused."),
            "the path stays on its own line: {line:?}"
        );
        assert!(
            line.contains(&format!("nope\\n{marker} INFO ok\\u{{1b}}[31mRED")),
            "{line:?}"
        );
        assert!(
            !log.contains(&format!("\n{marker}")),
            "a raw newline before the marker"
        );
        assert!(!log.contains("\u{1b}[31mRED"), "a raw escape sequence");
        served.stop().await;
        db
    })
    .await;
}
