//! The Redis sliding-log backend: one atomic Lua script per decision (one round
//! trip), shared by every host instance on the same Redis.
//!
//! The key is a sorted set of admitted request times (score = unix ms). The
//! script trims entries that left the window, admits the request only if fewer
//! than `limit` remain (a rejected request is never added, so it does not
//! consume budget), refreshes the key's TTL, and returns
//! `{admitted, count, oldest_ms}`.

use std::sync::atomic::{AtomicU64, Ordering};

use redis::aio::ConnectionManager;

use super::Decision;

const SCRIPT: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local admitted = 0
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  count = count + 1
  admitted = 1
end
redis.call('PEXPIRE', key, window)
local oldest = now
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
if first[2] then oldest = tonumber(first[2]) end
return {admitted, count, oldest}
";

/// Redis limiter state.
pub struct RedisBackend {
    conn: ConnectionManager,
    script: redis::Script,
    prefix: String,
    instance: String,
    seq: AtomicU64,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// `prefix` namespaces every key (e.g. `kiwi:<db>:rl:`); `instance` makes set members unique.
    pub fn new(conn: ConnectionManager, prefix: String, instance: String) -> Self {
        Self { conn, script: redis::Script::new(SCRIPT), prefix, instance, seq: AtomicU64::new(0) }
    }

    /// Decides one request on `key` at `now_ms` (one round trip).
    pub async fn check(&self, key: &str, limit: u32, window_ms: i64, now_ms: i64) -> redis::RedisResult<Decision> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let member = format!("{now_ms}:{}:{seq}", self.instance);
        let mut conn = self.conn.clone();
        let (admitted, count, oldest): (i64, i64, i64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(now_ms)
            .arg(window_ms)
            .arg(limit)
            .arg(member)
            .invoke_async(&mut conn)
            .await?;
        Ok(if admitted == 1 {
            let remaining = i64::from(limit).saturating_sub(count).max(0);
            Decision::allowed(limit, remaining as u32, oldest + window_ms)
        } else {
            Decision::rejected(limit, oldest + window_ms, now_ms)
        })
    }
}
