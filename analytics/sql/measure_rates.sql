-- measure_rates: the shared ratio measures (DuckDB macros), each over sums of per-day rows, so any
-- window or filter combines them the same way. Used by venue_rolling, venue_rolling_party,
-- market_rolling and the dashboard's rankings.
--
-- fully_booked_share(fully_booked_s, observed_s): the share of observed time in which the venue had
--   no open slot (time-weighted: fully_booked_s / observed_s; NULL when nothing was observed).
-- release_share(release_drops, drops): release drops (the date had just entered the booking
--   window) as a share of all drops; the rest are cancellations (cancel_drops = drops - release).
-- volatility(daily_drops) / volatility_cv(daily_drops): aggregates over one row per observed day:
--   the population standard deviation of the daily drops, and that over their mean (NULL at mean 0).
-- per_day(total, days): a count per observed day (NULL over no day).
-- trend_pct(drops_last7, days_last7, drops_prev7, days_prev7): drops per observed day of the last 7
--   days against the 7 before, in percent (NULL when either has no day or the earlier rate is 0);
--   trend(...) reads it as 'up' (>= +10%, or from 0 to any), 'down' (<= -10%) or 'flat'.

CREATE OR REPLACE TEMP MACRO fully_booked_share(fully_booked_s, observed_s) AS
    fully_booked_s / nullif(observed_s, 0);

CREATE OR REPLACE TEMP MACRO release_share(release_drops, drops) AS
    release_drops / nullif(drops, 0);

CREATE OR REPLACE TEMP MACRO volatility(daily_drops) AS stddev_pop(daily_drops);

CREATE OR REPLACE TEMP MACRO volatility_cv(daily_drops) AS stddev_pop(daily_drops) / nullif(avg(daily_drops), 0);

CREATE OR REPLACE TEMP MACRO per_day(total, days) AS total / nullif(days, 0);

-- complete_day_rate(drops, days, complete_drops, complete_days): a ranking's drops per day, over the
-- complete days of the slice only (a partial day, seen for part of its hours, would read as a quiet
-- one); over all its days when none is complete.
CREATE OR REPLACE TEMP MACRO complete_day_rate(drops, days, complete_drops, complete_days) AS
    CASE WHEN complete_days > 0 THEN per_day(coalesce(complete_drops, 0), complete_days) ELSE per_day(drops, days) END;

CREATE OR REPLACE TEMP MACRO trend_pct(drops_last7, days_last7, drops_prev7, days_prev7) AS
    100.0 * (per_day(drops_last7, days_last7) - per_day(drops_prev7, days_prev7))
        / nullif(per_day(drops_prev7, days_prev7), 0);

CREATE OR REPLACE TEMP MACRO trend(drops_last7, days_last7, drops_prev7, days_prev7) AS
    CASE WHEN per_day(drops_last7, days_last7) IS NULL OR per_day(drops_prev7, days_prev7) IS NULL THEN 'flat'
         WHEN per_day(drops_prev7, days_prev7) = 0 THEN CASE WHEN per_day(drops_last7, days_last7) > 0 THEN 'up' ELSE 'flat' END
         WHEN trend_pct(drops_last7, days_last7, drops_prev7, days_prev7) >= 10 THEN 'up'
         WHEN trend_pct(drops_last7, days_last7, drops_prev7, days_prev7) <= -10 THEN 'down'
         ELSE 'flat' END;
