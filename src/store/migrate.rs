//! Schema migrations: numbered SQL files embedded in the binary, one folder per backend kept in
//! lock-step, applied in order inside transactions and recorded in `warden_migrations`.

use super::dialect::Dialect;
use super::{Error, Result};
use sqlx::{AnyPool, Row};

/// One migration: its number, name and SQL for each backend.
struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "runner",
        sqlite: include_str!("../../migrations/sqlite/0001_runner.sql"),
        postgres: include_str!("../../migrations/postgres/0001_runner.sql"),
    },
    Migration {
        version: 2,
        name: "detection",
        sqlite: include_str!("../../migrations/sqlite/0002_detection.sql"),
        postgres: include_str!("../../migrations/postgres/0002_detection.sql"),
    },
    Migration {
        version: 3,
        name: "prompts_and_rate_limits",
        sqlite: include_str!("../../migrations/sqlite/0003_prompts.sql"),
        postgres: include_str!("../../migrations/postgres/0003_prompts.sql"),
    },
    Migration {
        version: 4,
        name: "lost_leases",
        sqlite: include_str!("../../migrations/sqlite/0004_lost_leases.sql"),
        postgres: include_str!("../../migrations/postgres/0004_lost_leases.sql"),
    },
    Migration {
        version: 5,
        name: "retention",
        sqlite: include_str!("../../migrations/sqlite/0005_retention.sql"),
        postgres: include_str!("../../migrations/postgres/0005_retention.sql"),
    },
    Migration {
        version: 6,
        name: "missing_data",
        sqlite: include_str!("../../migrations/sqlite/0006_missing_data.sql"),
        postgres: include_str!("../../migrations/postgres/0006_missing_data.sql"),
    },
    Migration {
        version: 7,
        name: "operations",
        sqlite: include_str!("../../migrations/sqlite/0007_operations.sql"),
        postgres: include_str!("../../migrations/postgres/0007_operations.sql"),
    },
    Migration {
        version: 8,
        name: "console",
        sqlite: include_str!("../../migrations/sqlite/0008_console.sql"),
        postgres: include_str!("../../migrations/postgres/0008_console.sql"),
    },
    Migration {
        version: 9,
        name: "console_speed",
        sqlite: include_str!("../../migrations/sqlite/0009_console_speed.sql"),
        postgres: include_str!("../../migrations/postgres/0009_console_speed.sql"),
    },
    Migration {
        version: 10,
        name: "search_index",
        sqlite: include_str!("../../migrations/sqlite/0010_search_index.sql"),
        postgres: include_str!("../../migrations/postgres/0010_search_index.sql"),
    },
    Migration {
        version: 11,
        name: "signed_out_sessions",
        sqlite: include_str!("../../migrations/sqlite/0011_signed_out_sessions.sql"),
        postgres: include_str!("../../migrations/postgres/0011_signed_out_sessions.sql"),
    },
    Migration {
        version: 12,
        name: "timed_steps",
        sqlite: include_str!("../../migrations/sqlite/0012_timed_steps.sql"),
        postgres: include_str!("../../migrations/postgres/0012_timed_steps.sql"),
    },
];

/// Any fixed number: serialises migrations from processes starting together on one Postgres.
const MIGRATION_LOCK: i64 = 0x5741_5244_454e; // "WARDEN"

/// Applies the migrations the database lacks; returns the versions applied.
pub async fn apply(pool: &AnyPool, dialect: Dialect) -> Result<Vec<i64>> {
    let mut conn = pool.acquire().await?;
    let lock = dialect.session_lock();
    if let Some((take, _)) = lock {
        sqlx::query(take)
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let result = apply_locked(&mut conn, dialect).await;
    if let Some((_, release)) = lock {
        sqlx::query(release)
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply_locked(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> Result<Vec<i64>> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS warden_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM warden_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    if let Some(unknown) = applied
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|m| m.version == **v))
    {
        return Err(Error::UnknownMigration(*unknown));
    }
    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = match dialect {
            Dialect::Sqlite => migration.sqlite,
            Dialect::Postgres => migration.postgres,
        };
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO warden_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        // Bookkeeping of when a migration ran, not a decision: the wall clock is right here.
        .bind(wall_clock_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        done.push(migration.version);
    }
    Ok(done)
}
#[allow(clippy::disallowed_methods)]
fn wall_clock_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
