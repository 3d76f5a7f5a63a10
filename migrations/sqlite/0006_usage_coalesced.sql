-- Usage events are coalesced by the recorder: one row stands for `n` identical
-- requests (same second, tenant, user, token, plugin, method, route, status,
-- IP hash and latency bucket). `latency_us`, `bytes_in` and `bytes_out` hold
-- sums over the row's requests; `lat_bucket` is the latency histogram bucket
-- (see `usage::activity::HIST_US`) shared by all of them.
ALTER TABLE usage_events ADD COLUMN n BIGINT NOT NULL DEFAULT 1;
ALTER TABLE usage_events ADD COLUMN lat_bucket INTEGER NOT NULL DEFAULT 0;
UPDATE usage_events SET lat_bucket = CASE
    WHEN latency_us <= 100 THEN 0
    WHEN latency_us <= 250 THEN 1
    WHEN latency_us <= 500 THEN 2
    WHEN latency_us <= 1000 THEN 3
    WHEN latency_us <= 2500 THEN 4
    WHEN latency_us <= 5000 THEN 5
    WHEN latency_us <= 10000 THEN 6
    WHEN latency_us <= 25000 THEN 7
    WHEN latency_us <= 50000 THEN 8
    WHEN latency_us <= 100000 THEN 9
    WHEN latency_us <= 250000 THEN 10
    WHEN latency_us <= 500000 THEN 11
    WHEN latency_us <= 1000000 THEN 12
    WHEN latency_us <= 2500000 THEN 13
    WHEN latency_us <= 5000000 THEN 14
    WHEN latency_us <= 10000000 THEN 15
    WHEN latency_us <= 30000000 THEN 16
    ELSE 17
  END;
