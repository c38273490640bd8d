//! Postgres: production and many workers. Any number of `warden serve` and `warden worker`
//! processes share one database; claims use `FOR UPDATE SKIP LOCKED`, and `LISTEN/NOTIFY` wakes
//! idle workers the moment work is committed anywhere.

use super::Result;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgListener;
use sqlx::AnyPool;

/// The channel every commit that adds due work notifies.
pub const WAKE_CHANNEL: &str = "warden_steps";

/// Connects the shared pool.
pub async fn connect(url: &str) -> Result<AnyPool> {
    Ok(AnyPoolOptions::new()
        .max_connections(16)
        .min_connections(1)
        .acquire_timeout(super::ACQUIRE_TIMEOUT)
        .connect(url)
        .await?)
}

/// A dedicated connection listening for wake-ups.
pub struct WakeListener {
    listener: PgListener,
}

impl WakeListener {
    /// Connects and subscribes.
    pub async fn connect(url: &str) -> Result<WakeListener> {
        let mut listener = PgListener::connect(url).await?;
        listener.listen(WAKE_CHANNEL).await?;
        Ok(WakeListener { listener })
    }

    /// Waits for the next notification. After a dropped connection it reconnects and returns, so
    /// the caller re-checks for work it may have missed.
    pub async fn wait(&mut self) -> Result<()> {
        self.listener.recv().await?;
        Ok(())
    }
}
