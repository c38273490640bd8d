//! The detection stage's records, including the dedup window the store persists per
//! `(rule, dedup string)`. How a match changes a window is Panther's semantics and lives in
//! `detect::alerting`; the store only keeps windows and is handed the merge.

use crate::run::{DeliveryState, Millis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A rule match to record: the event (normalised, with its `p_rule_*` fields) and what its
/// window needs. The store fills in `p_alert_id`.
#[derive(Debug, Clone)]
pub struct NewMatch {
    /// `p_rule_id`.
    pub rule_id: String,
    /// The rule's dedup period and threshold.
    pub policy: WindowPolicy,
    /// The dedup string.
    pub dedup: String,
    /// `p_log_type`.
    pub log_type: String,
    /// `p_event_time`, anchoring windows.
    pub event_time: Millis,
    /// The generated fields, kept if this match opens a window.
    pub first: FirstMatch,
    /// The normalised event.
    pub event: Value,
}

/// An alert to create: built by the caller when a window reaches its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// The alert id (Panther's `alertId`).
    pub id: String,
    /// `RULE` or `SCHEDULED_RULE`.
    pub alert_type: String,
    /// The severity.
    pub severity: String,
    /// The title, as sent.
    pub title: String,
    /// The log type of the window's first match.
    pub log_type: String,
    /// Panther's webhook body, as delivered.
    pub notification: Value,
    /// Destination ids to deliver to, each exactly once.
    pub destinations: Vec<String>,
}

/// What recording a batch of matches did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedMatches {
    /// Matches stored.
    pub matches: usize,
    /// Alerts created, in order.
    pub alerts: Vec<String>,
    /// Deliveries queued.
    pub deliveries: usize,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    /// The alert id.
    pub id: String,
    /// `RuleID`.
    pub rule_id: String,
    /// `RULE` or `SCHEDULED_RULE`.
    pub alert_type: String,
    /// The severity.
    pub severity: String,
    /// The title.
    pub title: String,
    /// The dedup string.
    pub dedup: String,
    /// Matches merged into the alert's window so far.
    pub event_count: i64,
    /// Panther's webhook body.
    pub notification: Value,
    /// Creation (milliseconds).
    pub created_at: Millis,
    /// Last merge (milliseconds).
    pub updated_at: Millis,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this rule.
    pub rule_id: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only alerts created before this time (paging).
    pub before: Option<Millis>,
    /// At most this many (capped at 500).
    pub limit: u32,
}

/// One delivery of an alert to one destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// Row id.
    pub id: i64,
    /// The alert.
    pub alert_id: String,
    /// The destination id.
    pub destination: String,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// When it is next due (pending) or was last tried.
    pub due_at: Millis,
    /// The run a story destination started.
    pub run_id: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A delivery leased to this process, with the body to send.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: DeliveryRecord,
    /// Panther's webhook body.
    pub notification: Value,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// Accepted (2xx, or a run created).
    Delivered {
        /// The run a story destination started.
        run_id: Option<String>,
    },
    /// Try again at `due_at`.
    Retry {
        /// When.
        due_at: Millis,
        /// Why this attempt failed.
        error: String,
    },
    /// Given up.
    Failed {
        /// Why.
        error: String,
    },
    /// Not attempted (the destination cannot take it yet, e.g. its story is not ready): try
    /// again at `due_at`, the claim's attempt given back so waiting spends none.
    Deferred {
        /// When.
        due_at: Millis,
        /// Why.
        reason: String,
    },
}

/// What a window keeps from its first match: Panther stores the generated fields of the first
/// group and never overwrites them within the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FirstMatch {
    /// `title()` of the first match (without Panther's `New Alert: ` prefix).
    pub title: String,
    /// `severity()` of the first match.
    pub severity: String,
    /// `alert_context()` of the first match.
    pub context: Map<String, Value>,
    /// The log type of the first match.
    pub log_type: String,
    /// What a Python rule's functions returned in place of the rule's metadata (and the alert
    /// type of a rule error); empty for Simple Detections.
    #[serde(default, skip_serializing_if = "AlertOverrides::is_empty")]
    pub overrides: AlertOverrides,
}

/// Per-alert replacements of a rule's metadata, kept with the window's first match so an alert
/// raised later (at its threshold) still carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertOverrides {
    /// The alert type when not the rule's (`RULE_ERROR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    /// `description()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `reference()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `runbook()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// `destinations()`: destination ids replacing `OutputIds` (empty: deliver nowhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<String>>,
}

impl AlertOverrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == AlertOverrides::default()
    }
}

/// The dedup state of one `(rule, dedup string)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Windows opened so far for this dedup string (Panther's `alertCount`).
    pub alert_count: i64,
    /// The current window's alert id.
    pub alert_id: String,
    /// Matches in the current window.
    pub event_count: i64,
    /// The first match's event time: the window covers `[started_at, started_at + period)`.
    pub started_at: Millis,
    /// The last merge (processing time).
    pub updated_at: Millis,
    /// Whether the current window's alert exists (the threshold was reached).
    pub alerted: bool,
    /// The current window's generated fields.
    pub first_match: FirstMatch,
}

/// A rule's window settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPolicy {
    /// `DedupPeriodMinutes`, in milliseconds.
    pub period: Millis,
    /// `Threshold` (at least 1).
    pub threshold: i64,
}

impl WindowPolicy {
    /// From a rule's `DedupPeriodMinutes` and `Threshold`.
    pub fn new(dedup_period_minutes: u32, threshold: u32) -> WindowPolicy {
        WindowPolicy {
            period: i64::from(dedup_period_minutes) * 60_000,
            threshold: i64::from(threshold.max(1)),
        }
    }
}

/// What merging one match into its window did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The match's `p_alert_id`: its window's alert id.
    pub alert_id: String,
    /// This match reached the threshold: the window's alert is created now.
    pub creates_alert: bool,
}
