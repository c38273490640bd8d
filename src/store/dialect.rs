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

    /// How a payload search for `text` asks the search index (migration 0010) for the entry
    /// events that contain it, or `None` when the index cannot answer for this text and the entry
    /// events are scanned instead (SQLite: below three characters there is no trigram).
    ///
    /// SQLite: FTS5 (`detail=none`, trigram) is asked for the events holding every trigram of the
    /// lowered text, and the stored text decides with the search's own `LIKE`. Postgres: the
    /// lowered text it stored is compared with `LIKE`, which its trigram index (pg_trgm, when the
    /// extension could be created) answers.
    pub fn indexed_search(self, text: &str) -> Option<IndexedSearch> {
        match self {
            Dialect::Sqlite => Some(IndexedSearch {
                matches: "SELECT e.run_id FROM run_search JOIN events e ON e.id = run_search.rowid
                          WHERE run_search MATCH {term} AND e.payload LIKE {pattern} ESCAPE '\\'",
                term: Some(trigram_query(text)?),
            }),
            Dialect::Postgres => Some(IndexedSearch {
                matches:
                    "SELECT s.run_id FROM run_search s WHERE s.text LIKE {pattern} ESCAPE '\\'",
                term: None,
            }),
        }
    }

    /// Whether one statement can write a new run whole (its row, entry step and event, first
    /// steps): Postgres' CTEs may insert and feed each other's `RETURNING` rows; SQLite's may not.
    pub fn writes_runs_at_once(self) -> bool {
        match self {
            Dialect::Sqlite => false,
            Dialect::Postgres => true,
        }
    }

    /// A condition: `column` is one of the values `subquery` selects, written so the database
    /// works the (few) values out first and then looks each one up by `column`'s index, whatever
    /// its statistics guess. SQLite does so for `IN`; Postgres, for `IN`, may rather walk the
    /// whole index of `column` and test each value, so it gets an array.
    pub fn one_of(self, column: &str, subquery: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN ({subquery})"),
            Dialect::Postgres => format!("{column} = ANY(ARRAY({subquery}))"),
        }
    }

    /// The recursive step of an ancestry walk: `events` row `e`, the parent of the walk's row
    /// `c` in `chain`, looked up by its primary key. Postgres gets a `LATERAL` lookup, since on a
    /// young table (no statistics yet) it would rather hash the whole `events` table for each
    /// step of the walk; SQLite always looks each parent up by its rowid.
    pub fn parent_join(self, chain: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{chain} c JOIN events e ON e.id = c.parent_id"),
            Dialect::Postgres => format!(
                "{chain} c CROSS JOIN LATERAL
                 (SELECT * FROM events WHERE events.id = c.parent_id LIMIT 1) e"
            ),
        }
    }

    /// `count` bind parameters in a list, standing for values `first`, `first + 1`, …: numbered
    /// on Postgres; on SQLite anonymous `?`, which bind in the order they are written. SQLite
    /// looks a numbered (named) parameter up in a list as long as the statement's parameters,
    /// so a statement of hundreds of rows costs it time quadratic in their number; anonymous ones
    /// cost nothing. A statement using these must write them first and in value order, and may
    /// name other values (`$n`, numbered after them) anywhere after.
    pub fn params(self, count: usize, first: usize) -> String {
        let mut out = String::with_capacity(count * 5);
        for n in first..first + count {
            if n > first {
                out.push_str(", ");
            }
            match self {
                Dialect::Sqlite => out.push('?'),
                Dialect::Postgres => {
                    out.push('$');
                    out.push_str(&n.to_string());
                }
            }
        }
        out
    }

    /// `(…), (…)`: [`Dialect::params`] for `rows` rows of `width` values each.
    pub fn rows(self, rows: usize, width: usize, first: usize) -> String {
        (0..rows)
            .map(|row| format!("({})", self.params(width, first + row * width)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A statement bringing the database's statistics on `table` up to date, where the database
    /// keeps them: Postgres plans from them, and its autovacuum may be late or off. SQLite keeps
    /// none unless asked, and plans without.
    pub fn analyze(self, table: &str) -> Option<String> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(format!("ANALYZE {table}")),
        }
    }

    /// The statement adding the entry events listed in `{ids}` to the search index: FTS5 reads
    /// their stored text; Postgres stores it lowered, with its run.
    pub fn search_index_insert(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "INSERT INTO run_search (rowid, payload)
                 SELECT id, payload FROM events WHERE id IN ({ids})"
            }
            Dialect::Postgres => {
                "INSERT INTO run_search (event_id, run_id, text)
                 SELECT id, run_id, LOWER(payload) FROM events WHERE id IN ({ids})
                 ON CONFLICT (event_id) DO NOTHING"
            }
        }
    }

    /// The search index's key, an entry event's id: FTS5's `rowid`, Postgres' `event_id`.
    pub fn search_index_key(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "event_id",
        }
    }

    /// A statement run after each batch added to the search index, in a transaction of its own,
    /// to keep it fast to read: SQLite merges a few pages of FTS5's segments (its automatic
    /// merges are off, so no insert holds the one writer for a large merge); Postgres maintains
    /// its index itself.
    pub fn search_index_upkeep(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => {
                Some("INSERT INTO run_search (run_search, rank) VALUES ('merge', 32)")
            }
            Dialect::Postgres => None,
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

/// How a payload search asks the search index: see [`Dialect::indexed_search`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedSearch {
    /// A statement selecting the `run_id` of each indexed entry event that contains the text,
    /// with `{pattern}` where the search's `LIKE` pattern is bound and `{term}` where `term` is.
    pub matches: &'static str,
    /// The index's own query, when it has one.
    pub term: Option<String>,
}

