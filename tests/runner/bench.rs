//! `warden bench runner --workers N` end to end at a tiny volume: N `warden worker` processes
//! drain one Postgres backlog and release the delayed events, and the bench's own checks
//! (every run succeeded, every delay released, no step with two output events) hold. SQLite refuses `--workers` with a reason.

use serde_json::Value;
use std::process::{Command, Output};

fn bench_runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["bench", "runner", "--runs", "100"])
        .args(args)
        .env_remove("WARDEN_DATABASE_URL")
        .env("WARDEN_LOG", "error")
        .output()
        .expect("run warden bench runner")
}

#[test]
fn two_worker_processes_drain_one_postgres_backlog_without_losing_or_doubling() {
    let Ok(url) = std::env::var("WARDEN_TEST_POSTGRES_URL") else {
        eprintln!("note: WARDEN_TEST_POSTGRES_URL is not set: Postgres skipped");
        return;
    };
    let output = bench_runner(&[
        "--backend",
        "postgres",
        "--database-url",
        &url,
        "--workers",
        "2",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bench runner --workers 2 failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("no run lost, no step doubled"), "{stdout}");
    assert!(stdout.contains("timers: 200 delayed events"), "{stdout}");
    let figures: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(figures["workers"], 2);
    assert_eq!(figures["steps"], 400);
    assert!(figures["steps_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn workers_on_sqlite_are_refused_with_the_reason() {
    let output = bench_runner(&["--backend", "sqlite", "--workers", "2"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--workers needs Postgres"), "{stderr}");
}
