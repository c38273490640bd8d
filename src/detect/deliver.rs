//! Delivering alerts: each queued delivery goes to its destination exactly once.
//!
//! - A story webhook gets a run created in-process, with the body Panther would have posted;
//!   the run's dedupe key (the webhook's own, else the alert id, in the `alert:` namespace that
//!   HTTP requests cannot reach) makes a repeated attempt after a crash find the first run
//!   instead of starting a second.
//! - A URL gets Panther's `POST` (JSON, `Accept: application/json`, configured headers). Like
//!   Panther, anything but a 2xx is retried after a random 30–300 s, up to 10 attempts.
//!
//! Deliveries are leased (their due time moves forward while one is in flight), so a process
//! dying mid-delivery leaves it to be retried, and several processes can share the queue.

use super::detector::Detector;
use super::routing::{HeaderValue, Target};
use crate::engine::entry::{webhook_run, Source};
use crate::engine::Engine;
use crate::escape::Escaped;
use crate::run::Millis;
use crate::store::{DeliveryOutcome, Detections, DueDelivery, Runs};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Retry policy for deliveries.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Attempts before a delivery is given up (Panther: 10).
    pub max_attempts: i64,
    /// The shortest wait before a retry (Panther: 30 s).
    pub min_delay: Duration,
    /// The longest wait before a retry (Panther: 300 s).
    pub max_delay: Duration,
    /// How long one attempt holds its lease.
    pub lease: Duration,
    /// How long a URL may take to answer.
    pub timeout: Duration,
    /// How often the queue is checked when nothing woke the worker (other processes add work).
    pub poll: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> DeliveryPolicy {
        DeliveryPolicy {
            max_attempts: 10,
            min_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(300),
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(15),
            poll: Duration::from_secs(2),
        }
    }
}

/// How often a delivery to a story that is not ready is looked at again. Readiness is decided at
/// start, so this only matters to a process started since with the missing settings; the wait
/// spends none of the delivery's attempts.
const NOT_READY_RECHECK: Duration = Duration::from_secs(60);

/// Longest response body kept with a failed attempt (Panther stores it as delivery status).
const KEPT_RESPONSE_CHARS: usize = 500;

/// Delivers queued alerts.
#[derive(Debug, Clone)]
pub struct Deliverer {
    engine: Arc<Engine>,
    detector: Arc<Detector>,
    policy: DeliveryPolicy,
}

impl Deliverer {
    /// A deliverer for `detector`'s queue, creating runs through `engine`.
    pub fn new(engine: Arc<Engine>, detector: Arc<Detector>, policy: DeliveryPolicy) -> Deliverer {
        Deliverer {
            engine,
            detector,
            policy,
        }
    }

    /// Attempts every delivery due now; returns how many were attempted.
    pub async fn deliver_due(&self) -> crate::store::Result<usize> {
        let store = self.detector.store();
        let mut attempted = 0;
        loop {
            let now = self.engine.clock.now();
            let lease_until = now.saturating_add(millis(self.policy.lease));
            let due = store.claim_deliveries(now, lease_until, 32).await?;
            if due.is_empty() {
                return Ok(attempted);
            }
            for delivery in due {
                let outcome = self.attempt(&delivery).await;
                let now = self.engine.clock.now();
                match &outcome {
                    DeliveryOutcome::Delivered { run_id } => tracing::info!(
                        alert_id = %delivery.delivery.alert_id,
                        destination = %delivery.delivery.destination,
                        run_id = run_id.as_deref().unwrap_or(""),
                        "Alert delivered."
                    ),
                    DeliveryOutcome::Deferred { reason, .. } => tracing::debug!(
                        alert_id = %delivery.delivery.alert_id,
                        destination = %delivery.delivery.destination,
                        reason = %Escaped(reason),
                        "Alert delivery deferred: the story is not ready."
                    ),
                    DeliveryOutcome::Retry { error, .. } | DeliveryOutcome::Failed { error } => {
                        tracing::warn!(
                            alert_id = %delivery.delivery.alert_id,
                            destination = %delivery.delivery.destination,
                            attempt = delivery.delivery.attempts,
                            error = %Escaped(error),
                            "Alert delivery failed."
                        )
                    }
                }
                store
                    .finish_delivery(delivery.delivery.id, &outcome, now)
                    .await?;
                attempted += 1;
            }
        }
    }

