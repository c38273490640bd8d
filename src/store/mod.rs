//! Persistence for the durable runner and the detection stage: one module per capability, each
//! with its trait, its records and its SQL, all implemented once by [`SqlStore`] for SQLite
//! (embedded default) and Postgres.
//!
//! Both backends share every statement (`$n` placeholders work in both). Where the databases
//! differ (claiming, locks, wake-ups, the transaction's `BEGIN`, how many writers) the statement
//! asks [`Dialect`]; connection setup is in `sqlite.rs` and `postgres.rs`.

mod action_state;
mod connection;
mod detections;
mod dialect;
mod migrate;
mod operations;
mod overview;
pub mod postgres;
mod prompts;
mod queue;
mod rate_limits;
mod retention;
mod runs;
mod search_index;
mod sessions;
pub(crate) mod sql;
pub mod sqlite;
mod versions;

pub use action_state::{ActionStates, StateWrite};
pub use connection::{redact_url, SqlStore, DEFAULT_DATABASE_URL};
pub use detections::{
    AlertFilter, AlertOverrides, AlertRecord, BuildAlert, DeliveryOutcome, DeliveryRecord,
    Detections, DueDelivery, FirstMatch, MergeMatch, Merged, NewAlert, NewMatch, RecordedMatches,
    Window, WindowPolicy,
};
pub use dialect::{Dialect, IndexedSearch};
pub use operations::{Cancellation, Cancelled, HistoryRecord, Operations, Retried};
pub use overview::{Count, Overview};
pub use prompts::{Answered, NewPrompt, PromptAnswer, PromptFilter, PromptRecord, Prompts};
pub use queue::{ClaimedStep, Completed, Completion, Queue, StepInput, WorkerLock};
pub use rate_limits::RateLimits;
pub use retention::Retention;
pub use runs::{
    EventRecord, NewRun, RunCreated, RunFilter, RunRecord, Runs, StepRecord, SEARCH_WINDOW,
};
pub use search_index::{SearchIndex, SearchQueue};
pub use sessions::Sessions;
pub use versions::Versions;

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Error {
        Error::Database(error)
    }
}

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed a statement. Its message is shown here and it is not
    /// chained as a source: sqlx's error repeats its own source's text, so an error chain would
    /// print the database's message three times.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A stored JSON value does not parse (the database was edited by hand, or is corrupt).
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// The database URL is not one Warden can use.
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    /// A stored state name this build does not know (a newer Warden wrote it, or a hand edit).
    #[error("stored state `{0}` is unknown")]
    UnknownState(String),
    /// The database holds migrations this build does not know (a newer Warden wrote it).
    #[error("the database was migrated by a newer Warden (migration {0} is unknown)")]
    UnknownMigration(i64),
}

impl Error {
    /// A conflict the database resolved by aborting this transaction (a Postgres deadlock or
    /// serialization failure, SQLite busy): the same work may simply be tried again.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(e)) => {
                matches!(
                    e.code().as_deref(),
                    Some("40P01" | "40001" | "5" | "6" | "517")
                )
            }
            Error::Database(sqlx::Error::PoolTimedOut) => true,
            _ => false,
        }
    }

    /// The database cannot be reached or is not serving now (no connection within
    /// [`ACQUIRE_TIMEOUT`], the connection refused, reset or closed, Postgres shutting down or
    /// refusing connections, SQLite still busy after its busy timeout): nothing was done, and the
    /// same request may succeed later. Everything else is a fault to log.
    pub fn is_unavailable(&self) -> bool {
        let Error::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(e) => e.code().as_deref().is_some_and(is_unavailable_code),
            _ => false,
        }
    }
}

/// Postgres SQLSTATEs and SQLite result codes that mean "not serving now".
fn is_unavailable_code(code: &str) -> bool {
    // Postgres: class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown,
    // cannot connect now), 53300 (too many connections). SQLite (numeric, never `08…`):
    // SQLITE_BUSY and SQLITE_LOCKED with their extended codes.
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "5" | "6" | "261" | "517" | "773" | "262"
        )
}

/// How long a statement waits for a pooled connection (including connecting) before the store
/// answers [`Error::is_unavailable`]. Short on purpose: a request is answered 503 with
/// `Retry-After` within it when the database cannot be reached, instead of hanging; the runner
/// retries on its own (claims every second, commits a few times, then the step runs again).
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Results of store calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
