//! Journeys through the console that start outside it or change a run: an alert's `link` opened
//! signed out leads through sign-in back to the alert's page (and sign-in never sends anyone off
//! the site); a waiting run cancelled from its page.

use super::browser::{wait_for, wait_url};
use super::webdriver::Browser;
use super::{screenshots, settings, support, SECRET, TOKEN};
use serde_json::json;
use warden::app::Settings;

/// The public URL the alert bodies' links start with (not where the test serves: the link is
/// rebased onto the test server's address before the browser opens it).
const PUBLIC: &str = "http://warden.example.test:8443";

/// Signs in on the sign-in page the browser shows.
async fn sign_in(browser: &Browser) {
    wait_for(browser, "#token").await;
    browser
        .type_into(&browser.find("#token").await, TOKEN)
        .await;
    browser
        .click(&browser.find("form.signin button").await)
        .await;
}

#[tokio::test]
async fn an_alert_link_opened_signed_out_returns_to_the_alert_after_sign_in_and_never_off_site() {
    let settings = |db: &support::TestDb| Settings {
        public_url: PUBLIC.into(),
        ..settings(db)
    };
    super::in_browser_on_every_backend(settings, follow_alert_link).await;
}

async fn follow_alert_link(served: &support::Served, browser: &Browser, backend: &str) {
    let base = &served.address;
    super::ingest_seed_event(served).await;
    let alerts = served.get("/api/alerts").await;
    let id = alerts["alerts"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an alert: {alerts}"))
        .to_owned();
    let alert = served.get(&format!("/api/alerts/{id}")).await;
    let link = alert["notification"]["link"].as_str().unwrap().to_owned();
    assert_eq!(
        link,
        format!("{PUBLIC}/alerts/{id}"),
        "the console's alert page"
    );

    // Signed out, the link goes to sign-in, which remembers it; after signing in the browser is
    // on the alert's page.
    browser.goto(&link.replacen(PUBLIC, base, 1)).await;
    wait_url(browser, "/signin?").await;
    assert!(
        browser
            .url()
            .await
            .ends_with(&format!("/signin?next=%2Falerts%2F{id}")),
        "{}",
        browser.url().await
    );
    sign_in(browser).await;
    wait_for(browser, "#deliveries-h").await;
    assert_eq!(browser.url().await, format!("{base}/alerts/{id}"));
    assert!(browser.source().await.contains(&id));
    browser
        .screenshot(&screenshots().join(format!("{backend}-alert-from-link.png")))
        .await;

    // A sign-in link crafted to leave the site lands on the console's front page instead.
    browser
        .click(&browser.find("form.signout button").await)
        .await;
    wait_for(browser, "#token").await;
    browser
        .goto(&format!("{base}/signin?next=%2F%2Fevil.example%2Fphish"))
        .await;
    sign_in(browser).await;
    wait_for(browser, "form.signout").await;
    assert_eq!(browser.url().await, format!("{base}/"));

    // The same refusal for a form posted by hand: every `next` off this site redirects to `/`.
    let page = served
        .request(reqwest::Method::GET, "/signin")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = super::csrf(&page);
    let no_redirects = super::no_redirects();
    for (next, expected) in [
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/alerts/x?y=1", "/alerts/x?y=1"),
    ] {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .append_pair("token", TOKEN)
            .append_pair("next", next)
            .finish();
        let answer = no_redirects
            .post(format!("{base}/signin"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "{next:?}");
        assert_eq!(answer.headers()["location"], expected, "{next:?}");
    }
}

#[tokio::test]
async fn a_waiting_run_is_cancelled_from_its_page_and_its_history_names_the_console_user() {
    super::in_browser_on_every_backend(settings, cancel_waiting_run).await;
}

async fn cancel_waiting_run(served: &support::Served, browser: &Browser, backend: &str) {
    let shot = |name: &str| screenshots().join(format!("{backend}-{name}.png"));
    let base = &served.address;
    let (status, answer) = support::send(
        served
            .request(
                reqwest::Method::POST,
                &format!("/webhook/console-hold/{SECRET}"),
            )
            .header("content-type", "application/json")
            .body(json!({"alertId": "ALERT-hold"}).to_string()),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["run_id"].as_str().unwrap().to_owned();
    served.runner.run_until_idle().await.expect("runner");
    assert_eq!(
        served.get(&format!("/api/runs/{id}")).await["status"],
        "waiting"
    );

    browser.goto(&format!("{base}/runs/{id}")).await;
    sign_in(browser).await;
    wait_for(browser, "form[action$='/cancel'] button").await;
    assert_eq!(browser.url().await, format!("{base}/runs/{id}"));
    // The waiting step says what it waits for and until when, as the API's `waiting_for` does.
    let waiting = browser
        .text(
            &browser
                .find("ol.timeline li.step.waiting .step-times")
                .await,
        )
        .await;
    assert!(
        waiting.ends_with("waiting for the end of its delay until 2026-09-21 15:13:20Z"),
        "{waiting}"
    );
    let api = served.get(&format!("/api/runs/{id}")).await;
    let hold = support::step(&api, "hold").unwrap();
    assert_eq!(hold["waiting_for"]["reason"], "the end of its delay");
    assert_eq!(hold["waiting_for"]["until"], "2026-09-21T15:13:20Z");
    browser.screenshot(&shot("run-waiting")).await;

    browser
        .click(&browser.find("form[action$='/cancel'] button").await)
        .await;
    wait_for(browser, "#history-h").await;
    let status = browser
        .text(&browser.find(".page-head .status").await)
        .await;
    assert_eq!(status, "cancelled");
    assert!(
        browser.find_all("form[action$='/cancel']").await.is_empty(),
        "a cancelled run offers no cancel"
    );
    let hold = browser.find("ol.timeline li.step.cancelled").await;
    assert!(browser.text(&hold).await.contains("hold"));
    let history = browser
        .text(&browser.find("#history-h + table tbody").await)
        .await;
    assert!(
        history.contains("console") && history.contains("cancel"),
        "{history}"
    );
    browser.screenshot(&shot("run-cancelled")).await;

    // The API reads the same: cancelled, in the console user's name, and the delay never ends
    // in a next step.
    let run = served.get(&format!("/api/runs/{id}")).await;
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["history"][0]["actor"], "console", "{run}");
    assert_eq!(run["history"][0]["action"], "cancel", "{run}");
    served.runner.run_until_idle().await.expect("runner");
    let run = served.get(&format!("/api/runs/{id}")).await;
    assert!(support::step(&run, "after").is_none(), "{run}");
}
