//! Slack (`external-apis.md` §3): Web API methods, clicks as signed `block_actions` requests,
//! and `response_url` replacements.

use super::common::{calm_seed, client, fixture, keys, post_json, send, start, Reply};
use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warden_sim::{EditSource, Error, Simulators, Vendor, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET};

const THOMAS: &str = "U01AZ88AQQ4";
const THOMAS_EMAIL: &str = "thomaskinsella@tines.io";
const BEARER: (&str, &str) = ("authorization", "Bearer xoxb-warden-demo-bot-token");

async fn call(sims: &Simulators, method: &str, body: &Value) -> Reply {
    let url = format!("{}/{method}", sims.base_url(Vendor::Slack));
    post_json(&url, BEARER, body).await
}

/// The prompt Warden posts: a section and the two buttons of the seed story.
fn prompt(channel: &str) -> Value {
    json!({
        "channel": channel,
        "text": "Okta administrator privileges were granted to your account. Was this you?",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Was this you?*"}},
            {"type": "actions", "block_id": "decision", "elements": [
                {"type": "button", "action_id": "confirm", "style": "primary", "value": "confirmed",
                 "text": {"type": "plain_text", "text": "Yes, this was me"}},
                {"type": "button", "action_id": "deny", "style": "danger", "value": "denied",
                 "text": {"type": "plain_text", "text": "I don't recognize this"}}]}]
    })
}

/// Slack's v0 signature, computed here independently of the simulator.
fn v0_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

#[tokio::test]
async fn errors_are_http_200_with_ok_false() {
    let sims = start(calm_seed()).await;
    let url = format!("{}/chat.postMessage", sims.base_url(Vendor::Slack));
    let anonymous = send(client().post(&url).body("channel=C0123SOC&text=hi")).await;
    assert_eq!(
        (anonymous.status, anonymous.json()),
        (200, json!({"ok": false, "error": "not_authed"}))
    );
    assert_eq!(
        anonymous.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let wrong = post_json(
        &url,
        ("authorization", "Bearer xoxb-wrong"),
        &prompt("C0123SOC"),
    )
    .await;
    assert_eq!(wrong.json(), json!({"ok": false, "error": "invalid_auth"}));
    let lost = call(&sims, "chat.postMessage", &prompt("C0NOWHERE")).await;
    assert_eq!(
        (lost.status, lost.json()),
        (
            200,
            fixture(include_str!(
                "../fixtures/vendors/slack/chat.postMessage-error.json"
            ))
        )
    );
    let nobody = call(
        &sims,
        "users.lookupByEmail",
        &json!({"email": "nobody@example.com"}),
    )
    .await;
    assert_eq!(
        nobody.json(),
        fixture(include_str!(
            "../fixtures/vendors/slack/users.lookupByEmail-not-found.json"
        ))
    );
    let empty = call(
        &sims,
        "chat.postMessage",
        &json!({"channel": "C0123SOC", "blocks": []}),
    )
    .await;
    assert_eq!(empty.json()["error"], "no_text");
    sims.shutdown().await;
}

#[tokio::test]
async fn the_bot_finds_the_user_opens_a_dm_posts_and_updates() {
    let sims = start(calm_seed()).await;
    let lookup_url = format!(
        "{}/users.lookupByEmail?email=thomaskinsella%40tines.io",
        sims.base_url(Vendor::Slack)
    );
    let found = send(client().get(lookup_url).bearer_auth(SLACK_BOT_TOKEN))
        .await
        .json();
    let expected = fixture(include_str!(
        "../../data/vendors/slack/users.lookupByEmail-ok.json"
    ));
    assert_eq!(keys(&found["user"]), keys(&expected["user"]));
    assert_eq!(found["user"]["id"], THOMAS);
    assert_eq!(found["user"]["profile"]["email"], THOMAS_EMAIL);

    let opened = call(&sims, "conversations.open", &json!({"users": THOMAS}))
        .await
        .json();
    assert_eq!(
        opened,
        json!({"ok": true, "channel": {"id": "D01AZ88AQQ4"}})
    );
    let again = call(&sims, "conversations.open", &json!({"users": THOMAS}))
        .await
        .json();
    assert_eq!(again["already_open"], true);

    let posted = call(&sims, "chat.postMessage", &prompt("D01AZ88AQQ4"))
        .await
        .json();
    let expected = fixture(include_str!(
        "../../data/vendors/slack/chat.postMessage-ok.json"
    ));
    assert_eq!(keys(&posted), keys(&expected));
    assert_eq!(posted["channel"], "D01AZ88AQQ4");
    let ts = posted["ts"].as_str().unwrap().to_string();
    assert_eq!(posted["message"]["ts"], ts.as_str());
    assert_eq!(posted["message"]["blocks"][1]["block_id"], "decision");

    // chat.update wants the conversation id, not the user id.
    let update = json!({"channel": THOMAS, "ts": ts, "text": "Answered", "blocks": []});
    let by_user = call(&sims, "chat.update", &update).await.json();
    assert_eq!(by_user["error"], "channel_not_found");
    let update = json!({"channel": "D01AZ88AQQ4", "ts": ts, "text": "Answered", "blocks": []});
    let updated = call(&sims, "chat.update", &update).await.json();
    assert_eq!(
        updated,
        json!({"ok": true, "channel": "D01AZ88AQQ4", "ts": ts, "text": "Answered",
               "message": {"text": "Answered", "user": "U01BGV723R6"}})
    );
    let stale = json!({"channel": "D01AZ88AQQ4", "ts": "1.000001", "text": "x"});
    assert_eq!(
        call(&sims, "chat.update", &stale).await.json()["error"],
        "message_not_found"
    );

    let messages = sims.slack_messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (messages[0].text.as_str(), &messages[0].blocks),
        ("Answered", &json!([]))
    );
    assert_eq!(messages[0].dm_user.as_deref(), Some(THOMAS));
    assert_eq!(messages[0].edits[0].via, EditSource::ChatUpdate);
    sims.shutdown().await;
}

