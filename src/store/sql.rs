//! Building blocks the capabilities' statements share: placeholder lists for multi-row
//! statements, binding into [`AnyArguments`], JSON and state-name columns, and the lease-claiming
//! `UPDATE` that both queues (steps, alert deliveries) use.

use super::dialect::Dialect;
use super::{Error, Result};
use serde_json::Value;
use sqlx::any::AnyArguments;
use sqlx::Arguments;

/// Rows per multi-row statement: far below both databases' bind-parameter limits.
pub(super) const ROWS_PER_STATEMENT: usize = 500;

/// The states of open steps (the run is not finished while it has any); the `steps_due`
/// partial index is built on this same list.
pub(super) const OPEN: &str = "state IN ('pending', 'running', 'waiting')";

/// `($1, $2, …), ($n, …)` for `rows` rows of `width` placeholders, numbered from `first`.
pub(crate) fn placeholders(rows: usize, width: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * width * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..width {
            if column > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + row * width + column).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …`: `count` placeholders for an `IN (…)` list.
pub(super) fn in_list(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds the next placeholder of a statement built at run time.
pub(super) fn add<'q, T>(args: &mut AnyArguments<'q>, value: T) -> Result<()>
where
    T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    args.add(value).map_err(sqlx::Error::Encode)?;
    Ok(())
}

/// A JSON column's text.
pub(super) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// A nullable JSON column, parsed.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    text: Option<String>,
) -> Result<Option<T>> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(Error::from)
}

/// Reads a stored state name.
pub(super) fn stored_state<T>(text: String, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(&text).ok_or(Error::UnknownState(text))
}

/// Leasing the due rows of a queue table (one whose `due_at` means "runnable at" while waiting
/// and "lease expiry" once claimed): a single `UPDATE` over the ids of the earliest due rows, so
/// it is atomic without an explicit transaction, and on Postgres concurrent claimers skip each
/// other's rows.
pub(super) struct Claim<'a> {
    /// The table.
    pub table: &'a str,
    /// The `SET` list: how a claimed row changes (its `due_at` becomes the lease expiry).
    pub set: &'a str,
    /// The condition of a due row.
    pub due: &'a str,
    /// The placeholder bound to the most rows to claim.
    pub limit: &'a str,
    /// The claimed rows' columns to return.
    pub returning: &'a str,
}

impl Claim<'_> {
    /// The statement for `dialect`.
    pub(super) fn sql(&self, dialect: Dialect) -> String {
        let Claim {
            table,
            set,
            due,
            limit,
            returning,
        } = self;
        let skip_locked = dialect.skip_locked();
        format!(
            "UPDATE {table} SET {set}
             WHERE id IN (SELECT id FROM {table} WHERE {due}
                          ORDER BY due_at LIMIT {limit} {skip_locked})
             RETURNING {returning}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{in_list, placeholders, Claim};
    use crate::store::Dialect;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(placeholders(2, 3, 2), "($2, $3, $4), ($5, $6, $7)");
        assert_eq!(in_list(3, 2), "$3, $4");
    }

    #[test]
    fn only_postgres_claimers_skip_locked_rows() {
        let claim = Claim {
            table: "t",
            set: "due_at = $1",
            due: "due_at <= $2",
            limit: "$3",
            returning: "id",
        };
        assert!(claim
            .sql(Dialect::Postgres)
            .contains("LIMIT $3 FOR UPDATE SKIP LOCKED)"));
        assert!(!claim.sql(Dialect::Sqlite).contains("FOR UPDATE"));
    }
}
