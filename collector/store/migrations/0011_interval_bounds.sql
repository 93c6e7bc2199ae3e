-- 0011_interval_bounds: the time-to-close histograms keep each interval's bounds, so the estimate is
-- Turnbull's over what the polls really bracket (analytics/sql/measure_time_to_close.sql), not a
-- Kaplan-Meier over point durations.
-- venue_daily_hist / market_daily_hist gain lo_bin (the bin of L = closed_lo - opened_hi, what the
-- slot was seen to last) and hi_bin (the bin of R = closed_hi - opened_lo, when it was certainly gone;
-- for censored intervals equal to lo_bin and unused). Grain: the old one plus (lo_bin, hi_bin).
-- Rows written before this migration did not keep the bounds: they get lo_bin = hi_bin = bin (the
-- point duration read as exact, which is what the old estimate assumed) until `recompute` rebuilds
-- them from slot_intervals.
-- venue_rolling gains km_median_bound_s (the bound shown instead of an unresolved median, made by the
-- nightly job with the same definition as every on-the-fly slice).
ALTER TABLE venue_daily_hist ADD COLUMN lo_bin SMALLINT;
ALTER TABLE venue_daily_hist ADD COLUMN hi_bin SMALLINT;
UPDATE venue_daily_hist SET lo_bin = bin, hi_bin = bin;
ALTER TABLE market_daily_hist ADD COLUMN lo_bin SMALLINT;
ALTER TABLE market_daily_hist ADD COLUMN hi_bin SMALLINT;
UPDATE market_daily_hist SET lo_bin = bin, hi_bin = bin;
ALTER TABLE venue_rolling ADD COLUMN km_median_bound_s DOUBLE;