    /// Delivers until `shutdown` turns true: woken when this process queues deliveries, and
    /// every `poll` for those other processes queued or whose retry came due.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let queued = self.detector.deliveries_queued.clone();
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(error) = self.deliver_due().await {
                tracing::error!(error = %Escaped(&error), "Could not deliver alerts; retrying shortly.");
            }
            tokio::select! {
                _ = queued.notified() => {}
                _ = tokio::time::sleep(self.policy.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn attempt(&self, due: &DueDelivery) -> DeliveryOutcome {
        let d = &due.delivery;
        let result = match self.detector.routing().get(&d.destination) {
            None => {
                return DeliveryOutcome::Failed {
                    error: format!("destination `{}` is no longer configured", d.destination),
                }
            }
            Some(destination) => match &destination.target {
                Target::StoryWebhook(path) => {
                    if let Some(missing) = self.not_ready(path) {
                        return DeliveryOutcome::Deferred {
                            due_at: self
                                .engine
                                .clock
                                .now()
                                .saturating_add(millis(NOT_READY_RECHECK)),
                            reason: missing.to_owned(),
                        };
                    }
                    self.to_story(path, due).await
                }
                Target::Url { url, headers } => self.to_url(url, headers, due).await,
            },
        };
        // A destination may echo the request, credential header included, in its error answer.
        let result = result.map_err(|mut error| {
            self.engine.secrets.scrub_text(&mut error);
            error
        });
        match result {
            Ok(run_id) => DeliveryOutcome::Delivered { run_id },
            Err(error) if d.attempts >= self.policy.max_attempts => DeliveryOutcome::Failed {
                error: format!("{error} (gave up after {} attempts)", d.attempts),
            },
            Err(error) => DeliveryOutcome::Retry {
                due_at: self.engine.clock.now().saturating_add(self.retry_delay()),
                error,
            },
        }
    }

    /// What the story at the webhook `path` still needs, when it is not ready to run.
    fn not_ready(&self, path: &str) -> Option<&str> {
        let (story, _) = self.engine.stories.webhook(path)?;
        self.engine.not_ready(&story.id)
    }

    async fn to_story(&self, path: &str, due: &DueDelivery) -> Result<Option<String>, String> {
        let (story, index) = self
            .engine
            .stories
            .webhook(path)
            .ok_or_else(|| format!("no story has a webhook at `{path}`"))?;
        let payload = json!({
            "body": due.notification,
            "headers": {"content-type": "application/json", "user-agent": "warden-detection"},
            "query": {},
            "method": "POST",
        });
        let now = self.engine.clock.now();
        let source = Source::Alert {
            alert_id: &due.delivery.alert_id,
        };
        let run = webhook_run(&story, index, payload, source, &self.engine.secrets, now);
        let created = self
            .engine
            .store
            .create_runs(std::slice::from_ref(&run), now)
            .await
            .map_err(|e| format!("could not create the run: {e}"))?
            .pop()
            .ok_or("the store created no run")?;
        self.engine.wake.notify_one();
        Ok(Some(created.run_id().to_owned()))
    }

    async fn to_url(
        &self,
        url: &str,
        headers: &[(String, HeaderValue)],
        due: &DueDelivery,
    ) -> Result<Option<String>, String> {
        let mut request = self
            .engine
            .http
            .for_redirects(false)
            .post(url)
            .timeout(self.policy.timeout)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(due.notification.to_string());
        for (name, value) in headers {
            let value = match value {
                HeaderValue::Literal(text) => text.as_str(),
                HeaderValue::Credential { credential } => self
                    .engine
                    .secrets
                    .credential(credential)
                    .ok_or_else(|| format!("credential `{credential}` is not configured"))?
                    .expose(),
            };
            request = request.header(name.as_str(), value);
        }
        let response = self.engine.http.send(request).await.map_err(|e| match e {
            crate::http_client::Error::Refused(refused) => format!("request refused: {refused}"),
            crate::http_client::Error::Request(e) => format!("request failed: {}", e.without_url()),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(None);
        }
        let body = response.text().await.unwrap_or_default();
        let kept: String = body.chars().take(KEPT_RESPONSE_CHARS).collect();
        Err(format!("HTTP {status}: {kept}"))
    }

    fn retry_delay(&self) -> Millis {
        let min = millis(self.policy.min_delay);
        let max = millis(self.policy.max_delay).max(min);
        fastrand::i64(min..=max)
    }
}

fn millis(duration: Duration) -> Millis {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