/// At most this many trigrams are asked of FTS5: a long text's first ones already narrow the
/// search to a few events, and each one more is a lookup.
const MAX_TRIGRAMS: usize = 32;

/// An FTS5 query for the events holding every trigram of `text`, lowered (FTS5's trigram
/// tokenizer folds case too), each trigram a quoted string; `None` below three characters, and
/// for a text with a NUL (FTS5 would read only what comes before it).
fn trigram_query(text: &str) -> Option<String> {
    if text.contains('\0') {
        return None;
    }
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let mut trigrams: Vec<String> = Vec::new();
    for window in chars.windows(3) {
        let trigram: String = window.iter().collect();
        if !trigrams.contains(&trigram) {
            trigrams.push(trigram);
            if trigrams.len() == MAX_TRIGRAMS {
                break;
            }
        }
    }
    if trigrams.is_empty() {
        return None;
    }
    Some(
        trigrams
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND "),
    )
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

    #[test]
    fn sqlite_asks_fts5_for_every_distinct_lowered_trigram_from_three_characters() {
        let search = Dialect::Sqlite.indexed_search(r#"Say "Hi""#).unwrap();
        assert!(search.matches.contains("run_search MATCH {term}"));
        assert_eq!(
            search.term.as_deref(),
            Some(r#""say" AND "ay " AND "y """ AND " ""h" AND """hi" AND "hi""""#)
        );
        let repeated = Dialect::Sqlite.indexed_search("aaaa").unwrap();
        assert_eq!(repeated.term.as_deref(), Some(r#""aaa""#));
        assert_eq!(Dialect::Sqlite.indexed_search("ab"), None);
        assert_eq!(Dialect::Sqlite.indexed_search("a\0bc"), None);
        let long: String = (0..200).map(|n| format!("{n},")).collect();
        let asked = Dialect::Sqlite.indexed_search(&long).unwrap().term.unwrap();
        assert_eq!(asked.matches(" AND ").count() + 1, super::MAX_TRIGRAMS);
    }

    #[test]
    fn postgres_compares_its_stored_lowered_text_for_any_text() {
        let search = Dialect::Postgres.indexed_search("ab").unwrap();
        assert!(search.matches.contains("s.text LIKE {pattern}"));
        assert_eq!(search.term, None);
    }
}
