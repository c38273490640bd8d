//! SQLite: the embedded default, a file in the working directory.
//!
//! One writer connection (SQLite has one write lock; queuing in the pool is cheaper than retrying
//! on `SQLITE_BUSY`) and a few readers, all in WAL mode. `synchronous = NORMAL` keeps every commit
//! durable across a crash or `kill -9` of Warden; only a power cut or kernel crash can lose the
//! last commits (use Postgres where that matters).

use super::Result;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::time::Duration;

/// Connects the writer and reader pools, creating the file if needed.
pub async fn connect(url: &str) -> Result<(AnyPool, AnyPool)> {
    let url = with_create_mode(url);
    let writer = pool(&url, 1).await?;
    // The writer creates the file and switches it to WAL before any reader opens it.
    let reader = pool(&url, 4).await?;
    Ok((writer, reader))
}

async fn pool(url: &str, connections: u32) -> Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = OFF;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// `sqlite://warden.db` opens read-write and creates the file unless the URL says otherwise.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::with_create_mode;

    #[test]
    fn sqlite_urls_create_the_file_unless_told_otherwise() {
        assert_eq!(with_create_mode("sqlite://w.db"), "sqlite://w.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://w.db?mode=ro"),
            "sqlite://w.db?mode=ro"
        );
    }
}
