//! SQLite: the embedded default, a file in the working directory.
//!
//! One writer connection (SQLite has one write lock; queuing in the pool is cheaper than retrying
//! on `SQLITE_BUSY`) and a few readers, all in WAL mode. `synchronous = NORMAL` keeps every commit
//! durable across a crash or `kill -9` of Warden; only a power cut or kernel crash can lose the
//! last commits (use Postgres where that matters).

use super::Result;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

/// Connects the writer and reader pools, creating the file if needed.
pub async fn connect(url: &str) -> Result<(AnyPool, AnyPool)> {
    create_private(url).map_err(sqlx::Error::Io)?;
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
        .acquire_timeout(super::ACQUIRE_TIMEOUT)
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

/// Creates a new database file readable and writable by its owner only: it holds alert data and
/// vendor answers. SQLite gives its `-wal` and `-shm` files the database file's permissions.
fn create_private(url: &str) -> std::io::Result<()> {
    let Some(path) = file_path(url) else {
        return Ok(());
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// The file a `sqlite:` URL names; none for an in-memory database.
pub(super) fn file_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.contains("mode=memory");
    (!in_memory).then_some(path)
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
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("warden-sqlite-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("w.db");
        sqlx::any::install_default_drivers();
        let (writer, reader) = connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        writer.close().await;
        reader.close().await;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn in_memory_databases_have_no_file() {
        assert_eq!(file_path("sqlite://w.db?mode=rwc"), Some("w.db"));
        assert_eq!(file_path("sqlite::memory:"), None);
        assert_eq!(file_path("sqlite://:memory:"), None);
        assert_eq!(file_path("postgres://x/y"), None);
    }

    #[test]
    fn sqlite_urls_create_the_file_unless_told_otherwise() {
        assert_eq!(with_create_mode("sqlite://w.db"), "sqlite://w.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://w.db?mode=ro"),
            "sqlite://w.db?mode=ro"
        );
    }
}
