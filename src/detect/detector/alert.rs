//! What the detector builds for the store: a match with Panther's `p_rule_*` fields, and the
//! alert of a window that reached its threshold (with a Python rule's overrides applied).

use super::Detector;
use crate::clock::rfc3339;
use crate::detect::alerting::{self, AlertType, RuleInfo};
use crate::detect::python::AlertFields;
use crate::detect::rule::AnalysisType;
use crate::detect::Rule;
use crate::run::Millis;
use crate::store::{AlertOverrides, FirstMatch, NewAlert, NewMatch, Window, WindowPolicy};
use serde_json::Value;

impl Detector {
    /// A match of `rule` on `event` with the alert fields computed for it (its dedup string
    /// `fields.dedup`), with Panther's `p_rule_*` fields.
    pub(super) fn new_match(
        &self,
        rule: &Rule,
        log_type: &str,
        event: &Value,
        event_time: Millis,
        fields: AlertFields,
    ) -> NewMatch {
        let AlertFields {
            title,
            dedup,
            severity,
            context,
        } = fields;
        let first = FirstMatch {
            title,
            severity: severity.as_str().to_owned(),
            context: context.clone(),
            log_type: log_type.to_owned(),
            overrides: AlertOverrides::default(),
        };
        let mut event = event.clone();
        if let Value::Object(fields) = &mut event {
            fields.insert("p_rule_id".into(), rule.id.clone().into());
            fields.insert("p_rule_severity".into(), rule.severity.as_str().into());
            fields.insert("p_alert_severity".into(), severity.as_str().into());
            fields.insert("p_rule_tags".into(), rule.tags.clone().into());
            fields.insert("p_alert_context".into(), Value::Object(context));
        }
        NewMatch {
            rule_id: rule.id.clone(),
            policy: WindowPolicy::new(rule.dedup_period_minutes, rule.threshold),
            dedup,
            log_type: log_type.to_owned(),
            event_time,
            first,
            event,
        }
    }

    /// Builds the alert of `window`, which `m` just brought to its threshold.
    pub(super) fn alert_for(&self, m: &NewMatch, window: &Window, now: Millis) -> NewAlert {
        let rule = self.by_id.get(&m.rule_id).map(|&i| &self.rules[i]);
        let first = &window.first_match;
        let overrides = &first.overrides;
        let severity = alerting::severity_of(&first.severity);
        let (info, mut alert_type, outputs) = match rule {
            Some(r) => (
                RuleInfo {
                    id: &r.rule.id,
                    display_name: r.rule.display_name.as_deref(),
                    description: overrides
                        .description
                        .as_deref()
                        .unwrap_or(&r.rule.description),
                    runbook: overrides.runbook.as_deref().unwrap_or(&r.rule.runbook),
                    tags: &r.rule.tags,
                    version: r.version.as_deref(),
                },
                match r.rule.analysis_type {
                    AnalysisType::Rule => AlertType::Rule,
                    AnalysisType::ScheduledRule => AlertType::ScheduledRule,
                },
                r.rule.output_ids.as_slice(),
            ),
            // Unreachable: matches come from this detector's rules.
            None => (
                RuleInfo {
                    id: &m.rule_id,
                    display_name: None,
                    description: "",
                    runbook: "",
                    tags: &[],
                    version: None,
                },
                AlertType::Rule,
                &[][..],
            ),
        };
        if overrides.alert_type.as_deref() == Some(AlertType::RuleError.as_str()) {
            alert_type = AlertType::RuleError;
        }
        let outputs = overrides.destinations.as_deref().unwrap_or(outputs);
        // The console's alert page: a person opens it from the alert in a browser (signed out,
        // sign-in brings them back to it); scripts read the same alert at `/api/alerts/{id}`.
        let link = format!("{}/alerts/{}", self.link_base, window.alert_id);
        let notification = alerting::notification(
            info,
            alert_type,
            &window.alert_id,
            first,
            &rfc3339(now),
            &link,
        );
        NewAlert {
            id: window.alert_id.clone(),
            alert_type: alert_type.as_str().to_owned(),
            severity: severity.as_str().to_owned(),
            title: notification["title"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            log_type: first.log_type.clone(),
            destinations: match &overrides.destinations {
                // `destinations()` returned nothing deliverable: the alert is only stored.
                Some(ids) if ids.is_empty() => Vec::new(),
                _ => self.routing.route(outputs, severity, &first.log_type),
            },
            notification,
        }
    }
}
