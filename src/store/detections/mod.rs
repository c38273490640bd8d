//! [`Detections`]: what the detection stage stores. Dedup windows, rule matches and alerts
//! (`matches.rs`, `alerts.rs`), the delivery outbox (`deliveries.rs`), and source checkpoints and
//! scheduled-query runs (`checkpoints.rs`); the records are in `records.rs`.
//!
//! Recording matches is one transaction under one lock (SQLite's write lock; a transaction-scoped
//! advisory lock on Postgres), because a window's next state depends on its current one and two
//! processes ingesting at once must not both open it. Batches are large, so the lock is taken a
//! few times per second, not per event.

mod alerts;
mod checkpoints;
mod deliveries;
mod matches;
mod records;

pub use records::{
    AlertFilter, AlertOverrides, AlertRecord, DeliveryOutcome, DeliveryRecord, DueDelivery,
    FirstMatch, Merged, NewAlert, NewMatch, RecordedMatches, Window, WindowPolicy,
};

use super::connection::SqlStore;
use super::Result;
use crate::run::Millis;
use serde_json::Value;
use std::future::Future;

/// Merges a match into its `(rule, dedup)` window (`None`: the first match of that pair), opening
/// a new window when needed, at `now`. This is Panther's semantics (`detect::alerting::merge`),
/// passed in so the store persists windows without depending on the detector. It may move the
/// match's `first` fields into a window it opens.
pub type MergeMatch<'a> =
    dyn Fn(&mut Option<Window>, &mut NewMatch, Millis) -> Merged + Send + Sync + 'a;

/// Builds the alert of `window`, which the match just brought to its threshold.
pub type BuildAlert<'a> = dyn Fn(&NewMatch, &Window) -> NewAlert + Send + Sync + 'a;

/// The detection stage's records: dedup windows, matches, alerts and their deliveries, source
/// checkpoints and scheduled-query runs.
pub trait Detections {
    /// Records `matches` in one transaction: merges each into its window (`merge`), stores it
    /// with its `p_alert_id`, creates the alert of every window that reaches its threshold
    /// (`alert_for` builds it from the match and the window) with one pending delivery per
    /// destination, and stores `checkpoint` (source, position) with them.
    fn record_matches(
        &self,
        matches: Vec<NewMatch>,
        checkpoint: Option<(&str, &str)>,
        now: Millis,
        merge: &MergeMatch<'_>,
        alert_for: &BuildAlert<'_>,
    ) -> impl Future<Output = Result<RecordedMatches>> + Send;
    /// A source's stored position.
    fn checkpoint(&self, source: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Alerts, newest first.
    fn list_alerts(
        &self,
        filter: &AlertFilter,
    ) -> impl Future<Output = Result<Vec<AlertRecord>>> + Send;
    /// One alert and its deliveries.
    fn alert(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<(AlertRecord, Vec<DeliveryRecord>)>>> + Send;
    /// Stored matches of `rule_ids` with an event time at or after `since`, oldest first.
    fn matches_since(
        &self,
        rule_ids: &[String],
        since: Millis,
    ) -> impl Future<Output = Result<Vec<Value>>> + Send;
    /// Leases up to `limit` due deliveries until `lease_until`.
    fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<DueDelivery>>> + Send;
    /// Records how an attempt ended.
    fn finish_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;
    /// When a scheduled query last ran (its scheduled time).
    fn query_last_run(&self, name: &str) -> impl Future<Output = Result<Option<Millis>>> + Send;
    /// Records a scheduled query's run, unless another process recorded a later one first;
    /// returns whether this call recorded it (and so owns the run).
    fn claim_query_run(
        &self,
        name: &str,
        previous: Option<Millis>,
        scheduled_at: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;
}

// Each method's statements live in the file for its tables.
impl Detections for SqlStore {
    async fn record_matches(
        &self,
        matches: Vec<NewMatch>,
        checkpoint: Option<(&str, &str)>,
        now: Millis,
        merge: &MergeMatch<'_>,
        alert_for: &BuildAlert<'_>,
    ) -> Result<RecordedMatches> {
        matches::record(self, matches, checkpoint, now, merge, alert_for).await
    }

    async fn checkpoint(&self, source: &str) -> Result<Option<String>> {
        checkpoints::checkpoint(self, source).await
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
        alerts::list(self, filter).await
    }

    async fn alert(&self, id: &str) -> Result<Option<(AlertRecord, Vec<DeliveryRecord>)>> {
        alerts::one(self, id).await
    }

    async fn matches_since(&self, rule_ids: &[String], since: Millis) -> Result<Vec<Value>> {
        matches::since(self, rule_ids, since).await
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        deliveries::claim(self, now, lease_until, limit).await
    }

    async fn finish_delivery(&self, id: i64, outcome: &DeliveryOutcome, now: Millis) -> Result<()> {
        deliveries::finish(self, id, outcome, now).await
    }

    async fn query_last_run(&self, name: &str) -> Result<Option<Millis>> {
        checkpoints::query_last_run(self, name).await
    }

    async fn claim_query_run(
        &self,
        name: &str,
        previous: Option<Millis>,
        scheduled_at: Millis,
    ) -> Result<bool> {
        checkpoints::claim_query_run(self, name, previous, scheduled_at).await
    }
}
