//! The instance bus: makes several host processes on one database behave as one
//! service. Owners of cached state publish a typed [`BusMessage`] after a
//! mutation; every *other* instance applies it within milliseconds through
//! [`apply`], which calls the owner's invalidate function.
//!
//! API summary:
//! - `state.bus.publish(BusMessage::TokenInvalidated { token_id }).await` — best effort,
//!   never fails the caller (errors are logged and counted). The publisher must already
//!   have applied the change to its own instance: an instance ignores its own messages.
//! - [`apply`] — the dispatch table from message to owner (tokens, accounts, plugins,
//!   runtime config, limiter). Owners add their call there.
//! - `state.bus.subscribe()` — a broadcast receiver of messages from other instances
//!   (for tests and in-process listeners).
//!
//! With Redis, messages go through `PUBLISH` on the channel `<namespace>events`
//! (the namespace is derived from the database URL, so only instances sharing a
//! database hear each other), and a dedicated subscriber connection task receives
//! them; it reconnects with backoff, and after a reconnect it applies
//! [`BusMessage::Resync`] locally, since messages sent while it was away are lost.
//! Without Redis the bus is an in-process no-op: there is no other instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, broadcast, watch};

use crate::config::Config;
use crate::state::{AppInner, AppState};

/// A change another instance must apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusMessage {
    /// An API token was revoked, rotated or changed: drop it from verification caches.
    TokenInvalidated { token_id: String },
    /// A session was revoked (logout, refresh reuse…).
    SessionInvalidated { session_id: String },
    /// A user changed (deactivated, promoted, password changed…): drop everything cached for them.
    UserInvalidated { user_id: String },
    /// A plugin was installed, enabled, disabled or reloaded.
    PluginChanged { name: String },
    /// A tenant enabled or disabled a plugin.
    TenantPluginChanged { tenant_id: String, plugin: String },
    /// A tenant's settings (plan, plan rate limit) changed.
    TenantChanged { tenant_id: String },
    /// A runtime-config key changed (`key` empty: several).
    RuntimeConfigChanged { key: String },
    /// Local only: the subscriber reconnected and may have missed messages; drop every cache.
    Resync,
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(flatten)]
    msg: BusMessage,
}

/// A service's queue of messages to publish: services are built before the bus, so
/// each owner holds an `Outbox` and calls [`Outbox::send`] from its mutation paths
/// (synchronous, never blocks); the bus drains every outbox and publishes.
#[derive(Debug)]
pub struct Outbox {
    tx: tokio::sync::mpsc::UnboundedSender<BusMessage>,
    rx: parking_lot::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<BusMessage>>>,
}

impl Default for Outbox {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Self { tx, rx: parking_lot::Mutex::new(Some(rx)) }
    }
}

impl Outbox {
    /// Queues a message for the other instances.
    pub fn send(&self, msg: BusMessage) {
        let _ = self.tx.send(msg);
    }
    fn take(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<BusMessage>> {
        self.rx.lock().take()
    }
}

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct BusStats {
    pub published: AtomicU64,
    pub received: AtomicU64,
    pub publish_errors: AtomicU64,
    pub reconnects: AtomicU64,
}

/// The bus service (`state.bus`).
pub struct Bus {
    instance_id: String,
    channel: String,
    redis_url: Option<String>,
    publisher: Option<redis::aio::ConnectionManager>,
    local: broadcast::Sender<BusMessage>,
    ready: watch::Sender<bool>,
    stop: Arc<Notify>,
    stopped: Arc<AtomicBool>,
    pub stats: Arc<BusStats>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("instance_id", &self.instance_id)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// The Redis key namespace shared by every instance on one database: `kiwi:<12 hex>:`.
pub fn redis_namespace(config: &Config) -> String {
    let h = Sha256::digest(config.database_url.as_bytes());
    format!("kiwi:{}:", &hex::encode(h)[..12])
}

impl Bus {
    /// Builds the bus; with Redis it publishes through `publisher` and subscribes on its own connection.
    pub fn new(config: &Config, publisher: Option<redis::aio::ConnectionManager>) -> Self {
        let (local, _) = broadcast::channel(256);
        let (ready, _) = watch::channel(false);
        Self {
            instance_id: format!("ins_{:016x}", rand::random::<u64>()),
            channel: format!("{}events", redis_namespace(config)),
            redis_url: if publisher.is_some() { config.redis_url.clone() } else { None },
            publisher,
            local,
            ready,
            stop: Arc::new(Notify::new()),
            stopped: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// This instance's id (messages carry it, so an instance ignores its own).
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// True when messages reach other instances (Redis configured).
    pub fn is_shared(&self) -> bool {
        self.publisher.is_some()
    }

    /// Publishes a message to the other instances (best effort).
    pub async fn publish(&self, msg: BusMessage) {
        let Some(conn) = &self.publisher else { return };
        if msg == BusMessage::Resync {
            return;
        }
        let payload = match serde_json::to_string(&Envelope { from: self.instance_id.clone(), msg }) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "encoding a bus message");
                return;
            }
        };
        let mut conn = conn.clone();
        match redis::cmd("PUBLISH").arg(&self.channel).arg(payload).query_async::<i64>(&mut conn).await {
            Ok(_) => {
                self.stats.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.publish_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "publishing a bus message failed");
            }
        }
    }

