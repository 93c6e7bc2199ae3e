-- rolling_windows: TEMP rolling_windows (grain: window_days 7 | 14 ending <as_of>): the window
-- [window_start, as_of] of the rolling rows of <as_of> and the days in it that were aggregated
-- (days_observed) and partial. Read by the rolling tables' files; dropped by nightly_cleanup.sql.
-- Every rolling table is made from the per-day tables only (never raw events).

CREATE OR REPLACE TEMP TABLE rolling_windows AS
SELECT CAST($as_of AS DATE) AS as_of, w.window_days,
       CAST($as_of AS DATE) - (w.window_days - 1) AS window_start,
       count(q.metric_date) AS days_observed, count(q.metric_date) FILTER (WHERE q.partial) AS partial_days
FROM (VALUES (CAST(7 AS SMALLINT)), (CAST(14 AS SMALLINT))) w(window_days)
LEFT JOIN day_quality q ON q.metric_date BETWEEN CAST($as_of AS DATE) - (w.window_days - 1) AND $as_of
GROUP BY w.window_days;
