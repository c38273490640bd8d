//! `warden demo --keep`, as a process: after the scenario it keeps serving, prints the console's
//! sign-in address and a random API token, the browser signs in with them and sees the seed run,
//! and SIGINT stops it.

use super::browser::wait_for;
use super::screenshots;
use super::webdriver::{self, Driver};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The demo's process, killed if the test ends before it stopped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value after `label` on a printed line (`  Console:   http://…`).
fn printed<'a>(lines: &'a [String], label: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(str::trim)
}

#[tokio::test]
async fn warden_demo_keep_prints_a_sign_in_that_shows_the_seed_run_and_stops_on_ctrl_c() {
    let Some((chromedriver, chromium)) = webdriver::installed() else {
        eprintln!("console browser test skipped: chromedriver or chromium is not installed");
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["demo", "--keep", "--root", env!("CARGO_MANIFEST_DIR")])
        .env_remove("WARDEN_DATABASE_URL")
        .env_remove("WARDEN_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden runs");
    let stdout = child.stdout.take().unwrap();
    let demo = Demo(child);
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    while printed(&lines, "API token:").is_none() {
        match lines_rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => lines.push(line),
            Err(error) => panic!("the demo printed no token ({error}):\n{}", lines.join("\n")),
        }
    }
    let all = lines.join("\n");
    assert!(all.contains("Run ") && all.contains(" succeeded."), "{all}");
    let console = printed(&lines, "Console:")
        .expect("a console line")
        .to_owned();
    let token = printed(&lines, "API token:").unwrap().to_owned();
    assert!(
        token.len() == 48 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "a random token: {token}"
    );
    let run_id = console
        .split("next=%2Fruns%2F")
        .nth(1)
        .unwrap_or_else(|| panic!("the seed run's page: {console}"))
        .to_owned();
    let base = console.split("/signin").next().unwrap().to_owned();

    // Without the token nothing is served; with it, the seed run's page.
    let api = warden::http_client::api_client();
    let refused = api.get(format!("{base}/api/runs")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let driver = Driver::start(&chromedriver).await;
    let browser = driver.session(&chromium).await;
    browser.goto(&console).await;
    browser
        .type_into(&browser.find("#token").await, &token)
        .await;
    browser
        .click(&browser.find("form.signin button").await)
        .await;
    wait_for(&browser, "ol.timeline").await;
    assert_eq!(browser.url().await, format!("{base}/runs/{run_id}"));
    let status = browser
        .text(&browser.find(".page-head .status").await)
        .await;
    assert_eq!(status, "succeeded");
    assert!(browser.source().await.contains("panther-okta-admin-grant"));
    browser
        .screenshot(&screenshots().join("demo-keep-run.png"))
        .await;
    browser.quit().await;

    // Ctrl-C (SIGINT) stops it cleanly.
    let pid = demo.0.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let mut demo = demo;
    let mut exited = None;
    for _ in 0..100 {
        if let Some(status) = demo.0.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exited = exited.expect("the demo stopped within 10 s of SIGINT");
    assert!(exited.success(), "{exited}");
    let rest: Vec<String> = lines_rx.try_iter().collect();
    assert!(rest.iter().any(|l| l == "Stopped serving."), "{rest:?}");
}