#[tokio::test]
async fn posting_to_a_user_id_dms_them_and_form_bodies_work() {
    let sims = start(calm_seed()).await;
    let url = format!("{}/chat.postMessage", sims.base_url(Vendor::Slack));
    let form = format!("channel={THOMAS}&text=Hello+there");
    let request = client()
        .post(url)
        .bearer_auth(SLACK_BOT_TOKEN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let posted = send(request).await.json();
    assert_eq!(posted["ok"], true);
    assert_eq!(posted["channel"], "D01AZ88AQQ4");
    assert_eq!(posted["message"]["text"], "Hello there");
    sims.shutdown().await;
}

#[tokio::test]
async fn a_click_is_the_signed_block_actions_request_slack_sends() {
    // First the independent HMAC against Slack's published vector, then the click against it.
    let vector = fixture(include_str!(
        "../../data/vendors/slack/signing-test-vector.json"
    ));
    let official = v0_signature(
        vector["signing_secret"].as_str().unwrap(),
        vector["timestamp"].as_str().unwrap(),
        vector["body"].as_str().unwrap(),
    );
    assert_eq!(official, vector["expected_signature"]);

    let sims = start(calm_seed()).await;
    let posted = call(&sims, "chat.postMessage", &prompt(THOMAS))
        .await
        .json();
    let ts = posted["ts"].as_str().unwrap();
    let click = sims.click(ts, "denied").unwrap();

    assert_eq!(
        click.signature,
        v0_signature(SLACK_SIGNING_SECRET, &click.timestamp, &click.body)
    );
    let sent_at: i64 = click.timestamp.parse().unwrap();
    assert!((jiff::Timestamp::now().as_second() - sent_at).abs() < 60);
    let (name, payload) = form_urlencoded::parse(click.body.as_bytes())
        .next()
        .unwrap();
    assert_eq!(name, "payload");
    let payload: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload, click.payload);

    let shape = fixture(include_str!(
        "../../data/vendors/slack/block_actions-denied.json"
    ));
    assert_eq!(keys(&payload), keys(&shape));
    assert_eq!(payload["type"], "block_actions");
    assert_eq!(payload["user"]["id"], THOMAS);
    assert_eq!(
        payload["container"],
        json!({"type": "message", "message_ts": ts, "channel_id": "D01AZ88AQQ4", "is_ephemeral": false})
    );
    assert_eq!(
        payload["channel"],
        json!({"id": "D01AZ88AQQ4", "name": "directmessage"})
    );
    assert_eq!(payload["message"]["ts"], ts);
    assert_eq!(payload["message"]["blocks"], posted["message"]["blocks"]);
    let action = &payload["actions"][0];
    assert_eq!(keys(action), keys(&shape["actions"][0]));
    assert_eq!(
        (
            &action["value"],
            &action["action_id"],
            &action["block_id"],
            &action["style"]
        ),
        (
            &json!("denied"),
            &json!("deny"),
            &json!("decision"),
            &json!("danger")
        )
    );
    let slack_origin = sims
        .base_url(Vendor::Slack)
        .trim_end_matches("/api")
        .to_string();
    assert!(click
        .response_url()
        .starts_with(&format!("{slack_origin}/actions/T01B5M3VC1X/")));

    assert!(matches!(
        sims.click(ts, "maybe"),
        Err(Error::UnknownButton { .. })
    ));
    assert!(matches!(
        sims.click("1.000001", "denied"),
        Err(Error::UnknownMessage(_))
    ));
    sims.shutdown().await;
}

