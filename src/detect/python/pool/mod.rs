//! The worker pool: several `python3` processes, each with every Python rule, helper and data
//! model loaded, so rules use several cores and a rule cannot crash or corrupt the engine. A
//! worker that does not answer in time (a rule stuck where Python's own alarm cannot reach it)
//! or that dies is killed and replaced; the calls it carried become rule errors.

mod worker;

use super::protocol::{
    self, Answer, EvalAnswer, Library, LoadAnswer, Outcome, PyError, TestAnswer,
};
use serde::Serialize;
use serde_json::Value;
use std::sync::{Condvar, Mutex};
use std::time::Duration;
use worker::Worker;

/// The program every worker runs (`python3 -I -B -c <harness>`): the event, then the worker.
pub const HARNESS: &str = concat!(include_str!("../event.py"), include_str!("../harness.py"));

/// Events per `eval` message: large enough that round trips are cheap, small enough that a
/// killed worker loses little work and that a message (about half a MiB of Okta events) fits
/// the worker's 1 MiB pipe and crosses in one write (512 did not: 1 worker, 37k → 42k events/s).
pub(crate) const EVENTS_PER_MESSAGE: usize = 256;

/// How Python runs: interpreter, workers, per-call deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The interpreter (`WARDEN_PYTHON`, default `python3`).
    pub interpreter: String,
    /// Worker processes at most (`WARDEN_PYTHON_WORKERS`, default: the machine's cores).
    pub workers: usize,
    /// The deadline of one rule on one event, its alert functions included
    /// (`WARDEN_PYTHON_TIMEOUT_MS`, default 1,000).
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            interpreter: "python3".to_owned(),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            timeout: Duration::from_millis(1_000),
        }
    }
}

impl Config {
    /// The defaults, overridden by `WARDEN_PYTHON`, `WARDEN_PYTHON_WORKERS` and
    /// `WARDEN_PYTHON_TIMEOUT_MS` (an unreadable number keeps the default, with a warning).
    pub fn from_env() -> Config {
        let mut config = Config::default();
        if let Some(python) = std::env::var("WARDEN_PYTHON")
            .ok()
            .filter(|v| !v.is_empty())
        {
            config.interpreter = python;
        }
        if let Some(n) = number("WARDEN_PYTHON_WORKERS") {
            config.workers = usize::try_from(n).unwrap_or(1).max(1);
        }
        if let Some(ms) = number("WARDEN_PYTHON_TIMEOUT_MS") {
            config.timeout = Duration::from_millis(ms.max(1));
        }
        config
    }
}

fn number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            tracing::warn!(setting = name, value = %text, "Not a number; the default is used.");
            None
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "op", rename = "load")]
struct LoadRequest<'a> {
    timeout_ms: u128,
    #[serde(flatten)]
    library: &'a Library,
}

struct Slots {
    idle: Vec<Worker>,
    live: usize,
}

/// Worker processes, started on first use, at most [`Config::workers`] at once.
pub struct Pool {
    config: Config,
    load: Vec<u8>,
    load_deadline: Duration,
    slots: Mutex<Slots>,
    freed: Condvar,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .finish()
    }
}

