//! Shared application state: config, database, clock, cache connections and
//! every service, behind one cheap-to-clone [`AppState`].

use std::ops::Deref;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;

/// Handle to the application's services.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The services. Add a field here when adding a service; build it in [`AppState::build`].
pub struct AppInner {
    pub config: Config,
    pub db: Db,
    pub clock: Clock,
    /// Present when `KIWI_REDIS_URL` is set.
    pub redis: Option<redis::aio::ConnectionManager>,
    pub accounts: crate::accounts::Accounts,
    pub tokens: crate::tokens::Tokens,
    pub tenants: crate::tenants::Tenants,
    pub plugins: crate::plugins::PluginHost,
    /// Live tunables (issue 4: ops).
    pub runtime_config: Arc<crate::runtime_config::RuntimeConfig>,
    /// Rate limits.
    pub limiter: Arc<crate::ratelimit::Limiter>,
    /// Cross-instance invalidation messages.
    pub bus: crate::bus::Bus,
    /// Usage events and metrics.
    pub usage: Arc<crate::usage::Usage>,
    /// `Idempotency-Key` records.
    pub idempotency: Arc<crate::idempotency::Idempotency>,
}

impl AppState {
    /// Connects to the database (migrating it) and Redis, and builds every service.
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<AppState> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        let redis = match &config.redis_url {
            Some(url) => {
                let client = redis::Client::open(url.as_str()).map_err(|e| anyhow::anyhow!("KIWI_REDIS_URL: {e}"))?;
                Some(
                    redis::aio::ConnectionManager::new(client)
                        .await
                        .map_err(|e| anyhow::anyhow!("connecting to Redis: {e}"))?,
                )
            }
            None => None,
        };
        let accounts = crate::accounts::Accounts::new(&config, &db, &clock);
        let tokens = crate::tokens::Tokens::new(&config, &db, &clock).await?;
        let tenants = crate::tenants::Tenants::new(&db);
        let plugins = crate::plugins::PluginHost::new(&config, &db, &clock).await?;
        let runtime_config = Arc::new(crate::runtime_config::RuntimeConfig::new(&db, &clock).await?);
        let ns = crate::bus::redis_namespace(&config);
        let bus = crate::bus::Bus::new(&config, redis.clone());
        let limiter_redis = redis.clone().map(|c| (c, format!("{ns}rl:"), bus.instance_id().to_owned()));
        let limiter = Arc::new(crate::ratelimit::Limiter::new(limiter_redis, &clock, runtime_config.clone(), &db));
        let usage = Arc::new(crate::usage::Usage::new(&config, &db, &clock, &runtime_config));
        let idem_redis = redis.clone().map(|c| (c, ns.clone()));
        let idempotency = Arc::new(crate::idempotency::Idempotency::new(
            config.secret_bytes(),
            &db,
            &clock,
            &runtime_config,
            idem_redis,
        ));
        let state = AppState(Arc::new(AppInner {
            config,
            db,
            clock,
            redis,
            accounts,
            tokens,
            tenants,
            plugins,
            runtime_config,
            limiter,
            bus,
            usage,
            idempotency,
        }));
        // Plugins load last: they register scopes and provision SQL through the other services.
        state.plugins.load_all(&state).await?;
        Ok(state)
    }
}
