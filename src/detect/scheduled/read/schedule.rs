//! `Schedule`: a crontab or a rate, each with `TimeoutMinutes`.

use super::keyed;
use crate::detect::rule::{entry, missing, read_at_least, Compiler};
use crate::detect::scheduled::{Cron, Schedule};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::yaml::{Node, NodeKind};

const SCHEDULE_KEYS: &[&str] = &["CronExpression", "RateMinutes", "TimeoutMinutes"];

/// `Schedule: {CronExpression, TimeoutMinutes}` or `{RateMinutes, TimeoutMinutes}`.
pub(super) fn schedule(c: &mut Compiler, node: &Node) -> Option<Schedule> {
    let mut ok = true;
    let entries = keyed(c, "Schedule", node, SCHEDULE_KEYS, &mut ok)?;
    let cron_entry = entry(entries, "CronExpression");
    let rate_entry = entry(entries, "RateMinutes");
    let cron = cron_entry.and_then(|(_, n)| cron_expression(c, n));
    let rate = rate_entry
        .and_then(|(k, n)| read_at_least(c, k, n, 2, "Panther requires `RateMinutes` above 1"));
    let timeout = match entry(entries, "TimeoutMinutes") {
        Some((key, value)) => read_at_least(c, key, value, 1, "a run needs at least one minute"),
        None => {
            c.push(missing(
                node,
                "TimeoutMinutes",
                "add `TimeoutMinutes: 1` (Panther allows up to 10)",
            ));
            None
        }
    };
    match (cron_entry, rate_entry) {
        (Some(_), Some((key, _))) => {
            c.push(
                Diagnostic::new(
                    Code::KindConflict,
                    key.span,
                    "a Schedule has both `CronExpression` and `RateMinutes`",
                )
                .with_hint("keep one: a crontab in UTC, or a period in minutes"),
            );
            return None;
        }
        (None, None) => {
            c.push(
                Diagnostic::new(
                    Code::MissingKey,
                    node.span,
                    "a Schedule needs `CronExpression` or `RateMinutes`",
                )
                .with_hint("add `RateMinutes: 60`, or `CronExpression: \"0 * * * *\"` (minute hour day-of-month month day-of-week, UTC)"),
            );
            return None;
        }
        _ => {}
    }
    let timeout_minutes = timeout?;
    if let (Some(minutes), Some((key, value))) = (rate, entry(entries, "TimeoutMinutes")) {
        if timeout_minutes > minutes {
            c.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    value.span,
                    format!(
                        "`{}` ({timeout_minutes}) is longer than `RateMinutes` ({minutes})",
                        key.name
                    ),
                )
                .with_hint(
                    "a run may not outlast its period: RateMinutes must be at least TimeoutMinutes",
                ),
            );
            return None;
        }
    }
    if !ok {
        return None;
    }
    match (cron, rate) {
        (Some(cron), _) => Some(Schedule::Cron {
            cron,
            timeout_minutes,
        }),
        (_, Some(minutes)) => Some(Schedule::Rate {
            minutes,
            timeout_minutes,
        }),
        _ => None,
    }
}

fn cron_expression(c: &mut Compiler, node: &Node) -> Option<Cron> {
    let text = c.string(node, "`CronExpression`")?;
    match Cron::parse(&text) {
        Ok(cron) => Some(cron),
        Err(error) => {
            // A quoted scalar's text starts one column after its quote; columns are a best
            // effort for block scalars, which no one writes for five fields.
            let quote = u32::from(matches!(node.kind, NodeKind::Str(_)));
            let offset = u32::try_from(error.offset).unwrap_or(0);
            let span = Span::new(node.span.line, node.span.column + quote + offset);
            c.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    span,
                    format!("invalid CronExpression `{text}`: {}", error.message),
                )
                .with_hint_opt(error.hint),
            );
            None
        }
    }
}