impl Pool {
    /// A pool that loads `library` into each worker it starts.
    pub fn new(config: Config, library: &Library) -> Pool {
        let request = LoadRequest {
            timeout_ms: config.timeout.as_millis(),
            library,
        };
        let items = library.rules.len() + library.helpers.len() + library.models.len();
        Pool {
            load: serde_json::to_vec(&request).expect("a library serialises"),
            // Module bodies get ten call deadlines each in the harness; this only catches a hang.
            load_deadline: config.timeout * 10 * (items as u32 + 1) + Duration::from_secs(10),
            config,
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The peak resident memory of the idle workers together, in KiB (Linux; 0 elsewhere).
    pub fn workers_peak_rss_kb(&self) -> u64 {
        self.idle_ids()
            .filter_map(|id| crate::procfs::peak_rss_kb(Some(id)))
            .sum()
    }

    /// The CPU time the idle workers have used together, in seconds (Linux; 0 elsewhere).
    pub fn workers_cpu_seconds(&self) -> f64 {
        self.idle_ids()
            .filter_map(|id| crate::procfs::cpu_seconds(Some(id)))
            .sum()
    }

    fn idle_ids(&self) -> impl Iterator<Item = u32> {
        let slots = self.slots.lock().expect("the pool lock is not poisoned");
        let ids: Vec<u32> = slots.idle.iter().map(Worker::id).collect();
        ids.into_iter()
    }

    /// Starts one worker with the library and returns the load errors (rule id, helper or
    /// model name, and the error); `Err` when no worker can start.
    pub fn check(&self) -> Result<Vec<(String, PyError)>, PyError> {
        let (worker, errors) = self.start()?;
        self.give(Some(worker));
        Ok(errors)
    }

    fn start(&self) -> Result<(Worker, Vec<(String, PyError)>), PyError> {
        let mut worker = Worker::spawn(&self.config)?;
        let answer: LoadAnswer = worker.call(self.load.clone(), self.load_deadline)?;
        let errors = answer.errors.into_iter().map(|e| (e.id, e.error));
        Ok((worker, errors.collect()))
    }

    fn take(&self) -> Result<Worker, PyError> {
        let mut slots = self.slots.lock().expect("the pool lock is not poisoned");
        loop {
            if let Some(worker) = slots.idle.pop() {
                return Ok(worker);
            }
            if slots.live < self.config.workers {
                slots.live += 1;
                drop(slots);
                return match self.start() {
                    Ok((worker, _)) => Ok(worker),
                    Err(e) => {
                        self.give(None);
                        Err(e)
                    }
                };
            }
            slots = self
                .freed
                .wait(slots)
                .expect("the pool lock is not poisoned");
        }
    }

    /// Returns a worker to the pool; `None` frees the slot of one that failed.
    fn give(&self, worker: Option<Worker>) {
        let mut slots = self.slots.lock().expect("the pool lock is not poisoned");
        match worker {
            Some(worker) => slots.idle.push(worker),
            None => slots.live -= 1,
        }
        self.freed.notify_one();
    }

    /// Runs one request on a worker, replacing the worker if the exchange failed.
    fn exchange<A: Answer>(&self, request: Vec<u8>, deadline: Duration) -> Result<A, PyError> {
        let mut worker = self.take()?;
        match worker.call(request, deadline) {
            Ok(answer) => {
                self.give(Some(worker));
                Ok(answer)
            }
            Err(e) => {
                drop(worker);
                self.give(None);
                Err(e)
            }
        }
    }

    /// Evaluates `rules` on every event: one [`Outcome`] per rule per event, in order. Events
    /// are cut into messages, and the messages into one run per worker.
    pub fn evaluate(&self, rules: &[String], events: &[&Value]) -> Vec<Vec<Outcome>> {
        if rules.is_empty() || events.is_empty() {
            return vec![Vec::new(); events.len()];
        }
        let per_worker = events.len().div_ceil(self.config.workers);
        let chunk = per_worker.clamp(1, EVENTS_PER_MESSAGE);
        let messages: Vec<&[&Value]> = events.chunks(chunk).collect();
        let per_run = messages.len().div_ceil(self.config.workers);
        let runs: Vec<&[&[&Value]]> = messages.chunks(per_run).collect();
        if runs.len() == 1 {
            return self.evaluate_run(rules, runs[0]);
        }
        std::thread::scope(|scope| {
            let running: Vec<_> = runs
                .iter()
                .map(|run| scope.spawn(|| self.evaluate_run(rules, run)))
                .collect();
            running
                .into_iter()
                .flat_map(|r| r.join().expect("evaluating a run does not panic"))
                .collect()
        })
    }

    /// Evaluates `messages` in order on one worker, keeping the next message queued while the
    /// worker answers the current one: it finds its next request waiting when it answers
    /// (in turns, it sat idle about a fifth of the time while warden read an answer and wrote
    /// the next request). A worker that fails costs the message it was answering; the
    /// messages queued behind it go to its replacement.
    fn evaluate_run(&self, rules: &[String], messages: &[&[&Value]]) -> Vec<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(messages.iter().map(|m| m.len()).sum());
        let mut answered = 0;
        while answered < messages.len() {
            let mut worker = match self.take() {
                Ok(worker) => worker,
                Err(e) => {
                    for events in &messages[answered..] {
                        outcomes.extend(read_outcomes(rules, events, Err(e.clone())));
                    }
                    break;
                }
            };
            let mut sent = answered;
            let failed = loop {
                // At most two outstanding: the one being answered and the next.
                if sent < messages.len() && sent - answered < 2 {
                    if let Err(e) = worker.send(protocol::eval_request(rules, messages[sent])) {
                        break Some(e);
                    }
                    sent += 1;
                    continue;
                }
                if answered == messages.len() {
                    break None;
                }
                let events = messages[answered];
                match worker.receive(self.eval_deadline(rules, events)) {
                    Ok(answer) => outcomes.extend(read_outcomes(rules, events, Ok(answer))),
                    Err(e) => break Some(e),
                }
                answered += 1;
            };
            match failed {
                None => self.give(Some(worker)),
                Some(e) => {
                    drop(worker);
                    self.give(None);
                    outcomes.extend(read_outcomes(rules, messages[answered], Err(e)));
                    answered += 1;
                }
            }
        }
        outcomes
    }

    /// How long a message of `events` may take: every call's deadline, and some.
    fn eval_deadline(&self, rules: &[String], events: &[&Value]) -> Duration {
        let calls = u32::try_from(rules.len() * events.len()).unwrap_or(u32::MAX);
        self.config.timeout.saturating_mul(calls) + Duration::from_secs(5)
    }

    /// Runs a rule on a test's event with its `Mocks` (`objectName`, `returnValue`) patched.
    pub fn test(&self, rule: &str, event: &Value, mocks: Vec<Value>) -> Outcome {
        let request = protocol::test_request(rule, event, &mocks);
        let deadline = self.config.timeout + Duration::from_secs(5);
        match self.exchange::<TestAnswer>(request, deadline) {
            Ok(TestAnswer {
                result: Some(outcome),
                ..
            }) => outcome,
            Ok(_) => Outcome::failed(PyError::engine("the Python worker's answer has no result")),
            Err(e) => Outcome::failed(e),
        }
    }
}

/// Every call of a message that failed as a whole: `error` for each rule on each event.
fn failed(rules: &[String], events: &[&Value], error: PyError) -> Vec<Vec<Outcome>> {
    vec![vec![Outcome::failed(error); rules.len()]; events.len()]
}

/// The outcomes of a message of `events` from the worker's `answer`.
fn read_outcomes(
    rules: &[String],
    events: &[&Value],
    answer: Result<EvalAnswer, PyError>,
) -> Vec<Vec<Outcome>> {
    let results = match answer {
        Ok(EvalAnswer {
            results: Some(results),
            ..
        }) if results.len() == events.len() => results,
        Ok(_) => {
            return failed(
                rules,
                events,
                PyError::engine(
                    "the Python worker's answer does not have a result for every event",
                ),
            )
        }
        Err(error) => return failed(rules, events, error),
    };
    results
        .into_iter()
        .map(|mut per_rule| {
            per_rule.resize_with(rules.len(), || {
                Outcome::failed(PyError::engine("the Python worker skipped a rule"))
            });
            per_rule
        })
        .collect()
}