    /// Messages received from other instances.
    pub fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.local.subscribe()
    }

    /// Resolves once the subscriber is subscribed (immediately without Redis).
    pub async fn ready(&self) {
        if self.redis_url.is_none() {
            return;
        }
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// Starts the outbox forwarders and the subscriber task (no subscriber without Redis).
    pub fn spawn_subscriber(&self, state: &AppState) {
        for outbox in [&state.tokens.outbox, &state.accounts.outbox, &state.tenants.outbox] {
            let Some(mut rx) = outbox.take() else { continue };
            let weak = Arc::downgrade(&state.0);
            tokio::spawn(async move {
                while let Some(msg) = rx.recv().await {
                    let Some(inner) = weak.upgrade() else { break };
                    let state = AppState(inner);
                    // Local side effects owned here (the owner already did its own).
                    if let BusMessage::TenantChanged { tenant_id } = &msg {
                        state.limiter.invalidate_tenant(tenant_id);
                    }
                    state.bus.publish(msg).await;
                }
            });
        }
        let Some(url) = self.redis_url.clone() else { return };
        let weak = Arc::downgrade(&state.0);
        let channel = self.channel.clone();
        let me = self.instance_id.clone();
        let stop = self.stop.clone();
        let stopped = self.stopped.clone();
        let ready = self.ready.clone();
        let local = self.local.clone();
        let stats = self.stats.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(50);
            let mut first = true;
            loop {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let session = subscribe_session(&url, &channel, &me, &weak, &ready, &local, &stats, first);
                tokio::select! {
                    r = session => {
                        ready.send_replace(false);
                        match r {
                            Ok(()) => tracing::warn!("bus subscription ended; reconnecting"),
                            Err(e) => tracing::warn!(error = %e, "bus subscriber error; reconnecting"),
                        }
                    }
                    _ = stop.notified() => break,
                }
                if weak.strong_count() == 0 {
                    break;
                }
                if !first {
                    stats.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                first = false;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.notified() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        });
    }

    /// Stops the subscriber.
    pub fn shutdown(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.stop.notify_waiters();
    }
}

#[allow(clippy::too_many_arguments)]
async fn subscribe_session(
    url: &str,
    channel: &str,
    me: &str,
    weak: &std::sync::Weak<AppInner>,
    ready: &watch::Sender<bool>,
    local: &broadcast::Sender<BusMessage>,
    stats: &BusStats,
    first: bool,
) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    if !first {
        // Messages may have been missed while disconnected.
        if let Some(inner) = weak.upgrade() {
            apply(&AppState(inner), &BusMessage::Resync).await;
        }
    }
    ready.send_replace(true);
    let mut stream = pubsub.into_on_message();
    while let Some(msg) = stream.next().await {
        let Ok(payload) = msg.get_payload::<String>() else { continue };
        let env: Envelope = match serde_json::from_str(&payload) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a malformed bus message");
                continue;
            }
        };
        if env.from == me {
            continue;
        }
        stats.received.fetch_add(1, Ordering::Relaxed);
        let Some(inner) = weak.upgrade() else { return Ok(()) };
        apply(&AppState(inner), &env.msg).await;
        let _ = local.send(env.msg);
    }
    Ok(())
}

/// Applies a message from another instance by calling the owner's invalidate function.
pub async fn apply(state: &AppState, msg: &BusMessage) {
    tracing::debug!(?msg, "bus message");
    match msg {
        BusMessage::TokenInvalidated { token_id } => state.tokens.invalidate_local(token_id),
        BusMessage::SessionInvalidated { session_id } => state.accounts.invalidate_session_local(session_id),
        BusMessage::UserInvalidated { user_id } => {
            state.accounts.invalidate_user_local(user_id);
            state.tokens.invalidate_user_local(user_id);
        }
        BusMessage::PluginChanged { .. } | BusMessage::TenantPluginChanged { .. } => {
            // plugins: the lead's hook (e.g. state.plugins.on_bus_message(state, msg)).
        }
        BusMessage::TenantChanged { tenant_id } => {
            state.tenants.invalidate_local(tenant_id);
            state.limiter.invalidate_tenant(tenant_id);
        }
        BusMessage::RuntimeConfigChanged { .. } => {
            if let Err(e) = state.runtime_config.reload().await {
                tracing::warn!(error = %format!("{e:#}"), "reloading runtime config after a bus message");
            }
        }
        BusMessage::Resync => {
            if let Err(e) = state.runtime_config.reload().await {
                tracing::warn!(error = %format!("{e:#}"), "reloading runtime config on resync");
            }
            state.limiter.clear_caches();
            state.tokens.clear_local();
            // accounts/plugins: drop every cache (hooks to add by their owners).
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_tagged() {
        let env = Envelope { from: "ins_1".into(), msg: BusMessage::TokenInvalidated { token_id: "tok_1".into() } };
        let s = serde_json::to_string(&env).unwrap();
        assert_eq!(s, r#"{"from":"ins_1","type":"token_invalidated","token_id":"tok_1"}"#);
        let back: Envelope = serde_json::from_str(&s).unwrap();
        assert_eq!(back.msg, env.msg);
    }
}
