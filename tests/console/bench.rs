//! `warden bench console` end to end at a tiny volume on SQLite and (when
//! `WARDEN_TEST_POSTGRES_URL` is set) Postgres: it seeds, renders every page (each must answer
//! 200 and show what was seeded; searches must find their run) and prints its figures.

use serde_json::Value;
use std::process::Command;

/// Runs the bench on `backend` (with `url` for Postgres); its last line, the figures.
fn bench(backend: &str, url: Option<&str>) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(["bench", "console", "--runs", "50", "--samples", "2"])
        .args(["--backend", backend])
        .env_remove("WARDEN_DATABASE_URL")
        .env("WARDEN_LOG", "error")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(url) = url {
        command.args(["--database-url", url]);
    }
    let output = command.output().expect("run warden bench console");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench console on {backend} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().expect("a figures line")).expect("JSON figures")
}

fn check(figures: &Value, backend: &str) {
    assert_eq!(figures["bench"], "console");
    assert_eq!(figures["backend"], backend);
    assert_eq!(figures["runs"], 50);
    assert_eq!(figures["steps"], 500, "10 steps per run by default");
    let pages = figures["pages"].as_object().expect("pages");
    for page in [
        "front",
        "search old alertId",
        "api search alertId",
        "run (10 steps)",
        "story",
    ] {
        let p99 = pages[page]["p99_ms"].as_f64();
        assert!(p99.is_some_and(|ms| ms > 0.0), "{page}: {:?}", pages[page]);
    }
    assert_eq!(pages.len(), 16, "every page is timed: {pages:?}");
}

#[test]
fn bench_console_seeds_and_renders_every_page_on_each_backend() {
    check(&bench("sqlite", None), "sqlite");
    match std::env::var("WARDEN_TEST_POSTGRES_URL") {
        Ok(url) => check(&bench("postgres", Some(&url)), "postgres"),
        Err(_) => eprintln!("note: WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped"),
    }
}
