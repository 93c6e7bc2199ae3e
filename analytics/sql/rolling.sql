-- rolling: first half of the rolling refresh: deletes the as_of range [a0, a1) of the four rolling
-- tables and builds temp.rl_win (grain: as_of, window_days; the days observed / partial in each
-- window). Then rolling_write.sql inserts venue_rolling and venue_rolling_party (computed by
-- analytics.nightly._rolling in numpy from rolling_vd.sql / rolling_hist.sql / rolling_days.sql:
-- window sums by cumulative sums over days, Kaplan-Meier per window, percent ranks) and derives
-- market_rolling and supply_compression in SQL. Everything from the per-day tables only (never raw
-- events). Window of an as_of = [as_of - window_days + 1, as_of], window_days in (7, 14).
-- Definitions: see the table comments in collector/store/migrations/0002_metrics.sql.
-- venue_rolling sums venue_daily over the window per venue and time bucket ('all' = both), party
-- sizes summed; volatility = stddev_pop of the venue's daily drops over its rows in the window;
-- drops_last7 / drops_prev7 over the rows of as_of-6..as_of / as_of-13..as_of-7 (NULL: no row).
-- Kaplan-Meier from the merged log-binned histogram:
-- (computed in numpy by analytics.survival.km_binned over rolling_hist.sql rows:) at bin k, at_risk = n - (closed + censored in earlier bins); n_eff = at_risk - censored_k / 2
-- (life-table); S_k = prod (1 - closed_j / n_eff_j); Greenwood var = S^2 sum closed/(n_eff (n_eff - closed));
-- median = where S crosses 0.5 (1e-9 tolerance: S is exp(sum ln)), log-linear inside the bin; CI where S -/+ 1.96 SE crosses 0.5.
-- Scarcity (0-100) is the average of three percentile ranks among comparable venues: share of
-- observed time fully booked (higher is scarcer), drops per day (fewer is scarcer) and median
-- time-to-close (faster is scarcer); comparable = non-thin rows of the same as_of, window and time
-- bucket; a venue whose KM median is not reached ranks slowest. (= analytics.scores.SCARCITY_FORMULA)

DELETE FROM venue_rolling WHERE as_of >= $a0 AND as_of < $a1;
DELETE FROM venue_rolling_party WHERE as_of >= $a0 AND as_of < $a1;
DELETE FROM market_rolling WHERE as_of >= $a0 AND as_of < $a1;
DELETE FROM supply_compression WHERE as_of >= $a0 AND as_of < $a1;

CREATE OR REPLACE TEMP TABLE rl_win AS
SELECT CAST(a AS DATE) AS as_of, w.window_days,
       CAST(a AS DATE) - (w.window_days - 1) AS start,
       (SELECT count(*) FROM day_quality q WHERE q.metric_date BETWEEN CAST(a AS DATE) - (w.window_days - 1) AND CAST(a AS DATE)) AS days_observed,
       (SELECT count(*) FROM day_quality q WHERE q.partial AND q.metric_date BETWEEN CAST(a AS DATE) - (w.window_days - 1) AND CAST(a AS DATE)) AS partial_days
FROM range(CAST($a0 AS TIMESTAMP), CAST($a1 AS TIMESTAMP), INTERVAL 1 DAY) r(a),
     (VALUES (7), (14)) w(window_days);
