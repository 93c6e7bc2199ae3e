-- metric_tables_clear: empties every metric table (recompute rebuilds them all). day_quality, the
-- aggregated-day marker the raw-event prune checks, goes with them in the same transaction.
DELETE FROM day_quality;
DELETE FROM venue_daily;
DELETE FROM venue_daily_hist;
DELETE FROM market_daily;
DELETE FROM venue_hourly;
DELETE FROM supply_daily;
DELETE FROM market_daily_hist;
DELETE FROM venue_rolling;
DELETE FROM venue_rolling_party;
DELETE FROM market_rolling;
DELETE FROM supply_compression;