#[tokio::test]
async fn a_click_sends_exactly_its_body_and_headers() {
    let sims = start(calm_seed()).await;
    let posted = call(&sims, "chat.postMessage", &prompt(THOMAS))
        .await
        .json();
    let click = sims
        .click(posted["ts"].as_str().unwrap(), "confirmed")
        .unwrap();

    // A stand-in for Warden's /slack/interactions that hands back what it received.
    let (received, mut inbox) = mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let app = axum::Router::new().route(
        "/slack/interactions",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
            received.send((headers, body)).unwrap();
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/slack/interactions",
        listener.local_addr().unwrap()
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = click.send(&client(), &url).await.unwrap();
    assert_eq!(response.status(), 200);
    let (headers, body) = inbox.recv().await.unwrap();
    assert_eq!(body, click.body.as_bytes());
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(
        headers["x-slack-request-timestamp"],
        click.timestamp.as_str()
    );
    assert_eq!(
        headers["x-slack-signature"],
        v0_signature(
            SLACK_SIGNING_SECRET,
            &click.timestamp,
            std::str::from_utf8(&body).unwrap()
        )
        .as_str()
    );
    server.abort();
    sims.shutdown().await;
}

#[tokio::test]
async fn the_response_url_records_the_replacement_and_wears_out() {
    let sims = start(calm_seed()).await;
    let posted = call(&sims, "chat.postMessage", &prompt(THOMAS))
        .await
        .json();
    let ts = posted["ts"].as_str().unwrap();
    let click = sims.click(ts, "denied").unwrap();
    let replacement =
        json!({"replace_original": true, "text": "Thanks: the security team is on it."});
    // No auth header: the URL itself is the capability.
    let reply = post_json(click.response_url(), ("accept", "*/*"), &replacement).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
    assert_eq!(reply.header("x-warden-simulator"), Some("slack"));

    let responses = sims.slack_responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(
        (responses[0].message_ts.as_str(), &responses[0].body),
        (ts, &replacement)
    );
    let message = &sims.slack_messages()[0];
    assert_eq!(message.text, "Thanks: the security team is on it.");
    assert_eq!(message.blocks, json!([]));
    assert_eq!(message.edits.len(), 1);
    assert_eq!(message.edits[0].via, EditSource::ResponseUrl);

    let bad = post_json(
        click.response_url(),
        ("accept", "*/*"),
        &json!({"text": ""}),
    )
    .await;
    assert_eq!((bad.status, bad.body.as_str()), (400, "no_text"));
    for _ in 0..4 {
        let reply = post_json(click.response_url(), ("accept", "*/*"), &replacement).await;
        assert_eq!(reply.status, 200);
    }
    let sixth = post_json(click.response_url(), ("accept", "*/*"), &replacement).await;
    assert_eq!((sixth.status, sixth.body.as_str()), (404, "used_url"));
    assert_eq!(sims.slack_responses().len(), 5);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_channel_message_is_clicked_by_a_named_user() {
    let sims = start(calm_seed()).await;
    let posted = call(&sims, "chat.postMessage", &prompt("C0123SOC"))
        .await
        .json();
    let ts = posted["ts"].as_str().unwrap();
    assert!(matches!(
        sims.click(ts, "confirmed"),
        Err(Error::NotADirectMessage(_))
    ));
    assert!(matches!(
        sims.click_as("U0NOBODY", ts, "confirmed"),
        Err(Error::UnknownUser(_))
    ));
    let click = sims.click_as("U01JACKN4GL", ts, "confirmed").unwrap();
    assert_eq!(click.payload["user"]["id"], "U01JACKN4GL");
    assert_eq!(
        click.payload["channel"],
        json!({"id": "C0123SOC", "name": "soc-alerts"})
    );
    sims.shutdown().await;
}
