//! The shutdown signal the background tasks watch (`App::start`'s `watch` channel): waiting a
//! while unless shutdown comes first, the one wait their loops and pauses share.

use std::time::Duration;
use tokio::sync::watch;

/// Waits `time`; false, at once, when shutdown is set or comes first (or its sender is gone).
pub async fn wait(shutdown: &watch::Receiver<bool>, time: Duration) -> bool {
    let mut shutdown = shutdown.clone();
    if *shutdown.borrow_and_update() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(time) => true,
        _ = shutdown.changed() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_its_time_unless_shutdown_is_set_or_comes() {
        let (stop, stopped) = watch::channel(false);
        assert!(wait(&stopped, Duration::from_millis(10)).await);
        let waiting = tokio::spawn({
            let stopped = stopped.clone();
            async move { wait(&stopped, Duration::from_secs(3_600)).await }
        });
        tokio::task::yield_now().await;
        stop.send(true).unwrap();
        assert!(!waiting.await.unwrap());
        assert!(!wait(&stopped, Duration::from_secs(60)).await);
    }
}
