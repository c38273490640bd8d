//! Sign in, read a run's timeline, filter and search runs, see a new run appear live, open every
//! page, run a rule's tests from its button, reach the skip link by keyboard, and have a POST
//! without its CSRF token refused; no page shows the webhook's secret.

use super::webdriver::Browser;
use super::{screenshots, settings, start_run, support, SECRET, START, TOKEN};
use serde_json::json;
use warden::run::AnsweredVia;
use warden::store::{NewPrompt, PromptAnswer, Prompts, Runs};

/// Waits until the page's live refresh or navigation settles on `css` being present.
pub(super) async fn wait_for(browser: &Browser, css: &str) {
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
pub(super) async fn wait_url(browser: &Browser, part: &str) {
    for _ in 0..50 {
        if browser.url().await.contains(part) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the URL never contained `{part}`: {}", browser.url().await);
}

/// Every visible form control on the page has a label.
pub(super) async fn assert_labelled(browser: &Browser) {
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
    super::in_browser_on_every_backend(settings, walk).await;
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
    super::ingest_seed_event(served).await;

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
        .answer_prompt(
            "prompt-0",
            &PromptAnswer {
                choice: "yes",
                responder: "U024BE7LH",
                via: AnsweredVia::Slack,
                actor: "U024BE7LH",
            },
            START + 1,
        )
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

    // Retrying the failed step from its button adds a new step that names the one it retries,
    // and the run's history says the console did it.
    browser
        .click(&browser.find("form[action$='/retry'] button").await)
        .await;
    wait_for(browser, "#history-h").await;
    assert!(
        browser.source().await.contains("retries <a"),
        "the new step names the step it retries"
    );
    let history = browser
        .text(&browser.find("#history-h + table").await)
        .await;
    assert!(history.contains("console"), "{history}");
    // The retry has not executed yet: it shows as queued and due, with no start or duration.
    let queued = browser
        .text(
            &browser
                .find("ol.timeline li.step.pending .step-times")
                .await,
        )
        .await;
    assert!(
        queued.starts_with("not started · queued ") && queued.contains(" · due at "),
        "{queued}"
    );
    assert!(
        !queued.contains("started 20") && !queued.contains(" ms"),
        "{queued}"
    );
    let head = browser
        .text(&browser.find("ol.timeline li.step.pending .step-head").await)
        .await;
    assert!(!head.contains("attempt"), "no attempt yet: {head}");
    browser.screenshot(&shot("run-retried")).await;

    // The waiting prompt is answered from the console; it then shows as answered there.
    browser.goto(&format!("{base}/prompts")).await;
    browser
        .click(&browser.find("form.answer button[value=yes]").await)
        .await;
    wait_url(browser, &format!("/runs/{good}")).await;
    browser.goto(&format!("{base}/prompts")).await;
    assert!(
        browser.find_all("form.answer").await.is_empty(),
        "no prompt waits"
    );
    let answered = browser
        .text(&browser.find("#answered-h + table").await)
        .await;
    assert!(answered.contains("console"), "{answered}");
    // Each answer reads as its button did, its value kept beside it and in the title.
    assert!(answered.contains("Yes, it was me"), "{answered}");
    let titles = browser
        .script(
            "return [...document.querySelectorAll('#answered-h + table span.answer')]
               .map(e => [e.textContent, e.title]);",
        )
        .await;
    assert_eq!(
        titles,
        json!([
            ["Yes, it was me", "value: yes"],
            ["Yes, it was me", "value: yes"]
        ])
    );
    browser.screenshot(&shot("prompts-answered")).await;

    // Every other page renders; none shows the webhook's secret.
    let pages = [
        ("stories", "/stories".to_owned(), "Console triage"),
        (
            "story",
            "/stories/console_triage".to_owned(),
            "strict_data: true",
        ),
        ("alerts", "/alerts".to_owned(), "Okta"),
        ("prompts", "/prompts".to_owned(), "U024BE7LH"),
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
