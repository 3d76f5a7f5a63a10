-- Plugin runtime state: platform-wide switches and runtime installs, tenant
-- feature sets, the kv capability's storage, and plugin SQL migrations applied.
CREATE TABLE plugin_settings (
  name TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL DEFAULT 1,
  -- Set for plugins installed at runtime (POST /admin/plugins); NULL for plugins.toml entries.
  path TEXT,
  tier TEXT,
  -- Bumped to ask every instance to reload the plugin.
  generation BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL
);

CREATE TABLE tenant_plugins (
  tenant_id TEXT NOT NULL,
  plugin TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, plugin)
);

CREATE TABLE plugin_kv (
  tenant_id TEXT NOT NULL,
  plugin TEXT NOT NULL,
  key TEXT NOT NULL,
  value BYTEA NOT NULL,
  expires_at BIGINT,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, plugin, key)
);
CREATE INDEX plugin_kv_expiry ON plugin_kv (expires_at);

CREATE TABLE plugin_migrations (
  plugin TEXT NOT NULL,
  version BIGINT NOT NULL,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (plugin, version)
);
