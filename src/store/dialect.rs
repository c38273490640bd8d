//! Every place the two databases need different SQL or a different setting, as methods of
//! [`Dialect`]: the rest of the store writes each statement once and asks the dialect for the
//! pieces that differ, instead of matching on the backend where it needs them.

/// Which database is behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// An embedded SQLite file: one writer connection, several readers.
    Sqlite,
    /// A Postgres server shared by any number of processes.
    Postgres,
}

impl Dialect {
    /// The backend a database URL names, if Warden supports it.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// The statement opening a write transaction. SQLite takes its write lock up front: a
    /// deferred transaction that reads and then writes can fail instead of waiting.
    pub fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// The suffix of a claim's inner `SELECT`: concurrent Postgres claimers skip each other's rows
    /// instead of queueing behind them. SQLite has one writer, so there is nothing to skip.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// The suffix of a `SELECT` whose row the transaction goes on to rewrite: Postgres writers
    /// queue on the row lock instead of both acting on the value they read. SQLite's transaction
    /// already holds the one write lock.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE",
        }
    }

    /// A statement taking a lock until the transaction ends, keyed by the number bound as `$1`:
    /// it serialises a read-modify-write over many rows across processes. `None` on SQLite, where
    /// `BEGIN IMMEDIATE` already excludes every other writer.
    pub fn transaction_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock($1)"),
        }
    }

    /// Statements taking and releasing a lock held by the connection across transactions, keyed
    /// by the number bound as `$1`. `None` on SQLite: one process owns the file.
    pub fn session_lock(self) -> Option<(&'static str, &'static str)> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some((
                "SELECT pg_advisory_lock($1)",
                "SELECT pg_advisory_unlock($1)",
            )),
        }
    }

    /// A statement telling other processes that work is due, on the channel bound as `$1`
    /// (Postgres delivers it on commit). `None` on SQLite: the one process wakes itself.
    pub fn notify(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_notify($1, '')"),
        }
    }

    /// An entry event's text as a payload search compares it, case-folded, with the lowered
    /// search text. SQLite's `LIKE` already ignores ASCII case, which is all its `LOWER` folds,
    /// so it reads the text as stored (a lowered copy of every payload was most of a search's
    /// time); Postgres lowers it.
    pub fn folded_payload(self) -> &'static str {
        match self {
            Dialect::Sqlite => "e.payload",
            Dialect::Postgres => "LOWER(e.payload)",
        }
    }

    /// How many transactions may write at once, so how many committers the runner starts:
    /// SQLite has one writer connection; Postgres commits in parallel.
    pub fn parallel_writers(self) -> usize {
        match self {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(Dialect::of_url("sqlite://w.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("postgres://h/db"), Some(Dialect::Postgres));
        assert_eq!(
            Dialect::of_url("postgresql://h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of_url("mysql://h/db"), None);
    }
}
