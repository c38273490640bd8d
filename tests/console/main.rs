//! The web console in a real browser: headless Chromium driven over WebDriver (`chromedriver`)
//! against Warden served on a loopback port, on SQLite and (when `WARDEN_TEST_POSTGRES_URL` is
//! set) Postgres. Signs in, reads a run's timeline, filters and searches runs, opens every page,
//! runs a rule's tests from its button, checks that a POST without the CSRF token is refused and
//! that no page shows a credential, and saves a screenshot of each page under
//! `target/console-screenshots/`. Without `chromedriver` and Chromium the test says it skipped.

#[path = "../support/mod.rs"]
mod support;
mod webdriver;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use warden::app::{Definitions, Settings};
use warden::clock::ManualClock;
use warden::detect::routing::Routing;
use warden::secrets::{Secret, Secrets};
use warden::store::{NewPrompt, Prompts, Runs};
use warden::story::validate::{check_story, Catalog};
use webdriver::{Browser, Driver};

const TOKEN: &str = "console-test-api-token";
const SECRET: &str = "console-hook-secret-4711";
const START: i64 = 1_790_000_000_000;

/// A webhook, a trigger, and a step that fails when the event lacks `user` (strict data).
const STORY: &str = r#"
name: Console triage
description: Checks an alert and greets its user.
strict_data: true
credentials:
  hook: The webhook's secret path segment.
actions:
  receive:
    type: webhook
    options: {path: console-triage, secret_credential: hook}
  is_alert:
    type: trigger
    from: receive
    options:
      rules: [{type: regex, path: "{{ receive.body.alertId }}", value: "^ALERT-"}]
  greet:
    type: transform
    from: is_alert
    options: {mode: message, payload: {hello: "{{ receive.body.user.name }}"}}
  ignored:
    type: transform
    from: is_alert.no_match
    options: {mode: message, payload: {ignored: true}}
"#;

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// The streaming rules shipped in `rules/`, so the rules page has something to test.
fn shipped_rules() -> Vec<warden::detect::load::LoadedRule> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    warden::detect::load::load(&[dir])
        .expect("read rules/")
        .rules
        .into_iter()
        .filter(|r| !r.rule.log_types.is_empty())
        .collect()
}

async fn serve(db: &support::TestDb) -> support::Served {
    let story = check_story("console_triage", STORY, &Catalog::default())
        .unwrap_or_else(|d| panic!("{d:?}"));
    let settings = Settings {
        secrets: Secrets::default().with_credential("hook", SECRET),
        clock: Arc::new(ManualClock::new(START)),
        api_token: Some(Secret::new(TOKEN)),
        ..Settings::new(
            &db.url,
            Definitions::Loaded {
                stories: vec![story],
                rules: shipped_rules(),
                queries: Vec::new(),
                routing: Routing::default(),
            },
        )
    };
    support::serve(settings).await
}

