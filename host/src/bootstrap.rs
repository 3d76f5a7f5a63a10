//! Start-up and shutdown chores: the superuser from `KIWI_ADMIN_*`, background
//! sweeps, and flushing buffers on shutdown.

use secrecy::ExposeSecret;

use crate::state::AppState;

/// Creates or promotes the master from `KIWI_ADMIN_EMAIL` / `KIWI_ADMIN_PASSWORD`.
pub async fn ensure_admin_from_config(state: &AppState) -> anyhow::Result<()> {
    if let (Some(email), Some(password)) = (&state.config.admin_email, &state.config.admin_password) {
        state.accounts.ensure_master(email, password.expose_secret()).await?;
        tracing::info!("superuser ensured from KIWI_ADMIN_EMAIL");
    }
    Ok(())
}

/// Starts the background tasks (sweeps, flushers, plugin jobs).
pub fn spawn_background(state: &AppState) {
    // Ops (issue 4): runtime-config refresh, limiter sweep, usage flusher, idempotency sweep, bus.
    state.runtime_config.spawn_refresher();
    state.limiter.spawn_sweeper();
    state.usage.spawn_background();
    state.idempotency.spawn_sweeper();
    state.bus.spawn_subscriber(state);
    state.plugins.spawn_background(state);
    crate::tokens::sweep::spawn(state);
    crate::accounts::spawn_sweeper(state);
}

/// Flushes buffers and stops background work.
pub async fn shutdown(state: &AppState) {
    state.bus.shutdown();
    state.runtime_config.stop();
    state.usage.shutdown().await;
    state.plugins.shutdown().await;
    crate::tokens::sweep::shutdown(state).await;
}
