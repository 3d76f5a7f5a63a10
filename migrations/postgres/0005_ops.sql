-- Operations (issue 4): runtime config, usage events, idempotency records.

-- Live tunables: one row per overridden key (absent = registry default).
CREATE TABLE runtime_config (
  key TEXT PRIMARY KEY,
  -- JSON-encoded value.
  value TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by TEXT
);

-- Every runtime-config change, with who made it.
CREATE TABLE runtime_config_audit (
  id TEXT PRIMARY KEY,
  key TEXT NOT NULL,
  -- JSON-encoded; NULL = the default was in effect.
  old_value TEXT,
  new_value TEXT,
  changed_by TEXT,
  changed_at BIGINT NOT NULL
);
CREATE INDEX runtime_config_audit_key ON runtime_config_audit (key, changed_at);

-- One row per recorded plugin request (no raw IPs: ip_hash is a keyed hash).
CREATE TABLE usage_events (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  tenant_id TEXT,
  user_id TEXT,
  token_id TEXT,
  plugin TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  status INTEGER NOT NULL,
  latency_us BIGINT NOT NULL,
  bytes_in BIGINT NOT NULL DEFAULT 0,
  bytes_out BIGINT NOT NULL DEFAULT 0,
  ip_hash TEXT
);
CREATE INDEX usage_events_created ON usage_events (created_at, id);
CREATE INDEX usage_events_token ON usage_events (token_id, created_at);
CREATE INDEX usage_events_user ON usage_events (user_id, created_at);
CREATE INDEX usage_events_tenant ON usage_events (tenant_id, created_at);
CREATE INDEX usage_events_plugin ON usage_events (plugin, created_at);

-- Idempotency records when Redis is not configured.
CREATE TABLE idempotency_keys (
  -- sha256(principal ":" key), hex.
  storage_key TEXT PRIMARY KEY,
  -- sha256 of method, path, query and body, hex.
  fingerprint TEXT NOT NULL,
  -- 'pending' while in flight, 'done' once stored.
  state TEXT NOT NULL,
  -- Encrypted stored response (status, headers, body); NULL while pending.
  response BYTEA,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
