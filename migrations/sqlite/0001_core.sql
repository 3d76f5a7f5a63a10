-- Core: tenants and the permanent scope registry.
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  plan TEXT NOT NULL DEFAULT 'free',
  -- Per-tenant plan limit (requests per minute per token); NULL = platform default.
  rate_limit_per_min INTEGER,
  created_at BIGINT NOT NULL
);
INSERT INTO tenants (id, slug, name, plan, created_at) VALUES ('ten_default', 'default', 'Default', 'free', 0);

-- Scope bits are permanent: never renumbered, never reused (a retired scope leaves a gap).
CREATE TABLE scopes (
  bit INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  resource TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  -- The plugin that registered it (NULL for the original registry).
  plugin TEXT,
  retired INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL DEFAULT 0
);
INSERT INTO scopes (bit, name, resource, description) VALUES
  (0, 'rotations:read', 'rotations', ''),
  (1, 'feeds:read', 'feeds', ''),
  (2, 'stats:read', 'stats', ''),
  (3, 'gems:read', 'gems', ''),
  (4, 'misc:read', 'misc', ''),
  (5, 'mods:read', 'mods', ''),
  (6, 'updates:read', 'updates', ''),
  (7, 'codexes:read', 'codexes', ''),
  (8, 'btt:read', 'btt', ''),
  (9, 'leaderboards:read', 'leaderboards', ''),
  (10, 'market:read', 'market', ''),
  (11, 'activity:read', 'activity', ''),
  (12, 'giveaways:read', 'giveaways', ''),
  (13, 'events:read', 'events', ''),
  (14, 'ocr:read', 'ocr', ''),
  (15, 'store:read', 'store', ''),
  (16, 'mods:write', 'mods', '');
