-- nightly_write: (re)writes every per-day table for the days [<d0>, <d1>), delete-then-insert,
-- inside the caller's transaction, from the Arrow tables analytics.nightly.aggregate_range has
-- just computed (registered as nd_out_*; their columns are in each table's order). Definitions:
-- collector/store/migrations/0002_metrics.sql (and 0007 for market_daily_hist).

DELETE FROM day_quality WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM venue_daily WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM venue_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM market_daily WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM supply_daily WHERE metric_date >= $d0 AND metric_date < $d1;
DELETE FROM market_daily_hist WHERE metric_date >= $d0 AND metric_date < $d1;

INSERT INTO day_quality SELECT * FROM nd_out_day_quality;
INSERT INTO venue_daily SELECT * FROM nd_out_venue_daily;
INSERT INTO venue_daily_hist SELECT * FROM nd_out_venue_daily_hist;
INSERT INTO market_daily SELECT * FROM nd_out_market_daily;
INSERT INTO supply_daily SELECT * FROM nd_out_supply_daily;
INSERT INTO market_daily_hist SELECT * FROM nd_out_market_daily_hist;
