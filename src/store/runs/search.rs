//! Payload search: the runs of a [`RunFilter`](super::RunFilter) whose entry event's JSON text
//! contains a text, in any ASCII case, wildcards literal, newest first.
//!
//! Two steps, each exact for the runs it covers. The newest [`SEARCH_WINDOW`] runs that pass the other
//! filters are scanned, each entry event compared until the page is full: a common text (`okta`)
//! fills the page here, at the cost of a few hundred comparisons. The older runs, when the page
//! is not full yet, come from the search index (migration 0010): the indexed entry events that
//! contain the text, plus the ones still queued for the indexer (`search_pending`), compared as
//! a scan would. The indexer fills the index after the webhook's acknowledgement, so a run
//! created a moment ago is found through the queue, and a search never waits for the indexer.

use super::super::connection::SqlStore;
use super::super::dialect::{Dialect, IndexedSearch};
use super::super::sql::add;
use super::super::Result;
use sqlx::any::AnyArguments;
use sqlx::Row;

/// How many of the newest runs a search compares one by one before it asks the index.
pub const SEARCH_WINDOW: i64 = 1000;

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// A `WHERE` clause built at run time: conditions with their placeholders numbered in the order
/// their values were bound, so one set of filters can be reused by several statements.
#[derive(Debug, Clone, Default)]
pub(super) struct Conditions {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    /// Adds a condition; each `{}` in it becomes the placeholder of the next value in `values`.
    pub(super) fn push(&mut self, clause: &str, values: Vec<Bind>) {
        let clause = self.bind(clause, values);
        self.clauses.push(clause);
    }

    /// Binds `values` for a clause used outside the `WHERE` (an outer query's), returning it with
    /// each `{}` replaced by the next value's placeholder.
    pub(super) fn bind(&mut self, clause: &str, values: Vec<Bind>) -> String {
        let mut clause = clause.to_owned();
        for value in values {
            self.binds.push(value);
            clause = clause.replacen("{}", &format!("${}", self.binds.len()), 1);
        }
        clause
    }

    /// Binds one more value for a placeholder outside the conditions (a `LIMIT`); returns it.
    pub(super) fn placeholder(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// `WHERE …`, or nothing without conditions.
    pub(super) fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The bound values.
    pub(super) fn args(&self) -> Result<AnyArguments<'static>> {
        let mut args = AnyArguments::default();
        for bind in &self.binds {
            match bind {
                Bind::Text(text) => add(&mut args, text.clone())?,
                Bind::Int(n) => add(&mut args, *n)?,
            }
        }
        Ok(args)
    }
}

/// `%text%` for `LIKE`, lowercased, with `\\`, `%` and `_` escaped so they match themselves.
pub(super) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Each run's entry event compared, as a condition on the run whose id is `run_id`.
fn scanned(dialect: Dialect, run_id: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM events e WHERE e.run_id = {run_id} AND e.parent_id IS NULL
                 AND {} LIKE {{}} ESCAPE '\\')",
        dialect.folded_payload()
    )
}

/// The runs whose entry event the index or the indexer's queue says contains the text, as a
/// condition on `runs`, with its values.
fn indexed(dialect: Dialect, index: IndexedSearch, pattern: &str) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut matches = index.matches.to_owned();
    // Placeholders are numbered in the order they appear, so fill them in that order.
    while let Some(at) = [matches.find("{term}"), matches.find("{pattern}")]
        .into_iter()
        .flatten()
        .min()
    {
        let (name, value) = if matches[at..].starts_with("{term}") {
            ("{term}", index.term.clone().unwrap_or_default())
        } else {
            ("{pattern}", pattern.to_owned())
        };
        matches.replace_range(at..at + name.len(), "{}");
        binds.push(Bind::Text(value));
    }
    binds.push(Bind::Text(pattern.to_owned()));
    // The queue is read first and each of its events looked up, however many events the
    // database's statistics say the queue holds (right after the indexer drained a backlog,
    // they may still say thousands): a join could scan every event instead.
    let candidates = format!(
        "{matches}
         UNION ALL
         SELECT run_id FROM
           (SELECT (SELECT e.run_id FROM events e WHERE e.id = q.event_id
                    AND {} LIKE {{}} ESCAPE '\\') AS run_id
            FROM search_pending q) queued
         WHERE run_id IS NOT NULL",
        dialect.folded_payload()
    );
    let condition = dialect.one_of("id", &candidates);
    (condition, binds)
}

