-- rolling_windows: TEMP rolling_windows (grain: as_of x window_days, for as_of in [<a0>, <a1>) and
-- windows of 7 and 14 days): the window [window_start, as_of] of each rolling row and the days in
-- it that were aggregated (days_observed) and partial. Read by the rolling tables' files; dropped by
-- nightly_cleanup.sql. Every rolling table is made from the per-day tables only (never raw events).

CREATE OR REPLACE TEMP TABLE rolling_windows AS
SELECT CAST(a AS DATE) AS as_of, w.window_days,
       CAST(a AS DATE) - (w.window_days - 1) AS window_start,
       (SELECT count(*) FROM day_quality q
        WHERE q.metric_date BETWEEN CAST(a AS DATE) - (w.window_days - 1) AND CAST(a AS DATE)) AS days_observed,
       (SELECT count(*) FROM day_quality q WHERE q.partial
          AND q.metric_date BETWEEN CAST(a AS DATE) - (w.window_days - 1) AND CAST(a AS DATE)) AS partial_days
FROM range(CAST($a0 AS TIMESTAMP), CAST($a1 AS TIMESTAMP), INTERVAL 1 DAY) r(a),
     (VALUES (CAST(7 AS SMALLINT)), (CAST(14 AS SMALLINT))) w(window_days);
