-- nightly_prepare: the per-run TEMP table of the days [<d0>, <d1>) (market-local, <tz>) that every
-- later step of the nightly job reads (one transaction).
--   nd_days : metric_date, weekday (ISO), [t0, t1) = the local day as naive UTC instants
-- Everything else is computed by analytics.nightly.aggregate_range from one read each of the
-- range's polls (nightly_polls.sql) and intervals (nightly_intervals.sql); nothing reads
-- availability_events: every metric is rebuilt from slot_intervals + open_slots + poll_ledger.

CREATE OR REPLACE TEMP TABLE nd_days AS
SELECT CAST(d AS DATE) AS metric_date,
       CAST(isodow(d) AS SMALLINT) AS weekday,
       timezone('UTC', timezone($tz, d)) AS t0,
       timezone('UTC', timezone($tz, d + INTERVAL 1 DAY)) AS t1
FROM range(CAST($d0 AS TIMESTAMP), CAST($d1 AS TIMESTAMP), INTERVAL 1 DAY) r(d);