impl SqlStore {
    /// The ids of the page of runs that pass `conditions` and whose entry event contains `text`
    /// (not empty), newest first, at most `limit`.
    pub(super) async fn search_run_ids(
        &self,
        conditions: &Conditions,
        text: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        let dialect = self.inner.dialect;
        let pattern = like_pattern(text);
        // The window: the newest runs that pass the filters, each entry event compared. A
        // constant `LIMIT` inside, so Postgres plans one lookup per run whatever it guesses.
        let mut ids: Vec<String> = {
            let mut c = conditions.clone();
            let found = c.bind(&scanned(dialect, "w.id"), vec![Bind::Text(pattern.clone())]);
            let page = c.placeholder(Bind::Int(limit));
            sqlx::query_with(
                &format!(
                    "SELECT id FROM
                       (SELECT id FROM runs {} ORDER BY id DESC LIMIT {SEARCH_WINDOW}) w
                     WHERE {found} ORDER BY id DESC LIMIT {page}",
                    c.where_clause()
                ),
                c.args()?,
            )
            .fetch_all(&self.inner.reader)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?
        };
        if ids.len() as i64 >= limit {
            return Ok(ids);
        }
        // The window's oldest run; none when every run that passes the filters was in it.
        let floor: Option<String> = {
            let mut c = conditions.clone();
            let offset = c.placeholder(Bind::Int(SEARCH_WINDOW - 1));
            sqlx::query_with(
                &format!(
                    "SELECT id FROM runs {} ORDER BY id DESC LIMIT 1 OFFSET {offset}",
                    c.where_clause()
                ),
                c.args()?,
            )
            .fetch_optional(&self.inner.reader)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
        };
        let Some(floor) = floor else {
            return Ok(ids);
        };
        let mut older = conditions.clone();
        older.push("id < {}", vec![Bind::Text(floor)]);
        match dialect.indexed_search(text) {
            Some(index) => {
                let (condition, binds) = indexed(dialect, index, &pattern);
                older.push(&condition, binds);
            }
            None => older.push(&scanned(dialect, "runs.id"), vec![Bind::Text(pattern)]),
        }
        ids.extend(self.page_ids(older, limit - ids.len() as i64).await?);
        Ok(ids)
    }

    /// The ids of the newest `limit` runs that pass `conditions`, newest first.
    async fn page_ids(&self, mut conditions: Conditions, limit: i64) -> Result<Vec<String>> {
        let limit = conditions.placeholder(Bind::Int(limit));
        sqlx::query_with(
            &format!(
                "SELECT id FROM runs {} ORDER BY id DESC LIMIT {limit}",
                conditions.where_clause()
            ),
            conditions.args()?,
        )
        .fetch_all(&self.inner.reader)
        .await?
        .iter()
        .map(|row| Ok(row.try_get(0)?))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_the_text_are_escaped_and_it_is_lowered() {
        assert_eq!(like_pattern(r"100%_Sure\"), r"%100\%\_sure\\%");
    }

    #[test]
    fn conditions_number_their_placeholders_in_the_order_values_are_bound() {
        let mut c = Conditions::default();
        c.push("story_id = {}", vec![Bind::Text("a".into())]);
        c.push("a = {} AND b = {}", vec![Bind::Int(1), Bind::Int(2)]);
        let limit = c.placeholder(Bind::Int(5));
        assert_eq!(
            c.where_clause(),
            "WHERE story_id = $1 AND a = $2 AND b = $3"
        );
        assert_eq!(limit, "$4");
    }

    #[test]
    fn the_index_and_the_queue_are_asked_with_placeholders_in_order() {
        let index = Dialect::Sqlite.indexed_search("abc").unwrap();
        let (condition, binds) = indexed(Dialect::Sqlite, index, "%abc%");
        let mut c = Conditions::default();
        c.push("id < {}", vec![Bind::Text("r9".into())]);
        c.push(&condition, binds);
        let sql = c.where_clause();
        let term = sql.find("MATCH $2").unwrap();
        let like = sql.find("LIKE $3").unwrap();
        let queued = sql.find("LIKE $4").unwrap();
        assert!(term < like && like < queued, "{sql}");
        let index = Dialect::Postgres.indexed_search("abc").unwrap();
        let (condition, binds) = indexed(Dialect::Postgres, index, "%abc%");
        assert_eq!(binds.len(), 2);
        assert!(condition.contains("s.text LIKE {}"));
    }
}
