//! One `python3` process with the library loaded, and the two threads that feed it: a writer
//! (requests are queued, so a caller can send the next one while the worker still works on
//! the last) and a reader (answers are read as the worker writes them, so it never waits on
//! a full pipe).

use super::{Config, HARNESS};
use crate::detect::python::protocol::{self, Answer, PyError};
use std::io::{self, BufReader, BufWriter};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

/// Requests queued for the writer at most; a caller keeps one ahead of the answer it awaits.
const QUEUED_REQUESTS: usize = 2;

/// A running worker. Dropping it ends the process.
pub(super) struct Worker {
    child: Child,
    requests: SyncSender<Vec<u8>>,
    answers: Receiver<io::Result<Option<Vec<u8>>>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A worker is dropped when it failed or the pool goes: it must not outlive either.
        // Killing it also ends the writer, which may be blocked on the full pipe.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Worker {
    pub(super) fn spawn(config: &Config) -> Result<Worker, PyError> {
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
        let mut stdin = BufWriter::new(child.stdin.take().expect("stdin is piped"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let (requests, queue) = mpsc::sync_channel::<Vec<u8>>(QUEUED_REQUESTS);
        let (send, answers) = mpsc::channel();
        let thread = |name: &str| std::thread::Builder::new().name(name.into());
        let started = thread("warden-python-in").spawn(move || {
            for request in queue {
                if protocol::write_frame(&mut stdin, &request).is_err() {
                    break;
                }
            }
        });
        let started = started.and_then(|_| {
            thread("warden-python-out").spawn(move || loop {
                let frame = protocol::read_frame(&mut stdout);
                let last = !matches!(frame, Ok(Some(_)));
                if send.send(frame).is_err() || last {
                    break;
                }
            })
        });
        if let Err(e) = started {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PyError::engine(format!(
                "cannot start a worker's thread: {e}"
            )));
        }
        Ok(Worker {
            child,
            requests,
            answers,
        })
    }

    /// The process id.
    pub(super) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Queues `request`; it is written while the worker answers the ones before it.
    pub(super) fn send(&mut self, request: Vec<u8>) -> Result<(), PyError> {
        self.requests
            .send(request)
            .map_err(|_| self.died("refused the request"))
    }

    /// Waits up to `deadline` for the answer to the oldest request not yet answered. Any
    /// failure leaves the worker unusable: the caller drops it.
    pub(super) fn receive<A: Answer>(&mut self, deadline: Duration) -> Result<A, PyError> {
        match self.answers.recv_timeout(deadline) {
            Ok(Ok(Some(body))) => {
                let answer: A = serde_json::from_slice(&body)
                    .map_err(|e| PyError::engine(format!("the Python worker's answer: {e}")))?;
                match answer.fatal() {
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

    /// Sends `request` and waits up to `deadline` for its answer.
    pub(super) fn call<A: Answer>(
        &mut self,
        request: Vec<u8>,
        deadline: Duration,
    ) -> Result<A, PyError> {
        self.send(request)?;
        self.receive(deadline)
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
