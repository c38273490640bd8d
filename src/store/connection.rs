//! [`SqlStore`]: the pools, transactions, wake-ups and migrations every capability shares. The
//! capabilities' statements live beside their traits (`runs`, `queue`, …); what differs between
//! the databases is asked of [`Dialect`].

use super::dialect::Dialect;
use super::{Error, Result};
use sqlx::{AnyConnection, AnyPool};
use std::sync::Arc;

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) dialect: Dialect,
    /// All writes go through here (for SQLite: exactly one connection, so writers never contend).
    pub(super) writer: AnyPool,
    /// Reads.
    pub(super) reader: AnyPool,
    /// Postgres only: the URL the wake-up listener connects to.
    pub(super) listen_url: Option<String>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("dialect", &self.inner.dialect)
            .finish_non_exhaustive()
    }
}

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://warden.db";

impl SqlStore {
    /// Connects to `url` (`sqlite://FILE` or `postgres://…`) and applies pending migrations.
    pub async fn open(url: &str) -> Result<SqlStore> {
        let store = SqlStore::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to `url` without migrating.
    pub async fn connect(url: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let Some(dialect) = Dialect::of_url(url) else {
            return Err(Error::UnsupportedUrl(redact_url(url)));
        };
        // Connection setup is where the backends differ most (pool shapes, pragmas, listener),
        // so each has its own module.
        let (writer, reader, listen_url) = match dialect {
            Dialect::Sqlite if super::sqlite::file_path(url).is_none() => {
                // Each pooled connection would open its own empty database.
                return Err(Error::UnsupportedUrl(format!(
                    "{url} (in-memory SQLite is not supported; use a file)"
                )));
            }
            Dialect::Sqlite => {
                let (writer, reader) = super::sqlite::connect(url).await?;
                (writer, reader, None)
            }
            Dialect::Postgres => {
                let pool = super::postgres::connect(url).await?;
                (pool.clone(), pool, Some(url.to_owned()))
            }
        };
        Ok(SqlStore {
            inner: Arc::new(Inner {
                dialect,
                writer,
                reader,
                listen_url,
            }),
        })
    }

    /// Applies migrations the database lacks; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        super::migrate::apply(&self.inner.writer, self.inner.dialect).await
    }

    /// The backend.
    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// Postgres: a stream of wake-ups when any process adds due work. SQLite: `None` (one process
    /// owns the file, and it wakes itself).
    pub async fn listen(&self) -> Result<Option<super::postgres::WakeListener>> {
        match &self.inner.listen_url {
            Some(url) => Ok(Some(super::postgres::WakeListener::connect(url).await?)),
            None => Ok(None),
        }
    }

    /// Whether the database answers a `SELECT 1` (readiness). Fails like any statement: see
    /// [`Error::is_unavailable`].
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.inner.reader).await?;
        Ok(())
    }

    /// Closes the pools, waiting for connections in use.
    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }

    /// Opens a write transaction.
    pub(super) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let begin = self.inner.dialect.begin();
        Ok(self.inner.writer.begin_with(begin).await?)
    }

    /// Tells idle workers in other processes that work is due (Postgres; delivered on commit).
    pub(super) async fn notify(&self, conn: &mut AnyConnection) -> Result<()> {
        if let Some(notify) = self.inner.dialect.notify() {
            sqlx::query(notify)
                .bind(super::postgres::WAKE_CHANNEL)
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/warden"),
            "postgres://app:***@db:5432/warden"
        );
        assert_eq!(redact_url("sqlite://warden.db"), "sqlite://warden.db");
    }
}
