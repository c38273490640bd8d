//! The durability suite's machinery: `warden` processes that die with the test (`process`), a
//! gated mock receiver that counts calls per `Idempotency-Key` (`receiver`), stories in a temp
//! directory, the runs API and the checks every test applies to the runs it started (`api`).

mod api;
mod process;
mod receiver;

pub use api::{assert_no_problems, finished, Api, RunView};
pub use process::{Launch, Warden, Workspace};
pub use receiver::{split_key, Mock};

use std::future::Future;
use std::time::{Duration, Instant};

/// How long any wait may take before the test gives up (generous: CI machines are slow and
/// shared). Nothing asserts on how fast things happen.
pub const DEADLINE: Duration = Duration::from_secs(120);
/// How often waits poll.
pub const POLL: Duration = Duration::from_millis(100);
/// The webhook secret every test story uses (credential `hook_secret`).
pub const HOOK_SECRET: &str = "durability-hook-secret";
/// The API token every `warden serve` of the suite requires.
pub const API_TOKEN: &str = "durability-api-token";

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Polls `probe` until it answers `Some`, or panics after [`DEADLINE`] saying what it waited for.
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}
