-- Accounts: users, sessions, rotating refresh tokens, single-use mail tokens,
-- login lockout; and tenant membership (tenants themselves are in 0001).
-- Times are unix milliseconds; flags are INTEGER 0/1.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  -- Stored normalised (trimmed, lowercase).
  email TEXT NOT NULL UNIQUE,
  -- Argon2id PHC string.
  password_hash TEXT NOT NULL,
  display_name TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  is_verified INTEGER NOT NULL DEFAULT 0,
  -- The platform superuser, above all tenants.
  is_master INTEGER NOT NULL DEFAULT 0,
  -- Bumped by logout-all / password reset: every older access JWT dies.
  token_version BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_login_at BIGINT
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  -- Coarse "Browser on OS" label; the raw User-Agent and IP are not stored.
  device TEXT,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL,
  -- Absolute end (login + 30 days); refreshes do not extend it.
  expires_at BIGINT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  revoked_at BIGINT,
  revoke_reason TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Every refresh token ever issued for a live session, by HMAC-SHA256 under the
-- server secret. used = 1 once rotated; presenting a used one revokes the session.
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  used INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- Email-verification ('verify') and password-reset ('reset') tokens: hashed, single use, expiring.
CREATE TABLE email_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  purpose TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX email_tokens_user_id ON email_tokens (user_id);

-- Failed logins per normalised email (known or not, so lockout reveals nothing).
CREATE TABLE login_failures (
  email TEXT PRIMARY KEY,
  fail_count INTEGER NOT NULL,
  window_start BIGINT NOT NULL,
  locked_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE tenant_members (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX tenant_members_user_id ON tenant_members (user_id);
