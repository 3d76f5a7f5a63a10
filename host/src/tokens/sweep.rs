//! Background chores of the token service: the usage flusher (every few
//! seconds) and the hourly inactivity sweep. Both hold only a weak reference to
//! the state, so they end when the application is dropped.

use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

/// How often buffered usage is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// How often the inactivity sweep runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Spawns the flusher and the sweep.
pub fn spawn(state: &AppState) {
    let weak = Arc::downgrade(&state.0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { break };
            if !inner.tokens.auto_flush() {
                continue;
            }
            if let Err(e) = inner.tokens.flush_usage().await {
                tracing::warn!(error = format!("{e:#}"), "token usage flush failed");
            }
        }
    });
    let weak = Arc::downgrade(&state.0);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else { break };
            match inner.tokens.sweep_inactive().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(revoked = n, "revoked inactive API tokens"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "inactive-token sweep failed"),
            }
        }
    });
}

/// Flushes buffered usage (called on shutdown).
pub async fn shutdown(state: &AppState) {
    if let Err(e) = state.tokens.flush_usage().await {
        tracing::warn!(error = format!("{e:#}"), "token usage flush on shutdown failed");
    }
}
