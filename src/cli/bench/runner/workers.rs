//! `bench runner --workers N`: the backlog drained by N `warden worker` processes (this binary)
//! sharing the scratch Postgres database, as a deployment with several workers runs. Progress
//! and the check that nothing ran twice are read from the database, the only place the
//! processes share.

use super::delays::{DELAY_STORY, DELAY_STORY_ID};
use crate::cli::bench::{BENCH_SECRET, BENCH_STORY, BENCH_STORY_ID};
use crate::procfs;
use anyhow::{bail, Context as _};
use sqlx::{Connection as _, Row as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The worker processes once the backlog is drained: what each used.
pub struct Processes {
    cpu_seconds: Vec<f64>,
    peak_rss_kb: Vec<u64>,
}

impl Processes {
    /// Each process's CPU time, e.g. `4.1 / 3.9`.
    pub fn cpu_seconds(&self) -> String {
        let shown: Vec<String> = self.cpu_seconds.iter().map(|s| format!("{s:.1}")).collect();
        shown.join(" / ")
    }

    /// Each process's peak resident memory, e.g. `41 / 40`.
    pub fn peak_rss_mb(&self) -> String {
        let shown: Vec<String> = self
            .peak_rss_kb
            .iter()
            .map(|kb| format!("{:.0}", *kb as f64 / 1024.0))
            .collect();
        shown.join(" / ")
    }
}

/// Children killed when dropped, however the bench ends.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `n` workers on `url` and returns once they have finished `steps` steps.
pub async fn drain(
    url: &str,
    n: usize,
    concurrency: usize,
    steps: u64,
) -> anyhow::Result<Processes> {
    let dir = Folder::new()?;
    let exe = std::env::current_exe().context("Failed to find the warden binary")?;
    let mut workers = Workers(Vec::with_capacity(n));
    for _ in 0..n {
        let child = Command::new(&exe)
            .arg("worker")
            .arg("--database-url")
            .arg(url)
            .arg("--stories")
            .arg(dir.path("stories"))
            .arg("--templates")
            .arg(dir.path("templates"))
            .arg("--rules")
            .arg(dir.path("rules"))
            .arg("--concurrency")
            .arg(concurrency.max(1).to_string())
            .env("WARDEN_CREDENTIAL_HOOK", BENCH_SECRET)
            .env("WARDEN_DESTINATIONS", "")
            .env("WARDEN_OKTA_POLL", "off")
            .env("WARDEN_RETENTION_DAYS", "0")
            .env("WARDEN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("Failed to start `warden worker`")?;
        workers.0.push(child);
    }
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(steps * 10);
    loop {
        let done: i64 = sqlx::query(
            "SELECT COUNT(*) FROM steps WHERE state = 'succeeded' AND input_event_id IS NOT NULL",
        )
        .fetch_one(&mut conn)
        .await?
        .try_get(0)?;
        if u64::try_from(done).unwrap_or(0) >= steps {
            break;
        }
        for child in &mut workers.0 {
            if let Some(status) = child.try_wait()? {
                bail!("a `warden worker` exited ({status}) with {done} of {steps} steps finished");
            }
        }
        if Instant::now() > deadline {
            bail!("timed out with {done} of {steps} steps finished");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = conn.close().await;
    let ids: Vec<u32> = workers.0.iter().map(Child::id).collect();
    Ok(Processes {
        cpu_seconds: ids
            .iter()
            .map(|&id| procfs::cpu_seconds(Some(id)).unwrap_or(0.0))
            .collect(),
        peak_rss_kb: ids
            .iter()
            .map(|&id| procfs::peak_rss_kb(Some(id)).unwrap_or(0))
            .collect(),
    })
}

/// Steps with more than one output event: each step of the bench story emits one, so a
/// second means the step's action ran and committed twice.
pub async fn doubled_steps(url: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let doubled: i64 = sqlx::query(
        "SELECT COUNT(*) FROM (SELECT step_id FROM events WHERE step_id IS NOT NULL
                               GROUP BY step_id HAVING COUNT(*) > 1) AS twice",
    )
    .fetch_one(&mut conn)
    .await?
    .try_get(0)?;
    let _ = conn.close().await;
    Ok(doubled)
}

/// The workers' stories folder (the bench story alone), and empty templates and rules folders,
/// removed at the end.
struct Folder(PathBuf);

impl Folder {
    fn new() -> anyhow::Result<Folder> {
        let root =
            std::env::temp_dir().join(format!("warden-bench-workers-{}", std::process::id()));
        for sub in ["stories", "templates", "rules"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        let stories = root.join("stories");
        std::fs::write(stories.join(format!("{BENCH_STORY_ID}.yml")), BENCH_STORY)?;
        std::fs::write(stories.join(format!("{DELAY_STORY_ID}.yml")), DELAY_STORY)?;
        Ok(Folder(root))
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.0.join(sub)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
