-- API tokens. The secret is never stored: `token_hash` is the lowercase hex
-- HMAC-SHA256 of the full token under the server secret. During a rotation
-- grace period the previous secret's HMAC stays in `prev_hash` until
-- `prev_expires_at` (unix ms). All times are unix milliseconds.
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  -- Display prefix: `kiwi_` + the first 8 body characters.
  prefix TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  prev_hash TEXT UNIQUE,
  prev_expires_at BIGINT,
  -- 1: every scope, present and future ("*"); else `scopes` is a bitmask over scopes.bit.
  all_scopes INTEGER NOT NULL DEFAULT 0,
  scopes BIGINT NOT NULL DEFAULT 0,
  -- JSON array of canonical IP addresses / CIDR networks; [] = any.
  allowed_ips TEXT NOT NULL DEFAULT '[]',
  expires_at BIGINT,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  rotated_at BIGINT,
  revoked_at BIGINT,
  revoke_reason TEXT,
  request_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user_created ON api_tokens (user_id, created_at);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);
CREATE INDEX api_tokens_revoked_used ON api_tokens (revoked_at, last_used_at);