/// Starts a run with `body`; its id.
async fn start_run(served: &support::Served, body: Value) -> String {
    let (status, answer) = support::send(
        served
            .request(
                reqwest::Method::POST,
                &format!("/webhook/console-triage/{SECRET}"),
            )
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    answer["run_id"].as_str().unwrap().to_owned()
}

/// Waits until the page's live refresh or navigation settles on `css` being present.
async fn wait_for(browser: &Browser, css: &str) {
    for _ in 0..50 {
        if !browser.find_all(css).await.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "`{css}` never appeared on {}:\n{}",
        browser.url().await,
        browser.source().await
    );
}

/// Waits until the browser's URL contains `part` (a navigation finished).
async fn wait_url(browser: &Browser, part: &str) {
    for _ in 0..50 {
        if browser.url().await.contains(part) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the URL never contained `{part}`: {}", browser.url().await);
}

/// Every visible form control on the page has a label.
async fn assert_labelled(browser: &Browser) {
    let unlabelled = browser
        .script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(e => !(e.id && document.querySelector('label[for=\"' + e.id + '\"]'))
                            && !e.getAttribute('aria-label'))
               .map(e => e.name);",
        )
        .await;
    assert_eq!(
        unlabelled,
        json!([]),
        "controls without a label on {}",
        browser.url().await
    );
}

#[tokio::test]
async fn the_console_signs_in_shows_runs_and_every_page_and_refuses_a_post_without_csrf() {
    let Some((chromedriver, chromium)) = webdriver::installed() else {
        eprintln!("console browser test skipped: chromedriver or chromium is not installed");
        return;
    };
    let driver = Driver::start(&chromedriver).await;
    for db in support::TestDb::all().await {
        eprintln!("--- {}", db.backend);
        let served = serve(&db).await;
        let browser = driver.session(&chromium).await;
        walk(&served, &browser, db.backend).await;
        browser.quit().await;
        served.stop().await;
        db.drop_db().await;
    }
}

async fn walk(served: &support::Served, browser: &Browser, backend: &str) {
    let shots = screenshots();
    let shot = |name: &str| shots.join(format!("{backend}-{name}.png"));
    let base = &served.address;
    let good = start_run(
        served,
        json!({"alertId": "ALERT-7f3a", "user": {"name": "Ada"}}),
    )
    .await;
    let bad = start_run(served, json!({"alertId": "ALERT-0bad"})).await;
    let other = start_run(served, json!({"alertId": "unrelated"})).await;
    served.runner.run_until_idle().await.expect("runner");
    let (status, _) = support::send(
        served
            .authorized(reqwest::Method::POST, "/ingest/Okta.SystemLog")
            .body(warden_sim::SEED_OKTA_EVENT),
    )
    .await;
    assert_eq!(status, 200);

    // The same search through the API, and a time range that excludes every run.
    let found = served.get("/api/runs?q=alert-7F3A").await;
    assert_eq!(found["runs"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["runs"][0]["id"], json!(good));
    let none = served.get(&format!("/api/runs?until={START}")).await;
    assert_eq!(none["runs"], json!([]));
    let (status, answer) =
        support::send(served.authorized(reqwest::Method::GET, "/api/runs?since=soon")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("invalid_query"))
    );

    // Two prompts on the good run's steps (opened through the store, as the prompt action
    // does), one answered.
    let store = &served.engine.store;
    let steps = store.run_steps(&good).await.unwrap();
    for (n, step) in steps.iter().take(2).enumerate() {
        let prompt = NewPrompt {
            id: format!("prompt-{n}"),
            step_id: step.id,
            run_id: good.clone(),
            story_id: "console_triage".into(),
            action_id: step.action_id.clone(),
            choices: json!([{"value": "yes", "label": "Yes, it was me"}, {"value": "no", "label": "No"}]),
            responders: vec!["U024BE7LH".into()],
            links: Vec::new(),
            expires_at: START + 3_600_000,
        };
        store.open_prompt(&prompt, START).await.unwrap();
    }
    store
        .answer_prompt("prompt-0", "yes", "U024BE7LH", START + 1)
        .await
        .unwrap();

    // Signed out, a page sends the browser to the sign-in page; a wrong token is refused.
    browser.goto(&format!("{base}/runs")).await;
    assert!(
        browser.url().await.contains("/signin?next=%2Fruns"),
        "{}",
        browser.url().await
    );
    assert_labelled(browser).await;
    browser
        .type_into(&browser.find("#token").await, "wrong")
        .await;
    browser
        .click(&browser.find("form.signin button").await)
        .await;
    wait_for(browser, "#signin-error").await;
    assert!(browser
        .source()
        .await
        .contains("That is not the API token."));
    browser.screenshot(&shot("signin")).await;
    browser
        .type_into(&browser.find("#token").await, TOKEN)
        .await;
    browser
        .click(&browser.find("form.signin button").await)
        .await;
    wait_for(browser, "table.list").await;
    assert!(
        browser.url().await.ends_with("/runs"),
        "{}",
        browser.url().await
    );

    // The runs list: all three, the failed one counted on the front page.
    let source = browser.source().await;
    for id in [&good, &bad, &other] {
        assert!(source.contains(id.as_str()), "run {id} listed");
    }
    assert!(
        source.contains("Failed in the last 24 h: 1"),
        "failed runs counted"
    );
    assert_labelled(browser).await;
    browser.screenshot(&shot("runs")).await;

    // Live updates: a run started now appears on the open page without a reload.
    let live = start_run(served, json!({"alertId": "ALERT-live"})).await;
    wait_for(browser, &format!("a[href='/runs/{live}']")).await;
    assert!(
        browser.url().await.ends_with("/runs"),
        "the page was not reloaded"
    );

    // Search by alert id through the form, then filter by status.
    browser
        .type_into(&browser.find("#f-q").await, "alert-7F3A")
        .await;
    browser
        .click(&browser.find("form.filters button").await)
        .await;
    wait_url(browser, "q=alert-7F3A").await;
    wait_for(browser, "table.list").await;
    let rows = browser.find_all("table.list tbody tr").await;
    assert_eq!(rows.len(), 1, "one run has that alert id");
    assert!(browser.text(&rows[0]).await.contains(&good));
    browser.screenshot(&shot("runs-search")).await;
    browser.click(&browser.find("a.pill.failed").await).await;
    wait_url(browser, "status=failed").await;
    wait_for(browser, "table.list").await;
    let rows = browser.find_all("table.list tbody tr").await;
    assert_eq!(rows.len(), 1);
    assert!(browser.text(&rows[0]).await.contains(&bad));

    // A run's timeline: every step in order, the graph with its path.
    browser.goto(&format!("{base}/runs/{good}")).await;
    let steps = browser.find_all("ol.timeline li.step").await;
    assert_eq!(steps.len(), 3, "receive, is_alert, greet");
    assert!(browser.text(&steps[2]).await.contains("greet"));
    assert_eq!(browser.find_all("svg.graph .node.on").await.len(), 3);
    browser
        .script("document.querySelector('ol.timeline li.step:last-child details').open = true;")
        .await;
    browser.screenshot(&shot("run")).await;
    browser.goto(&format!("{base}/runs/{bad}")).await;
    let failed = browser.find("ol.timeline li.step.failed").await;
    assert!(browser.text(&failed).await.contains("Error"));
    assert!(
        !browser
            .find_all("form[action$='/retry'] button")
            .await
            .is_empty(),
        "retry offered"
    );
    browser.screenshot(&shot("run-failed")).await;

    // Every other page renders; none shows the webhook's secret.
    let pages = [
        ("stories", "/stories".to_owned(), "Console triage"),
        (
            "story",
            "/stories/console_triage".to_owned(),
            "strict_data: true",
        ),
        ("alerts", "/alerts".to_owned(), "Okta"),
        ("prompts", "/prompts".to_owned(), "Yes, it was me"),
        ("rules", "/rules".to_owned(), "Okta.SystemLog"),
        ("health", "/health".to_owned(), "Failed steps, last hour"),
    ];
    for (name, path, expect) in pages {
        browser.goto(&format!("{base}{path}")).await;
        let source = browser.source().await;
        assert!(source.contains(expect), "{path} shows `{expect}`");
        assert!(!source.contains(SECRET), "{path} shows the webhook secret");
        assert_labelled(browser).await;
        browser.screenshot(&shot(name)).await;
    }
    browser.goto(&format!("{base}/alerts")).await;
    browser
        .click(&browser.find("table.list tbody a").await)
        .await;
    wait_for(browser, "#deliveries-h").await;
    browser.screenshot(&shot("alert")).await;
    for run in [&good, &bad] {
        browser.goto(&format!("{base}/runs/{run}")).await;
        assert!(
            !browser.source().await.contains(SECRET),
            "run page shows the webhook secret"
        );
    }

    // A rule's tests run from its button.
    browser.goto(&format!("{base}/rules")).await;
    browser
        .click(&browser.find("table.list tbody form button").await)
        .await;
    wait_for(browser, "section.results").await;
    let results = browser
        .text(&browser.find("section.results h2").await)
        .await;
    assert!(results.contains("passed"), "{results}");
    browser.screenshot(&shot("rules-tested")).await;

    // Keyboard: the first Tab reaches the skip link, which is then visible.
    browser.goto(&format!("{base}/runs")).await;
    browser.press("\u{E004}").await;
    let focused = browser
        .script("return document.activeElement.className;")
        .await;
    assert_eq!(focused, json!("skip"));

    // The same POST without its CSRF token is refused, with it accepted.
    let cookie = browser.cookie("warden_session").await;
    browser.goto(&format!("{base}/rules")).await;
    let rule = browser
        .script("return document.querySelector('table.list tbody form').getAttribute('action');")
        .await;
    let action = rule
        .as_str()
        .unwrap()
        .trim_end_matches("#results")
        .to_owned();
    let csrf = browser
        .script("return document.querySelector('input[name=csrf]').value;")
        .await;
    let post = |body: String| {
        served
            .request(reqwest::Method::POST, &action)
            .header("cookie", format!("warden_session={cookie}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    assert_eq!(post(String::new()).send().await.unwrap().status(), 403);
    assert_eq!(post("csrf=00ff".into()).send().await.unwrap().status(), 403);
    let accepted = post(format!("csrf={}", csrf.as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let csp = accepted.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    // Signing out ends the session.
    browser
        .click(&browser.find("form.signout button").await)
        .await;
    wait_for(browser, "#token").await;
    browser.goto(&format!("{base}/runs")).await;
    assert!(browser.url().await.contains("/signin"));
    assert!(browser.title().await.contains("Sign in"));
}

#[tokio::test]
async fn dev_mode_opens_the_pages_but_a_post_still_needs_its_csrf_token_and_assets_are_cached() {
    support::each_backend(|db| async move {
        let story = check_story("console_triage", STORY, &Catalog::default())
            .unwrap_or_else(|d| panic!("{d:?}"));
        let settings = Settings {
            secrets: Secrets::default().with_credential("hook", SECRET),
            clock: Arc::new(ManualClock::new(START)),
            dev: true,
            ..Settings::new(&db.url, Definitions::stories(vec![story]))
        };
        let served = support::serve(settings).await;
        let page = served
            .request(reqwest::Method::GET, "/stories")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(html.contains("Console triage"));
        assert!(!html.contains("Sign out"), "no session to end in dev mode");

        let css = html
            .split("href=\"")
            .find_map(|rest| rest.split('"').next().filter(|h| h.starts_with("/static/")))
            .expect("a stylesheet link")
            .to_owned();
        let asset = served
            .request(reqwest::Method::GET, &css)
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200);
        assert!(asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        assert!(asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css"));
        let stale = served
            .request(reqwest::Method::GET, "/static/console.000000000000.css")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 404);

        let post = served
            .request(reqwest::Method::POST, "/signout")
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 403, "no CSRF token");
        served.stop().await;
        db
    })
    .await;
}

#[tokio::test]
async fn without_a_token_the_console_is_closed_and_says_how_to_open_it() {
    let db = support::TestDb::sqlite();
    let served = support::serve(Settings::new(&db.url, Definitions::stories(Vec::new()))).await;
    let client = served.http.clone();
    let to_signin = client
        .get(format!("{}/runs?status=failed", served.address))
        .send()
        .await
        .unwrap();
    // The client follows the redirect to the sign-in page.
    assert!(to_signin
        .url()
        .as_str()
        .ends_with("/signin?next=%2Fruns%3Fstatus%3Dfailed"));
    let html = to_signin.text().await.unwrap();
    assert!(html.contains("The console is closed"), "{html}");
    served.stop().await;
    db.drop_db().await;
}
