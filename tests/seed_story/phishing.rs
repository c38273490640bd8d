//! The second shipped story, `stories/phishing-triage.yml`, played the way `warden demo --story
//! … --event …` plays it (`cli::demo::story::play` over the `Stack`), on SQLite and Postgres;
//! then `warden demo --story` and `warden sim` as processes.

use super::harness::{calm, root};
use super::support::{each_backend, TestDb};
use serde_json::{json, Value};
use std::io::BufRead as _;
use std::sync::Arc;
use warden::cli::demo::stack::{Stack, StackOptions};
use warden::cli::demo::story::{play, Outcome};
use warden::clock::SkippingClock;
use warden_sim::{CLEAN_DOMAIN, PHISHING_DOMAIN, SOC_CHANNEL};

const STORY: &str = "stories/phishing-triage.yml";

fn example(name: &str) -> Value {
    let path = root().join("stories/examples").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Plays the phishing story with `event` as `warden demo --story` does.
async fn triage(db: &TestDb, event: &Value) -> (Stack, Outcome) {
    let clock = Arc::new(SkippingClock::default());
    let stack = Stack::start(StackOptions {
        database_url: db.url.clone(),
        clock: clock.clone(),
        scenario: calm(),
        root: root(),
        credentials: Vec::new(),
        story: Some(root().join(STORY)),
    })
    .await
    .expect("start the stack");
    let story = stack.engine.stories.current("phishing-triage").unwrap();
    let body = serde_json::to_vec(event).unwrap();
    let outcome = play(&stack, &clock, &story, &body, None)
        .await
        .expect("the run ends");
    (stack, outcome)
}

fn domain_lookups(stack: &Stack) -> Vec<String> {
    stack
        .sims
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/domains/"))
        .map(|r| r.path)
        .collect()
}

/// The example report links to a phishing domain (twice, and to a clean one in two spellings):
/// each domain is looked up once, the SOC channel is told with the domain defanged, a case is
/// opened; the attacker's subject reaches both escaped.
#[tokio::test]
async fn a_report_linking_to_a_malicious_domain_alerts_the_soc_and_opens_a_case() {
    each_backend(|db| async move {
        let mut event = example("phishing-report.json");
        event["subject"] =
            json!("<!channel> <https://evil.example|Reset> *now* [here](https://x.example)");
        let (stack, outcome) = triage(&db, &event).await;
        assert!(outcome.succeeded, "{:#}", outcome.run);

        let mut lookups = domain_lookups(&stack);
        lookups.sort();
        assert_eq!(
            lookups,
            [
                format!("/api/v3/domains/{PHISHING_DOMAIN}"),
                format!("/api/v3/domains/{CLEAN_DOMAIN}")
            ],
            "one lookup per distinct domain"
        );

        let messages = stack.sims.slack_messages();
        assert_eq!(messages.len(), 1, "{messages:?}");
        let text = &messages[0].text;
        assert_eq!(messages[0].channel, SOC_CHANNEL);
        assert!(text.contains("login-micros0ft-support[.]example"), "{text}");
        assert!(!text.contains(PHISHING_DOMAIN), "defanged: {text}");
        assert!(!text.contains(CLEAN_DOMAIN), "only the malicious: {text}");
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        assert!(
            !text.contains("<!channel>") && !text.contains("<https://evil"),
            "{text}"
        );

        let cases = stack.sims.thehive_cases();
        assert_eq!(cases.len(), 1);
        let case = &cases[0];
        assert_eq!(case.severity, 3);
        assert!(case.tags.iter().any(|t| t == "phishing"), "{:?}", case.tags);
        assert!(case
            .title
            .starts_with("Phishing reported by alice@example.com"));
        let description = case.case["description"].as_str().unwrap();
        assert!(
            description.contains(r"\[here\]\(https://x.example\)"),
            "{description}"
        );
        assert!(description.contains(r"\*now\*"), "{description}");
        assert!(
            description.contains(r"Malicious: login\-micros0ft\-support.example"),
            "{description}"
        );
        stack.stop().await;
        db
    })
    .await;
}

/// A report whose links are all clean ends quietly: nobody is told, no case.
#[tokio::test]
async fn a_clean_report_ends_quietly() {
    each_backend(|db| async move {
        let (stack, outcome) = triage(&db, &example("phishing-report-clean.json")).await;
        assert!(outcome.succeeded, "{:#}", outcome.run);
        assert_eq!(domain_lookups(&stack).len(), 1);
        assert!(stack.sims.slack_messages().is_empty());
        assert!(stack.sims.thehive_cases().is_empty());
        let trigger = outcome.run["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "any_malicious")
            .unwrap();
        assert_eq!(trigger["link"], "no_match", "{trigger:#}");
        stack.stop().await;
        db
    })
    .await;
}

/// A report without a URL ends at the extraction; a domain VirusTotal has never seen (404)
/// still gets a verdict, as not flagged, beside a malicious one.
#[tokio::test]
async fn no_url_ends_at_once_and_an_unknown_domain_does_not_stall_the_verdict() {
    let db = TestDb::sqlite();
    let (stack, outcome) = triage(&db, &json!({"subject": "hi", "body": "no links"})).await;
    assert!(outcome.succeeded, "{:#}", outcome.run);
    assert!(domain_lookups(&stack).is_empty());
    stack.stop().await;

    let mut scenario = calm();
    scenario.virustotal.not_found = vec!["never-seen.example".into()];
    let clock = Arc::new(SkippingClock::default());
    let stack = Stack::start(StackOptions {
        database_url: TestDb::sqlite().url,
        clock: clock.clone(),
        scenario,
        root: root(),
        credentials: Vec::new(),
        story: Some(root().join(STORY)),
    })
    .await
    .unwrap();
    let story = stack.engine.stories.current("phishing-triage").unwrap();
    let event = json!({
        "message_id": "m2",
        "body": format!("https://never-seen.example/a https://{PHISHING_DOMAIN}/b"),
    });
    let body = serde_json::to_vec(&event).unwrap();
    let outcome = play(&stack, &clock, &story, &body, None).await.unwrap();
    assert!(outcome.succeeded, "{:#}", outcome.run);
    assert_eq!(stack.sims.thehive_cases().len(), 1);
    stack.stop().await;
}

fn warden() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .current_dir(root())
        .env_remove("WARDEN_DATABASE_URL");
    command
}

/// `warden demo --story … --event …`, the newcomer's second command: exit 0 on both example
/// reports, a case only for the malicious one; a story whose run fails exits 1 naming the step.
#[test]
fn warden_demo_plays_the_phishing_story() {
    for (event, case) in [
        ("phishing-report.json", true),
        ("phishing-report-clean.json", false),
    ] {
        let output = warden()
            .args(["demo", "--story", STORY, "--event"])
            .arg(format!("stories/examples/{event}"))
            .output()
            .expect("warden runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{event}: {stdout}\n{stderr}");
        assert!(stdout.contains("SIMULATED"), "{stdout}");
        assert!(stdout.contains("succeeded."), "{stdout}");
        assert_eq!(
            stdout.contains("TheHive (simulated): case #1"),
            case,
            "{stdout}"
        );
        assert_eq!(
            stdout.contains(&format!("Slack (simulated): message in {SOC_CHANNEL}")),
            case,
            "{stdout}"
        );
    }

    let dir = std::env::temp_dir().join(format!("warden-demo-fails-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("lookup-fails.yml"),
        "name: Lookup fails\ncredentials: { hook: webhook secret }\nactions:\n  hook:\n    \
         type: webhook\n    options: { path: lookup-fails, secret_credential: hook }\n  \
         lookup:\n    from: hook\n    uses: virustotal/domain_lookup\n    with: { domain: \
         \"not a domain\" }\n",
    )
    .unwrap();
    std::fs::write(dir.join("event.json"), "{}").unwrap();
    let output = warden()
        .args(["demo", "--story"])
        .arg(dir.join("lookup-fails.yml"))
        .arg("--event")
        .arg(dir.join("event.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("step `lookup` failed"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `warden sim` prints the settings for `serve`, and the simulators answer there until it is
/// stopped.
#[test]
fn warden_sim_prints_where_the_simulators_listen() {
    let mut child = warden()
        .arg("sim")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let last = line.starts_with("export WARDEN_CREDENTIAL_SLACK_SIGNING_SECRET=");
        lines.push(line);
        if last {
            break;
        }
    }
    let value = |name: &str| {
        let prefix = format!("export {name}=");
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{name} in {lines:#?}"))
    };
    let vt = value("WARDEN_RESOURCE_VIRUSTOTAL_URL");
    assert!(vt.starts_with("http://127.0.0.1:"), "{vt}");
    for name in ["GREYNOISE", "SLACK", "THEHIVE", "OKTA"] {
        value(&format!("WARDEN_RESOURCE_{name}_URL"));
    }
    assert_eq!(value("WARDEN_RESOURCE_SOC_CHANNEL"), SOC_CHANNEL);
    let key = value("WARDEN_CREDENTIAL_VIRUSTOTAL");
    assert!(lines.iter().any(|l| l.contains("SIMULATOR credentials")));

    // The seed world's VirusTotal answers its first lookup with a 429 (a retry to watch).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let statuses = runtime.block_on(async {
        let client = warden::http_client::api_client();
        let mut statuses = Vec::new();
        for _ in 0..2 {
            let response = client
                .get(format!("{vt}/domains/{PHISHING_DOMAIN}"))
                .header("x-apikey", &key)
                .send()
                .await;
            statuses.push(response.map(|r| r.status().as_u16()).ok());
        }
        statuses
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(statuses, [Some(429), Some(200)]);
}
