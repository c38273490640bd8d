//! `warden serve` and `warden worker` as child processes, each over a workspace of stories, with
//! its log kept for the test's messages.

use super::{free_port, wait_for, Api, API_TOKEN, HOOK_SECRET};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;

/// A temp directory with `stories/` (one story) and an empty `templates/`, plus process logs.
/// Removed when the test passes; kept (and named on stderr) when it fails or when
/// `WARDEN_TEST_KEEP` is set.
pub struct Workspace {
    /// The directory.
    pub root: PathBuf,
    /// `WARDEN_STORIES`.
    pub stories: PathBuf,
    /// `WARDEN_TEMPLATES`.
    pub templates: PathBuf,
}

impl Workspace {
    /// Writes `stories/<story_id>.yml`.
    pub fn new(story_id: &str, source: &str) -> Workspace {
        let root = std::env::temp_dir().join(format!("warden-durability-{}", uuid::Uuid::now_v7()));
        let stories = root.join("stories");
        let templates = root.join("templates");
        std::fs::create_dir_all(&stories).expect("create the stories dir");
        std::fs::create_dir_all(&templates).expect("create the templates dir");
        std::fs::write(stories.join(format!("{story_id}.yml")), source).expect("write the story");
        Workspace {
            root,
            stories,
            templates,
        }
    }

    /// The one story, loaded and validated as `warden` loads it (for its version).
    pub fn story(&self) -> warden::story::Story {
        let loaded =
            warden::story::load::load(std::slice::from_ref(&self.stories), &self.templates)
                .expect("read the stories");
        assert_eq!(
            loaded.error_count(),
            0,
            "the test story is invalid: {:?}",
            loaded.reports
        );
        loaded.stories.into_iter().next().expect("one story")
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("WARDEN_TEST_KEEP").is_some() {
            eprintln!("test files and logs kept in {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// A `warden serve` or `warden worker` child. Dropping it SIGKILLs the process if it still runs
/// (so a failing test leaves nothing behind) and, when the test is failing, prints its log's tail.
pub struct Warden {
    /// Its name in messages and its log file's name.
    pub name: String,
    child: Mutex<Child>,
    log: PathBuf,
    /// `serve` only: the API's base URL.
    base: Option<String>,
}

/// How to start a `warden` process.
#[derive(Clone, Copy)]
pub struct Launch<'a> {
    /// `serve` or `worker`.
    pub command: &'a str,
    /// Its name (and log file name).
    pub name: &'a str,
    /// The workspace with its stories.
    pub workspace: &'a Workspace,
    /// `WARDEN_DATABASE_URL`.
    pub database_url: &'a str,
    /// `WARDEN_LEASE_SECS`.
    pub lease_secs: u64,
    /// `WARDEN_CONCURRENCY`.
    pub concurrency: usize,
    /// Further variables, e.g. `WARDEN_POISON_LIMIT`.
    pub env: &'a [(&'a str, &'a str)],
}

impl Warden {
    /// Starts the process, its stderr to `<workspace>/<name>.log`. Every `WARDEN_*` variable of
    /// the test's environment is dropped so only what the test sets applies.
    pub fn start(launch: Launch<'_>) -> Warden {
        let log = launch.workspace.root.join(format!("{}.log", launch.name));
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
        command.arg(launch.command);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WARDEN_") {
                command.env_remove(key);
            }
        }
        command
            .current_dir(&launch.workspace.root)
            .env("WARDEN_DATABASE_URL", launch.database_url)
            .env("WARDEN_STORIES", &launch.workspace.stories)
            .env("WARDEN_TEMPLATES", &launch.workspace.templates)
            .env("WARDEN_LEASE_SECS", launch.lease_secs.to_string())
            .env("WARDEN_CONCURRENCY", launch.concurrency.to_string())
            .env("WARDEN_CREDENTIAL_HOOK_SECRET", HOOK_SECRET)
            .env("WARDEN_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let base = (launch.command == "serve").then(|| {
            let listen = format!("127.0.0.1:{}", free_port());
            command
                .env("WARDEN_LISTEN", &listen)
                .env("WARDEN_API_TOKEN", API_TOKEN);
            format!("http://{listen}")
        });
        let child = command.spawn().expect("start warden");
        Warden {
            name: launch.name.to_owned(),
            child: Mutex::new(child),
            log,
            base,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// Its exit status, once it has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.child
            .lock()
            .unwrap()
            .try_wait()
            .expect("query the child")
    }

    /// Panics (with the log) if the process has exited.
    pub fn assert_running(&self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited unexpectedly ({status}); its log:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// Everything it logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many log lines contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        let Ok(file) = std::fs::File::open(&self.log) else {
            return 0;
        };
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter(|line| line.contains(needle))
            .count()
    }

    /// Waits until it logs a line containing `needle` (panics if it exits first).
    pub async fn wait_log(&self, needle: &str) {
        wait_for(
            &format!("{} to log `{needle}`", self.name),
            move || async move {
                if self.log_count(needle) > 0 {
                    return Some(());
                }
                self.assert_running();
                None
            },
        )
        .await
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap it.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM: asks it to shut down gracefully.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for it to exit and returns how.
    pub async fn wait_exit(&self) -> ExitStatus {
        wait_for(&format!("{} to exit", self.name), move || async move {
            self.exited()
        })
        .await
    }

    /// Starts a `warden serve` and waits until `/healthz` answers; returns it with its API. The
    /// port is picked free just before the start, so another process may take it first: a serve
    /// that could not listen is started again on another port.
    pub async fn serve(launch: Launch<'_>) -> (Warden, Api) {
        assert_eq!(launch.command, "serve");
        for _ in 0..3 {
            let warden = Warden::start(launch);
            let base = warden.base.clone().expect("serve has an address");
            let api = Api::new(base);
            let (probe, process) = (&api, &warden);
            let healthy = wait_for(
                &format!("{} to answer /healthz", warden.name),
                move || async move {
                    if process.exited().is_some() {
                        return Some(false);
                    }
                    probe.healthy().await.then_some(true)
                },
            )
            .await;
            if healthy {
                return (warden, api);
            }
            if !warden.log_text().contains("Failed to listen") {
                warden.assert_running();
            }
        }
        panic!("{}: no free port in three tries", launch.name);
    }
}

impl Drop for Warden {
    fn drop(&mut self) {
        let still_running = self.exited().is_none();
        if still_running {
            self.kill();
        }
        if std::thread::panicking() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!(
                "--- {} ({}; log {}), last lines:\n{tail}",
                self.name,
                if still_running {
                    "killed by the test's cleanup"
                } else {
                    "had exited"
                },
                self.log.display()
            );
        }
    }
}
