//! The worker pool: several `python3` processes, each with every Python rule, helper and data
//! model loaded, so rules use several cores and a rule cannot crash or corrupt the engine. A
//! worker that does not answer in time (a rule stuck where Python's own alarm cannot reach it)
//! or that dies is killed and replaced; the calls it carried become rule errors.

use super::protocol::{self, load_errors, Library, Outcome, PyError, WireEvent};
use serde::Serialize;
use serde_json::Value;
use std::io::{self, BufReader, BufWriter};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The program every worker runs (`python3 -I -B -c <harness>`): the event, then the worker.
pub const HARNESS: &str = concat!(include_str!("event.py"), include_str!("harness.py"));

/// Events per `eval` message: large enough that round trips are cheap, small enough that a
/// killed worker loses little work.
const EVENTS_PER_MESSAGE: usize = 512;

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

/// One `python3` process with the library loaded.
struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    answers: Receiver<io::Result<Option<Vec<u8>>>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A worker is dropped when it failed or the pool goes: it must not outlive either.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    fn spawn(config: &Config) -> Result<Worker, PyError> {
        let mut command = Command::new(&config.interpreter);
        // Rules see none of warden's environment: it holds credentials (`WARDEN_CREDENTIAL_*`).
        command.env_clear();
        for (key, value) in std::env::vars_os() {
            let keep = key.to_str().is_some_and(|k| {
                matches!(k, "PATH" | "LANG" | "TZ" | "HOME") || k.starts_with("LC_")
            });
            if keep {
                command.env(key, value);
            }
        }
        let mut child = command
            .args(["-I", "-B", "-c", HARNESS])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                PyError::engine(format!(
                    "cannot start `{}` ({e}); Python rules need Python 3.9 or later \
                     (set WARDEN_PYTHON to its path)",
                    config.interpreter
                ))
            })?;
        let stdin = BufWriter::new(child.stdin.take().expect("stdin is piped"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let (send, answers) = mpsc::channel();
        std::thread::Builder::new()
            .name("warden-python".into())
            .spawn(move || loop {
                let frame = protocol::read_frame(&mut stdout);
                let last = !matches!(frame, Ok(Some(_)));
                if send.send(frame).is_err() || last {
                    break;
                }
            })
            .map_err(|e| PyError::engine(format!("cannot start a reader thread: {e}")))?;
        Ok(Worker {
            child,
            stdin,
            answers,
        })
    }

    /// Sends `request` and waits up to `deadline` for the answer. Any failure leaves the worker
    /// unusable: the caller drops it.
    fn call(&mut self, request: &[u8], deadline: Duration) -> Result<Value, PyError> {
        protocol::write_frame(&mut self.stdin, request)
            .map_err(|e| self.died(&format!("refused the request ({e})")))?;
        match self.answers.recv_timeout(deadline) {
            Ok(Ok(Some(body))) => {
                let answer: Value = serde_json::from_slice(&body)
                    .map_err(|e| PyError::engine(format!("the Python worker's answer: {e}")))?;
                match answer.get("fatal").and_then(Value::as_str) {
                    Some(fatal) => Err(PyError::engine(format!(
                        "the Python worker failed: {fatal}"
                    ))),
                    None => Ok(answer),
                }
            }
            Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => Err(self.died("exited")),
            Ok(Err(e)) => Err(self.died(&format!("sent a broken answer ({e})"))),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(PyError::engine(format!(
                    "the Python worker did not answer within {} ms and was ended",
                    deadline.as_millis()
                )))
            }
        }
    }

    fn died(&mut self, what: &str) -> PyError {
        let status = self
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        PyError::engine(format!("the Python worker {what}{status}"))
    }
}

#[derive(Serialize)]
#[serde(tag = "op", rename = "load")]
struct LoadRequest<'a> {
    timeout_ms: u128,
    #[serde(flatten)]
    library: &'a Library,
}

#[derive(Serialize)]
#[serde(tag = "op", rename = "eval")]
struct EvalRequest<'a> {
    rules: &'a [String],
    events: Vec<WireEvent<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "op", rename = "test")]
struct TestRequest<'a> {
    rule: &'a str,
    event: &'a Value,
    mocks: Vec<Value>,
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
        let slots = self.slots.lock().expect("the pool lock is not poisoned");
        slots
            .idle
            .iter()
            .filter_map(|w| std::fs::read_to_string(format!("/proc/{}/status", w.child.id())).ok())
            .filter_map(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .sum()
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
        let answer = worker.call(&self.load, self.load_deadline)?;
        Ok((worker, load_errors(&answer)))
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
    fn exchange(&self, request: &[u8], deadline: Duration) -> Result<Value, PyError> {
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
    /// are spread over the workers in batches.
    pub fn evaluate(&self, rules: &[String], events: &[&Value]) -> Vec<Vec<Outcome>> {
        if rules.is_empty() || events.is_empty() {
            return vec![Vec::new(); events.len()];
        }
        let per_worker = events.len().div_ceil(self.config.workers);
        let chunk = per_worker.clamp(1, EVENTS_PER_MESSAGE);
        let chunks: Vec<&[&Value]> = events.chunks(chunk).collect();
        if chunks.len() == 1 {
            return self.evaluate_chunk(rules, chunks[0]);
        }
        std::thread::scope(|scope| {
            let running: Vec<_> = chunks
                .iter()
                .map(|chunk| scope.spawn(|| self.evaluate_chunk(rules, chunk)))
                .collect();
            running
                .into_iter()
                .flat_map(|r| r.join().expect("evaluating a chunk does not panic"))
                .collect()
        })
    }

    fn evaluate_chunk(&self, rules: &[String], events: &[&Value]) -> Vec<Vec<Outcome>> {
        let request = EvalRequest {
            rules,
            events: events.iter().map(|e| WireEvent(e)).collect(),
        };
        let request = serde_json::to_vec(&request).expect("JSON serialises");
        let calls = u32::try_from(rules.len() * events.len()).unwrap_or(u32::MAX);
        let deadline = self.config.timeout.saturating_mul(calls) + Duration::from_secs(5);
        let answer = self.exchange(&request, deadline);
        let results = answer
            .as_ref()
            .ok()
            .and_then(|a| a["results"].as_array())
            .filter(|r| r.len() == events.len());
        match results {
            Some(results) => results
                .iter()
                .map(|per_rule| {
                    let per_rule = per_rule.as_array().map_or(&[][..], Vec::as_slice);
                    (0..rules.len())
                        .map(|i| {
                            per_rule.get(i).map_or_else(
                                || {
                                    Outcome::failed(PyError::engine(
                                        "the Python worker skipped a rule",
                                    ))
                                },
                                Outcome::from_json,
                            )
                        })
                        .collect()
                })
                .collect(),
            None => {
                let error = answer.err().unwrap_or_else(|| {
                    PyError::engine("the Python worker's answer has no results")
                });
                vec![vec![Outcome::failed(error); rules.len()]; events.len()]
            }
        }
    }

    /// Runs a rule on a test's event with its `Mocks` (`objectName`, `returnValue`) patched.
    pub fn test(&self, rule: &str, event: &Value, mocks: Vec<Value>) -> Outcome {
        let request =
            serde_json::to_vec(&TestRequest { rule, event, mocks }).expect("JSON serialises");
        let deadline = self.config.timeout + Duration::from_secs(5);
        match self.exchange(&request, deadline) {
            Ok(answer) => Outcome::from_json(&answer["result"]),
            Err(e) => Outcome::failed(e),
        }
    }
}
